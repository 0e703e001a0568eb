/* constella status [--json]: the peer table as this node's state file has
 * it (the daemon keeps that file current). */
#include "cli.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella status: %s\nusage: constella status [--json]\n", why);
	return 2;
}

static int print_json(const struct node_state *st, const char *self_id, int64_t now)
{
	cJSON *root = cJSON_CreateObject(), *peers;
	char *text;

	if (!root)
		return 1;
	cJSON_AddStringToObject(root, "network_id", st->network_id);
	cJSON_AddStringToObject(root, "owner_username", st->owner_username);
	cJSON_AddStringToObject(root, "self", self_id);
	cJSON_AddStringToObject(root, "leader", "");
	cJSON_AddStringToObject(root, "bot_lease_owner", st->lease_owner);
	cJSON_AddNumberToObject(root, "bot_lease_until", (double)st->lease_until);
	peers = cJSON_AddArrayToObject(root, "peers");
	for (size_t i = 0; i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToArray(peers, o);
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "node_id", p->node_id);
		cJSON_AddStringToObject(o, "addr", p->addr);
		cJSON_AddStringToObject(o, "status", p->status == NODE_PEER_DOWN ? "down" : "alive");
		cJSON_AddNumberToObject(o, "last_seen", (double)p->last_seen);
		cJSON_AddNumberToObject(o, "priority", p->priority);
		cJSON_AddStringToObject(o, "wg_pubkey", p->wg_pubkey);
		cJSON_AddStringToObject(o, "overlay_addr", p->overlay_addr);
		cJSON_AddBoolToObject(o, "self", !strcmp(p->node_id, self_id));
		cJSON_AddBoolToObject(o, "bot_lease", !strcmp(p->node_id, st->lease_owner) &&
						      st->lease_until > now);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return 1;
	printf("%s\n", text);
	free(text);
	return 0;
}

int node_cli_status(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_state st = { 0 };
	char err[256], self_id[NODE_ID_HEX + 1] = "";
	int64_t now = (int64_t)time(NULL);
	int c, json = 0, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return usage("unknown option");
		json = 1;
	}
	if (optind != argc)
		return usage("unexpected argument");
	if (node_state_load(state_dir, &st, err, sizeof(err))) {
		fprintf(stderr, "constella status: no network here (%s)\n", err);
		return 1;
	}
	node_state_read_node_id(state_dir, self_id);
	if (json) {
		rc = print_json(&st, self_id, now);
		goto out;
	}
	printf("network %s  owner %s\n", st.network_id, st.owner_username);
	printf("%-20s %-8s %-24s %-6s %-10s %s\n", "NAME", "NODE_ID", "ADDRESS", "STATUS",
	       "LAST SEEN", "MARKS");
	for (size_t i = 0; i < st.n_peers; i++) {
		const struct node_peer *p = &st.peers[i];
		char seen[32] = "never";

		if (p->last_seen)
			snprintf(seen, sizeof(seen), "%llds ago",
				 (long long)(now > p->last_seen ? now - p->last_seen : 0));
		printf("%-20s %-8.8s %-24s %-6s %-10s %s%s\n", p->name, p->node_id, p->addr,
		       p->status == NODE_PEER_DOWN ? "down" : "alive", seen,
		       !strcmp(p->node_id, self_id) ? "self " : "",
		       !strcmp(p->node_id, st.lease_owner) && st.lease_until > now ? "bot-lease" : "");
	}
	rc = 0;
out:
	node_state_clear(&st);
	return rc;
}
