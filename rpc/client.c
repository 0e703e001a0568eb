/* The RPC client: libcurl's multi interface driven by libev (curl tells us
 * which sockets and which timeout to watch; we tell it what happened). */
#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "rpc.h"



struct rpc_req {
	struct rpc_client *c;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *resp;
	size_t resp_len, resp_cap;
	bool too_big;
	bool raw; /* rpc_client_request: the whole reply is the result */
	double timeout_s;
	rpc_done_fn done;
	void *user;
	struct rpc_req *next, *prev;
};

struct rpc_client {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	uint8_t secret[RPC_SECRET_MAX];
	size_t secret_len;
	struct rpc_req *reqs;
	rpc_clock_fn clock;
	void *clock_user;
	int in_callback; /* > 0 while user callbacks may run from the loop */
	bool free_pending;
	char node_id[33];
	uint64_t calls, failed;
};

struct rpc_sock {
	ev_io io;
	struct rpc_client *c;
};

static void rpc_req_free(struct rpc_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	curl_multi_remove_handle(r->c->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r->resp);
	free(r);
}

/* What went wrong at the transport level, in words a user can act on. */
static int rpc_req_transport_error(struct rpc_req *r, CURLcode cc, char *msg, size_t len)
{
	long os_err = 0;
	curl_off_t connected = 0;

	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_err);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected);
		snprintf(msg, len, connected ? "connected, but no answer within %.1f s"
					     : "no connection within %.1f s", r->timeout_s);
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		/* Only a refusal proves nothing listens there (the lease relies
		 * on it); no route, or a send the local stack refused
		 * (ENOBUFS: neighbour table full) proves nothing. */
		if (os_err == ECONNREFUSED || !os_err) {
			snprintf(msg, len, "connection refused");
			return -ECONNREFUSED;
		}
		snprintf(msg, len, "cannot connect: %s", strerror((int)os_err));
		return -EHOSTUNREACH;
	case CURLE_GOT_NOTHING:
		snprintf(msg, len, "the peer closed the connection without answering "
			 "(at its connection limit? see its log)");
		return -ECONNRESET;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		snprintf(msg, len, "connection lost: %s%s%s", curl_easy_strerror(cc),
			 os_err ? ": " : "", os_err ? strerror((int)os_err) : "");
		return -ECONNRESET;
	default:
		snprintf(msg, len, "%s", curl_easy_strerror(cc));
		return -EIO;
	}
}

static void rpc_req_finish(struct rpc_req *r, CURLcode cc)
{
	long status = 0;
	cJSON *doc = NULL, *ok, *result, *error;
	rpc_done_fn done = r->done;
	void *user = r->user;
	const cJSON *detail = NULL;
	const char *msg = NULL;
	char buf[160];
	int err = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->too_big) {
		err = -EPROTO;
		msg = "reply too large";
	} else if (cc != CURLE_OK) {
		err = rpc_req_transport_error(r, cc, buf, sizeof(buf));
		msg = buf;
	} else {
		doc = cJSON_ParseWithLength(r->resp ? r->resp : "", r->resp_len);
		ok = doc ? cJSON_GetObjectItemCaseSensitive(doc, "ok") : NULL;
		error = doc ? cJSON_GetObjectItemCaseSensitive(doc, "error") : NULL;
		if (!cJSON_IsObject(doc) || !cJSON_IsBool(ok)) {
			err = status == 401 ? -EACCES : -EPROTO;
			msg = "malformed reply";
		} else if (cJSON_IsTrue(ok) && status == 200) {
			result = r->raw ? doc : cJSON_GetObjectItemCaseSensitive(doc, "result");
			rpc_req_free(r);
			done(user, 0, result, NULL);
			cJSON_Delete(doc);
			return;
		} else {
			err = status == 401 ? -EACCES
			      : status == 503 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "busy"))
				      ? -EBUSY
				      : -EREMOTEIO;
			msg = cJSON_IsString(error) ? error->valuestring : "error without a reason";
			detail = doc;
		}
	}
	r->c->failed++;
	rpc_req_free(r);
	done(user, err, detail, msg);
	cJSON_Delete(doc);
}

