/* constella init: a new one-node network (network_id, network_secret,
 * node_id, state files). Works without a daemon. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>

#include "file.h"
#include "state.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella init: %s\n"
		"usage: constella init --server-name NAME --public-addr HOST:PORT --owner @USER"
		" [--bot-token TOKEN] [--priority N]\n", why);
	return 2;
}

int node_cli_init(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "server-name", required_argument, NULL, 'n' },
		{ "public-addr", required_argument, NULL, 'a' },
		{ "owner", required_argument, NULL, 'o' },
		{ "bot-token", required_argument, NULL, 'b' },
		{ "priority", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *addr = NULL, *owner = NULL, *bot = NULL;
	struct node_state st = { 0 };
	struct node_peer self = { 0 };
	char path[PATH_MAX], err[256];
	struct stat sb;
	long prio = 0;
	int c, r, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'a': addr = optarg; break;
		case 'o': owner = optarg; break;
		case 'b': bot = optarg; break;
		case 'p':
			if (node_cli_parse_priority(optarg, &prio))
				return usage(NODE_CLI_PRIORITY_USAGE);
			break;
		default:
			if (optopt)
				fprintf(stderr, "constella init: option --%s needs a value\n",
					argv[optind - 1] + 2);
			return usage("unknown option or missing value");
		}
	}
	if (optind != argc)
		return usage("unexpected argument");
	if (!name || !node_cli_valid_name(name))
		return usage("--server-name is required: 1-63 of [A-Za-z0-9._-]");
	if (!addr || !node_cli_valid_addr(addr))
		return usage("--public-addr is required: HOST:PORT");
	if (!owner || !owner[0] || strlen(owner) >= sizeof(st.owner_username))
		return usage("--owner is required (the owner's Telegram @username)");
	if (bot && (!bot[0] || strlen(bot) > 127 || strpbrk(bot, " \t\r\n")))
		return usage("--bot-token must be a non-empty token without spaces");

	snprintf(path, sizeof(path), "%s/network_state.json", state_dir);
	if (stat(path, &sb) == 0) {
		fprintf(stderr, "constella init: %s exists: this node is already in a network\n",
			path);
		return 1;
	}
	if ((r = node_state_dir_ensure(state_dir))) {
		fprintf(stderr, "constella init: state directory %s: %s\n", state_dir,
			strerror(-r));
		return 1;
	}
	node_random_hex(st.network_id, NODE_ID_HEX / 2);
	node_random_hex(st.network_secret, NODE_SECRET_HEX / 2);
	snprintf(st.owner_username, sizeof(st.owner_username), "%s", owner);
	node_random_hex(self.node_id, NODE_ID_HEX / 2);
	snprintf(self.name, sizeof(self.name), "%s", name);
	snprintf(self.addr, sizeof(self.addr), "%s", addr);
	self.priority = (int)prio;
	self.status = NODE_PEER_ALIVE;
	if ((r = node_state_upsert_peer(&st, &self)))
		goto out;
	if (bot) {
		snprintf(path, sizeof(path), "%s/bot_token", state_dir);
		if ((r = cst_file_write_atomic(path, bot, strlen(bot), 0600)))
			goto out;
	}
	/* node_id first: network_state.json is what marks the node as joined. */
	if ((r = node_state_write_node_id(state_dir, self.node_id)) ||
	    (r = node_state_save(state_dir, &st)))
		goto out;
	printf("initialised network %s: node %s (%s) at %s, owner %s\n", st.network_id, name,
	       self.node_id, addr, owner);
	rc = 0;
out:
	if (rc) {
		snprintf(err, sizeof(err), "%s", strerror(-r));
		fprintf(stderr, "constella init: cannot write state in %s: %s\n", state_dir, err);
	}
	node_state_clear(&st);
	return rc;
}
