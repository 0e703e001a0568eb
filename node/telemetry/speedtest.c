/* One node's speed tests (speedtest.h): the one-at-a-time rule, the worker
 * thread and its report through ev_async, the RPC methods, results into
 * the history, background internet tests.
 *
 * Threads: the loop owns everything here. Before starting the worker it
 * fills the job's inputs; the worker writes only the job's outputs (rc, err,
 * figures) and, under mu, the progress fields; the loop reads the outputs
 * only after pthread_join. */
#include "speedtest.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "member.h"
#include "st_inet.h"
#include "st_proto.h"
#include "tel_json.h"

enum st_role { ST_NONE, ST_CLIENT, ST_SERVER, ST_INET };
enum st_state { ST_IDLE, ST_OPENING, ST_RUNNING };

struct st_open_call {
	struct tel_speedtest *s; /* NULL once the speed test object is gone */
};

struct tel_speedtest {
	struct tel_speedtest_env env;
	uint64_t max_bytes;          /* SPEEDTEST_MAX_MB in bytes */
	enum st_state state;
	enum st_role role;
	uint64_t id;                 /* of the running (or last) test */
	int background;
	char peer[64], host[256];
	double seconds;
	uint64_t test_bytes;         /* this test's byte bound per direction */
	uint64_t t0;
	/* the worker */
	pthread_t th;
	int th_live;
	atomic_int cancel;
	ev_async done;
	int lfd;
	uint16_t port;
	uint8_t token[TEL_ST_TOKEN_LEN];
	int rc;
	char err[256];
	struct tel_st_figures f;
	struct tel_inet_figures inf;
	pthread_mutex_t mu;          /* the progress fields below */
	char phase[16];
	uint64_t pbytes;
	double pelapsed;
	/* who waits for the end */
	struct rpc_call *waiter;
	struct st_open_call *open_call;
	/* results */
	struct tel_st_result last_peer, last_inet;
	uint64_t last_id;
	int last_ok, last_internet;
	char last_err[256];
	ev_timer bg;
};

static void st_progress(void *ctx, const char *phase, uint64_t bytes, double elapsed)
{
	struct tel_speedtest *s = ctx;

	pthread_mutex_lock(&s->mu);
	snprintf(s->phase, sizeof(s->phase), "%s", phase);
	s->pbytes = bytes;
	s->pelapsed = elapsed;
	pthread_mutex_unlock(&s->mu);
}

static void *st_worker(void *arg)
{
	struct tel_speedtest *s = arg;
	struct tel_st_ctl ctl = { .cancel = &s->cancel, .progress = st_progress, .ctx = s };

	switch (s->role) {
	case ST_CLIENT:
		s->rc = tel_st_client_run(s->host, s->port, s->token, s->seconds, s->test_bytes, &ctl,
					  &s->f, s->err, sizeof(s->err));
		break;
	case ST_SERVER:
		s->rc = tel_st_serve(s->lfd, s->token, TEL_ST_ACCEPT_S, s->seconds, s->test_bytes,
				     &ctl, s->err, sizeof(s->err));
		break;
	case ST_INET:
		s->rc = tel_inet_run(s->env.cfg->speedtest_url,
				     s->env.cfg->speedtest_upload_url[0] ?
					     s->env.cfg->speedtest_upload_url :
					     s->env.cfg->speedtest_url,
				     s->seconds, s->test_bytes, &ctl, &s->inf, s->err, sizeof(s->err));
		break;
	default:
		s->rc = -EINVAL;
	}
	ev_async_send(s->env.loop, &s->done);
	return NULL;
}

static int st_spawn(struct tel_speedtest *s)
{
	int r;

	atomic_store(&s->cancel, 0);
	st_progress(s, "start", 0, 0);
	s->rc = 0;
	s->err[0] = 0;
	memset(&s->f, 0, sizeof(s->f));
	memset(&s->inf, 0, sizeof(s->inf));
	if ((r = pthread_create(&s->th, NULL, st_worker, s)))
		return -r;
	s->th_live = 1;
	s->state = ST_RUNNING;
	return 0;
}

