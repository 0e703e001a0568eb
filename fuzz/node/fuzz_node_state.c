/* libFuzzer target for network_state.json parsing: accepted documents must
 * serialise and parse back to the same state; rejected ones leave the
 * previous state untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_state a = { 0 }, b = { 0 };
	char err[256], *text = NULL;

	if (node_state_from_json(&a, (const char *)data, size, err, sizeof(err)) == 0) {
		if (node_state_to_json(&a, &text) != 0 ||
		    node_state_from_json(&b, text, strlen(text), err, sizeof(err)) != 0 ||
		    a.n_peers != b.n_peers || strcmp(a.network_id, b.network_id) ||
		    strcmp(a.network_secret, b.network_secret) ||
		    strcmp(a.lease_owner, b.lease_owner) || a.lease_until != b.lease_until ||
		    strcmp(a.vpn_cidr, b.vpn_cidr) || strcmp(a.vpn_hub, b.vpn_hub) ||
		    (a.n_peers && memcmp(a.peers, b.peers, a.n_peers * sizeof(*a.peers)))) {
			fprintf(stderr, "network state does not round-trip: %s\n", err);
			abort();
		}
	} else if (a.n_peers || a.network_id[0]) {
		abort();
	}
	free(text);
	node_state_clear(&a);
	node_state_clear(&b);
	return 0;
}
