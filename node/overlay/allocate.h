/* Overlay.Allocate, the hub's signed RPC method that hands out overlay
 * addresses (ipam.h) to seeds that are not the hub:
 *   {node_id, name, wg_pubkey, addr} -> {overlay_addr}
 * addr is the joiner's announced RPC address (logged). The parsers are
 * strict and fuzzed (fuzz/overlay/fuzz_overlay_allocate.c). */
#ifndef NODE_ALLOCATE_H
#define NODE_ALLOCATE_H

#include <cJSON.h>
#include <stddef.h>

#include "state.h"

struct node_ovl_alloc_req {
	char node_id[NODE_ID_HEX + 1];
	char name[64];
	char wg_pubkey[45];
	char addr[280];
};

/* 0 or -EINVAL with the reason in err; *out is only written on success. */
int node_ovl_alloc_req_parse(const cJSON *params, struct node_ovl_alloc_req *out, char *err,
			     size_t errlen);
cJSON *node_ovl_alloc_req_json(const struct node_ovl_alloc_req *r);
/* The answer: {"overlay_addr": "a.b.c.d"} -> out (NODE_IP4_STRLEN). */
int node_ovl_alloc_reply_parse(const cJSON *result, char *out, size_t cap);

#endif
