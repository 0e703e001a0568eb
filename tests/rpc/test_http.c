/* Server and client of rpc/ on one libev loop over 127.0.0.1. */
#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <time.h>

#include "auth.h"
#include "rpc.h"
#include "test.h"

static const uint8_t secret[32] = { 42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
				    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
static struct ev_loop *loop;
/* Servers and clients share a frozen clock: the window tests are exact and
 * a jumping wall clock (seen in the sandbox) cannot make them flaky. */
#define FROZEN_NOW 1800000000ULL
static uint64_t test_clock(void *user)
{
	(void)user;
	return FROZEN_NOW;
}
static struct rpc_server *srv;
static char addr[64];

struct result { int done, err; char msg[128]; double num; };

static void on_done(void *user, int err, const cJSON *result, const char *message)
{
	struct result *r = user;
	r->done = 1;
	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", message ? message : "");
	if (cJSON_IsObject(result)) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, "echo");
		if (cJSON_IsNumber(v))
			r->num = v->valuedouble;
	}
}

static void run_until(struct result *r, double max_s)
{
	double end = ev_time() + max_s;
	while (!r->done && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
}

static void m_echo(void *user, const cJSON *params, struct rpc_call *call)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(params, "x");
	cJSON *res = cJSON_CreateObject();
	(void)user;
	if (!cJSON_IsNumber(x)) {
		cJSON_Delete(res);
		rpc_call_error(call, 400, "params.x must be a number");
		return;
	}
	cJSON_AddNumberToObject(res, "echo", x->valuedouble);
	rpc_call_reply(call, res);
}

/* Answers 50 ms later from a timer: an asynchronous handler. */
static struct rpc_call *pending;
static ev_timer later_timer;
static void later_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	cJSON *res = cJSON_CreateObject();
	(void)l; (void)w; (void)revents;
	cJSON_AddNumberToObject(res, "echo", 7);
	rpc_call_reply(pending, res);
	pending = NULL;
}
static void m_later(void *user, const cJSON *params, struct rpc_call *call)
{
	(void)user; (void)params;
	pending = call;
	ev_timer_init(&later_timer, later_cb, 0.05, 0.);
	ev_timer_start(loop, &later_timer);
}

static struct rpc_call *never_call;
static void m_never(void *user, const cJSON *params, struct rpc_call *call)
{
	(void)user; (void)params;
	never_call = call; /* answered at the end of the test */
}

static int call(const uint8_t *key, const char *method, cJSON *params, double timeout,
		struct result *r)
{
	struct rpc_client *c;
	int ret;
	memset(r, 0, sizeof(*r));
	if (rpc_client_new(loop, key, 32, &c) < 0)
		return -1;
	rpc_client_set_clock(c, test_clock, NULL);
	ret = rpc_client_call(c, addr, method, params, timeout, on_done, r);
	if (ret == 0)
		run_until(r, timeout + 2);
	rpc_client_free(c);
	return ret;
}

static void test_rpc_http_call_succeeds(void)
{
	struct result r;
	cJSON *p = cJSON_CreateObject();
	cJSON_AddNumberToObject(p, "x", 41);
	CHECK_EQ_INT(call(secret, "Echo", p, 3, &r), 0);
	CHECK_EQ_INT(r.done, 1);
	CHECK_EQ_INT(r.err, 0);
	CHECK_EQ_INT((int)r.num, 41);
}

static void test_rpc_http_async_handler(void)
{
	struct result r;
	CHECK_EQ_INT(call(secret, "Later", NULL, 3, &r), 0);
	CHECK_EQ_INT(r.err, 0);
	CHECK_EQ_INT((int)r.num, 7);
}

static void test_rpc_http_unknown_method_and_bad_params(void)
{
	struct result r;
	cJSON *p = cJSON_CreateObject();
	CHECK_EQ_INT(call(secret, "Nope", NULL, 3, &r), 0);
	CHECK_EQ_INT(r.err, -EREMOTEIO);
	CHECK_STR(r.msg, "unknown method: Nope");
	cJSON_AddStringToObject(p, "x", "not a number");
	CHECK_EQ_INT(call(secret, "Echo", p, 3, &r), 0);
	CHECK_EQ_INT(r.err, -EREMOTEIO);
	CHECK_STR(r.msg, "params.x must be a number");
}

