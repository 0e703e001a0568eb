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
#include "vpnconf.h"
#include "wgkey.h"

#include <arpa/inet.h>
#include <netdb.h>

static int usage(const char *why)
{
	fprintf(stderr, "constella join: %s\n"
		"usage: constella join --server-name NAME --join LINK [--public-addr HOST:PORT]"
		" [--priority N] [--vpn-interface NAME]\n", why);
	return 2;
}

struct join_wait {
	int done, err;
	char message[512];
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

#define MAX_PUBLIC_IPS 16

/* The port of a checked "host:port" (0 when absent). */
static unsigned addr_port_num(const char *addr)
{
	const char *c = strrchr(addr, ':');
	unsigned long v = c ? strtoul(c + 1, NULL, 10) : 0;

	return v <= 65535 ? (unsigned)v : 0;
}

/* The addresses the --public-addr host resolves to, numeric: the seed
 * compares them with the source it sees (it does not resolve names on its
 * loop). A wildcard host gives none. 0 or -errno with a message. */
static int resolve_public(const char *addr, char ips[][INET6_ADDRSTRLEN], size_t *n)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	const char *colon = strrchr(addr, ':');
	char host[256];
	int r;

	*n = 0;
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (host[0] == '[') { /* [v6] */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
		return 0;
	if ((r = getaddrinfo(host, NULL, &hints, &res))) {
		fprintf(stderr, "constella join: cannot resolve the --public-addr host %s: %s\n", host,
			gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *a = res; a && *n < MAX_PUBLIC_IPS; a = a->ai_next) {
		char ip[INET6_ADDRSTRLEN];
		const void *src = a->ai_family == AF_INET ?
			(const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr :
			(const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
		size_t k;

		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    !inet_ntop(a->ai_family, src, ip, sizeof(ip)))
			continue;
		for (k = 0; k < *n && strcmp(ips[k], ip); k++)
			;
		if (k == *n)
			memcpy(ips[(*n)++], ip, sizeof(ip));
	}
	freeaddrinfo(res);
	return 0;
}

/* The files a successful join writes, node_id first and
 * network_state.json (what marks the node as joined) last; on any failure
 * every one is removed again. */
static int write_state(const char *state_dir, const struct node_state *st, const char *node_id,
		       const uint8_t priv[NODE_WGKEY_LEN], const struct node_vpnconf *vc,
		       const cJSON *bot)
{
	static const char *const files[] = { "node_id", NODE_WGKEY_FILE, NODE_VPNCONF_FILE,
					     "bot_token", "bot.json" };
	char path[PATH_MAX];
	struct stat sb;
	int r, created_dir = stat(state_dir, &sb) != 0;

	if ((r = node_state_dir_ensure(state_dir)) ||
	    (r = node_state_write_node_id(state_dir, node_id)))
		goto fail;
	if (st->vpn_cidr[0] && ((r = node_wgkey_save_private(state_dir, priv)) ||
				(r = node_vpnconf_save(state_dir, vc))))
		goto fail;
	/* the network's bot token and owner binding (node/botstate/) */
	if ((r = node_botstate_store_join(state_dir, bot)))
		goto fail;
	if ((r = node_state_save(state_dir, st)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "constella join: cannot write state in %s: %s\n", state_dir, strerror(-r));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", state_dir, files[i]);
		unlink(path);
	}
	if (created_dir)
		rmdir(state_dir);
	return r;
}

int node_cli_join(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "server-name", required_argument, NULL, 'n' },
		{ "join", required_argument, NULL, 'j' },
		{ "public-addr", required_argument, NULL, 'a' },
		{ "priority", required_argument, NULL, 'p' },
		{ "vpn-interface", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *link = NULL, *addr = NULL, *perr = NULL, *ifname = NULL;
	char ips[MAX_PUBLIC_IPS][INET6_ADDRSTRLEN];
	const char *ipp[MAX_PUBLIC_IPS];
	size_t n_ips = 0;
	uint8_t priv[NODE_WGKEY_LEN], pub[NODE_WGKEY_LEN];
	struct node_join_outcome jo = { .bot = NULL };
	struct node_vpnconf vc;
	struct node_joinlink l = { 0 };
	struct node_state st = { 0 };
	struct node_peer self = { 0 };
	struct join_wait w = { 0 };
	struct rpc_client *cli = NULL;
	struct ev_loop *loop = NULL;
	struct node_join_probe_listener *lis = NULL;
	uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN];
	char path[PATH_MAX], seed[300], err[256], *body = NULL;
	struct stat sb;
	long prio = 0;
	int c, r, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'j': link = optarg; break;
		case 'a': addr = optarg; break;
		case 'i': ifname = optarg; break;
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
	if (ifname && !node_vpn_ifname_valid(ifname))
		return usage("--vpn-interface must be an interface name of 1-15 characters without "
			     "'/', ':' or spaces");
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
	if (!node_cli_valid_addr(self.addr)) {
		r = usage("PUBLIC_ADDR must be HOST:PORT");
		rc = r;
		goto out;
	}
	if (resolve_public(self.addr, ips, &n_ips))
		goto out;
	for (size_t i = 0; i < n_ips; i++)
		ipp[i] = ips[i];
	/* A key pair whatever the network: the seed says whether it has an
	 * overlay; without one the key is simply not kept. */
	node_wgkey_generate(priv, pub);
	node_wgkey_to_b64(pub, self.wg_pubkey);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop || rpc_client_new(loop, NULL, 0, &cli)) {
		fprintf(stderr, "constella join: cannot create the RPC client\n");
		goto out;
	}
	/* In a network without a hub the seed checks that this node answers
	 * where the others will call it (probe.h). */
	randombytes_buf(nonce, sizeof(nonce));
	if ((r = node_join_probe_listen(loop, addr_port_num(self.addr), nonce, &lis)))
		fprintf(stderr, "constella join: cannot listen on port %u to prove this node is "
			"reachable (%s%s); the seed admits it without that check\n",
			addr_port_num(self.addr), strerror(-r),
			r == -EADDRINUSE ? ": is constellad or another program already using it?" : "");
	if ((r = node_join_request_build_probe(&l, &self, ipp, n_ips, lis ? nonce : NULL, &body)))
		goto out;
	if ((r = rpc_client_request(cli, seed, "POST", "/join", body, strlen(body), 10.0,
				    on_reply, &w))) {
		fprintf(stderr, "constella join: seed %s: %s\n", seed, strerror(-r));
		goto out;
	}
	for (int i = 0; i < 100000 && !w.done; i++)
		ev_run(loop, EVRUN_ONCE);
	if (!w.done || w.err) {
		/* Say what happened: an overloaded seed is not an unreachable one. */
		if (!w.done)
			fprintf(stderr, "constella join: seed %s: no answer\n", seed);
		else if (w.err == -EBUSY)
			fprintf(stderr, "constella join: seed %s is overloaded: %s; try again in a "
				"moment\n", seed, w.message);
		else if (w.err == -ECONNRESET)
			fprintf(stderr, "constella join: seed %s answered nothing: %s\n", seed,
				w.message);
		else if (w.err == -ECONNREFUSED)
			fprintf(stderr, "constella join: seed %s unreachable (connection refused: "
				"is constellad running there?)\n", seed);
		else if (w.err == -ETIMEDOUT || w.err == -EHOSTUNREACH)
			fprintf(stderr, "constella join: seed %s unreachable (%s)\n", seed, w.message);
		else if (w.err == -EREMOTEIO)
			fprintf(stderr, "constella join: seed %s refused: %s\n", seed, w.message);
		else
			fprintf(stderr, "constella join: seed %s: %s%s%s\n", seed, strerror(-w.err),
				w.message[0] ? ": " : "", w.message);
		goto out;
	}
	if ((r = node_join_reply_open(&l, w.reply, &st, &jo, err, sizeof(err)))) {
		fprintf(stderr, "constella join: %s\n", err);
		goto out;
	}
	if (!node_state_find_peer(&st, self.node_id) && (r = node_state_upsert_peer(&st, &self)))
		goto out;
	node_vpnconf_default(&vc);
	if (ifname)
		snprintf(vc.interface, sizeof(vc.interface), "%s", ifname);
	vc.listen_port = 0; /* a client: any port, the hub learns it */
	if (write_state(state_dir, &st, self.node_id, priv, &vc, jo.bot))
		goto out;
	printf("joined network %s via %s as %s (%s), %zu peers\n", st.network_id, seed, name,
	       self.node_id, st.n_peers);
	if (st.vpn_cidr[0]) {
		const struct node_peer *hub = node_state_vpn_hub(&st);

		printf("overlay: %s/%s on %s, hub %s (%s)\n", jo.overlay_addr,
		       strchr(st.vpn_cidr, '/') + 1, vc.interface, hub ? hub->name : "?",
		       hub && hub->wg_endpoint[0] ? hub->wg_endpoint : "no endpoint");
	}
	printf("RPC address: %s\n", jo.addr[0] ? jo.addr : self.addr);
	if (jo.addr_reason[0])
		printf("  (%s)\n", jo.addr_reason);
	rc = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	if (body) {
		sodium_memzero(body, strlen(body));
		free(body);
	}
	node_join_probe_listener_free(lis); /* the port is the daemon's from now on */
	sodium_memzero(nonce, sizeof(nonce));
	cJSON_Delete(w.reply);
	cJSON_Delete(jo.bot); /* holds the token: freed, not wiped (cJSON) */
	if (cli)
		rpc_client_free(cli);
	if (loop)
		ev_loop_destroy(loop);
	node_state_clear(&st);
	node_joinlink_clear(&l);
	return rc;
}
