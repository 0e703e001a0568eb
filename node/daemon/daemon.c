/* constellad's core: state, RPC methods, the join route. */
#include "daemon.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botstate.h"
#include "cli.h"
#include "cluster.h"
#include "control.h"
#include "join.h"
#include "log.h"
#include "overlay.h"
#include "seed.h"
#include "rpc.h"
#include "state.h"
#include "telemetry.h"

struct node_daemon {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state st;
	char node_id[NODE_ID_HEX + 1];
	uint8_t secret[NODE_SECRET_HEX / 2];
	struct rpc_server *srv;
	struct rpc_client *cli;
	struct node_control_server *ctl;
	struct node_cluster *cluster;
	struct node_botstate *botstate;
	struct node_cluster_runner runner;
	struct node_telemetry *tel;
	struct node_join_seed *seed;
	struct node_overlay *ov;      /* NULL: the network has no overlay */
};

/* A joiner was admitted by the seed route: spread it now. */
static void on_joined(void *user, const struct node_peer *joiner)
{
	struct node_daemon *d = user;

	node_cluster_member_added(d->cluster, joiner->node_id);
	node_overlay_changed(d->ov);
}

/* The sealed join reply carries the bot token and owner binding. */
static cJSON *on_join_extra(void *user)
{
	struct node_daemon *d = user;
	cJSON *extra = cJSON_CreateObject();

	cJSON_AddItemToObject(extra, "bot", node_botstate_join_json(d->botstate));
	return extra;
}

/* The membership table changed: the overlay follows it. */
static void on_membership(void *user)
{
	struct node_daemon *d = user;

	node_overlay_changed(d->ov);
}

/* The peer table as network_state.json has it (GetPeers). */
static cJSON *peers_json(const struct node_state *st)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < st->n_peers; i++)
		cJSON_AddItemToArray(arr, node_peer_to_json(&st->peers[i]));
	return arr;
}

static void m_get_peers(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_daemon *d = user;
	cJSON *o = cJSON_CreateObject();

	(void)params;
	cJSON_AddStringToObject(o, "network_id", d->st.network_id);
	cJSON_AddItemToObject(o, "peers", peers_json(&d->st));
	rpc_call_reply(call, o);
}

static cJSON *ctl_error(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", 0);
	cJSON_AddStringToObject(o, "error", msg);
	return o;
}

static cJSON *on_control(void *user, const cJSON *req)
{
	struct node_daemon *d = user;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	cJSON *o;

	if (!cJSON_IsString(cmd))
		return ctl_error("missing \"cmd\"");
	if (d->tel && node_telemetry_control(d->tel, d->ctl, cmd->valuestring, req, &o))
		return o;
	if (!strcmp(cmd->valuestring, "status")) {
		cJSON *st = node_cluster_status_json(d->cluster), *bot;

		if (st) {
			cJSON_AddItemToObject(st, "vpn", node_overlay_status_json(d->ov));
			/* the bot as this node sees it (never the token) */
			bot = d->runner.status ? d->runner.status(d->runner.ctx) : NULL;
			if (!bot) {
				bot = cJSON_CreateObject();
				cJSON_AddStringToObject(bot, "state", "stopped");
			}
			node_botstate_status_fill(d->botstate, bot);
			cJSON_AddItemToObject(st, "bot", bot);
		}
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", 1);
		cJSON_AddItemToObject(o, "status", st);
		return o;
	}
	if (!strcmp(cmd->valuestring, "show")) {
		cJSON *v = node_overlay_show_json(d->ov);

		if (!v)
			return ctl_error("cannot read the overlay device");
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", 1);
		cJSON_AddItemToObject(o, "overlay", v);
		return o;
	}
	if (!strcmp(cmd->valuestring, "bot-token-set"))
		return node_botstate_control(d->botstate, req);
	if (!strcmp(cmd->valuestring, "remove")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
		struct node_peer *p;
		char id[NODE_ID_HEX + 1];

		if (!cJSON_IsString(name))
			return ctl_error("remove: missing \"name\"");
		if (!(p = node_state_find_peer_by_name(&d->st, name->valuestring)))
			return ctl_error("no member with that name");
		if (!strcmp(p->node_id, d->node_id))
			return ctl_error("cannot remove this node itself");
		if (node_overlay_is_hub(&d->st, p->node_id))
			return ctl_error("cannot remove the overlay hub: the other members reach "
					 "each other through it");
		memcpy(id, p->node_id, sizeof(id));
		if (node_cluster_remove(d->cluster, id))
			return ctl_error("cannot save the state");
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", 1);
		return o;
	}
	return ctl_error("unknown control command");
}

