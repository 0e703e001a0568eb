/* constella join: performs the join against the seed right away; on any
 * failure it prints why and leaves no state behind. Works without a daemon. */
#include "cli.h"

#include <cJSON.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "botstate.h"
#include "join.h"
#include "rpc.h"
#include "state.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella join: %s\n"
		"usage: constella join --server-name NAME --join LINK [--public-addr HOST:PORT]"
		" [--priority N]\n", why);
	return 2;
}

struct join_wait {
	int done, err;
	char message[256];
	cJSON *reply;
};

static void on_reply(void *user, int err, const cJSON *result, const char *message)
{
	struct join_wait *w = user;

	w->done = 1;
	w->err = err;
	snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
	if (!err && result)
		w->reply = cJSON_Duplicate(result, 1);
}

int node_cli_join(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "server-name", required_argument, NULL, 'n' },
		{ "join", required_argument, NULL, 'j' },
		{ "public-addr", required_argument, NULL, 'a' },
		{ "priority", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *link = NULL, *addr = NULL, *perr = NULL;
	struct node_joinlink l = { 0 };
	struct node_state st = { 0 };
	struct node_peer self = { 0 };
	struct join_wait w = { 0 };
	cJSON *doc = NULL;
	struct rpc_client *cli = NULL;
	struct ev_loop *loop = NULL;
	char path[PATH_MAX], seed[300], err[256], *body = NULL;
	struct stat sb;
	long prio = 0;
	int c, r, rc = 1, created_dir = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'j': link = optarg; break;
		case 'a': addr = optarg; break;
		case 'p':
			if (node_cli_parse_priority(optarg, &prio))
				return usage(NODE_CLI_PRIORITY_USAGE);
			break;
		default: return usage("unknown option or missing value");
		}
	}
	if (optind != argc)
		return usage("unexpected argument");
	if (!name || !node_cli_valid_name(name))
		return usage("--server-name is required: 1-63 of [A-Za-z0-9._-]");
	if (!link)
		return usage("--join LINK is required (from `constella invite` on a member)");
	if (addr && !node_cli_valid_addr(addr))
		return usage("--public-addr must be HOST:PORT");
	if (node_joinlink_parse(link, &l, &perr)) {
		fprintf(stderr, "constella join: %s\n", perr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/network_state.json", state_dir);
	if (stat(path, &sb) == 0) {
		fprintf(stderr, "constella join: %s exists: this node is already in a network\n",
			path);
		goto out;
	}
	snprintf(seed, sizeof(seed), strchr(l.host, ':') ? "[%s]:%u" : "%s:%u", l.host, l.port);
	node_random_hex(self.node_id, NODE_ID_HEX / 2);
	snprintf(self.name, sizeof(self.name), "%s", name);
	/* Without --public-addr: $PUBLIC_ADDR, else the default port on a wildcard
	 * host, which the seed replaces with the address it sees us from. */
	if (!addr && getenv("PUBLIC_ADDR") && getenv("PUBLIC_ADDR")[0])
		addr = getenv("PUBLIC_ADDR");
	snprintf(self.addr, sizeof(self.addr), "%s", addr ? addr : "0.0.0.0:4747");
	self.priority = (int)prio;
	if ((r = node_join_request_build(&l, &self, &body)))
		goto out;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop || rpc_client_new(loop, NULL, 0, &cli)) {
		fprintf(stderr, "constella join: cannot create the RPC client\n");
		goto out;
	}
	if ((r = rpc_client_request(cli, seed, "POST", "/join", body, strlen(body), 10.0,
				    on_reply, &w))) {
		fprintf(stderr, "constella join: seed %s: %s\n", seed, strerror(-r));
		goto out;
	}
	for (int i = 0; i < 100000 && !w.done; i++)
		ev_run(loop, EVRUN_ONCE);
	if (!w.done || w.err) {
		if (w.err == -ECONNREFUSED || w.err == -ETIMEDOUT || !w.done)
			fprintf(stderr, "constella join: seed %s unreachable (%s)\n", seed,
				w.done ? strerror(-w.err) : "no answer");
		else if (w.err == -EREMOTEIO)
			fprintf(stderr, "constella join: seed %s refused: %s\n", seed, w.message);
		else
			fprintf(stderr, "constella join: seed %s: %s%s%s\n", seed, strerror(-w.err),
				w.message[0] ? ": " : "", w.message);
		goto out;
	}
	if ((r = node_join_reply_open_doc(&l, w.reply, &st, &doc, err, sizeof(err)))) {
		fprintf(stderr, "constella join: %s\n", err);
		goto out;
	}
	if (!node_state_find_peer(&st, self.node_id) && (r = node_state_upsert_peer(&st, &self)))
		goto out;
	if (stat(state_dir, &sb) != 0)
		created_dir = 1;
	if ((r = node_state_dir_ensure(state_dir)) ||
	    (r = node_state_write_node_id(state_dir, self.node_id)) ||
	    /* the bot token and owner binding before the state that marks us joined */
	    (r = node_botstate_store_join(state_dir, cJSON_GetObjectItemCaseSensitive(doc, "bot"))) ||
	    (r = node_state_save(state_dir, &st))) {
		fprintf(stderr, "constella join: cannot write state in %s: %s\n", state_dir,
			strerror(-r));
		snprintf(path, sizeof(path), "%s/node_id", state_dir);
		unlink(path);
		if (created_dir)
			rmdir(state_dir);
		goto out;
	}
	printf("joined network %s via %s as %s (%s), %zu peers\n", st.network_id, seed, name,
	       self.node_id, st.n_peers);
	rc = 0;
out:
	if (body) {
		sodium_memzero(body, strlen(body));
		free(body);
	}
	cJSON_Delete(w.reply);
	cJSON_Delete(doc); /* freed, not wiped (cJSON): as the seed's side */
	if (cli)
		rpc_client_free(cli);
	if (loop)
		ev_loop_destroy(loop);
	node_state_clear(&st);
	node_joinlink_clear(&l);
	return rc;
}