static void st_answer_waiter(struct tel_speedtest *s, unsigned status, const char *msg,
			     const struct tel_st_result *res)
{
	struct rpc_call *call = s->waiter;

	if (!call)
		return;
	s->waiter = NULL;
	rpc_call_on_abort(call, NULL, NULL);
	if (res)
		rpc_call_reply(call, tel_speedtest_result_json(res));
	else
		rpc_call_error(call, status, msg);
}

/* A test that ended without a worker result (refused, peer unreachable). */
static void st_fail(struct tel_speedtest *s, unsigned status, const char *msg)
{
	cst_info("speed test %llu%s%s failed: %s", (unsigned long long)s->id,
		 s->peer[0] ? " with " : "", s->peer, msg);
	s->last_id = s->id;
	s->last_ok = 0;
	snprintf(s->last_err, sizeof(s->last_err), "%s", msg);
	s->state = ST_IDLE;
	s->role = ST_NONE;
	st_answer_waiter(s, status, msg, NULL);
}

static double st_rate(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs : NAN;
}

static void st_on_done(struct ev_loop *loop, ev_async *w, int revents)
{
	struct tel_speedtest *s = w->data;
	struct tel_st_result res = { 0 };
	enum st_role role = s->role;
	char msg[300];

	(void)loop;
	(void)revents;
	if (!s->th_live)
		return;
	pthread_join(s->th, NULL);
	s->th_live = 0;
	if (role == ST_SERVER) {
		if (s->rc)
			cst_info("speed test served to %s ended: %s", s->peer, s->err);
		else
			cst_info("speed test served to %s", s->peer);
		s->state = ST_IDLE;
		s->role = ST_NONE;
		return;
	}
	if (s->rc) {
		snprintf(msg, sizeof(msg), "speed test failed: %s", s->err);
		st_fail(s, s->rc == -ECANCELED ? 503 : 502, msg);
		return;
	}
	res.valid = 1;
	res.internet = role == ST_INET;
	res.ts = (int64_t)time(NULL);
	res.seconds = (double)(cst_clock_mono_ns() - s->t0) / 1e9;
	if (role == ST_CLIENT) {
		snprintf(res.peer, sizeof(res.peer), "%s", s->peer);
		res.down_rate = st_rate(s->f.down_bytes, s->f.down_s);
		res.up_rate = st_rate(s->f.up_bytes, s->f.up_s);
		res.rtt_ms = s->f.rtt_ms;
		res.down_bytes = s->f.down_bytes;
		res.up_bytes = s->f.up_bytes;
		res.limited_by_bytes = s->f.limited_by_bytes;
		tel_history_add(s->env.hist, TEL_K_PEER_DOWN, res.ts, res.down_rate);
		tel_history_add(s->env.hist, TEL_K_PEER_UP, res.ts, res.up_rate);
		tel_history_add(s->env.hist, TEL_K_PEER_RTT, res.ts, res.rtt_ms);
		s->last_peer = res;
	} else {
		snprintf(res.host, sizeof(res.host), "%s", s->host);
		res.down_rate = st_rate(s->inf.down_bytes, s->inf.down_s);
		res.up_rate = s->inf.up_ok ? st_rate(s->inf.up_bytes, s->inf.up_s) : NAN;
		res.rtt_ms = s->inf.rtt_ms;
		res.down_bytes = s->inf.down_bytes;
		res.up_bytes = s->inf.up_bytes;
		res.limited_by_bytes = s->inf.limited_by_bytes;
		snprintf(res.up_error, sizeof(res.up_error), "%s", s->inf.up_ok ? "" : s->inf.up_error);
		tel_history_add(s->env.hist, TEL_K_INET_DOWN, res.ts, res.down_rate);
		tel_history_add(s->env.hist, TEL_K_INET_UP, res.ts, res.up_rate);
		tel_history_add(s->env.hist, TEL_K_INET_RTT, res.ts, res.rtt_ms);
		s->last_inet = res;
	}
	cst_info("speed test %llu%s %s: down %.1f Mbit/s, up %.1f Mbit/s, rtt %.2f ms%s%s",
		 (unsigned long long)s->id, s->background ? " (background)" : "",
		 role == ST_CLIENT ? res.peer : res.host, res.down_rate * 8 / 1e6,
		 res.up_rate * 8 / 1e6, res.rtt_ms, res.up_error[0] ? "; upload: " : "",
		 res.up_error);
	s->last_id = s->id;
	s->last_ok = 1;
	s->last_internet = res.internet;
	s->last_err[0] = 0;
	s->state = ST_IDLE;
	s->role = ST_NONE;
	st_answer_waiter(s, 200, NULL, &res);
}

