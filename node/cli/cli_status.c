/* constella status [--json]: the peer table as this node's state file has
 * it (the daemon keeps that file current). */
#include "cli.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "ovl_status.h"
#include "state.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella status: %s\nusage: constella status [--json]\n", why);
	return 2;
}

cJSON *node_status_json(const struct node_state *st, const char *self_id, const char *leader,
			int64_t now)
{
	cJSON *root = cJSON_CreateObject(), *peers;

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "network_id", st->network_id);
	cJSON_AddStringToObject(root, "owner_username", st->owner_username);
	cJSON_AddStringToObject(root, "self", self_id);
	cJSON_AddStringToObject(root, "leader", leader ? leader : "");
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
		cJSON_AddStringToObject(o, "wg_endpoint", p->wg_endpoint);
		cJSON_AddStringToObject(o, "vpn_role", node_vpn_role_str(p->vpn_role));
		cJSON_AddBoolToObject(o, "self", !strcmp(p->node_id, self_id));
		cJSON_AddBoolToObject(o, "leader", leader && !strcmp(p->node_id, leader));
		cJSON_AddBoolToObject(o, "bot_lease", !strcmp(p->node_id, st->lease_owner) &&
						      st->lease_until > now);
	}
	return root;
}

static void print_table(const cJSON *doc, int64_t now)
{
	const cJSON *vpn = cJSON_GetObjectItemCaseSensitive(doc, "vpn"), *p;
	const char *mode = node_cli_jstr(vpn, "mode");

	printf("network %s  owner %s\n", node_cli_jstr(doc, "network_id"),
	       node_cli_jstr(doc, "owner_username"));
	if (mode[0] && strcmp(mode, "none"))
		printf("overlay %s %s on %s, UDP port %.0f, public key %s\n", mode,
		       node_cli_jstr(vpn, "address"), node_cli_jstr(vpn, "interface"),
		       node_cli_jnum0(vpn, "listen_port"), node_cli_jstr(vpn, "public_key"));
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "daemon")))
		printf("warning: constellad does not answer here (not running?): this is the state "
		       "file as it last saved it, and its peers do not hear this node\n");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "clock_outlier")))
		printf("warning: most members refuse this node's clock (see CLOCK): fix its time "
		       "(NTP); it will not lead meanwhile\n");
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "state_saved")))
		printf("warning: the state file cannot be saved (see the daemon's log); the "
		       "previous one is kept\n");
	printf("%-20s %-8s %-24s %-15s %-9s %-10s %-8s %s\n", "NAME", "NODE_ID", "ADDRESS",
	       "OVERLAY", "STATUS", "LAST SEEN", "CLOCK", "MARKS");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "peers")) {
		const char *ov = node_cli_jstr(p, "overlay_addr");
		char seen[32] = "never", clk[16] = "-";
		int64_t ls = (int64_t)node_cli_jnum0(p, "last_seen");
		const cJSON *off = cJSON_GetObjectItemCaseSensitive(p, "clock_offset_s");
		const char *detail = node_cli_jstr(p, "detail");

		if (ls)
			snprintf(seen, sizeof(seen), "%llds ago",
				 (long long)(now > ls ? now - ls : 0));
		/* its clock minus ours; "!" when requests are refused for it */
		if (cJSON_IsNumber(off))
			snprintf(clk, sizeof(clk), "%+.0fs%s", off->valuedouble,
				 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "clock_skew")) ? "!"
												  : "");
		printf("%-20s %-8.8s %-24s %-15s %-9s %-10s %-8s %s%s%s%s%s%s\n",
		       node_cli_jstr(p, "name"), node_cli_jstr(p, "node_id"), node_cli_jstr(p, "addr"),
		       ov[0] ? ov : "-", node_cli_jstr(p, "status"), seen, clk,
		       !strcmp(node_cli_jstr(p, "vpn_role"), "hub") ? "hub " : "",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "self")) ? "self " : "",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "leader")) ? "leader " : "",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "bot_lease")) ? "bot-lease " : "",
		       detail[0] ? "- " : "", detail);
	}
	/* the bot as this node sees it (never the token) */
	{
		const cJSON *bot = cJSON_GetObjectItemCaseSensitive(doc, "bot");

		if (cJSON_IsObject(bot))
			printf("bot: %s on this node; token %s (version %.0f); owner %s%s%s%s\n",
			       node_cli_jstr(bot, "state"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bot, "token_set")) ? "set"
												  : "not set",
			       node_cli_jnum0(bot, "token_version"), node_cli_jstr(bot, "owner"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bot, "owner_bound"))
				       ? " (bound)" : " (not bound yet)",
			       *node_cli_jstr(bot, "last_error") ? "; last error: " : "", node_cli_jstr(bot, "last_error"));
	}
}

int node_cli_status(int argc, char **argv, const char *state_dir)
{
	struct node_state st = { 0 };
	char err[256], self_id[NODE_ID_HEX + 1] = "";
	int64_t now = (int64_t)time(NULL);
	cJSON *rep = NULL, *doc = NULL;
	int json, live, rc = 1;

	if (node_cli_json_flag(argc, argv, &json))
		return usage("unknown option or argument");
	/* The running daemon's view is fresher than the file (leader, liveness). */
	if (node_cli_ask(state_dir, "status", &rep) == 0 &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rep, "status")))
		doc = cJSON_DetachItemFromObjectCaseSensitive(rep, "status");
	live = doc != NULL;
	if (!doc) {
		if (node_state_load(state_dir, &st, err, sizeof(err))) {
			fprintf(stderr, "constella status: no network here (%s)\n", err);
			goto out;
		}
		node_state_read_node_id(state_dir, self_id);
		if (!(doc = node_status_json(&st, self_id, NULL, now)))
			goto out;
		cJSON_AddItemToObject(doc, "vpn", node_overlay_status_from_state(&st, self_id,
										 state_dir));
	}
	/* A user who joined and has not started the service yet must not
	 * take the file's last statuses for a live view. */
	cJSON_AddBoolToObject(doc, "daemon", live);
	if (json) {
		char *t = cJSON_Print(doc);

		if (!t)
			goto out;
		printf("%s\n", t);
		free(t);
	} else {
		print_table(doc, now);
	}
	rc = 0;
out:
	cJSON_Delete(rep);
	cJSON_Delete(doc);
	node_state_clear(&st);
	return rc;
}
