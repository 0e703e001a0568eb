/* Reconcile: the minimal wg_device_set transaction that takes the live
 * device (wg_device_get_info) to the desired configuration (desired.h).
 * Pure, so every rule is unit-tested (tests/overlay/test_overlay.c):
 *   - a device peer that is not desired is removed; a desired one that is
 *     missing is added (allowed IPs, endpoint or hint, keepalive);
 *   - a present peer gets only what differs: its allowed IPs replaced when
 *     the set differs, its keepalive when it differs, its endpoint only when
 *     the desired endpoint itself changed since we last applied it (or the
 *     device has none): an endpoint learnt by roaming is never overwritten
 *     by the same desired value; a hint only fills a missing endpoint;
 *   - never replace_peers (that would drop every live session);
 *   - the listen port when the hub's differs.
 * Anything else a manual `wg set` changed in a desired peer's allowed IPs or
 * keepalive, and any peer it added or removed, is undone: reconcile wins. */
#ifndef NODE_RECONCILE_H
#define NODE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "desired.h"
#include "device.h"
#include "uapi.h"

/* The desired endpoint last applied per peer (a roaming endpoint differs
 * from it without the desired one having changed). */
struct node_ovl_applied_entry {
	uint8_t pub[32];
	struct sockaddr_storage ep;
};
struct node_ovl_applied {
	struct node_ovl_applied_entry *v;
	size_t n, cap;
};

struct node_ovl_plan_summary {
	unsigned added, removed, updated;
	bool listen_port;
};

/* Fills *set (which the caller frees with wg_uapi_set_free) with the
 * changes; nothing to do when set->n_peers == 0 and !set->has_listen_port.
 * The private key is not the plan's business: the caller loads it when
 * info->has_private_key is false or its public key is not want->self_pub.
 * 0 or -ENOMEM. */
int node_ovl_reconcile_plan(const struct node_ovl_desired *want,
			    const struct wg_device_info *info,
			    const struct node_ovl_applied *applied, struct wg_uapi_set *set,
			    struct node_ovl_plan_summary *sum);
/* After the plan was applied: remembers the desired endpoints, forgets
 * peers that are no longer desired. 0 or -ENOMEM. */
int node_ovl_applied_update(struct node_ovl_applied *applied, const struct node_ovl_desired *want);
void node_ovl_applied_clear(struct node_ovl_applied *applied);

#endif
