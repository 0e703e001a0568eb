/* Telemetry inside constellad (telemetry.h): the sampling timer, the
 * history's persistence, GetStats and GetTS, /metrics, the control
 * commands, and the wiring of speed tests and reboot. */
#include "telemetry.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "history.h"
#include "host.h"
#include "log.h"
#include "member.h"
#include "prom.h"
#include "promhttp.h"
#include "reboot.h"
#include "sample.h"
#include "speedtest.h"
#include "tel_json.h"

#define TEL_FIRST_RATE_S 1.0   /* the second reading, so rates exist early */

/* A GetStats call to another member for `constella stats NAME`. */
struct tel_remote {
	struct node_telemetry *t; /* NULL once telemetry is gone */
	struct node_control_ticket ticket;
	char name[64];
	struct tel_remote *next;
};

struct node_telemetry {
	struct node_telemetry_env env;
	const struct node_config *cfg;
	char overlay_if[16];      /* "" when VPN_MODE is none */
	struct tel_host host;
	struct tel_raw *raw[2];   /* previous and current reading */
	int cur;
	struct tel_sample *sample;
	double sample_cost_s;
	struct tel_history hist;
	char hist_path[300];
	int hist_dirty;
	struct tel_speedtest *st;
	struct tel_reboot *reboot;
	struct tel_promhttp *prom;
	node_telemetry_overlay_fn overlay_fn;
	void *overlay_ctx;
	struct node_telemetry_overlay_peer *peers;
	int n_peers;              /* -1: no provider or it failed */
	ev_timer sample_timer, save_timer;
	struct tel_remote *remotes;
	int curl_ready;
};

static const char *tel_self_name(struct node_telemetry *t)
{
	const struct node_peer *p = node_state_find_peer(t->env.st, t->env.self_id);

	return p ? p->name : "?";
}

/* ---- sampling ---- */

static void tel_sample_now(struct node_telemetry *t)
{
	uint64_t t0 = cst_clock_mono_ns();
	struct tel_raw *prev = t->raw[t->cur], *cur = t->raw[!t->cur];

	tel_host_read(&t->host, cur);
	tel_sample_derive(t->sample, prev->mono_ns ? prev : NULL, cur, t->overlay_if);
	t->cur = !t->cur;
	tel_history_add_sample(&t->hist, t->sample);
	t->hist_dirty = 1;
	if (t->overlay_fn) {
		t->n_peers = t->overlay_fn(t->overlay_ctx, t->peers, NODE_TELEMETRY_MAX_OVERLAY_PEERS);
		if (t->n_peers > NODE_TELEMETRY_MAX_OVERLAY_PEERS)
			t->n_peers = -1;
	}
	t->sample_cost_s = (double)(cst_clock_mono_ns() - t0) / 1e9;
}

static void tel_on_sample(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	tel_sample_now(w->data);
}

static void tel_save(struct node_telemetry *t)
{
	int r;

	if (!t->hist_dirty)
		return;
	if ((r = tel_history_save(&t->hist, t->hist_path)))
		cst_err("telemetry: cannot save %s: %s", t->hist_path, strerror(-r));
	else
		t->hist_dirty = 0;
}

static void tel_on_save(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	tel_save(w->data);
}

static void tel_load(struct node_telemetry *t)
{
	char err[200], aside[320];
	int r = tel_history_load(&t->hist, t->hist_path, (int64_t)time(NULL), err, sizeof(err));

	if (r == -ENOENT)
		return;
	if (r == 0) {
		uint32_t n = 0;

		for (int k = 0; k < TEL_K_N; k++)
			n += t->hist.ring[k].n;
		cst_info("telemetry: %u points of history loaded from %s", n, t->hist_path);
		return;
	}
	/* kept aside for a look, never parsed again; the history starts empty */
	snprintf(aside, sizeof(aside), "%s.corrupt", t->hist_path);
	if (rename(t->hist_path, aside))
		aside[0] = 0;
	cst_err("telemetry: %s is unusable (%s): starting with an empty history%s%s",
		t->hist_path, err, aside[0] ? "; the file was moved to " : "", aside);
}