static void rpc_client_destroy(struct rpc_client *c)
{
	ev_timer_stop(c->loop, &c->timer);
	curl_multi_cleanup(c->multi);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* Callbacks may free the client: that is deferred to the end of this. */
static void rpc_client_check(struct rpc_client *c)
{
	CURLMsg *m;
	int left;

	c->in_callback++;
	while (!c->free_pending && (m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg == CURLMSG_DONE) {
			struct rpc_req *r = NULL;
			CURLcode cc = m->data.result;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			rpc_req_finish(r, cc);
		}
	}
	if (--c->in_callback == 0 && c->free_pending)
		rpc_client_destroy(c);
}

static void rpc_client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_sock *s = (struct rpc_sock *)w;
	int running, action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
			      (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
	struct rpc_client *c = s->c;

	(void)loop;
	c->in_callback++;
	curl_multi_socket_action(c->multi, w->fd, action, &running);
	c->in_callback--;
	rpc_client_check(c);
}

static void rpc_client_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_client *c = w->data;
	int running;

	(void)loop;
	(void)revents;
	c->in_callback++;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	c->in_callback--;
	rpc_client_check(c);
}

static int rpc_client_sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct rpc_client *c = userp;
	struct rpc_sock *s = socketp;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(c->loop, &s->io);
			curl_multi_assign(c->multi, fd, NULL);
			free(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->c = c;
		ev_init(&s->io, rpc_client_io_cb);
		curl_multi_assign(c->multi, fd, s);
	}
	ev_io_stop(c->loop, &s->io);
	ev_io_set(&s->io, fd, (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
	ev_io_start(c->loop, &s->io);
	return 0;
}

static int rpc_client_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
	struct rpc_client *c = userp;

	(void)multi;
	ev_timer_stop(c->loop, &c->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
	return 0;
}

static size_t rpc_client_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct rpc_req *r = userdata;
	size_t n = size * nmemb;

	if (r->too_big || r->resp_len + n > RPC_MAX_REPLY) {
		r->too_big = true;
		return 0; /* abort the transfer now; reported as too large */
	}
	if (r->resp_len + n + 1 > r->resp_cap) {
		size_t cap = r->resp_cap ? r->resp_cap * 2 : 4096;
		char *b;
		while (cap < r->resp_len + n + 1)
			cap *= 2;
		b = realloc(r->resp, cap);
		if (!b)
			return 0;
		r->resp = b;
		r->resp_cap = cap;
	}
	memcpy(r->resp + r->resp_len, ptr, n);
	r->resp_len += n;
	r->resp[r->resp_len] = 0;
	return n;
}

int rpc_client_new(struct ev_loop *loop, const uint8_t *secret, size_t secret_len,
		   struct rpc_client **out)
{
	struct rpc_client *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	ret = rpc_client_set_secret(c, secret, secret_len);
	if (ret < 0) {
		free(c);
		return ret;
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return -ENOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, rpc_client_sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, rpc_client_timer_set);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Bounded per peer: a slow or silent peer holds at most this many
	 * sockets, and the peer's server sees at most this many from us. */
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)RPC_CLIENT_CONNS_PER_PEER);
	ev_timer_init(&c->timer, rpc_client_timer_cb, 0., 0.);
	c->timer.data = c;
	*out = c;
	return 0;
}

int rpc_client_set_secret(struct rpc_client *c, const uint8_t *secret, size_t len)
{
	if (secret && (len < RPC_SECRET_MIN || len > RPC_SECRET_MAX))
		return -EINVAL;
	sodium_memzero(c->secret, sizeof(c->secret));
	c->secret_len = secret ? len : 0;
	if (secret)
		memcpy(c->secret, secret, len);
	return 0;
}

/* Builds and starts one transfer; takes body (malloc'd) and headers. */
static int rpc_client_submit(struct rpc_client *c, const char *host_port, const char *http_method,
			     const char *path, char *body, size_t body_len,
			     struct curl_slist *headers, bool raw, double timeout_s,
			     rpc_done_fn done, void *user)
{
	struct rpc_req *r;
	char url[192];

	r = calloc(1, sizeof(*r));
	if (!r) {
		free(body);
		curl_slist_free_all(headers);
		return -ENOMEM;
	}
	r->c = c;
	r->body = body;
	r->headers = headers;
	r->raw = raw;
	r->easy = curl_easy_init();
	if (!r->easy) {
		r->done = NULL;
		goto fail_unlinked;
	}
	if ((size_t)snprintf(url, sizeof(url), "http://%s%s", host_port, path) >= sizeof(url))
		goto fail_unlinked;
	r->headers = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	if (strcmp(http_method, "GET") == 0) {
		curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
		if (strcmp(http_method, "POST") != 0)
			curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, http_method);
	}
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, rpc_client_write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	r->timeout_s = timeout_s > 0 ? timeout_s : RPC_DEFAULT_TIMEOUT_S;
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(r->timeout_s * 1000));
	r->done = done;
	r->user = user;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	c->calls++;
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
		r->done = NULL;
		rpc_req_free(r);
		return -EIO;
	}
	return 0;