static void test_rpc_http_wrong_secret_rejected(void)
{
	struct result r;
	uint8_t other[32] = { 1 };
	CHECK_EQ_INT(call(other, "Echo", NULL, 3, &r), 0);
	CHECK_EQ_INT(r.err, -EACCES);
	CHECK_STR(r.msg, "bad signature");
}

static void test_rpc_http_timeout_and_refused(void)
{
	struct result r;
	double t0 = ev_time();
	CHECK_EQ_INT(call(secret, "Never", NULL, 0.5, &r), 0);
	CHECK_EQ_INT(r.err, -ETIMEDOUT);
	CHECK(ev_time() - t0 < 2.0);
	if (never_call) {
		rpc_call_error(never_call, 500, "late");
		never_call = NULL;
	}
	{
		struct rpc_client *c;
		memset(&r, 0, sizeof(r));
		CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
	rpc_client_set_clock(c, test_clock, NULL);
		/* port 1 on loopback: nothing listens there */
		CHECK_EQ_INT(rpc_client_call(c, "127.0.0.1:1", "Echo", NULL, 2, on_done, &r), 0);
		run_until(&r, 4);
		CHECK_EQ_INT(r.err, -ECONNREFUSED);
		rpc_client_free(c);
	}
}

/* Raw HTTP with libcurl's easy API, run while the loop serves. */
struct raw { CURL *e; CURLM *m; long status; char body[512]; size_t len; };
static size_t raw_write(char *p, size_t s, size_t n, void *u)
{
	struct raw *r = u;
	size_t k = s * n, room = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, k < room ? k : room);
	r->len += k < room ? k : room;
	r->body[r->len] = 0;
	return k;
}
static void raw_request(const char *path, const char *body, struct curl_slist *hdrs, struct raw *r)
{
	char url[128];
	int running = 1;
	double end = ev_time() + 5;
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://%s%s", addr, path);
	r->e = curl_easy_init();
	r->m = curl_multi_init();
	curl_easy_setopt(r->e, CURLOPT_URL, url);
	curl_easy_setopt(r->e, CURLOPT_WRITEFUNCTION, raw_write);
	curl_easy_setopt(r->e, CURLOPT_WRITEDATA, r);
	if (hdrs)
		curl_easy_setopt(r->e, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(r->e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(r->e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_multi_add_handle(r->m, r->e);
	while (running && ev_time() < end) {
		curl_multi_perform(r->m, &running);
		curl_multi_poll(r->m, NULL, 0, 10, NULL);
		ev_run(loop, EVRUN_NOWAIT);
	}
	curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_multi_remove_handle(r->m, r->e);
	curl_easy_cleanup(r->e);
	curl_multi_cleanup(r->m);
}

static void test_rpc_http_health_is_uninformative(void)
{
	struct raw r;
	raw_request("/health", NULL, NULL, &r);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(r.body, "{\"ok\":true}");
}

static void test_rpc_http_replayed_request_rejected(void)
{
	const char *body = "{\"method\":\"Echo\",\"params\":{\"x\":5}}";
	struct rpc_auth_headers h;
	struct curl_slist *hdrs = NULL;
	char line[160];
	struct raw r;
	rpc_auth_sign(secret, 32, "POST", "/rpc", body, strlen(body), FROZEN_NOW, &h);
	snprintf(line, sizeof(line), "%s: %s", RPC_HDR_TIMESTAMP, h.timestamp);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "%s: %s", RPC_HDR_NONCE, h.nonce);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "%s: %s", RPC_HDR_SIGNATURE, h.signature);
	hdrs = curl_slist_append(hdrs, line);
	raw_request("/rpc", body, hdrs, &r);
	CHECK_EQ_INT(r.status, 200);
	raw_request("/rpc", body, hdrs, &r); /* the same bytes again */
	CHECK_EQ_INT(r.status, 401);
	CHECK(strstr(r.body, "replayed request") != NULL);
	curl_slist_free_all(hdrs);
	raw_request("/rpc", body, NULL, &r); /* unsigned */
	CHECK_EQ_INT(r.status, 401);
	CHECK(strstr(r.body, "missing authentication header") != NULL);
}

/* Signed headers for body made at ts; tamper flips one signature digit. */
static struct curl_slist *signed_headers(const uint8_t *key, const char *body, uint64_t ts,
					 int tamper)
{
	struct rpc_auth_headers h;
	struct curl_slist *hdrs = NULL;
	char line[160];
	CHECK_EQ_INT(rpc_auth_sign(key, 32, "POST", "/rpc", body, strlen(body), ts, &h), 0);
	if (tamper)
		h.signature[10] = h.signature[10] == '0' ? '1' : '0';
	snprintf(line, sizeof(line), "%s: %s", RPC_HDR_TIMESTAMP, h.timestamp);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "%s: %s", RPC_HDR_NONCE, h.nonce);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "%s: %s", RPC_HDR_SIGNATURE, h.signature);
	hdrs = curl_slist_append(hdrs, line);
	return hdrs;
}

