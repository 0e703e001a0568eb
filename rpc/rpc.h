/* Node-to-node RPC: HTTP/1.1 with JSON bodies, authenticated by rpc/auth.
 * One libev loop drives both ends: the server is libmicrohttpd in external
 * epoll mode, the client is libcurl's multi interface. No thread of our own.
 *
 * Wire format: POST /rpc with {"method": "Name", "params": {...}} and the
 * three X-Constella-* headers; the answer is {"ok": true, "result": ...} or
 * {"ok": false, "error": "reason"} with a 4xx/5xx status. GET /health is
 * unauthenticated and uninformative ({"ok": true}). */
#ifndef RPC_H
#define RPC_H

#include <cjson/cJSON.h>
#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RPC_DEFAULT_MAX_BODY (256u * 1024)
/* Soft connection limits (rpc_server_set_limits raises them with the
 * membership): past them a request is answered 503 with the reason and its
 * connection closed. The hard limit, where the server cannot even answer,
 * is the process's file descriptor budget (RLIMIT_NOFILE less a reserve). */
#define RPC_DEFAULT_MAX_CONNS 64
#define RPC_DEFAULT_MAX_PER_IP 16
/* Client: at most this many connections to one peer at once (more calls
 * wait for one), kept open between calls. */
#define RPC_CLIENT_CONNS_PER_PEER 4
/* An idle connection is closed after this: long enough that a member's
 * next call to the same peer usually finds it open (gossip partners are
 * random: at 100 members a pair meets every ~50 s), short enough that idle
 * sockets do not pile up. */
#define RPC_DEFAULT_CONN_TIMEOUT_S 30
#define RPC_DEFAULT_SKEW_S 15
#define RPC_DEFAULT_HANDLER_TIMEOUT_S 60.0
#define RPC_DEFAULT_TIMEOUT_S 3.0
#define RPC_MAX_REPLY (4u << 20)

struct rpc_server;
struct rpc_call;

/* Wall-clock unix seconds used to stamp and check signatures; injectable so
 * tests of the ±skew window do not depend on the real clock. */
typedef uint64_t (*rpc_clock_fn)(void *user);

struct rpc_server_config {
	const char *listen_addr;  /* "0.0.0.0:4747", "[::]:4747", "127.0.0.1:0" */
	const uint8_t *secret;    /* network secret; may be set later */
	size_t secret_len;
	uint64_t skew_s;          /* 0 = RPC_DEFAULT_SKEW_S */
	size_t max_body;          /* 0 = RPC_DEFAULT_MAX_BODY */
	unsigned max_conns;       /* soft, 0 = RPC_DEFAULT_MAX_CONNS */
	unsigned max_per_ip;      /* soft, 0 = RPC_DEFAULT_MAX_PER_IP */
	unsigned conn_timeout_s;  /* 0 = RPC_DEFAULT_CONN_TIMEOUT_S */
	double handler_timeout_s; /* 0 = RPC_DEFAULT_HANDLER_TIMEOUT_S: an
				   * asynchronous handler silent this long is
				   * answered 504 by the server */
	rpc_clock_fn clock;       /* NULL = time(NULL) */
	void *clock_user;
};

/* A method handler. It answers exactly once with rpc_call_reply/
 * rpc_call_error, now or later from another loop callback (the connection
 * waits, suspended); after answering, the call pointer is invalid.
 * params is borrowed for the duration of the handler only. */
typedef void (*rpc_method_fn)(void *user, const cJSON *params, struct rpc_call *call);
/* Takes ownership of result (NULL = JSON null). */
void rpc_call_reply(struct rpc_call *call, cJSON *result);
void rpc_call_error(struct rpc_call *call, unsigned http_status, const char *message);
/* A handler that answers later registers this: it runs at most once, when
 * the call will never be answered by the handler (handler deadline passed,
 * server freed). The call pointer is invalid after it returns; the handler
 * must drop it (and must not answer it). */
typedef void (*rpc_abort_fn)(void *user, struct rpc_call *call);
void rpc_call_on_abort(struct rpc_call *call, rpc_abort_fn fn, void *user);
/* The authenticated peer's address, "ip:port". */
const char *rpc_call_peer(const struct rpc_call *call);

/* Must not be freed from inside one of its own handlers. Suspended calls are
 * aborted (rpc_abort_fn) and answered 503 when the server is freed. */
int rpc_server_new(struct ev_loop *loop, const struct rpc_server_config *cfg,
		   struct rpc_server **out);
int rpc_server_register(struct rpc_server *s, const char *method, rpc_method_fn fn, void *user);
/* Replaces the network secret (join, rotation). */
int rpc_server_set_secret(struct rpc_server *s, const uint8_t *secret, size_t len);
uint16_t rpc_server_port(const struct rpc_server *s);
void rpc_server_free(struct rpc_server *s);
/* Raises or lowers the soft limits (0 leaves one as it is). */
void rpc_server_set_limits(struct rpc_server *s, unsigned max_conns, unsigned max_per_ip);

struct rpc_server_stats {
	uint64_t served;        /* requests answered by a handler (any status) */
	uint64_t refused_busy;  /* 503: over a connection limit */
	uint64_t refused_auth;  /* 401 on POST /rpc */
	unsigned conns;         /* open connections now */
	unsigned max_conns, max_per_ip, hard_conns;
};
void rpc_server_get_stats(const struct rpc_server *s, struct rpc_server_stats *out);