fail_unlinked:
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
	return -EINVAL;
}

static struct curl_slist *rpc_hdr_add(struct curl_slist *l, const char *name, const char *value)
{
	char hdr[160];

	snprintf(hdr, sizeof(hdr), "%s: %s", name, value);
	return curl_slist_append(l, hdr);
}

void rpc_client_set_clock(struct rpc_client *c, rpc_clock_fn fn, void *user)
{
	c->clock = fn;
	c->clock_user = user;
}

void rpc_client_set_node_id(struct rpc_client *c, const char *node_id)
{
	snprintf(c->node_id, sizeof(c->node_id), "%s", node_id ? node_id : "");
}

void rpc_client_set_cache(struct rpc_client *c, unsigned max_cached)
{
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)max_cached);
}

void rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out)
{
	out->calls = c->calls;
	out->failed = c->failed;
}

int rpc_client_call(struct rpc_client *c, const char *host_port, const char *method,
		    cJSON *params, double timeout_s, rpc_done_fn done, void *user)
{
	struct rpc_auth_headers h;
	struct curl_slist *hl = NULL;
	cJSON *doc = NULL;
	char *body = NULL;
	size_t len;

	if (c->free_pending) {
		cJSON_Delete(params);
		return -ECANCELED;
	}
	if (!c->secret_len || rpc_check_host_port(host_port) < 0 || !method) {
		cJSON_Delete(params);
		return -EINVAL;
	}
	doc = cJSON_CreateObject();
	if (!doc) {
		cJSON_Delete(params);
		return -ENOMEM;
	}
	cJSON_AddStringToObject(doc, "method", method);
	cJSON_AddItemToObject(doc, "params", params ? params : cJSON_CreateObject());
	body = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!body)
		return -ENOMEM;
	len = strlen(body);
	if (rpc_auth_sign(c->secret, c->secret_len, "POST", "/rpc", body, len,
			  c->clock ? c->clock(c->clock_user) : (uint64_t)time(NULL), &h) < 0) {
		free(body);
		return -EINVAL;
	}
	hl = rpc_hdr_add(hl, RPC_HDR_TIMESTAMP, h.timestamp);
	hl = rpc_hdr_add(hl, RPC_HDR_NONCE, h.nonce);
	hl = rpc_hdr_add(hl, RPC_HDR_SIGNATURE, h.signature);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	if (c->node_id[0])
		hl = rpc_hdr_add(hl, RPC_HDR_NODE, c->node_id);
	return rpc_client_submit(c, host_port, "POST", "/rpc", body, len, hl, false, timeout_s,
				 done, user);
}

int rpc_client_request(struct rpc_client *c, const char *host_port, const char *http_method,
		       const char *path, const char *body, size_t body_len, double timeout_s,
		       rpc_done_fn done, void *user)
{
	struct curl_slist *hl = NULL;
	char *copy = NULL;

	if (c->free_pending)
		return -ECANCELED;
	if (rpc_check_host_port(host_port) < 0 || !http_method || !path || path[0] != '/')
		return -EINVAL;
	if (body) {
		copy = malloc(body_len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, body, body_len);
		copy[body_len] = 0;
		hl = curl_slist_append(hl, "Content-Type: application/json");
	}
	return rpc_client_submit(c, host_port, http_method, path, copy, copy ? body_len : 0, hl,
				 true, timeout_s, done, user);
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c || c->free_pending)
		return;
	c->free_pending = true;
	while (c->reqs) {
		rpc_done_fn done = c->reqs->done;
		void *user = c->reqs->user;
		rpc_req_free(c->reqs);
		if (done)
			done(user, -ECANCELED, NULL, "client closed");
	}
	if (c->in_callback == 0)
		rpc_client_destroy(c);
}