static void expect_raw(const char *body, struct curl_slist *hdrs, long status, const char *reply)
{
	struct raw r;
	raw_request("/rpc", body, hdrs, &r);
	curl_slist_free_all(hdrs);
	CHECK_EQ_INT(r.status, status);
	CHECK_STR(r.body, reply);
}

static void test_rpc_http_forged_stale_future_rejected(void)
{
	const char *body = "{\"method\":\"Echo\",\"params\":{\"x\":5}}";
	uint64_t now = FROZEN_NOW;
	expect_raw(body, signed_headers(secret, body, now, 1), 401,
		   "{\"ok\":false,\"error\":\"bad signature\"}");
	/* well signed but stale: the answer says by how much, both ways */
	expect_raw(body, signed_headers(secret, body, now - 16, 0), 401,
		   "{\"ok\":false,\"error\":\"timestamp outside the accepted window: your clock is "
		   "16 s behind this node's (limit ±15 s)\",\"skew_s\":-16}");
	expect_raw(body, signed_headers(secret, body, now + 16, 0), 401,
		   "{\"ok\":false,\"error\":\"timestamp outside the accepted window: your clock is "
		   "16 s ahead of this node's (limit ±15 s)\",\"skew_s\":16}");
	/* stale and forged: no details for strangers */
	expect_raw(body, signed_headers(secret, body, now - 16, 1), 401,
		   "{\"ok\":false,\"error\":\"timestamp outside the accepted window\"}");
	/* signed for another body: the body hash is covered */
	expect_raw("{\"method\":\"Echo\",\"params\":{\"x\":6}}", signed_headers(secret, body, now, 0),
		   401, "{\"ok\":false,\"error\":\"bad signature\"}");
	/* inside the window it passes */
	expect_raw(body, signed_headers(secret, body, now - 15, 0), 200,
		   "{\"ok\":true,\"result\":{\"echo\":5}}");
	expect_raw(body, signed_headers(secret, body, now + 15, 0), 200,
		   "{\"ok\":true,\"result\":{\"echo\":5}}");
}

static void test_rpc_http_malformed_bodies_rejected_with_reason(void)
{
	uint64_t now = FROZEN_NOW;
	expect_raw("{\"method\":", signed_headers(secret, "{\"method\":", now, 0), 400,
		   "{\"ok\":false,\"error\":\"malformed request: not JSON\"}");
	expect_raw("{\"method\":\"Echo\",\"params\":[1]}",
		   signed_headers(secret, "{\"method\":\"Echo\",\"params\":[1]}", now, 0), 400,
		   "{\"ok\":false,\"error\":\"malformed request: \\\"params\\\" must be an object\"}");
	expect_raw("{\"method\":7}", signed_headers(secret, "{\"method\":7}", now, 0), 400,
		   "{\"ok\":false,\"error\":\"malformed request: \\\"method\\\" must be a name of 1..64 characters\"}");
}

/* POST /join stands for any unauthenticated route registered by the user. */
static void r_join(void *user, const char *body, size_t len, struct rpc_call *c)
{
	cJSON *doc = cJSON_CreateObject();
	(void)user;
	cJSON_AddBoolToObject(doc, "ok", 1);
	cJSON_AddNumberToObject(doc, "echo", (double)len);
	if (strcmp(body, "{\"token\":\"t\"}") != 0) {
		cJSON_Delete(doc);
		rpc_call_error(c, 403, "bad token");
		return;
	}
	rpc_call_raw_reply(c, 200, doc);
}