/* ---- JSON ---- */

static cJSON *tel_stats_json(struct node_telemetry *t, uint32_t since)
{
	cJSON *o = tel_json_sample(t->sample, tel_self_name(t), t->cfg->sample_every_sec,
				   t->overlay_if);
	cJSON *ov, *st;
	const struct tel_st_result *r;
	const char *running;

	if (!o)
		return NULL;
	ov = cJSON_GetObjectItemCaseSensitive(o, "overlay");
	if (cJSON_IsObject(ov) && t->n_peers >= 0) {
		cJSON *a = cJSON_CreateArray();

		for (int i = 0; i < t->n_peers; i++) {
			const struct node_telemetry_overlay_peer *p = &t->peers[i];
			cJSON *x = cJSON_CreateObject();

			cJSON_AddStringToObject(x, "name", p->name);
			cJSON_AddStringToObject(x, "public_key", p->public_key);
			cJSON_AddNumberToObject(x, "rx_bytes", (double)p->rx_bytes);
			cJSON_AddNumberToObject(x, "tx_bytes", (double)p->tx_bytes);
			cJSON_AddNumberToObject(x, "latest_handshake", (double)p->latest_handshake);
			cJSON_AddItemToArray(a, x);
		}
		cJSON_ReplaceItemInObjectCaseSensitive(ov, "peers", a);
	}
	st = cJSON_CreateObject();
	running = tel_speedtest_running(t->st);
	if (running)
		cJSON_AddStringToObject(st, "running", running);
	else
		cJSON_AddNullToObject(st, "running");
	r = tel_speedtest_last(t->st, 0);
	cJSON_AddItemToObject(st, "peer", r ? tel_speedtest_result_json(r) : cJSON_CreateNull());
	r = tel_speedtest_last(t->st, 1);
	cJSON_AddItemToObject(st, "internet", r ? tel_speedtest_result_json(r) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "speedtest", st);
	cJSON_AddItemToObject(o, "summaries", tel_json_summaries(&t->hist, since));
	return o;
}

static void m_get_stats(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_telemetry *t = user;
	char err[200];
	double hours;
	uint32_t since;
	cJSON *o;

	if (tel_json_hours(&t->hist, params, (int64_t)time(NULL), &hours, &since, err,
			   sizeof(err))) {
		rpc_call_error(call, 400, err);
		return;
	}
	if (!(o = tel_stats_json(t, since))) {
		rpc_call_error(call, 500, "cannot build the statistics");
		return;
	}
	rpc_call_reply(call, o);
}

static void m_get_ts(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_telemetry *t = user;
	char err[400];
	cJSON *o;

	if (tel_json_series(&t->hist, params, (int64_t)time(NULL), &o, err, sizeof(err))) {
		rpc_call_error(call, 400, err);
		return;
	}
	rpc_call_reply(call, o);
}

/* ---- /metrics ---- */

static int tel_render_metrics(void *ctx, char **out, size_t *len)
{
	struct node_telemetry *t = ctx;
	struct tel_prom_input in = {
		.s = t->sample,
		.name = tel_self_name(t),
		.version = CONSTELLA_VERSION,
		.clk_tck = sysconf(_SC_CLK_TCK),
		.peers = t->n_peers >= 0 ? t->peers : NULL,
		.n_peers = t->n_peers >= 0 ? (size_t)t->n_peers : 0,
		.last_peer = tel_speedtest_last(t->st, 0),
		.last_inet = tel_speedtest_last(t->st, 1),
		.sample_cost_s = t->sample_cost_s,
		.history_bytes = tel_history_bytes(&t->hist),
	};

	return tel_prom_render(&in, out, len);
}

/* METRICS_LISTEN: "overlay:PORT" is this node's overlay address; an
 * explicit address must be loopback or that overlay address, so the
 * figures never face the internet by mistake. */
