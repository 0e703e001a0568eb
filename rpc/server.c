/* The RPC server: libmicrohttpd in external epoll mode, driven by libev.
 * MHD does all HTTP parsing; we route, authenticate and dispatch. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "auth.h"
#include "clock.h"
#include "log.h"
#include "ratelimit.h"
#include "rpc.h"

#define RPC_MAX_HEADER_MEMORY (32u * 1024)
#define RPC_REPLAY_CAPACITY 65536
/* File descriptors kept for everything but incoming connections (the
 * client's, the state files, the control socket, the bot's). */
#define RPC_FD_RESERVE 128
#define RPC_LOG_EVERY_S 10.0

/* Open connections from one address. */
struct rpc_ipcount {
	char ip[INET6_ADDRSTRLEN];
	unsigned n;
};

struct rpc_method {
	char *name;
	rpc_method_fn fn;
	void *user;
	struct rpc_method *next;
};

struct rpc_route {
	char *http_method;
	char *path;
	rpc_route_fn fn;
	void *user;
	struct rpc_route *next;
};

struct rpc_server {
	struct ev_loop *loop;
	struct MHD_Daemon *daemon;
	ev_io io;
	ev_timer timer;
	uint8_t secret[RPC_SECRET_MAX];
	size_t secret_len;
	uint64_t skew_s;
	size_t max_body;
	uint16_t port;
	struct rpc_replay_cache *replay;
	struct rpc_method *methods;
	struct rpc_route *routes;
	struct rpc_call *suspended; /* calls waiting for an asynchronous answer */
	double handler_timeout_s;
	rpc_clock_fn clock;
	void *clock_user;
	/* connection accounting and limits */
	unsigned conns, max_conns, max_per_ip, hard_conns;
	struct rpc_ipcount *ips;
	size_t n_ips, cap_ips;
	uint64_t served, refused_busy, refused_auth;
	struct cst_ratelimit rl_busy, rl_mhd, rl_auth, rl_skew;
	rpc_refusal_fn on_refusal;
	void *refusal_user;
};

struct rpc_call {
	struct rpc_server *s;
	struct MHD_Connection *conn;
	char *body;
	size_t len;
	size_t cap;
	bool too_big;
	bool dispatched;
	bool suspended;
	bool early;      /* answered before the body was read (413) */
	unsigned status;
	char *response; /* JSON text, set once */
	/* While suspended: on the server's list, with a deadline, because MHD
	 * neither polls nor times out a suspended connection. */
	ev_timer deadline;
	rpc_abort_fn abort_fn;
	void *abort_user;
	struct rpc_call *next, *prev;
	char peer[INET6_ADDRSTRLEN + 8];
};

static void rpc_server_schedule(struct rpc_server *s);

const char *rpc_call_peer(const struct rpc_call *call)
{
	return call->peer;
}

void rpc_call_on_abort(struct rpc_call *call, rpc_abort_fn fn, void *user)
{
	call->abort_fn = fn;
	call->abort_user = user;
}

static void rpc_call_unlink(struct rpc_call *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		call->s->suspended = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
	ev_timer_stop(call->s->loop, &call->deadline);
}

static void rpc_call_set(struct rpc_call *call, unsigned status, cJSON *doc)
{
	call->status = status;
	call->response = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!call->response) /* out of memory: still answer something */
		call->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (call->suspended) {
		call->suspended = false;
		rpc_call_unlink(call);
		MHD_resume_connection(call->conn);
		rpc_server_schedule(call->s); /* MHD must run to send it */
	}
}

/* The handler's answer will never be sent: tell it, then answer ourselves. */
static void rpc_call_abandon(struct rpc_call *call, unsigned status, const char *why)
{
	rpc_abort_fn fn = call->abort_fn;

	call->abort_fn = NULL;
	if (fn)
		fn(call->abort_user, call);
	rpc_call_error(call, status, why);
}

static void rpc_call_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_call *call = w->data;

	(void)loop;
	(void)revents;
	cst_warn("rpc: handler for %s did not answer in time", call->peer);
	rpc_call_abandon(call, MHD_HTTP_GATEWAY_TIMEOUT, "handler timed out");
}