static void test_rpc_http_raw_route_and_client_request(void)
{
	struct rpc_client *c;
	struct result r;
	struct raw raw;
	CHECK_EQ_INT(rpc_server_route(srv, "POST", "/join", r_join, NULL), 0);
	CHECK_EQ_INT(rpc_server_route(srv, "POST", "/join", r_join, NULL), -EEXIST);
	CHECK_EQ_INT(rpc_server_route(srv, "POST", "/rpc", r_join, NULL), -EEXIST);
	CHECK_EQ_INT(rpc_client_new(loop, NULL, 0, &c), 0); /* a joiner has no secret yet */
	CHECK_EQ_INT(rpc_client_call(c, addr, "Echo", NULL, 1, on_done, &r), -EINVAL);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_request(c, addr, "POST", "/join", "{\"token\":\"t\"}", 13, 2,
					on_done, &r), 0);
	run_until(&r, 4);
	CHECK_EQ_INT(r.err, 0);
	CHECK_EQ_INT((int)r.num, 13);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_request(c, addr, "POST", "/join", "{}", 2, 2, on_done, &r), 0);
	run_until(&r, 4);
	CHECK_EQ_INT(r.err, -EREMOTEIO);
	CHECK_STR(r.msg, "bad token");
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_request(c, addr, "GET", "/health", NULL, 0, 2, on_done, &r), 0);
	run_until(&r, 4);
	CHECK_EQ_INT(r.done, 1);
	CHECK_EQ_INT(r.err, 0);
	rpc_client_free(c);
	raw_request("/join", NULL, NULL, &raw); /* GET on a POST route */
	CHECK_EQ_INT(raw.status, 405);
	raw_request("/nothing", NULL, NULL, &raw);
	CHECK_EQ_INT(raw.status, 404);
}

static void test_rpc_http_secret_set_at_runtime(void)
{
	struct result r;
	uint8_t next[32];
	memset(next, 0x5a, sizeof(next));
	CHECK_EQ_INT(rpc_server_set_secret(srv, next, sizeof(next)), 0);
	CHECK_EQ_INT(call(secret, "Echo", NULL, 3, &r), 0);
	CHECK_EQ_INT(r.err, -EACCES);
	CHECK_EQ_INT(call(next, "Later", NULL, 3, &r), 0);
	CHECK_EQ_INT(r.err, 0);
	CHECK_EQ_INT(rpc_server_set_secret(srv, next, 8), -EINVAL); /* too short */
	CHECK_EQ_INT(rpc_server_set_secret(srv, secret, sizeof(secret)), 0);
}

static int aborted, parked;
static void on_abort(void *user, struct rpc_call *c)
{
	(void)user; (void)c;
	aborted++;
}
static void m_slow(void *user, const cJSON *params, struct rpc_call *c)
{
	(void)user; (void)params;
	parked++;
	rpc_call_on_abort(c, on_abort, NULL);
}

/* A second server with a short handler deadline: a silent handler is
 * answered 504 and told; freeing a server with a parked call tells it too. */
static void test_rpc_http_handler_deadline_and_free_abort(void)
{
	struct rpc_server_config cfg = { .listen_addr = "127.0.0.1:0", .secret = secret,
					 .secret_len = sizeof(secret), .handler_timeout_s = 0.2,
					 .clock = test_clock };
	struct rpc_server *s2;
	struct rpc_client *c;
	struct result r;
	char a2[64];
	CHECK_EQ_INT(rpc_server_new(loop, &cfg, &s2), 0);
	if (!s2)
		return;
	rpc_server_register(s2, "Slow", m_slow, NULL);
	snprintf(a2, sizeof(a2), "127.0.0.1:%u", rpc_server_port(s2));
	aborted = parked = 0;
	CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
	rpc_client_set_clock(c, test_clock, NULL);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_call(c, a2, "Slow", NULL, 3, on_done, &r), 0);
	run_until(&r, 4);
	CHECK_EQ_INT(r.err, -EREMOTEIO);
	CHECK_STR(r.msg, "handler timed out");
	CHECK_EQ_INT(aborted, 1);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_call(c, a2, "Slow", NULL, 3, on_done, &r), 0);
	{
		double end = ev_time() + 2;
		while (parked < 2 && ev_time() < end)
			ev_run(loop, EVRUN_ONCE);
	}
	CHECK_EQ_INT(parked, 2);
	CHECK_EQ_INT(aborted, 1); /* freed before its deadline */
	rpc_server_free(s2);
	CHECK_EQ_INT(aborted, 2);
	run_until(&r, 4);
	CHECK(r.err < 0);
	rpc_client_free(c);
}

