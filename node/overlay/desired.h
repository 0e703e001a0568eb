/* The device configuration this node should have, as a pure function of the
 * replicated membership table (and, at the hub, its reservations and its
 * endpoint cache). Everything the overlay does converges through it:
 * start, join, removal, restart, catch-up, drift (docs/overlay.md).
 *
 *   hub:    one peer per member with a public key and an overlay address,
 *           and per live reservation: allowed-ips addr/32; endpoint only
 *           from the member's wg_endpoint; else the cached one as a hint
 *           (used only when the device has none: roaming wins).
 *   client: one peer, the hub: allowed-ips the whole CIDR (the hub relays
 *           to every other member), endpoint the hub's wg_endpoint,
 *           persistent keepalive 25 s (keeps the NAT mapping open).
 *   removed (this node's own tombstone): no peers. */
#ifndef NODE_DESIRED_H
#define NODE_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cidr.h"
#include "epcache.h"
#include "ipam.h"
#include "state.h"

#define NODE_OVL_KEEPALIVE 25

struct node_ovl_peer {
	uint8_t pub[32];
	char name[64];               /* for logs and `constella show` */
	char node_id[NODE_ID_HEX + 1];
	uint32_t allowed;            /* host order */
	uint8_t allowed_prefix;
	bool has_endpoint;           /* authoritative: from the record */
	struct sockaddr_storage endpoint;
	bool has_hint;               /* the hub's cache: only if the device has none */
	struct sockaddr_storage hint;
	uint16_t keepalive;
	bool reserved;               /* a reservation, not yet a member */
};

struct node_ovl_desired {
	enum node_vpn_role role;
	uint8_t self_pub[32];
	uint32_t self_addr;          /* host order */
	struct node_cidr cidr;
	uint16_t listen_port;        /* hub: the port clients reach; client: 0 (any) */
	struct node_ovl_peer *peers;
	size_t n_peers;
	char pending[300];           /* client: the hub endpoint not resolved yet */
	bool removed;                /* this node was removed: no peers at all */
};

/* Turns a record's wg_endpoint into a socket address: 0, -EAGAIN (a name
 * still being resolved: retried at the next reconcile) or -errno. */
typedef int (*node_ovl_resolve_fn)(void *ctx, const char *host_port,
				   struct sockaddr_storage *out);

/* Computes what self_id's device should hold. resv and hints may be NULL
 * (a client has neither). 0, -ENOENT (this node has no overlay: no vpn in
 * st, or no overlay address/key in its record: reason in err), -EINVAL (the
 * state's overlay fields disagree: reason in err), -ENOMEM. */
int node_ovl_desired_compute(const struct node_state *st, const char *self_id,
			     const struct node_ipam *resv, const struct node_epcache *hints,
			     uint16_t listen_port, node_ovl_resolve_fn resolve, void *resolve_ctx,
			     int64_t now, struct node_ovl_desired *out, char *err, size_t errlen);
const struct node_ovl_peer *node_ovl_desired_find(const struct node_ovl_desired *d,
						  const uint8_t pub[32]);
void node_ovl_desired_clear(struct node_ovl_desired *d);

#endif
