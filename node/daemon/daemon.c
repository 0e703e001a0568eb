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
#include "rpc.h"
#include "state.h"
#include "stats.h"

struct node_daemon {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state st;
	char node_id[NODE_ID_HEX + 1];
	uint8_t secret[NODE_SECRET_HEX / 2];
	struct rpc_server *srv;
	struct rpc_client *cli;
	struct node_stats stats;
	struct node_control_server *ctl;
	ev_timer stats_timer;
	struct node_cluster *cluster;
	struct node_botstate *botstate;
	struct node_cluster_runner runner;
};

static void on_join(void *user, const char *body, size_t len, struct rpc_call *call)
{
	struct node_daemon *d = user;
	struct node_peer joiner;
	cJSON *reply = NULL;
	enum node_join_result r;
	cJSON *extra = cJSON_CreateObject();

	/* the bot token and owner binding travel inside the sealed reply */
	cJSON_AddItemToObject(extra, "bot", node_botstate_join_json(d->botstate));
	r = node_join_handle_ex(d->cfg->state_dir, &d->st, body, len, (int64_t)time(NULL),
				rpc_call_peer(call), extra, &reply, &joiner);
	cJSON_Delete(extra); /* holds the token: freed, not wiped (cJSON) */
	if (r != NODE_JOIN_OK) {
		cst_info("join from %s refused: %s", rpc_call_peer(call), node_join_result_str(r));
		rpc_call_error(call, r == NODE_JOIN_INTERNAL ? 500 : r == NODE_JOIN_MALFORMED ? 400 : r == NODE_JOIN_DUPLICATE ? 409 : 403,
			       node_join_result_str(r));
		return;
	}
	cst_info("join: %s (%.8s) at %s joined from %s", joiner.name, joiner.node_id, joiner.addr,
		 rpc_call_peer(call));
	rpc_call_raw_reply(call, 200, reply);
	node_cluster_member_added(d->cluster, joiner.node_id);
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

static void m_get_stats(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_daemon *d = user;
	cJSON *o = node_stats_json(&d->stats);

	(void)params;
	if (!o) {
		rpc_call_error(call, 500, "cannot read host statistics");
		return;
	}
	rpc_call_reply(call, o);
}

static void m_get_ts(void *user, const cJSON *params, struct rpc_call *call)
{
	cJSON *o = cJSON_CreateObject();

	(void)user;
	(void)params;
	/* No telemetry ring in this version: an empty series, not an error. */
	cJSON_AddArrayToObject(o, "series");
	rpc_call_reply(call, o);
}

static void m_reboot(void *user, const cJSON *params, struct rpc_call *call)
{
	const char *allow = getenv("CONSTELLA_ALLOW_REBOOT");
	pid_t pid;

	(void)user;
	(void)params;
	if (!allow || strcmp(allow, "1")) {
		rpc_call_error(call, 403, "reboot disabled on this node (CONSTELLA_ALLOW_REBOOT=1 enables it)");
		return;
	}
	cst_warn("reboot requested by %s", rpc_call_peer(call));
	pid = fork();
	if (pid == 0) {
		execl("/usr/bin/nsenter", "nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p",
		      "/sbin/reboot", (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		rpc_call_error(call, 500, "cannot start reboot");
		return;
	}
	rpc_call_reply(call, cJSON_CreateString("rebooting"));
}

static void m_speedtest(void *user, const cJSON *params, struct rpc_call *call)
{
	(void)user;
	(void)params;
	rpc_call_error(call, 501, "RunSpeedtest: not implemented in this version");
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
	if (!strcmp(cmd->valuestring, "status")) {
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", 1);
		cJSON *st = node_cluster_status_json(d->cluster), *bot;

		cJSON_AddItemToObject(o, "status", st);
		bot = d->runner.status ? d->runner.status(d->runner.ctx) : NULL;
		if (!bot) {
			bot = cJSON_CreateObject();
			cJSON_AddStringToObject(bot, "state", "stopped");
		}
		node_botstate_status_fill(d->botstate, bot);
		cJSON_AddItemToObject(st, "bot", bot);
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
		memcpy(id, p->node_id, sizeof(id));
		if (node_cluster_remove(d->cluster, id))
			return ctl_error("cannot save the state");
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", 1);
		return o;
	}
	return ctl_error("unknown control command");
}

static void on_stats_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_daemon *d = w->data;

	(void)loop;
	(void)revents;
	node_stats_sample(&d->stats);
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
	if ((r = rpc_server_route(d->srv, "POST", "/join", on_join, d)) ||
	    (r = rpc_server_register(d->srv, "GetPeers", m_get_peers, d)) ||
	    (r = rpc_server_register(d->srv, "GetStats", m_get_stats, d)) ||
	    (r = rpc_server_register(d->srv, "GetTS", m_get_ts, d)) ||
	    (r = rpc_server_register(d->srv, "Reboot", m_reboot, d)) ||
	    (r = rpc_server_register(d->srv, "RunSpeedtest", m_speedtest, d))) {
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
	{
		char sock[300];

		snprintf(sock, sizeof(sock), "%s/control.sock", cfg->state_dir);
		if ((r = node_control_server_new(loop, sock, on_control, d, &d->ctl))) {
			snprintf(err, errlen, "control socket %s: %s", sock, strerror(-r));
			goto fail;
		}
	}
	node_stats_sample(&d->stats);
	ev_timer_init(&d->stats_timer, on_stats_timer, 1.0, 1.0);
	d->stats_timer.data = d;
	ev_timer_start(loop, &d->stats_timer);
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
	if (ev_is_active(&d->stats_timer))
		ev_timer_stop(d->loop, &d->stats_timer);
	node_control_server_free(d->ctl);
	/* client first: its cancelled calls must not reach a freed engine */
	if (d->cli)
		rpc_client_free(d->cli);
	node_cluster_free(d->cluster);
	node_botstate_free(d->botstate);
	if (d->srv)
		rpc_server_free(d->srv);
	sodium_memzero(d->secret, sizeof(d->secret));
	node_state_clear(&d->st);
	free(d);
}