/* Past the soft per-address limit a request is answered 503 with the
 * reason (the client says -EBUSY) instead of a silent close or a timeout;
 * the skew refusal of a well signed stale request names the sender's
 * X-Constella-Node to the hook and gives the client the skew. */
static struct rpc_refusal last_refusal;
static char last_refusal_node[40];
static void on_refusal(void *user, const struct rpc_refusal *r)
{
	(void)user;
	last_refusal = *r;
	snprintf(last_refusal_node, sizeof(last_refusal_node), "%s", r->node ? r->node : "");
}
static uint64_t late_clock(void *user)
{
	(void)user;
	return FROZEN_NOW - 40;
}
struct skewres { int done, err; double skew; char msg[160]; };
static void on_skew_done(void *user, int err, const cJSON *result, const char *message)
{
	struct skewres *r = user;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, "skew_s");
	r->done = 1;
	r->err = err;
	r->skew = cJSON_IsNumber(v) ? v->valuedouble : 0;
	snprintf(r->msg, sizeof(r->msg), "%s", message ? message : "");
}

static void test_rpc_http_busy_and_skew_refusals_say_why(void)
{
	struct rpc_server_stats st;
	struct rpc_client *c;
	struct result a, b;
	struct skewres k = { 0 };
	double end;

	rpc_server_set_limits(srv, 0, 1);
	CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
	rpc_client_set_clock(c, test_clock, NULL);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	/* the first call is parked (one connection); the second needs another */
	CHECK_EQ_INT(rpc_client_call(c, addr, "Never", NULL, 2, on_done, &a), 0);
	end = ev_time() + 2;
	while (!never_call && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	CHECK(never_call != NULL);
	CHECK_EQ_INT(rpc_client_call(c, addr, "Echo", NULL, 2, on_done, &b), 0);
	run_until(&b, 3);
	CHECK_EQ_INT(b.err, -EBUSY);
	CHECK(strstr(b.msg, "server busy: 2 connections open from 127.0.0.1 (limit 1 per address)"));
	rpc_server_get_stats(srv, &st);
	CHECK(st.refused_busy >= 1);
	if (never_call) {
		rpc_call_error(never_call, 500, "late");
		never_call = NULL;
	}
	run_until(&a, 3);
	rpc_client_free(c);
	rpc_server_set_limits(srv, RPC_DEFAULT_MAX_CONNS, RPC_DEFAULT_MAX_PER_IP);

	/* a member 40 s behind */
	rpc_server_on_refusal(srv, on_refusal, NULL);
	CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
	rpc_client_set_clock(c, late_clock, NULL);
	rpc_client_set_node_id(c, "0123456789abcdef0123456789abcdef");
	CHECK_EQ_INT(rpc_client_call(c, addr, "Echo", NULL, 2, on_skew_done, &k), 0);
	end = ev_time() + 3;
	while (!k.done && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	CHECK_EQ_INT(k.err, -EACCES);
	CHECK(k.skew == -40);
	CHECK(strstr(k.msg, "your clock is 40 s behind this node's (limit ±15 s)"));
	CHECK(last_refusal.skew_s == -40);
	CHECK_STR(last_refusal_node, "0123456789abcdef0123456789abcdef");
	rpc_client_free(c);
	rpc_server_on_refusal(srv, NULL, NULL);
}

struct selfree { struct rpc_client *c; struct result a, b; };
static void on_done_free(void *user, int err, const cJSON *result, const char *message)
{
	struct selfree *f = user;
	on_done(&f->a, err, result, message);
	rpc_client_free(f->c); /* cancels the other call, memory freed later */
	CHECK_EQ_INT(rpc_client_call(f->c, addr, "Echo", NULL, 1, on_done, &f->b), -ECANCELED);
}
static void on_done_b(void *user, int err, const cJSON *result, const char *message)
{
	struct selfree *f = user;
	on_done(&f->b, err, result, message);
}

static void test_rpc_http_client_freed_from_its_callback(void)
{
	struct selfree f;
	cJSON *p = cJSON_CreateObject();
	memset(&f, 0, sizeof(f));
	cJSON_AddNumberToObject(p, "x", 1);
	CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &f.c), 0);
	rpc_client_set_clock(f.c, test_clock, NULL);
	CHECK_EQ_INT(rpc_client_call(f.c, addr, "Echo", p, 3, on_done_free, &f), 0);
	CHECK_EQ_INT(rpc_client_call(f.c, addr, "Never", NULL, 3, on_done_b, &f), 0);
	run_until(&f.a, 4);
	CHECK_EQ_INT(f.a.err, 0);
	CHECK_EQ_INT(f.b.done, 1);
	CHECK_EQ_INT(f.b.err, -ECANCELED);
	if (never_call) {
		rpc_call_error(never_call, 500, "late");
		never_call = NULL;
	}
}

