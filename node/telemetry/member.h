/* Members as telemetry addresses them: by name or node_id (the CLI and the
 * bot say names), and the host part of their RPC address (the path the
 * cluster uses, where a speed test must go). */
#ifndef TEL_MEMBER_H
#define TEL_MEMBER_H

#include <stddef.h>

#include "state.h"

/* The member whose name or node_id is key, or NULL. */
struct node_peer *tel_member_find(struct node_state *st, const char *key);
/* "1.2.3.4:4747" -> "1.2.3.4", "[fd00::1]:4747" -> "fd00::1",
 * "vps.example:4747" -> "vps.example". 0 or -EINVAL. */
int tel_addr_host(const char *addr, char *host, size_t cap);

#endif