static int tel_metrics_addr(struct node_telemetry *t, char *out, size_t cap, char *err,
			    size_t errlen)
{
	const char *v = t->cfg->metrics_listen, *port = strrchr(v, ':');
	const struct node_peer *self = node_state_find_peer(t->env.st, t->env.self_id);
	const char *ov = self ? self->overlay_addr : "";
	char host[64];
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!port || tel_addr_host(v, host, sizeof(host))) {
		snprintf(err, errlen, "METRICS_LISTEN: want HOST:PORT (got \"%s\")", v);
		return -EINVAL;
	}
	if (!strcmp(host, "overlay")) {
		if (!ov[0]) {
			snprintf(err, errlen, "METRICS_LISTEN: overlay:PORT, but this node has no "
				 "overlay address");
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "%s", ov);
	}
	snprintf(out, cap, strchr(host, ':') ? "[%s]%s" : "%s%s", host, port);
	if (rpc_parse_addr(out, &ss, &sl) < 0) {
		snprintf(err, errlen, "METRICS_LISTEN: \"%s\" is not a numeric address", v);
		return -EINVAL;
	}
	if (ss.ss_family == AF_INET &&
	    (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127)
		return 0;
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		return 0;
	if (ov[0] && !strcmp(host, ov))
		return 0;
	snprintf(err, errlen, "METRICS_LISTEN: %s is neither loopback nor this node's overlay "
		 "address (%s)", host, ov[0] ? ov : "none");
	return -EINVAL;
}

/* ---- control ---- */

static cJSON *tel_ctl_error(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", 0);
	cJSON_AddStringToObject(o, "error", msg);
	return o;
}

static cJSON *tel_ctl_ok(const char *key, cJSON *v)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", 1);
	if (key)
		cJSON_AddItemToObject(o, key, v);
	return o;
}

static void tel_remote_unlink(struct node_telemetry *t, struct tel_remote *rm)
{
	for (struct tel_remote **pp = &t->remotes; *pp; pp = &(*pp)->next)
		if (*pp == rm) {
			*pp = rm->next;
			return;
		}
}

static void tel_on_remote_stats(void *user, int err, const cJSON *result, const char *message)
{
	struct tel_remote *rm = user;
	char msg[300];

	if (rm->t) {
		tel_remote_unlink(rm->t, rm);
		if (err) {
			snprintf(msg, sizeof(msg), "%s: %s", rm->name,
				 message && *message ? message : strerror(-err));
			node_control_answer(&rm->ticket, tel_ctl_error(msg));
		} else {
			node_control_answer(&rm->ticket,
					    tel_ctl_ok("stats", cJSON_Duplicate(result, 1)));
		}
	}
	free(rm);
}

static cJSON *tel_ctl_stats(struct node_telemetry *t, struct node_control_server *ctl,
			    const cJSON *req)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
	const cJSON *hours = cJSON_GetObjectItemCaseSensitive(req, "hours");
	const struct node_peer *p = NULL;
	struct tel_remote *rm;
	cJSON *params;
	char err[200];
	double h;
	uint32_t since;

	if (name && !cJSON_IsNull(name)) {
		if (!cJSON_IsString(name))
			return tel_ctl_error("stats: name must be a string");
		if (!(p = tel_member_find(t->env.st, name->valuestring)))
			return tel_ctl_error("no member with that name");
	}
	if (!p || !strcmp(p->node_id, t->env.self_id)) {
		if (tel_json_hours(&t->hist, req, (int64_t)time(NULL), &h, &since, err, sizeof(err)))
			return tel_ctl_error(err);
		return tel_ctl_ok("stats", tel_stats_json(t, since));
	}
	/* another member: its own GetStats over the signed RPC */
	if (!(rm = calloc(1, sizeof(*rm))))
		return tel_ctl_error("out of memory");
	rm->t = t;
	snprintf(rm->name, sizeof(rm->name), "%s", p->name);
	params = cJSON_CreateObject();
	if (cJSON_IsNumber(hours))
		cJSON_AddNumberToObject(params, "hours", hours->valuedouble);
	if (node_control_defer(ctl, &rm->ticket, t->cfg->rpc_timeout + 1.0)) {
		cJSON_Delete(params);
		free(rm);
		return tel_ctl_error("cannot wait for the answer");
	}
	if (rpc_client_call(t->env.cli, p->addr, "GetStats", params, t->cfg->rpc_timeout,
			    tel_on_remote_stats, rm)) {
		node_control_answer(&rm->ticket, tel_ctl_error("cannot call that member"));
		free(rm);
		return NULL;
	}
	rm->next = t->remotes;
	t->remotes = rm;
	return NULL;
}