void rpc_call_reply(struct rpc_call *call, cJSON *result)
{
	cJSON *doc = cJSON_CreateObject();

	if (call->response)
		return; /* answered already: a handler bug, not the peer's */
	cJSON_AddBoolToObject(doc, "ok", 1);
	cJSON_AddItemToObject(doc, "result", result ? result : cJSON_CreateNull());
	rpc_call_set(call, MHD_HTTP_OK, doc);
}

void rpc_call_raw_reply(struct rpc_call *call, unsigned http_status, cJSON *doc)
{
	if (call->response) {
		cJSON_Delete(doc);
		return;
	}
	rpc_call_set(call, http_status, doc ? doc : cJSON_CreateNull());
}

void rpc_call_error(struct rpc_call *call, unsigned http_status, const char *message)
{
	cJSON *doc = cJSON_CreateObject();

	if (call->response)
		return;
	cJSON_AddBoolToObject(doc, "ok", 0);
	cJSON_AddStringToObject(doc, "error", message);
	rpc_call_set(call, http_status, doc);
}

static enum MHD_Result rpc_send_ex(struct MHD_Connection *conn, unsigned status,
				    const char *json, bool close)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result rpc_send(struct MHD_Connection *conn, unsigned status, const char *json)
{
	return rpc_send_ex(conn, status, json, false);
}

static double rpc_mono(void)
{
	return (double)cst_clock_mono_ns() / 1e9;
}

/* ---- connection accounting ---- */

static struct rpc_ipcount *rpc_ip_find(struct rpc_server *s, const char *ip)
{
	for (size_t i = 0; i < s->n_ips; i++)
		if (!strcmp(s->ips[i].ip, ip))
			return &s->ips[i];
	return NULL;
}

static void rpc_sockaddr_str(const struct sockaddr *sa, char *host, size_t hostlen,
			     unsigned *port)
{
	snprintf(host, hostlen, "?");
	*port = 0;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, (socklen_t)hostlen);
		*port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
			  (socklen_t)hostlen);
		*port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
}

/* MHD tells us every connection's start and end: the soft limits count
 * them, per address too. socket_context holds the connection's address
 * slot name (malloc'd). */
static void rpc_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			    enum MHD_ConnectionNotificationCode toe)
{
	struct rpc_server *s = cls;
	struct rpc_ipcount *ic;
	char *ip = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		char host[INET6_ADDRSTRLEN];
		unsigned port;

		s->conns++;
		rpc_sockaddr_str(ci ? ci->client_addr : NULL, host, sizeof(host), &port);
		if (!(ip = strdup(host)))
			return;
		*socket_context = ip;
		if ((ic = rpc_ip_find(s, ip))) {
			ic->n++;
			return;
		}
		if (s->n_ips == s->cap_ips) {
			size_t cap = s->cap_ips ? 2 * s->cap_ips : 16;
			struct rpc_ipcount *n = realloc(s->ips, cap * sizeof(*n));

			if (!n)
				return; /* uncounted: errs on the open side */
			s->ips = n;
			s->cap_ips = cap;
		}
		ic = &s->ips[s->n_ips++];
		snprintf(ic->ip, sizeof(ic->ip), "%s", ip);
		ic->n = 1;
		return;
	}
	if (s->conns)
		s->conns--;
	if (!ip)
		return;
	if ((ic = rpc_ip_find(s, ip)) && --ic->n == 0)
		*ic = s->ips[--s->n_ips];
	free(ip);
	*socket_context = NULL;
}

/* Past a soft limit: why, for the 503 and the log; NULL when within. */
static const char *rpc_over_limit(struct rpc_server *s, const char *ip, char *why, size_t len)
{
	const struct rpc_ipcount *ic = rpc_ip_find(s, ip);

	if (s->conns > s->max_conns)
		snprintf(why, len, "server busy: %u connections open (limit %u)", s->conns,
			 s->max_conns);
	else if (ic && ic->n > s->max_per_ip)
		snprintf(why, len, "server busy: %u connections open from %s (limit %u per address)",
			 ic->n, ip, s->max_per_ip);
	else
		return NULL;
	return why;
}

/* MHD's own messages (the hard limit above all) reach our log, rate limited.
 * The format attribute tells the compiler fmt is MHD's printf format. */
__attribute__((format(printf, 2, 0)))
static void rpc_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct rpc_server *s = cls;
	char msg[256];
	unsigned held;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (cst_ratelimit_ok(&s->rl_mhd, rpc_mono(), RPC_LOG_EVERY_S, &held))
		cst_warn("rpc: %s (hard limit %u connections)%s", msg, s->hard_conns,
			 held ? " (and more like it)" : "");
}

