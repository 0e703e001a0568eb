/* Is a client's tunnel to its hub up? The cluster does not tell: a client
 * behind NAT gossips to the hub's public RPC address, so both sides see each
 * other alive even when UDP to the hub's WireGuard port is dropped on the
 * way, while nothing can reach the client over the overlay. The device's
 * latest handshake with the hub does tell; this says when it means trouble,
 * in words that stay the same while the trouble lasts (overlay.c logs a
 * problem once, and `constella show` prints it). */
#ifndef NODE_HEALTH_H
#define NODE_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* No handshake at all this long after the hub became this device's peer:
 * three initiations (one at start, then every REKEY_TIMEOUT, 5 s) went
 * unanswered. */
#define NODE_OVL_HUB_GRACE_S 15
/* WireGuard's REJECT_AFTER_TIME: a session whose handshake is older than this
 * carries nothing (a live one is renewed every 2 minutes: the persistent
 * keepalive keeps traffic flowing). */
#define NODE_OVL_SESSION_DEAD_S 180

/* last_hs: the device's latest handshake with the hub (unix s, 0 = never);
 * now: unix s; peer_age_s: seconds since the hub became this device's peer.
 * 1 with msg when the tunnel to the hub is down, else 0. */
int node_ovl_hub_health(const char *hub_name, const char *endpoint, int64_t last_hs, int64_t now,
			double peer_age_s, char *msg, size_t msglen);

#endif