static cJSON *tel_ctl_speedtest(struct node_telemetry *t, const cJSON *req)
{
	const cJSON *peer = cJSON_GetObjectItemCaseSensitive(req, "peer");
	const cJSON *secs = cJSON_GetObjectItemCaseSensitive(req, "seconds");
	unsigned status;
	uint64_t id;
	char err[300];
	cJSON *o;

	if (peer && !cJSON_IsNull(peer) && !cJSON_IsString(peer))
		return tel_ctl_error("speedtest: peer must be a string");
	if (secs && !cJSON_IsNull(secs) && !cJSON_IsNumber(secs))
		return tel_ctl_error("speedtest: seconds must be a number");
	if (tel_speedtest_start(t->st, cJSON_IsString(peer) ? peer->valuestring : NULL,
				cJSON_IsNumber(secs) ? secs->valuedouble : TEL_ST_DEFAULT_SECONDS,
				&id, &status, err, sizeof(err)))
		return tel_ctl_error(err);
	o = tel_ctl_ok(NULL, NULL);
	cJSON_AddNumberToObject(o, "id", (double)id);
	return o;
}

int node_telemetry_control(struct node_telemetry *t, struct node_control_server *ctl,
			   const char *cmd, const cJSON *req, cJSON **reply)
{
	if (!strcmp(cmd, "stats"))
		*reply = tel_ctl_stats(t, ctl, req);
	else if (!strcmp(cmd, "speedtest"))
		*reply = tel_ctl_speedtest(t, req);
	else if (!strcmp(cmd, "speedtest_status"))
		*reply = tel_ctl_ok("speedtest", tel_speedtest_status_json(t->st));
	else
		return 0;
	return 1;
}

/* ---- life ---- */

void node_telemetry_set_overlay(struct node_telemetry *t, node_telemetry_overlay_fn fn, void *ctx)
{
	t->overlay_fn = fn;
	t->overlay_ctx = ctx;
	t->n_peers = -1;
}

uint16_t node_telemetry_metrics_port(const struct node_telemetry *t)
{
	return t->prom ? tel_promhttp_port(t->prom) : 0;
}