static struct rpc_method *rpc_find(struct rpc_server *s, const char *name)
{
	for (struct rpc_method *m = s->methods; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static struct rpc_route *rpc_route_find(struct rpc_server *s, const char *path)
{
	for (struct rpc_route *r = s->routes; r; r = r->next)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

/* A refused signed request. A stale timestamp under a good signature is a
 * member whose clock is off: both sides must learn by how much. */
static void rpc_refuse_auth(struct rpc_call *call, enum rpc_auth_result auth,
			    const char *http_method, const char *url, const char *ts,
			    const char *nonce, const char *sig)
{
	struct rpc_server *s = call->s;
	const char *node = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, RPC_HDR_NODE);
	uint64_t now = s->clock ? s->clock(s->clock_user) : (uint64_t)time(NULL);
	unsigned held;
	cJSON *doc;
	char msg[200];

	s->refused_auth++;
	if (auth == RPC_AUTH_STALE &&
	    rpc_auth_signature_ok(s->secret, s->secret_len, http_method, url,
				  call->body ? call->body : "", call->len, ts, nonce, sig)) {
		struct rpc_refusal r = { .peer = call->peer, .node = NULL };
		int64_t skew = (int64_t)strtoull(ts, NULL, 10) - (int64_t)now;

		if (node && strlen(node) == 32 && strspn(node, "0123456789abcdef") == 32)
			r.node = node;
		r.skew_s = skew;
		if (s->on_refusal)
			s->on_refusal(s->refusal_user, &r);
		else if (cst_ratelimit_ok(&s->rl_skew, rpc_mono(), RPC_LOG_EVERY_S, &held))
			cst_warn("rpc: refused a request from %s: its clock is %lld s %s ours "
				 "(limit ±%llu s)", call->peer, (long long)(skew < 0 ? -skew : skew),
				 skew < 0 ? "behind" : "ahead of", (unsigned long long)s->skew_s);
		snprintf(msg, sizeof(msg), "%s: your clock is %lld s %s this node's (limit ±%llu s)",
			 rpc_auth_result_str(auth), (long long)(skew < 0 ? -skew : skew),
			 skew < 0 ? "behind" : "ahead of", (unsigned long long)s->skew_s);
		doc = cJSON_CreateObject();
		cJSON_AddBoolToObject(doc, "ok", 0);
		cJSON_AddStringToObject(doc, "error", msg);
		cJSON_AddNumberToObject(doc, "skew_s", (double)skew);
		rpc_call_set(call, MHD_HTTP_UNAUTHORIZED, doc);
		return;
	}
	if (cst_ratelimit_ok(&s->rl_auth, rpc_mono(), RPC_LOG_EVERY_S, &held))
		cst_warn("rpc: refused a request from %s: %s%s", call->peer, rpc_auth_result_str(auth),
			 auth == RPC_AUTH_BAD_SIGNATURE ? " (another network's secret?)" : "");
	rpc_call_error(call, MHD_HTTP_UNAUTHORIZED, rpc_auth_result_str(auth));
}

/* Everything about POST /rpc once the body is complete. */
static void rpc_dispatch(struct rpc_call *call, const char *http_method, const char *url)
{
	struct rpc_server *s = call->s;
	const char *ts, *nonce, *sig;
	enum rpc_auth_result auth;
	cJSON *doc = NULL;
	const cJSON *params;
	const char *name;
	struct rpc_method *m;
	char msg[160];

	call->dispatched = true;
	if (call->too_big) {
		rpc_call_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
		return;
	}
	ts = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, RPC_HDR_TIMESTAMP);
	nonce = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, RPC_HDR_NONCE);
	sig = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, RPC_HDR_SIGNATURE);
	if (!s->secret_len) {
		cst_debug("rpc: rejected request from %s: no network secret yet", call->peer);
		rpc_call_error(call, MHD_HTTP_UNAUTHORIZED, "not a member of a network yet");
		return;
	}
	auth = rpc_auth_verify(s->secret, s->secret_len, http_method, url,
			       call->body ? call->body : "", call->len, ts, nonce, sig,
			       s->clock ? s->clock(s->clock_user) : (uint64_t)time(NULL), s->skew_s,
			       s->replay);
	if (auth != RPC_AUTH_OK) {
		rpc_refuse_auth(call, auth, http_method, url, ts, nonce, sig);
		return;
	}
	if (rpc_parse_request(call->body ? call->body : "", call->len, &doc, &name, &params, msg,
			      sizeof(msg)) < 0) {
		rpc_call_error(call, MHD_HTTP_BAD_REQUEST, msg);
		return;
	}
	m = rpc_find(s, name);
	if (!m) {
		snprintf(msg, sizeof(msg), "unknown method: %.100s", name);
		rpc_call_error(call, MHD_HTTP_NOT_FOUND, msg);
		goto out;
	}
	m->fn(m->user, params, call);