/* Telemetry's view of the overlay device (node_telemetry_overlay_fn). */
struct ovl_figures {
	struct node_telemetry_overlay_peer *peers;
	size_t max, n;
};

static void on_overlay_peer(void *ctx, const char *name, const char *pubkey_b64,
			    uint64_t rx_bytes, uint64_t tx_bytes, int64_t handshake)
{
	struct ovl_figures *f = ctx;
	struct node_telemetry_overlay_peer *p;

	if (f->n == f->max)
		return;
	p = &f->peers[f->n++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->public_key, sizeof(p->public_key), "%s", pubkey_b64);
	p->rx_bytes = rx_bytes;
	p->tx_bytes = tx_bytes;
	p->latest_handshake = handshake;
}

static int overlay_figures(void *ctx, struct node_telemetry_overlay_peer *peers, size_t max)
{
	struct node_daemon *d = ctx;
	struct ovl_figures f = { peers, max, 0 };
	int r = node_overlay_each_peer(d->ov, on_overlay_peer, &f);

	return r < 0 ? r : (int)f.n;
}

/* The cluster announces this node is rebooting (the Reboot RPC). */
static void on_announce_reboot(void *ctx)
{
	struct node_daemon *d = ctx;

	node_cluster_announce_reboot(d->cluster);
}

