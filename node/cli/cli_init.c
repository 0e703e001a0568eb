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

#include "botwire.h"
#include "cidr.h"
#include "file.h"
#include "rpc.h"
#include "state.h"
#include "vpnconf.h"
#include "wgkey.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella init: %s\n"
		"usage: constella init --server-name NAME --public-addr HOST:PORT --owner @USER"
		" [--bot-token TOKEN] [--priority N]\n"
		"       [--vpn-mode hub [--vpn-cidr 10.42.0.0/24] [--vpn-listen-port 51820]"
		" [--vpn-interface wg0] [--vpn-endpoint HOST:PORT]]\n", why);
	return 2;
}

/* The overlay flags of init (all but --vpn-mode need --vpn-mode hub). */
struct init_vpn {
	const char *mode, *cidr, *port, *ifname, *endpoint;
	struct node_cidr net;
	struct node_vpnconf vc;
	char wg_endpoint[280];
};

/* Validates the flags; fills the hub's record and the network's vpn. */
static int init_vpn_check(struct init_vpn *v, const char *public_addr)
{
	char why[160];
	char *end;
	long port;

	if (!v->mode || !strcmp(v->mode, "none")) {
		if (v->cidr || v->port || v->ifname || v->endpoint)
			return usage("--vpn-cidr, --vpn-listen-port, --vpn-interface and "
				     "--vpn-endpoint need --vpn-mode hub");
		v->mode = NULL;
		return 0;
	}
	if (!strcmp(v->mode, "client"))
		return usage("--vpn-mode client is not set by hand: `constella join` makes every "
			     "joiner a client of the network's hub");
	if (strcmp(v->mode, "hub"))
		return usage("--vpn-mode must be hub (or none)");
	if (node_cidr_parse(v->cidr ? v->cidr : "10.42.0.0/24", &v->net, why, sizeof(why))) {
		fprintf(stderr, "constella init: --vpn-cidr %s: %s\n", v->cidr, why);
		return 2;
	}
	node_vpnconf_default(&v->vc);
	v->vc.listen_port = NODE_VPN_DEFAULT_PORT;
	if (v->port) {
		errno = 0;
		port = strtol(v->port, &end, 10);
		if (errno || *end || !v->port[0] || port < 1 || port > 65535)
			return usage("--vpn-listen-port must be 1-65535");
		v->vc.listen_port = (uint16_t)port;
	}
	if (v->ifname) {
		if (!node_vpn_ifname_valid(v->ifname))
			return usage("--vpn-interface must be an interface name of 1-15 characters "
				     "without '/', ':' or spaces");
		snprintf(v->vc.interface, sizeof(v->vc.interface), "%s", v->ifname);
	}
	if (v->endpoint) {
		if (strlen(v->endpoint) >= sizeof(v->wg_endpoint) || rpc_check_host_port(v->endpoint))
			return usage("--vpn-endpoint must be HOST:PORT");
		snprintf(v->wg_endpoint, sizeof(v->wg_endpoint), "%s", v->endpoint);
	} else {
		/* the public host with the WireGuard port */
		const char *colon = strrchr(public_addr, ':');

		snprintf(v->wg_endpoint, sizeof(v->wg_endpoint), "%.*s:%u",
			 (int)(colon - public_addr), public_addr, v->vc.listen_port);
	}
	return 0;
}

int node_cli_init(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "server-name", required_argument, NULL, 'n' },
		{ "public-addr", required_argument, NULL, 'a' },
		{ "owner", required_argument, NULL, 'o' },
		{ "bot-token", required_argument, NULL, 'b' },
		{ "priority", required_argument, NULL, 'p' },
		{ "vpn-mode", required_argument, NULL, 'm' },
		{ "vpn-cidr", required_argument, NULL, 'c' },
		{ "vpn-listen-port", required_argument, NULL, 'l' },
		{ "vpn-interface", required_argument, NULL, 'i' },
		{ "vpn-endpoint", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct init_vpn v = { 0 };
	uint8_t priv[NODE_WGKEY_LEN], pub[NODE_WGKEY_LEN];
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
		case 'm': v.mode = optarg; break;
		case 'c': v.cidr = optarg; break;
		case 'l': v.port = optarg; break;
		case 'i': v.ifname = optarg; break;
		case 'e': v.endpoint = optarg; break;
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
	/* the rules the daemon and the bot apply: a value they would refuse
	 * (a daemon that cannot start, an owner never recognised) is refused
	 * here, before anything is written */
	if (!owner || !node_botwire_username_ok(owner) || strlen(owner) >= sizeof(st.owner_username))
		return usage("--owner is required: the owner's Telegram @username (1-32 of "
			     "[A-Za-z0-9_])");
	if (bot && !node_botwire_token_ok(bot))
		return usage("--bot-token must be the token from @BotFather (1-127 of "
			     "[A-Za-z0-9:_-])");
	if ((r = init_vpn_check(&v, addr)))
		return r;

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
	if (v.mode) {
		/* the hub takes the first host address of the overlay */
		node_wgkey_generate(priv, pub);
		node_wgkey_to_b64(pub, self.wg_pubkey);
		node_ip4_str(node_cidr_first_host(&v.net), self.overlay_addr);
		snprintf(self.wg_endpoint, sizeof(self.wg_endpoint), "%s", v.wg_endpoint);
		self.vpn_role = NODE_VPN_ROLE_HUB;
		node_cidr_str(&v.net, st.vpn_cidr);
		memcpy(st.vpn_hub, self.node_id, sizeof(st.vpn_hub));
		if ((r = node_wgkey_save_private(state_dir, priv)) ||
		    (r = node_vpnconf_save(state_dir, &v.vc)))
			goto out;
	}
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
	if (v.mode)
		printf("overlay hub: %s/%u on %s, WireGuard endpoint %s, public key %s\n",
		       self.overlay_addr, v.net.prefix, v.vc.interface, self.wg_endpoint,
		       self.wg_pubkey);
	rc = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	if (rc) {
		snprintf(err, sizeof(err), "%s", strerror(-r));
		fprintf(stderr, "constella init: cannot write state in %s: %s\n", state_dir, err);
	}
	node_state_clear(&st);
	return rc;
}