static void test_rpc_http_no_secret_yet_and_addresses(void)
{
	struct rpc_server_config cfg = { .listen_addr = "127.0.0.1:0", .clock = test_clock };
	struct sockaddr_storage ss;
	struct rpc_server *s2;
	struct rpc_client *c;
	struct result r;
	char a2[64];
	socklen_t sl;
	CHECK_EQ_INT(rpc_server_new(loop, &cfg, &s2), 0);
	if (!s2)
		return;
	rpc_server_register(s2, "Echo", m_echo, NULL);
	snprintf(a2, sizeof(a2), "127.0.0.1:%u", rpc_server_port(s2));
	CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
	rpc_client_set_clock(c, test_clock, NULL);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_call(c, a2, "Echo", NULL, 3, on_done, &r), 0);
	run_until(&r, 4);
	CHECK_EQ_INT(r.err, -EACCES);
	CHECK_STR(r.msg, "not a member of a network yet");
	rpc_client_free(c);
	rpc_server_free(s2);
	CHECK_EQ_INT(rpc_parse_addr("[::]:4747", &ss, &sl), 0);
	CHECK_EQ_INT(ss.ss_family, AF_INET6);
	CHECK_EQ_INT(rpc_parse_addr("0.0.0.0:4747", &ss, &sl), 0);
	CHECK_EQ_INT(ss.ss_family, AF_INET);
	CHECK_EQ_INT(rpc_parse_addr("::1:4747", &ss, &sl), -EINVAL); /* v6 needs brackets */
	CHECK_EQ_INT(rpc_parse_addr("1.2.3.4:65536", &ss, &sl), -EINVAL);
	CHECK_EQ_INT(rpc_parse_addr("1.2.3.4:", &ss, &sl), -EINVAL);
	CHECK_EQ_INT(rpc_parse_addr("host.example:80", &ss, &sl), -EINVAL); /* numeric only */
	/* what the client calls: names too, resolved off the loop */
	CHECK_EQ_INT(rpc_check_host_port("vps-1.example.org:4747"), 0);
	CHECK_EQ_INT(rpc_check_host_port("[fd00::1]:4747"), 0);
	CHECK_EQ_INT(rpc_check_host_port("10.0.0.1:4747"), 0);
	CHECK_EQ_INT(rpc_check_host_port("10.0.0.1:0"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("host:0"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("-bad.example:80"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("bad-.example:80"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("a..b:80"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("user@host:80"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("host/x:80"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("host"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port(":80"), -EINVAL);
	CHECK_EQ_INT(rpc_check_host_port("name.org:\n477"), -EINVAL); /* found by the fuzzer */
	CHECK_EQ_INT(rpc_check_host_port("name.org:+80"), -EINVAL);
	CHECK_EQ_INT(rpc_parse_addr("1.2.3.4: 80", &ss, &sl), -EINVAL);
	/* and a call by name reaches the server */
	{
		struct rpc_server *s3;
		char a3[64];

		cfg.listen_addr = "127.0.0.1:0";
		CHECK_EQ_INT(rpc_server_new(loop, &cfg, &s3), 0);
		if (s3) {
			rpc_server_set_secret(s3, secret, 32);
			rpc_server_register(s3, "Echo", m_echo, NULL);
			snprintf(a3, sizeof(a3), "localhost:%u", rpc_server_port(s3));
			CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
			rpc_client_set_clock(c, test_clock, NULL);
			memset(&r, 0, sizeof(r));
			{
				cJSON *p = cJSON_CreateObject();

				cJSON_AddNumberToObject(p, "x", 5);
				CHECK_EQ_INT(rpc_client_call(c, a3, "Echo", p, 3, on_done, &r), 0);
			}
			run_until(&r, 4);
			CHECK_EQ_INT(r.done, 1);
			CHECK_EQ_INT(r.err, 0);
			CHECK_EQ_INT((int)r.num, 5);
			rpc_client_free(c);
			rpc_server_free(s3);
		}
	}
	cfg.listen_addr = "1.2.3.4";
	CHECK_EQ_INT(rpc_server_new(loop, &cfg, &s2), -EINVAL);
}

static void m_huge(void *user, const cJSON *params, struct rpc_call *c)
{
	size_t n = RPC_MAX_REPLY + 1;
	char *big = malloc(n + 1);
	(void)user; (void)params;
	memset(big, 'z', n);
	big[n] = 0;
	rpc_call_reply(c, cJSON_CreateString(big));
	free(big);
}

static void test_rpc_http_client_limits_reply_size(void)
{
	struct result r;
	CHECK_EQ_INT(rpc_server_register(srv, "Huge", m_huge, NULL), 0);
	CHECK_EQ_INT(call(secret, "Huge", NULL, 5, &r), 0);
	CHECK_EQ_INT(r.err, -EPROTO);
	CHECK_STR(r.msg, "reply too large");
}

static void test_rpc_http_free_cancels_pending(void)
{
	struct rpc_client *c;
	struct result r;
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(rpc_client_new(loop, secret, 32, &c), 0);
	rpc_client_set_clock(c, test_clock, NULL);
	CHECK_EQ_INT(rpc_client_call(c, addr, "Echo", NULL, 3, on_done, &r), 0);
	rpc_client_free(c);
	CHECK_EQ_INT(r.done, 1);
	CHECK_EQ_INT(r.err, -ECANCELED);
}

static void test_rpc_http_oversized_body_413(void)
{
	size_t n = 300 * 1024;
	char *big = malloc(n + 1);
	struct raw r;
	memset(big, 'a', n);
	big[n] = 0;
	raw_request("/rpc", big, NULL, &r);
	CHECK_EQ_INT(r.status, 413);
	CHECK_STR(r.body, "{\"ok\":false,\"error\":\"request body too large\"}");
	/* also on an unauthenticated route, and for a body just over the limit */
	big[RPC_DEFAULT_MAX_BODY + 1] = 0;
	raw_request("/health", big, NULL, &r);
	CHECK_EQ_INT(r.status, 413);
	free(big);
}

int main(void)
{
	struct rpc_server_config cfg = { .listen_addr = "127.0.0.1:0", .secret = secret,
					 .secret_len = sizeof(secret), .clock = test_clock };
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 2;
	loop = ev_loop_new(EVFLAG_AUTO);
	CHECK_EQ_INT(rpc_server_new(loop, &cfg, &srv), 0);
	if (!srv)
		return TEST_DONE();
	rpc_server_register(srv, "Echo", m_echo, NULL);
	rpc_server_register(srv, "Later", m_later, NULL);
	rpc_server_register(srv, "Never", m_never, NULL);
	CHECK_EQ_INT(rpc_server_register(srv, "Echo", m_echo, NULL), -EEXIST);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", rpc_server_port(srv));
	RUN_TEST(test_rpc_http_call_succeeds);
	RUN_TEST(test_rpc_http_async_handler);
	RUN_TEST(test_rpc_http_unknown_method_and_bad_params);
	RUN_TEST(test_rpc_http_wrong_secret_rejected);
	RUN_TEST(test_rpc_http_timeout_and_refused);
	RUN_TEST(test_rpc_http_health_is_uninformative);
	RUN_TEST(test_rpc_http_replayed_request_rejected);
	RUN_TEST(test_rpc_http_oversized_body_413);
	RUN_TEST(test_rpc_http_forged_stale_future_rejected);
	RUN_TEST(test_rpc_http_malformed_bodies_rejected_with_reason);
	RUN_TEST(test_rpc_http_raw_route_and_client_request);
	RUN_TEST(test_rpc_http_secret_set_at_runtime);
	RUN_TEST(test_rpc_http_handler_deadline_and_free_abort);
	RUN_TEST(test_rpc_http_free_cancels_pending);
	RUN_TEST(test_rpc_http_no_secret_yet_and_addresses);
	RUN_TEST(test_rpc_http_client_freed_from_its_callback);
	RUN_TEST(test_rpc_http_client_limits_reply_size);
	RUN_TEST(test_rpc_http_busy_and_skew_refusals_say_why);
	rpc_server_free(srv);
	ev_loop_destroy(loop);
	curl_global_cleanup();
	return TEST_DONE();
}