/* ---- starting ---- */

static void st_begin(struct tel_speedtest *s, enum st_role role, double seconds, uint64_t bytes)
{
	s->id++;
	s->role = role;
	s->seconds = seconds;
	s->test_bytes = bytes;
	s->t0 = cst_clock_mono_ns();
	s->peer[0] = s->host[0] = 0;
	s->background = 0;
}

static void st_on_open(void *user, int err, const cJSON *result, const char *message)
{
	struct st_open_call *oc = user;
	struct tel_speedtest *s = oc->s;
	const cJSON *port, *token;
	size_t bl = 0;
	char msg[300];
	int r;

	free(oc);
	if (!s)
		return;
	s->open_call = NULL;
	if (err) {
		if (err == -EREMOTEIO && message && strstr(message, "already running")) {
			snprintf(msg, sizeof(msg), "speed test already running on %s", s->peer);
			st_fail(s, 409, msg);
		} else {
			snprintf(msg, sizeof(msg), "speed test failed: %s refused or did not answer: %s",
				 s->peer, message && *message ? message : strerror(-err));
			st_fail(s, 502, msg);
		}
		return;
	}
	port = cJSON_GetObjectItemCaseSensitive(result, "port");
	token = cJSON_GetObjectItemCaseSensitive(result, "token");
	if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 ||
	    port->valuedouble != floor(port->valuedouble) || !cJSON_IsString(token) ||
	    strlen(token->valuestring) != 2 * TEL_ST_TOKEN_LEN ||
	    sodium_hex2bin(s->token, sizeof(s->token), token->valuestring,
			   strlen(token->valuestring), NULL, &bl, NULL) || bl != TEL_ST_TOKEN_LEN) {
		st_fail(s, 502, "speed test failed: malformed Speedtest.Open answer");
		return;
	}
	s->port = (uint16_t)port->valuedouble;
	if ((r = st_spawn(s))) {
		snprintf(msg, sizeof(msg), "speed test failed: cannot start a thread: %s", strerror(-r));
		st_fail(s, 500, msg);
	}
}

static int st_start_peer(struct tel_speedtest *s, const char *key, double seconds,
			 unsigned *status, char *err, size_t errlen)
{
	const struct node_peer *p = tel_member_find(s->env.st, key);
	struct st_open_call *oc;
	cJSON *params;

	if (!p) {
		snprintf(err, errlen, "no member named %.64s", key);
		*status = 404;
		return -ENOENT;
	}
	if (!strcmp(p->node_id, s->env.self_id)) {
		snprintf(err, errlen, "a speed test needs another member than this node");
		*status = 400;
		return -EINVAL;
	}
	st_begin(s, ST_CLIENT, seconds, s->max_bytes);
	snprintf(s->peer, sizeof(s->peer), "%s", p->name);
	if (tel_addr_host(p->addr, s->host, sizeof(s->host)) || !(oc = calloc(1, sizeof(*oc)))) {
		snprintf(err, errlen, "member %s has no usable address (%s)", p->name, p->addr);
		*status = 500;
		s->role = ST_NONE;
		return -EINVAL;
	}
	oc->s = s;
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "from", s->env.self_id);
	cJSON_AddNumberToObject(params, "seconds", seconds);
	cJSON_AddNumberToObject(params, "max_bytes", (double)s->max_bytes);
	if (rpc_client_call(s->env.cli, p->addr, "Speedtest.Open", params, s->env.cfg->rpc_timeout,
			    st_on_open, oc)) {
		free(oc);
		snprintf(err, errlen, "speed test failed: cannot call %s", p->name);
		*status = 502;
		s->role = ST_NONE;
		return -EIO;
	}
	s->open_call = oc;
	s->state = ST_OPENING;
	cst_info("speed test %llu with %s (%s) for %g s a direction", (unsigned long long)s->id,
		 p->name, s->host, seconds);
	return 0;
}