out:
	cJSON_Delete(doc);
}

static enum MHD_Result rpc_access(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct rpc_server *s = cls;
	struct rpc_call *call = *con_cls;

	(void)version;
	if (!call) {
		const union MHD_ConnectionInfo *ci;
		call = calloc(1, sizeof(*call));
		if (!call)
			return MHD_NO;
		call->s = s;
		call->conn = conn;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		{
			char host[INET6_ADDRSTRLEN], why[128];
			unsigned port, held;

			rpc_sockaddr_str(ci ? ci->client_addr : NULL, host, sizeof(host), &port);
			snprintf(call->peer, sizeof(call->peer), "%s:%u", host, port);
			*con_cls = call;
			/* Over a soft limit: say so (503, connection closed) rather
			 * than let the peer time out or see a silent close. */
			if (rpc_over_limit(s, host, why, sizeof(why))) {
				char body[200];

				s->refused_busy++;
				call->dispatched = call->early = true;
				if (cst_ratelimit_ok(&s->rl_busy, rpc_mono(), RPC_LOG_EVERY_S, &held))
					cst_warn("rpc: refused a request from %s: %s%s", call->peer, why,
						 held ? " (and more since the last such line)" : "");
				/* "busy" tells the client it is this limit, not a
				 * handler's own 503 */
				snprintf(body, sizeof(body),
					 "{\"ok\":false,\"error\":\"%s\",\"busy\":true}", why);
				return rpc_send_ex(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body, true);
			}
		}
		*con_cls = call;
		/* Refuse a declared oversized body before reading any of it. */
		{
			const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								     MHD_HTTP_HEADER_CONTENT_LENGTH);
			char *end;
			unsigned long long n;
			if (cl) {
				errno = 0;
				n = strtoull(cl, &end, 10);
				if (errno || *end || n > s->max_body) {
					call->dispatched = call->early = true;
					cst_debug("rpc: %s declared a body over the limit", call->peer);
					return rpc_send(conn, MHD_HTTP_CONTENT_TOO_LARGE,
							"{\"ok\":false,\"error\":\"request body too large\"}");
				}
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (call->early)
			return MHD_YES; /* answered already (413): discard */
		if (call->too_big || call->len + n > s->max_body) {
			call->too_big = true; /* keep reading, then answer 413 */
			return MHD_YES;
		}
		if (call->len + n + 1 > call->cap) {
			size_t cap = call->cap ? call->cap * 2 : 4096;
			char *b;
			while (cap < call->len + n + 1)
				cap *= 2;
			b = realloc(call->body, cap);
			if (!b)
				return MHD_NO;
			call->body = b;
			call->cap = cap;
		}
		memcpy(call->body + call->len, upload_data, n);
		call->len += n;
		call->body[call->len] = 0;
		return MHD_YES;
	}
	if (call->early)
		return MHD_YES;
	if (call->response || (call->dispatched && call->status))
		return rpc_send(conn, call->status,
				call->response ? call->response
					       : "{\"ok\":false,\"error\":\"out of memory\"}");
	if (call->dispatched) {
		/* resumed without an answer cannot happen; be safe */
		return rpc_send(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				"{\"ok\":false,\"error\":\"no answer\"}");
	}
	if (strcmp(url, "/health") == 0) {
		call->dispatched = true;
		if (strcmp(method, "GET") != 0)
			return rpc_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					"{\"ok\":false,\"error\":\"use GET\"}");
		return rpc_send(conn, MHD_HTTP_OK, "{\"ok\":true}");
	}
	if (strcmp(url, "/rpc") != 0) {
		struct rpc_route *rt = rpc_route_find(s, url);
		if (!rt) {
			call->dispatched = true;
			return rpc_send(conn, MHD_HTTP_NOT_FOUND,
					"{\"ok\":false,\"error\":\"not found\"}");
		}
		if (strcmp(method, rt->http_method) != 0) {
			call->dispatched = true;
			return rpc_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					"{\"ok\":false,\"error\":\"method not allowed\"}");
		}
		call->dispatched = true;
		if (call->too_big)
			rpc_call_error(call, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
		else
			rt->fn(rt->user, call->body ? call->body : "", call->len, call);
		goto answer;
	}
	if (strcmp(method, "POST") != 0) {
		call->dispatched = true;
		return rpc_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"ok\":false,\"error\":\"use POST\"}");
	}
	rpc_dispatch(call, method, url);