int node_daemon_new(struct ev_loop *loop, const struct node_config *cfg,
		    const struct node_cluster_runner *runner, struct node_daemon **out, char *err,
		    size_t errlen)
{
	struct rpc_server_config sc = { 0 };
	struct node_daemon *d = calloc(1, sizeof(*d));
	const struct node_peer *self;
	size_t bl = 0;
	int r;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->cfg = cfg;
	if (runner)
		d->runner = *runner;
	if ((r = node_state_load(cfg->state_dir, &d->st, err, errlen)))
		goto fail;
	if ((r = node_state_read_node_id(cfg->state_dir, d->node_id))) {
		snprintf(err, errlen, "%s/node_id: %s", cfg->state_dir, strerror(-r));
		goto fail;
	}
	if (!(self = node_state_find_peer(&d->st, d->node_id))) {
		snprintf(err, errlen, "this node (%s) is not in its own peer table", d->node_id);
		r = -EINVAL;
		goto fail;
	}
	cst_log_init(self->name, cst_log_get_level());
	if (sodium_hex2bin(d->secret, sizeof(d->secret), d->st.network_secret,
			   strlen(d->st.network_secret), NULL, &bl, NULL) || bl != sizeof(d->secret)) {
		snprintf(err, errlen, "network_secret is not 32 bytes of hex");
		r = -EINVAL;
		goto fail;
	}
	/* The overlay first: LISTEN_ADDR may be the overlay address. */
	if ((r = node_overlay_new(loop, cfg, &d->st, d->node_id, &d->ov, err, errlen)))
		goto fail;
	sc.listen_addr = cfg->listen_addr;
	sc.secret = d->secret;
	sc.secret_len = sizeof(d->secret);
	sc.skew_s = cfg->clock_skew;
	if ((r = rpc_server_new(loop, &sc, &d->srv))) {
		snprintf(err, errlen, "RPC server on %s: %s", cfg->listen_addr, strerror(-r));
		goto fail;
	}
	if ((r = rpc_client_new(loop, d->secret, sizeof(d->secret), &d->cli))) {
		snprintf(err, errlen, "RPC client: %s", strerror(-r));
		goto fail;
	}
	{
		struct node_join_seed_ops so = { .joined = on_joined, .reply_extra = on_join_extra,
						 .ctx = d, .loop = loop /* reachability probe */ };

		if (d->ov) {
			/* the seed asks the hub through the overlay room */
			so.allocate = node_overlay_allocate;
			so.alloc_ctx = d->ov;
		}

		if ((r = node_join_seed_new(cfg->state_dir, &d->st, &so, &d->seed))) {
			snprintf(err, errlen, "join route: %s", strerror(-r));
			goto fail;
		}
	}
	if ((r = rpc_server_route(d->srv, "POST", "/join", node_join_seed_route, d->seed)) ||
	    (r = rpc_server_register(d->srv, "GetPeers", m_get_peers, d))) {
		snprintf(err, errlen, "RPC registration: %s", strerror(-r));
		goto fail;
	}
	if ((r = node_cluster_new(loop, cfg, &d->st, d->node_id, d->srv, d->cli, runner,
				  &d->cluster))) {
		snprintf(err, errlen, "cluster engine: %s", strerror(-r));
		goto fail;
	}
	if ((r = node_botstate_new(loop, cfg, &d->st, d->node_id, d->srv, d->cli, d->cluster,
				   &d->botstate, err, errlen)))
		goto fail;
	node_cluster_set_observer(d->cluster, on_membership, d);
	if (d->ov && (r = node_overlay_attach(d->ov, d->srv, d->cli))) {
		snprintf(err, errlen, "overlay RPC: %s", strerror(-r));
		goto fail;
	}
	{
		char sock[300];

		snprintf(sock, sizeof(sock), "%s/control.sock", cfg->state_dir);
		if ((r = node_control_server_new(loop, sock, on_control, d, &d->ctl))) {
			snprintf(err, errlen, "control socket %s: %s", sock, strerror(-r));
			goto fail;
		}
	}
	{
		struct node_telemetry_env te = {
			loop, cfg, &d->st, d->node_id, d->srv, d->cli, on_announce_reboot, d,
			node_overlay_interface(d->ov), /* "" without an overlay */
		};

		if ((r = node_telemetry_new(&te, &d->tel, err, errlen)))
			goto fail;
		if (d->ov)
			node_telemetry_set_overlay(d->tel, overlay_figures, d);
	}
	cst_info("node %.8s of network %.8s listening on %s (port %u), %zu peers", d->node_id,
		 d->st.network_id, cfg->listen_addr, rpc_server_port(d->srv), d->st.n_peers);
	*out = d;
	return 0;
fail:
	node_daemon_free(d);
	return r;
}

unsigned node_daemon_port(const struct node_daemon *d)
{
	return rpc_server_port(d->srv);
}

const char *node_daemon_name(const struct node_daemon *d)
{
	const struct node_peer *p = node_state_find_peer((struct node_state *)&d->st, d->node_id);

	return p ? p->name : "?";
}

struct ev_loop *node_daemon_loop(const struct node_daemon *d) { return d->loop; }
const struct node_config *node_daemon_config(const struct node_daemon *d) { return d->cfg; }
struct node_state *node_daemon_state(struct node_daemon *d) { return &d->st; }
const char *node_daemon_self_id(const struct node_daemon *d) { return d->node_id; }
struct rpc_client *node_daemon_rpc(struct node_daemon *d) { return d->cli; }
struct node_cluster *node_daemon_cluster(struct node_daemon *d) { return d->cluster; }
struct node_botstate *node_daemon_botstate(struct node_daemon *d) { return d->botstate; }

int node_daemon_shutdown(struct node_daemon *d)
{
	return node_cluster_shutdown(d->cluster);
}

void node_daemon_free(struct node_daemon *d)
{
	if (!d)
		return;
	node_telemetry_free(d->tel); /* before the servers and client it uses */
	node_control_server_free(d->ctl);
	/* client first: its cancelled calls must not reach a freed engine */
	if (d->cli)
		rpc_client_free(d->cli);
	node_cluster_free(d->cluster);
	node_botstate_free(d->botstate);
	if (d->srv)
		rpc_server_free(d->srv);
	node_join_seed_free(d->seed);
	node_overlay_free(d->ov); /* after the client: no allocation answer comes later */
	sodium_memzero(d->secret, sizeof(d->secret));
	node_state_clear(&d->st);
	free(d);
}
