/* constellad's core: state, RPC methods, the join route. */
#include "daemon.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
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
};

static void on_broadcast_done(void *user, int err, const cJSON *result, const char *message)
{
	(void)result;
	if (err)
		cst_info("membership update to %s failed: %s", (const char *)user,
			 message && message[0] ? message : strerror(-err));
	free(user);
}

/* Until the cluster engine (node/cluster.h) is wired in, membership changes
 * made here (join, remove) are pushed once to every other member. */
static void broadcast(struct node_daemon *d, const char *method, const cJSON *params,
		      const char *skip_id)
{
	for (size_t i = 0; i < d->st.n_peers; i++) {
		const struct node_peer *p = &d->st.peers[i];
		char *who;

		if (!strcmp(p->node_id, d->node_id) || (skip_id && !strcmp(p->node_id, skip_id)))
			continue;
		if (!(who = strdup(p->name)))
			continue;
		if (rpc_client_call(d->cli, p->addr, method, cJSON_Duplicate(params, 1),
				    d->cfg->rpc_timeout, on_broadcast_done, who))
			free(who);
	}
}

static void m_announce(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_daemon *d = user;
	struct node_peer p;
	char err[128];

	if (node_peer_from_json(cJSON_GetObjectItemCaseSensitive(params, "peer"), &p, err,
				sizeof(err))) {
		rpc_call_error(call, 400, err);
		return;
	}
	if (!strcmp(p.node_id, d->node_id)) {
		rpc_call_error(call, 409, "that is this node");
		return;
	}
	if (node_state_is_removed(&d->st, p.node_id)) {
		rpc_call_error(call, 410, "that member was removed from the network");
		return;
	}
	if (!node_state_find_peer(&d->st, p.node_id))
		cst_info("member %s (%.8s) at %s announced by %s", p.name, p.node_id, p.addr,
			 rpc_call_peer(call));
	if (node_state_upsert_peer(&d->st, &p) || node_state_save(d->cfg->state_dir, &d->st)) {
		rpc_call_error(call, 500, "cannot save the state");
		return;
	}
	rpc_call_reply(call, NULL);
}

static void m_forget(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_daemon *d = user;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "node_id");

	if (!cJSON_IsString(id)) {
		rpc_call_error(call, 400, "Forget: missing node_id");
		return;
	}
	if (!strcmp(id->valuestring, d->node_id)) {
		rpc_call_error(call, 409, "cannot forget this node itself");
		return;
	}
	if (strlen(id->valuestring) != NODE_ID_HEX) {
		rpc_call_error(call, 400, "Forget: bad node_id");
		return;
	}
	if (!node_state_is_removed(&d->st, id->valuestring)) {
		if (node_state_remove_peer(&d->st, id->valuestring) == 0)
			cst_info("member %.8s removed (told by %s)", id->valuestring,
				 rpc_call_peer(call));
		if (node_state_add_removed(&d->st, id->valuestring) ||
		    node_state_save(d->cfg->state_dir, &d->st)) {
			rpc_call_error(call, 500, "cannot save the state");
			return;
		}
	}
	rpc_call_reply(call, NULL);
}

static void on_join(void *user, const char *body, size_t len, struct rpc_call *call)
{
	struct node_daemon *d = user;
	struct node_peer joiner;
	cJSON *reply = NULL;
	enum node_join_result r;

	r = node_join_handle(d->cfg->state_dir, &d->st, body, len, (int64_t)time(NULL),
			     rpc_call_peer(call), &reply,
			     &joiner);
	if (r != NODE_JOIN_OK) {
		cst_info("join from %s refused: %s", rpc_call_peer(call), node_join_result_str(r));
		rpc_call_error(call, r == NODE_JOIN_INTERNAL ? 500 : r == NODE_JOIN_MALFORMED ? 400 : r == NODE_JOIN_DUPLICATE ? 409 : 403,
			       node_join_result_str(r));
		return;
	}
	cst_info("join: %s (%.8s) at %s joined from %s", joiner.name, joiner.node_id, joiner.addr,
		 rpc_call_peer(call));
	rpc_call_raw_reply(call, 200, reply);
	{
		cJSON *params = cJSON_CreateObject();

		cJSON_AddItemToObject(params, "peer", node_peer_to_json(&joiner));
		broadcast(d, "Announce", params, joiner.node_id);
		cJSON_Delete(params);
	}
}

static cJSON *peers_json(const struct node_state *st)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "addr", p->addr);
		cJSON_AddStringToObject(o, "node_id", p->node_id);
		cJSON_AddStringToObject(o, "status", p->status == NODE_PEER_DOWN ? "down" : "alive");
		cJSON_AddNumberToObject(o, "last_seen", (double)p->last_seen);
		cJSON_AddNumberToObject(o, "priority", p->priority);
		cJSON_AddStringToObject(o, "wg_pubkey", p->wg_pubkey);
		cJSON_AddStringToObject(o, "overlay_addr", p->overlay_addr);
	}
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
		cJSON_AddItemToObject(o, "status",
				      node_status_json(&d->st, d->node_id, NULL, (int64_t)time(NULL)));
		return o;
	}
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
		{
			cJSON *params = cJSON_CreateObject();

			/* tell every other member before forgetting it */
			cJSON_AddStringToObject(params, "node_id", id);
			broadcast(d, "Forget", params, id);
			cJSON_Delete(params);
		}
		node_state_remove_peer(&d->st, id);
		if (node_state_add_removed(&d->st, id) || node_state_save(d->cfg->state_dir, &d->st))
			return ctl_error("cannot save the state");
		cst_info("removed member %s (%.8s)", name->valuestring, id);
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
		    struct node_daemon **out, char *err, size_t errlen)
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
	    (r = rpc_server_register(d->srv, "Announce", m_announce, d)) ||
	    (r = rpc_server_register(d->srv, "Forget", m_forget, d)) ||
	    (r = rpc_server_register(d->srv, "GetStats", m_get_stats, d)) ||
	    (r = rpc_server_register(d->srv, "GetTS", m_get_ts, d)) ||
	    (r = rpc_server_register(d->srv, "Reboot", m_reboot, d)) ||
	    (r = rpc_server_register(d->srv, "RunSpeedtest", m_speedtest, d))) {
		snprintf(err, errlen, "RPC registration: %s", strerror(-r));
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

void node_daemon_free(struct node_daemon *d)
{
	if (!d)
		return;
	if (ev_is_active(&d->stats_timer))
		ev_timer_stop(d->loop, &d->stats_timer);
	node_control_server_free(d->ctl);
	if (d->cli)
		rpc_client_free(d->cli);
	if (d->srv)
		rpc_server_free(d->srv);
	sodium_memzero(d->secret, sizeof(d->secret));
	node_state_clear(&d->st);
	free(d);
}
