/* The overlay inside constellad (docs/overlay.md): the embedded WireGuard
 * device (wg_userspace) brought up from the state, kept equal to the
 * configuration the membership table asks for (desired.h) by one reconcile
 * path, the hub's address allocation (Overlay.Allocate), and what `constella
 * status` and `constella show` print about it.
 *
 * Life: node_overlay_new at start, before the RPC server binds (LISTEN_ADDR
 * may be the overlay address); node_overlay_attach once the RPC server,
 * client and cluster engine exist; node_overlay_changed whenever the
 * membership table changes; node_overlay_free at exit. */
#ifndef NODE_OVERLAY_H
#define NODE_OVERLAY_H

#include <cJSON.h>
#include <ev.h>
#include <stddef.h>

#include "config.h"
#include "rpc.h"
#include "seed.h"
#include "state.h"

/* Seconds between reconciles when nothing triggers one (undoes a manual
 * `wg set`: reconcile wins). */
#define NODE_OVERLAY_RECONCILE_S 3.0

struct node_overlay;

/* Brings the overlay up: the device (relay on at the hub), its key and
 * port, address/prefix, MTU, link up and the CIDR route over netlink, then
 * a first reconcile. *out is NULL (and 0 returned) when the network has no
 * overlay. On failure nothing is left behind and err says why: TUN missing
 * or not permitted, interface name in use, overlay address already on
 * another interface, key file missing, UDP port busy. st is the daemon's
 * state (this node's record may get a new version: key or endpoint
 * changed); it must outlive the overlay. */
int node_overlay_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		     const char *self_id, struct node_overlay **out, char *err, size_t errlen);
/* Registers Overlay.Allocate (served at the hub) and gives the overlay the
 * client through which a seed asks the hub. */
int node_overlay_attach(struct node_overlay *ov, struct rpc_server *srv, struct rpc_client *cli);
/* The seed's allocate hook (node_join_seed_ops.allocate; ctx = the overlay). */
int node_overlay_allocate(void *ctx, const struct node_peer *joiner, node_join_alloc_done_fn done,
			  void *user);
/* The membership table changed: reconcile on the next loop iteration. */
void node_overlay_changed(struct node_overlay *ov);
/* status --json's "vpn" object ({"mode": "none"} for ov NULL). */
cJSON *node_overlay_status_json(const struct node_overlay *ov);
/* `constella show --json`: the overlay in one view (NULL ov: mode none). */
cJSON *node_overlay_show_json(struct node_overlay *ov);
/* The device's peers, one call of fn each (name: the member whose key it
 * is, "" for a reservation or a manual peer; handshake in unix seconds, 0 =
 * never). Returns how many, or -errno. Does not block (for telemetry). */
typedef void (*node_overlay_peer_fn)(void *ctx, const char *name, const char *pubkey_b64,
				     uint64_t rx_bytes, uint64_t tx_bytes, int64_t handshake);
int node_overlay_each_peer(struct node_overlay *ov, node_overlay_peer_fn fn, void *ctx);
/* 1 when node_id is the network's hub (it cannot be removed). */
int node_overlay_is_hub(const struct node_state *st, const char *node_id);
void node_overlay_free(struct node_overlay *ov);

#endif
