/* libFuzzer target for the cluster engine's parameter parsers (gossip.h):
 * whatever JSON a member sends, they accept only well-formed lists, and an
 * accepted record survives a round trip through the state's serialiser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	struct node_gossip_digest_entry *dg = NULL;
	struct node_peer *recs = NULL;
	size_t n = 0;
	uint64_t u;
	double age;
	char err[256];

	if (!root)
		return 0;
	if (node_gossip_parse_digest(cJSON_GetObjectItemCaseSensitive(root, "digest"), &dg, &n) == 0) {
		if (n > NODE_GOSSIP_MAX_MEMBERS)
			abort();
		for (size_t i = 0; i < n; i++) {
			/* sorted, unique, findable, ages within a day */
			if (!node_gossip_is_id(dg[i].id) ||
			    node_gossip_digest_find(dg, n, dg[i].id) != &dg[i] ||
			    (i && strcmp(dg[i - 1].id, dg[i].id) >= 0) ||
			    !(dg[i].age >= 0 && dg[i].age <= 86400))
				abort();
		}
	} else if (dg || n) {
		abort();
	}
	free(dg);
	if (node_gossip_parse_records(cJSON_GetObjectItemCaseSensitive(root, "records"), &recs, &n,
				      err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++) {
			cJSON *o = node_peer_to_json(&recs[i]);
			struct node_peer back;

			if (!o || node_peer_from_json(o, &back, err, sizeof(err)) ||
			    memcmp(&back, &recs[i], sizeof(back))) {
				fprintf(stderr, "record does not round-trip\n");
				abort();
			}
			cJSON_Delete(o);
		}
	} else if (recs || n) {
		abort();
	}
	free(recs);
	node_gossip_check_ids(cJSON_GetObjectItemCaseSensitive(root, "removed"), err, sizeof(err));
	if (node_gossip_get_u64(root, "epoch", &u) == 0 && u > (1ull << 53))
		abort();
	if (node_gossip_get_age(root, &age) == 0 && !(age >= 0 && age <= 86400))
		abort();
	cJSON_Delete(root);
	return 0;
}