answer:
	if (call->response || call->status)
		return rpc_send(conn, call->status,
				call->response ? call->response
					       : "{\"ok\":false,\"error\":\"out of memory\"}");
	/* The handler answers later: park the connection. */
	call->suspended = true;
	call->next = s->suspended;
	if (s->suspended)
		s->suspended->prev = call;
	s->suspended = call;
	ev_timer_init(&call->deadline, rpc_call_deadline_cb, s->handler_timeout_s, 0.);
	call->deadline.data = call;
	ev_timer_start(s->loop, &call->deadline);
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void rpc_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct rpc_call *call = *con_cls;

	(void)conn;
	(void)toe;
	if (!call)
		return;
	((struct rpc_server *)cls)->served++;
	if (call->suspended) /* cannot happen: we resume all before stopping */
		rpc_call_unlink(call);
	free(call->body);
	cJSON_free(call->response);
	free(call);
	*con_cls = NULL;
}

static void rpc_server_run(struct rpc_server *s)
{
	MHD_UNSIGNED_LONG_LONG to;

	MHD_run(s->daemon);
	ev_timer_stop(s->loop, &s->timer);
	if (MHD_get_timeout(s->daemon, &to) == MHD_YES) {
		ev_timer_set(&s->timer, (double)to / 1000.0, 0.);
		ev_timer_start(s->loop, &s->timer);
	}
}

static void rpc_server_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	rpc_server_run(w->data);
}

static void rpc_server_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	rpc_server_run(w->data);
}

static void rpc_server_schedule(struct rpc_server *s)
{
	ev_timer_stop(s->loop, &s->timer);
	ev_timer_set(&s->timer, 0., 0.);
	ev_timer_start(s->loop, &s->timer);
}

int rpc_server_set_secret(struct rpc_server *s, const uint8_t *secret, size_t len)
{
	if (secret && (len < RPC_SECRET_MIN || len > RPC_SECRET_MAX))
		return -EINVAL;
	sodium_memzero(s->secret, sizeof(s->secret));
	s->secret_len = secret ? len : 0;
	if (secret)
		memcpy(s->secret, secret, len);
	return 0;
}

int rpc_server_new(struct ev_loop *loop, const struct rpc_server_config *cfg,
		   struct rpc_server **out)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct rpc_server *s;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	int ret;

	*out = NULL;
	if (rpc_parse_addr(cfg->listen_addr, &ss, &sl) < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->skew_s = cfg->skew_s ? cfg->skew_s : RPC_DEFAULT_SKEW_S;
	s->max_body = cfg->max_body ? cfg->max_body : RPC_DEFAULT_MAX_BODY;
	s->clock = cfg->clock;
	s->clock_user = cfg->clock_user;
	s->handler_timeout_s = cfg->handler_timeout_s > 0 ? cfg->handler_timeout_s
							  : RPC_DEFAULT_HANDLER_TIMEOUT_S;
	s->max_conns = cfg->max_conns ? cfg->max_conns : RPC_DEFAULT_MAX_CONNS;
	s->max_per_ip = cfg->max_per_ip ? cfg->max_per_ip : RPC_DEFAULT_MAX_PER_IP;
	{
		/* The hard limit is what the descriptors allow: below it the
		 * server can always answer, if only to say it is busy. */
		struct rlimit rl;
		rlim_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;

		s->hard_conns = fds > 2 * RPC_FD_RESERVE ? (unsigned)(fds > 65536 ? 65536 : fds) -
								   RPC_FD_RESERVE
							 : RPC_FD_RESERVE;
	}
	ret = rpc_server_set_secret(s, cfg->secret, cfg->secret_len);
	if (ret == 0)
		ret = rpc_replay_cache_new(RPC_REPLAY_CAPACITY, &s->replay);
	if (ret < 0)
		goto fail;
	/* "[::]:port" listens on IPv4 too, as "0.0.0.0" users expect. */
	if (ss.ss_family == AF_INET6)
		flags |= IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr)
				 ? MHD_USE_DUAL_STACK
				 : MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, rpc_access, s,
		MHD_OPTION_EXTERNAL_LOGGER, rpc_mhd_log, s, /* first: MHD wants it so */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, s->hard_conns,
		MHD_OPTION_NOTIFY_CONNECTION, rpc_conn_notify, s,
		MHD_OPTION_CONNECTION_TIMEOUT,
		cfg->conn_timeout_s ? cfg->conn_timeout_s : RPC_DEFAULT_CONN_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)RPC_MAX_HEADER_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, rpc_completed, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		ret = -EADDRINUSE; /* MHD does not say why; the usual cause */
		goto fail;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		ret = -EIO;
		goto fail;
	}
	ev_io_init(&s->io, rpc_server_io_cb, info->epoll_fd, EV_READ);
	s->io.data = s;
	ev_io_start(loop, &s->io);
	ev_timer_init(&s->timer, rpc_server_timer_cb, 0., 0.);
	s->timer.data = s;
	rpc_server_run(s);
	*out = s;
	return 0;