static int st_start_inet(struct tel_speedtest *s, double seconds, uint64_t bytes, int background,
			 unsigned *status, char *err, size_t errlen)
{
	int r;

	if (!s->env.cfg->speedtest_url[0]) {
		snprintf(err, errlen, "internet speed test off: SPEEDTEST_URL is not set");
		*status = 503;
		return -ENOTSUP;
	}
	st_begin(s, ST_INET, seconds, bytes);
	s->background = background;
	tel_inet_url_host(s->env.cfg->speedtest_url, s->host, sizeof(s->host));
	if ((r = st_spawn(s))) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(-r));
		*status = 500;
		s->role = ST_NONE;
		return r;
	}
	cst_info("speed test %llu%s against %s for %g s a direction", (unsigned long long)s->id,
		 background ? " (background)" : "", s->host, seconds);
	return 0;
}

int tel_speedtest_start(struct tel_speedtest *s, const char *peer, double seconds, uint64_t *id,
			unsigned *status, char *err, size_t errlen)
{
	int r;

	if (s->state != ST_IDLE) {
		snprintf(err, errlen, "speed test already running");
		*status = 409;
		return -EBUSY;
	}
	if (!(seconds >= 1 && seconds <= TEL_ST_MAX_SECONDS)) {
		snprintf(err, errlen, "seconds must be between 1 and %d", TEL_ST_MAX_SECONDS);
		*status = 400;
		return -EINVAL;
	}
	r = peer ? st_start_peer(s, peer, seconds, status, err, errlen) :
		   st_start_inet(s, seconds, s->max_bytes, 0, status, err, errlen);
	if (!r)
		*id = s->id;
	return r;
}

/* ---- RPC ---- */

static void st_waiter_abort(void *user, struct rpc_call *call)
{
	struct tel_speedtest *s = user;

	(void)call;
	s->waiter = NULL; /* the test goes on; its result stays as the last one */
}

static void m_run_speedtest(void *user, const cJSON *params, struct rpc_call *call)
{
	struct tel_speedtest *s = user;
	const cJSON *peer = cJSON_GetObjectItemCaseSensitive(params, "peer");
	const cJSON *secs = cJSON_GetObjectItemCaseSensitive(params, "seconds");
	double seconds = TEL_ST_DEFAULT_SECONDS;
	unsigned status = 500;
	uint64_t id;
	char err[300];

	if (peer && !cJSON_IsNull(peer) && (!cJSON_IsString(peer) || !peer->valuestring[0])) {
		rpc_call_error(call, 400, "RunSpeedtest: peer must be a member's name or node_id");
		return;
	}
	if (secs && !cJSON_IsNull(secs)) {
		if (!cJSON_IsNumber(secs)) {
			rpc_call_error(call, 400, "RunSpeedtest: seconds must be a number");
			return;
		}
		seconds = secs->valuedouble;
	}
	if (tel_speedtest_start(s, cJSON_IsString(peer) ? peer->valuestring : NULL, seconds, &id,
				&status, err, sizeof(err))) {
		rpc_call_error(call, status, err);
		return;
	}
	s->waiter = call;
	rpc_call_on_abort(call, st_waiter_abort, s);
}

static void m_open(void *user, const cJSON *params, struct rpc_call *call)
{
	struct tel_speedtest *s = user;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(params, "from");
	const cJSON *secs = cJSON_GetObjectItemCaseSensitive(params, "seconds");
	const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(params, "max_bytes");
	const struct node_peer *p;
	char hex[2 * TEL_ST_TOKEN_LEN + 1];
	cJSON *o;
	int r;

	if (s->state != ST_IDLE) {
		rpc_call_error(call, 409, "speed test already running");
		return;
	}
	if (!cJSON_IsString(from) || !(p = node_state_find_peer(s->env.st, from->valuestring)) ||
	    !strcmp(p->node_id, s->env.self_id)) {
		rpc_call_error(call, 403, "Speedtest.Open: from must be another member's node_id");
		return;
	}
	if (!cJSON_IsNumber(secs) || !(secs->valuedouble >= 1) ||
	    secs->valuedouble > TEL_ST_MAX_SECONDS || !cJSON_IsNumber(bytes) ||
	    !(bytes->valuedouble >= 1)) {
		rpc_call_error(call, 400, "Speedtest.Open: seconds (1-15) and max_bytes are required");
		return;
	}
	st_begin(s, ST_SERVER, secs->valuedouble,
		 bytes->valuedouble < (double)s->max_bytes ? (uint64_t)bytes->valuedouble :
							    s->max_bytes);
	snprintf(s->peer, sizeof(s->peer), "%s", p->name);
	if ((r = tel_st_listen(s->env.cfg->listen_addr, (uint16_t)s->env.cfg->speedtest_port,
			       &s->lfd, &s->port))) {
		cst_warn("speed test for %s: cannot listen: %s", p->name, strerror(-r));
		s->role = ST_NONE;
		rpc_call_error(call, 500, "cannot open the speed test port");
		return;
	}
	randombytes_buf(s->token, sizeof(s->token));
	if ((r = st_spawn(s))) {
		close(s->lfd);
		s->role = ST_NONE;
		rpc_call_error(call, 500, "cannot start a thread");
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), s->token, sizeof(s->token));
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "port", s->port);
	cJSON_AddStringToObject(o, "token", hex);
	sodium_memzero(hex, sizeof(hex));
	cst_info("speed test for %s: port %u open for %.0f s", p->name, s->port, TEL_ST_ACCEPT_S);
	rpc_call_reply(call, o);
}

int tel_speedtest_register(struct tel_speedtest *s, struct rpc_server *srv)
{
	int r;

	if ((r = rpc_server_register(srv, "RunSpeedtest", m_run_speedtest, s)) ||
	    (r = rpc_server_register(srv, "Speedtest.Open", m_open, s)))
		return r;
	return 0;
}

/* ---- background ---- */

static double st_bg_delay(double base)
{
	/* +-10 %: nodes started together do not all test at once */
	return base * (0.9 + 0.2 * (double)randombytes_uniform(10001) / 10000.0);
}

static void st_on_bg(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tel_speedtest *s = w->data;
	unsigned status;
	char err[200];
	uint64_t bytes = s->max_bytes < TEL_BG_MAX_BYTES ? s->max_bytes : TEL_BG_MAX_BYTES;

	(void)revents;
	if (s->state != ST_IDLE) {
		ev_timer_set(w, 300.0, 0); /* busy: try again in 5 minutes */
	} else {
		if (st_start_inet(s, TEL_BG_SECONDS, bytes, 1, &status, err, sizeof(err)))
			cst_warn("background speed test: %s", err);
		ev_timer_set(w, st_bg_delay(TEL_BG_EVERY_S), 0);
	}
	ev_timer_start(loop, w);
}

/* ---- status ---- */

const struct tel_st_result *tel_speedtest_last(const struct tel_speedtest *s, int internet)
{
	const struct tel_st_result *r = internet ? &s->last_inet : &s->last_peer;

	return r->valid ? r : NULL;
}

const char *tel_speedtest_running(const struct tel_speedtest *s)
{
	if (s->state == ST_IDLE)
		return NULL;
	return s->role == ST_INET ? "internet" : "peer";
}

