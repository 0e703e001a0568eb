/* The overlay's part of `constella status` from the files alone. */
#ifndef NODE_OVL_STATUS_H
#define NODE_OVL_STATUS_H

#include <cJSON.h>

#include "state.h"

/* {"mode", "interface", "address", "listen_port", "public_key"} as the
 * state and vpn.json say ({"mode": "none"} without an overlay); the daemon
 * answers the same with the live port. */
cJSON *node_overlay_status_from_state(struct node_state *st, const char *self_id,
				      const char *state_dir);

#endif
