/* status --json's "vpn" object when no daemon runs: from the state files
 * (overlay.h has the daemon's, which reads the live device). */
#include "ovl_status.h"

#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "vpnconf.h"

cJSON *node_overlay_status_from_state(struct node_state *st, const char *self_id,
				      const char *state_dir)
{
	const struct node_peer *me = node_state_find_peer(st, self_id);
	struct node_vpnconf vc;
	cJSON *o = cJSON_CreateObject();
	char err[200], a[NODE_CIDR_STRLEN + 64];
	const char *slash = strchr(st->vpn_cidr, '/');

	if (!o)
		return NULL;
	if (!st->vpn_cidr[0] || !me || !me->overlay_addr[0] || !slash) {
		cJSON_AddStringToObject(o, "mode", "none");
		return o;
	}
	if (node_vpnconf_load(state_dir, &vc, err, sizeof(err))) {
		node_vpnconf_default(&vc);
		vc.listen_port = !strcmp(st->vpn_hub, self_id) ? NODE_VPN_DEFAULT_PORT : 0;
	}
	snprintf(a, sizeof(a), "%s%s", me->overlay_addr, slash);
	cJSON_AddStringToObject(o, "mode", !strcmp(st->vpn_hub, self_id) ? "hub" : "client");
	cJSON_AddStringToObject(o, "interface", vc.interface);
	cJSON_AddStringToObject(o, "address", a);
	cJSON_AddNumberToObject(o, "listen_port", vc.listen_port);
	cJSON_AddStringToObject(o, "public_key", me->wg_pubkey);
	return o;
}