fail:
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	rpc_replay_cache_free(s->replay);
	sodium_memzero(s, sizeof(*s));
	free(s);
	return ret;
}

int rpc_server_register(struct rpc_server *s, const char *method, rpc_method_fn fn, void *user)
{
	struct rpc_method *m;

	if (rpc_find(s, method))
		return -EEXIST;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(method))) {
		free(m);
		return -ENOMEM;
	}
	m->fn = fn;
	m->user = user;
	m->next = s->methods;
	s->methods = m;
	return 0;
}

int rpc_server_route(struct rpc_server *s, const char *http_method, const char *path,
		     rpc_route_fn fn, void *user)
{
	struct rpc_route *r;

	if (!path || path[0] != '/' || !http_method || !fn)
		return -EINVAL;
	if (strcmp(path, "/rpc") == 0 || strcmp(path, "/health") == 0 || rpc_route_find(s, path))
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->http_method = strdup(http_method);
	r->path = strdup(path);
	if (!r->http_method || !r->path) {
		free(r->http_method);
		free(r->path);
		free(r);
		return -ENOMEM;
	}
	r->fn = fn;
	r->user = user;
	r->next = s->routes;
	s->routes = r;
	return 0;
}

void rpc_server_set_limits(struct rpc_server *s, unsigned max_conns, unsigned max_per_ip)
{
	if (max_conns)
		s->max_conns = max_conns < s->hard_conns ? max_conns : s->hard_conns;
	if (max_per_ip)
		s->max_per_ip = max_per_ip;
}

void rpc_server_get_stats(const struct rpc_server *s, struct rpc_server_stats *out)
{
	out->served = s->served;
	out->refused_busy = s->refused_busy;
	out->refused_auth = s->refused_auth;
	out->conns = s->conns;
	out->max_conns = s->max_conns;
	out->max_per_ip = s->max_per_ip;
	out->hard_conns = s->hard_conns;
}

void rpc_server_on_refusal(struct rpc_server *s, rpc_refusal_fn fn, void *user)
{
	s->on_refusal = fn;
	s->refusal_user = user;
}

uint16_t rpc_server_port(const struct rpc_server *s)
{
	return s->port;
}

void rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return;
	/* MHD must not be stopped with suspended connections: answer them. */
	while (s->suspended)
		rpc_call_abandon(s->suspended, MHD_HTTP_SERVICE_UNAVAILABLE, "server shutting down");
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->timer);
	MHD_stop_daemon(s->daemon);
	while (s->methods) {
		struct rpc_method *m = s->methods;
		s->methods = m->next;
		free(m->name);
		free(m);
	}
	while (s->routes) {
		struct rpc_route *r = s->routes;
		s->routes = r->next;
		free(r->http_method);
		free(r->path);
		free(r);
	}
	rpc_replay_cache_free(s->replay);
	free(s->ips);
	sodium_memzero(s, sizeof(*s));
	free(s);
}