int node_telemetry_new(const struct node_telemetry_env *env, struct node_telemetry **out,
		       char *err, size_t errlen)
{
	struct node_telemetry *t = calloc(1, sizeof(*t));
	struct tel_speedtest_env se;
	struct tel_reboot_env re;
	char addr[96];
	int r;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->env = *env;
	t->cfg = env->cfg;
	t->n_peers = -1;
	/* The embedded device's interface wins: the overlay's mode lives in the
	 * state (init --vpn-mode), not in VPN_MODE, which only names a device
	 * another program runs. */
	if (env->overlay_if && env->overlay_if[0])
		snprintf(t->overlay_if, sizeof(t->overlay_if), "%s", env->overlay_if);
	else if (env->cfg->vpn_mode != NODE_VPN_NONE)
		snprintf(t->overlay_if, sizeof(t->overlay_if), "%s", env->cfg->vpn_interface);
	snprintf(t->hist_path, sizeof(t->hist_path), "%s/telemetry.bin", env->cfg->state_dir);
	r = -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "libcurl does not initialise");
		goto fail;
	}
	t->curl_ready = 1;
	if (!(t->raw[0] = calloc(1, sizeof(struct tel_raw))) ||
	    !(t->raw[1] = calloc(1, sizeof(struct tel_raw))) ||
	    !(t->sample = calloc(1, sizeof(struct tel_sample))) ||
	    !(t->peers = calloc(NODE_TELEMETRY_MAX_OVERLAY_PEERS, sizeof(*t->peers))) ||
	    (r = tel_host_init(&t->host, NULL))) {
		snprintf(err, errlen, "telemetry: out of memory");
		goto fail;
	}
	if ((r = tel_history_init(&t->hist, env->cfg->sample_every_sec, env->cfg->metrics_window_h))) {
		snprintf(err, errlen, "telemetry: METRICS_WINDOW_H / SAMPLE_EVERY_SEC: %s",
			 r == -E2BIG ? "more than 65536 points a series" : strerror(-r));
		goto fail;
	}
	tel_load(t);
	se = (struct tel_speedtest_env){ env->loop, env->cfg, env->st, env->self_id, env->cli,
					 &t->hist };
	if ((r = tel_speedtest_new(&se, &t->st)) || (r = tel_speedtest_register(t->st, env->srv))) {
		snprintf(err, errlen, "telemetry: speed tests: %s", strerror(-r));
		goto fail;
	}
	re = (struct tel_reboot_env){ env->loop, env->cfg, env->announce_reboot,
				      env->announce_ctx };
	if ((r = tel_reboot_new(&re, &t->reboot, err, errlen)))
		goto fail;
	if ((r = tel_reboot_register(t->reboot, env->srv)) ||
	    (r = rpc_server_register(env->srv, "GetStats", m_get_stats, t)) ||
	    (r = rpc_server_register(env->srv, "GetTS", m_get_ts, t))) {
		snprintf(err, errlen, "telemetry: RPC registration: %s", strerror(-r));
		goto fail;
	}
	if (env->cfg->metrics_listen[0]) {
		if ((r = tel_metrics_addr(t, addr, sizeof(addr), err, errlen)))
			goto fail;
		if ((r = tel_promhttp_new(env->loop, addr, tel_render_metrics, t, &t->prom))) {
			snprintf(err, errlen, "METRICS_LISTEN %s: %s", addr, strerror(-r));
			goto fail;
		}
	}
	tel_sample_now(t);
	ev_timer_init(&t->sample_timer, tel_on_sample, TEL_FIRST_RATE_S,
		      (double)env->cfg->sample_every_sec);
	t->sample_timer.data = t;
	ev_timer_start(env->loop, &t->sample_timer);
	/* history to disk every 5 minutes (CONSTELLA_TEST_TEL_SAVE_S for tests):
	 * a crash loses at most that much */
	ev_timer_init(&t->save_timer, tel_on_save, env->cfg->test_tel_save_s,
		      env->cfg->test_tel_save_s);
	t->save_timer.data = t;
	ev_timer_start(env->loop, &t->save_timer);
	cst_info("telemetry: sampling every %u s, %u h of history in %zu bytes%s%s%s",
		 env->cfg->sample_every_sec, env->cfg->metrics_window_h,
		 tel_history_bytes(&t->hist), t->prom ? ", metrics on " : "",
		 t->prom ? addr : "",
		 t->prom && !tel_promhttp_port(t->prom) ? " once the address is up" : "");
	*out = t;
	return 0;
fail:
	node_telemetry_free(t);
	return r ? r : -EINVAL;
}

void node_telemetry_free(struct node_telemetry *t)
{
	if (!t)
		return;
	ev_timer_stop(t->env.loop, &t->sample_timer);
	ev_timer_stop(t->env.loop, &t->save_timer);
	/* pending remote calls complete when the RPC client goes: orphan them */
	for (struct tel_remote *rm = t->remotes; rm; rm = rm->next)
		rm->t = NULL;
	tel_promhttp_free(t->prom);
	tel_speedtest_free(t->st);
	tel_reboot_free(t->reboot);
	if (t->hist.ring[0].p)
		tel_save(t);
	tel_history_deinit(&t->hist);
	tel_host_deinit(&t->host);
	free(t->raw[0]);
	free(t->raw[1]);
	free(t->sample);
	free(t->peers);
	if (t->curl_ready)
		curl_global_cleanup();
	free(t);
}