cJSON *tel_speedtest_result_json(const struct tel_st_result *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", r->internet ? "internet" : "peer");
	if (r->internet)
		cJSON_AddStringToObject(o, "host", r->host);
	else
		cJSON_AddStringToObject(o, "peer", r->peer);
	cJSON_AddNumberToObject(o, "ts", (double)r->ts);
	tel_json_add_num(o, "seconds", r->seconds, 2);
	tel_json_add_num(o, "down_bytes_per_s", r->down_rate, 1);
	tel_json_add_num(o, "up_bytes_per_s", r->up_rate, 1);
	tel_json_add_num(o, "rtt_ms", r->rtt_ms, 3);
	cJSON_AddNumberToObject(o, "down_bytes", (double)r->down_bytes);
	cJSON_AddNumberToObject(o, "up_bytes", (double)r->up_bytes);
	cJSON_AddStringToObject(o, "limited_by", r->limited_by_bytes ? "bytes" : "time");
	if (r->internet && r->up_error[0])
		cJSON_AddStringToObject(o, "up_error", r->up_error);
	return o;
}

cJSON *tel_speedtest_status_json(struct tel_speedtest *s)
{
	cJSON *o = cJSON_CreateObject(), *last;
	const struct tel_st_result *res = NULL;

	cJSON_AddBoolToObject(o, "running", s->state != ST_IDLE);
	cJSON_AddNumberToObject(o, "id", (double)s->id);
	if (s->state != ST_IDLE) {
		char phase[16];
		uint64_t bytes;
		double el;

		pthread_mutex_lock(&s->mu);
		memcpy(phase, s->phase, sizeof(phase));
		bytes = s->pbytes;
		el = s->pelapsed;
		pthread_mutex_unlock(&s->mu);
		cJSON_AddStringToObject(o, "kind", s->role == ST_INET ? "internet" :
						   s->role == ST_SERVER ? "serving" : "peer");
		cJSON_AddStringToObject(o, "peer", s->role == ST_INET ? s->host : s->peer);
		cJSON_AddStringToObject(o, "phase", s->state == ST_OPENING ? "open" : phase);
		tel_json_add_num(o, "elapsed_s", el, 2);
		cJSON_AddNumberToObject(o, "bytes", (double)bytes);
		tel_json_add_num(o, "rate_bytes_per_s", el > 0 ? (double)bytes / el : NAN, 1);
	}
	last = cJSON_AddObjectToObject(o, "last");
	cJSON_AddNumberToObject(last, "id", (double)s->last_id);
	cJSON_AddBoolToObject(last, "ok", s->last_ok);
	if (s->last_ok)
		cJSON_AddNullToObject(last, "error");
	else
		cJSON_AddStringToObject(last, "error", s->last_err);
	if (s->last_ok)
		res = s->last_internet ? &s->last_inet : &s->last_peer;
	if (res && res->valid)
		cJSON_AddItemToObject(last, "result", tel_speedtest_result_json(res));
	else
		cJSON_AddNullToObject(last, "result");
	return o;
}

/* ---- life ---- */

int tel_speedtest_new(const struct tel_speedtest_env *env, struct tel_speedtest **out)
{
	struct tel_speedtest *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->env = *env;
	s->max_bytes = (uint64_t)env->cfg->speedtest_max_mb * 1000 * 1000;
	s->lfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	ev_async_init(&s->done, st_on_done);
	s->done.data = s;
	ev_async_start(env->loop, &s->done);
	ev_timer_init(&s->bg, st_on_bg, st_bg_delay(env->cfg->test_bg_first_s), 0);
	s->bg.data = s;
	if (env->cfg->enable_bg_speedtest && env->cfg->speedtest_url[0])
		ev_timer_start(env->loop, &s->bg);
	*out = s;
	return 0;
}

void tel_speedtest_free(struct tel_speedtest *s)
{
	if (!s)
		return;
	atomic_store(&s->cancel, 1);
	if (s->th_live) {
		pthread_join(s->th, NULL);
		s->th_live = 0;
	}
	if (s->open_call)
		s->open_call->s = NULL; /* its callback runs when the RPC client goes */
	st_answer_waiter(s, 503, "this node is stopping", NULL);
	ev_async_stop(s->env.loop, &s->done);
	ev_timer_stop(s->env.loop, &s->bg);
	pthread_mutex_destroy(&s->mu);
	sodium_memzero(s->token, sizeof(s->token));
	free(s);
}
