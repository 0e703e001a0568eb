/* The client's view of its tunnel to the hub (health.h). */
#include "health.h"

#include <stdio.h>
#include <time.h>

int node_ovl_hub_health(const char *hub_name, const char *endpoint, int64_t last_hs, int64_t now,
			double peer_age_s, char *msg, size_t msglen)
{
	char when[32];
	struct tm tm;
	time_t t = (time_t)last_hs;

	if (!last_hs) {
		if (peer_age_s < NODE_OVL_HUB_GRACE_S)
			return 0;
		snprintf(msg, msglen, "no WireGuard handshake with the hub %s at %s within %d s: "
			 "UDP to that port does not get through (a firewall on the way, the hub's "
			 "port not open or not forwarded, or the hub down); members cannot reach "
			 "this node over the overlay", hub_name, endpoint, NODE_OVL_HUB_GRACE_S);
		return 1;
	}
	if (now - last_hs <= NODE_OVL_SESSION_DEAD_S)
		return 0;
	/* the time, not the age: the message stays the same while it lasts */
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)last_hs);
	snprintf(msg, msglen, "no WireGuard session with the hub %s at %s: the last handshake was "
		 "at %s, more than %d s ago (the hub down, or UDP to it blocked); members cannot "
		 "reach this node over the overlay", hub_name, endpoint, when,
		 NODE_OVL_SESSION_DEAD_S);
	return 1;
}