/* A signed request refused because its timestamp is outside the window
 * although its signature is good: a member whose clock is off. node is the
 * sender's X-Constella-Node header (NULL when absent or not a node id);
 * skew_s = its timestamp minus ours. Without a hook the server logs it
 * itself (rate limited). */
struct rpc_refusal {
	const char *peer;  /* "ip:port" */
	const char *node;
	int64_t skew_s;
};
typedef void (*rpc_refusal_fn)(void *user, const struct rpc_refusal *r);
void rpc_server_on_refusal(struct rpc_server *s, rpc_refusal_fn fn, void *user);

/* Unauthenticated routes (e.g. POST /join, which carries its own
 * token-derived encryption). The handler receives the raw body (NUL
 * terminated, body_len bytes) and answers with rpc_call_raw_reply (any JSON
 * document) or rpc_call_reply/rpc_call_error, now or later. /health and /rpc
 * are built in and cannot be registered. */
typedef void (*rpc_route_fn)(void *user, const char *body, size_t body_len, struct rpc_call *call);
int rpc_server_route(struct rpc_server *s, const char *http_method, const char *path,
		     rpc_route_fn fn, void *user);
/* Takes ownership of doc; sent as is with the given status. */
void rpc_call_raw_reply(struct rpc_call *call, unsigned http_status, cJSON *doc);

/* The request-body parser of POST /rpc (pure; exposed for tests and fuzzing).
 * On success *method points into *doc_out (caller cJSON_Deletes it) and
 * *params is the "params" object (an empty object is added when absent). On
 * failure returns -EINVAL and a reason in err. */
int rpc_parse_request(const char *body, size_t len, cJSON **doc_out, const char **method,
		      const cJSON **params, char *err, size_t errlen);

/* Client. err is 0 with result (the "result" member, borrowed for the
 * callback), or negative, with a message that says what happened:
 *   -ETIMEDOUT     no connection, or no answer, within the timeout
 *   -ECONNREFUSED  the peer's host refused the connection: nothing listens
 *   -EHOSTUNREACH  no route, or the local network stack refused to send
 *   -ECONNRESET    the peer closed the connection without answering
 *   -EBUSY         503 with "busy": the peer's server is over a connection
 *                  limit (message: which); a handler's own 503 is -EREMOTEIO
 *   -EACCES        401: not authenticated (message: why; clock skew says by
 *                  how much, and result holds the error document, whose
 *                  "skew_s" is our timestamp minus the peer's clock)
 *   -EPROTO        malformed answer
 *   -EREMOTEIO     the peer answered another error (message: which; result
 *                  holds the error document)
 *   -ECANCELED     client freed. */
typedef void (*rpc_done_fn)(void *user, int err, const cJSON *result, const char *message);

struct rpc_client;
/* secret may be NULL (joiner before it has one: only rpc_client_request). */
int rpc_client_new(struct ev_loop *loop, const uint8_t *secret, size_t secret_len,
		   struct rpc_client **out);
int rpc_client_set_secret(struct rpc_client *c, const uint8_t *secret, size_t len);
/* fn NULL = time(NULL). */
void rpc_client_set_clock(struct rpc_client *c, rpc_clock_fn fn, void *user);
/* Sent as X-Constella-Node with every signed call, so that a peer that
 * refuses us (clock skew) can say whom; NULL = none. */
void rpc_client_set_node_id(struct rpc_client *c, const char *node_id);
/* Connections kept open for reuse, in all (0: libcurl's default). */
void rpc_client_set_cache(struct rpc_client *c, unsigned max_cached);
struct rpc_client_stats {
	uint64_t calls, failed;
};
void rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out);
/* Calls method on host_port ("1.2.3.4:4747", "[::1]:4747", "vps.example:4747",
 * see rpc_check_host_port); takes params
 * (NULL = {}). timeout_s <= 0 means RPC_DEFAULT_TIMEOUT_S (whole call).
 * Returns 0 and the callback runs exactly once, from the loop (or from
 * rpc_client_free); on a negative return it never runs. */
int rpc_client_call(struct rpc_client *c, const char *host_port, const char *method,
		    cJSON *params, double timeout_s, rpc_done_fn done, void *user);
/* Unsigned request to an unauthenticated route (GET /health, POST /join).
 * body is sent as is (NULL for GET); the callback gets err 0 with the whole
 * reply document as result when it is JSON with "ok": true, else the same
 * negative errors as rpc_client_call (the reply's "error" as message). */
int rpc_client_request(struct rpc_client *c, const char *host_port, const char *http_method,
		       const char *path, const char *body, size_t body_len, double timeout_s,
		       rpc_done_fn done, void *user);
/* Cancels every pending call: each callback runs with -ECANCELED. Safe from
 * inside a callback of this client (the memory goes when it returns); calls
 * made after it fail with -ECANCELED. */
void rpc_client_free(struct rpc_client *c);

/* What the client may call: "1.2.3.4:port", "[v6]:port" or
 * "name.example:port" (port 1-65535). Names are resolved by libcurl's
 * threaded resolver, off the loop. 0 or -EINVAL. */
int rpc_check_host_port(const char *s);
/* Splits "host:port" / "[v6]:port" into a socket address (numeric only:
 * listen addresses). */
int rpc_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif
