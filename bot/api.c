/* The Bot API client (api.h): libcurl multi on libev. The socket and timer
 * plumbing follows the same pattern as rpc/client.c, but the two are kept
 * apart: this one speaks HTTPS to a third party with a secret in the URL,
 * that one signed HTTP between members. */
#include "api.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_TOKEN_MAX 127

struct api_req {
	struct bot_api *a;
	CURL *easy;
	struct curl_slist *headers;
	curl_mime *mime;
	char *body;
	char *resp;
	size_t resp_len, resp_cap;
	bool too_big;
	bot_api_done_fn done;
	void *user;
	struct api_req *next, *prev;
};

struct bot_api {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	char base[512];
	char token[API_TOKEN_MAX + 1]; /* secret */
	struct api_req *reqs;
	unsigned n_reqs;
	int in_callback;
	bool free_pending;
};

struct api_sock {
	ev_io io;
	struct bot_api *a;
};

int bot_api_token_ok(const char *t)
{
	size_t n = t ? strnlen(t, API_TOKEN_MAX + 1) : 0;

	if (n == 0 || n > API_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == ':' || t[i] == '_' || t[i] == '-'))
			return 0;
	return 1;
}

static void api_req_free(struct api_req *r)
{
	struct bot_api *a = r->a;

	if (r->prev)
		r->prev->next = r->next;
	else
		a->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	a->n_reqs--;
	curl_multi_remove_handle(a->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	curl_mime_free(r->mime);
	free(r->body);
	free(r->resp);
	free(r);
}

/* Classifies the answer. Telegram answers {"ok": false, "error_code",
 * "description", "parameters": {"retry_after"}} with the same HTTP status;
 * anything that is not that shape (a proxy's HTML page, an emulator's
 * {"message"}) is -EPROTO with the HTTP status kept. */
static void api_req_finish(struct api_req *r, CURLcode cc)
{
	struct bot_api_result res = { .description = "" };
	bot_api_done_fn done = r->done;
	void *user = r->user;
	cJSON *doc = NULL;
	const cJSON *ok, *desc, *code, *params, *ra;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.http_status);
	if (r->too_big) {
		res.err = -EPROTO;
		res.description = "reply too large";
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		res.err = -ETIMEDOUT;
		res.description = "timed out";
	} else if (cc == CURLE_COULDNT_CONNECT) {
		res.err = -ECONNREFUSED;
		res.description = "connection refused";
	} else if (cc != CURLE_OK) {
		/* curl_easy_strerror names the failure class, never the URL */
		res.err = -EIO;
		res.description = curl_easy_strerror(cc);
	} else {
		doc = cJSON_ParseWithLength(r->resp ? r->resp : "", r->resp_len);
		ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
		desc = cJSON_GetObjectItemCaseSensitive(doc, "description");
		code = cJSON_GetObjectItemCaseSensitive(doc, "error_code");
		params = cJSON_GetObjectItemCaseSensitive(doc, "parameters");
		ra = cJSON_GetObjectItemCaseSensitive(params, "retry_after");
		res.error_code = (int)res.http_status;
		if (!cJSON_IsObject(doc) || !cJSON_IsBool(ok)) {
			res.err = -EPROTO;
			res.description = "not a Bot API answer";
		} else if (cJSON_IsTrue(ok) && res.http_status == 200) {
			res.result = cJSON_GetObjectItemCaseSensitive(doc, "result");
		} else {
			res.err = -EREMOTEIO;
			if (cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble < 1000)
				res.error_code = (int)code->valuedouble;
			res.description = cJSON_IsString(desc) ? desc->valuestring
							       : "error without a description";
			if (cJSON_IsNumber(ra) && ra->valuedouble > 0)
				res.retry_after = ra->valuedouble > 3600 ? 3600 : ra->valuedouble;
		}
	}
	api_req_free(r);
	done(user, &res);
	cJSON_Delete(doc);
}

static void api_destroy(struct bot_api *a)
{
	ev_timer_stop(a->loop, &a->timer);
	curl_multi_cleanup(a->multi);
	sodium_memzero(a, sizeof(*a));
	free(a);
}

static void api_check(struct bot_api *a)
{
	CURLMsg *m;
	int left;

	a->in_callback++;
	while (!a->free_pending && (m = curl_multi_info_read(a->multi, &left))) {
		if (m->msg == CURLMSG_DONE) {
			struct api_req *r = NULL;
			CURLcode cc = m->data.result;

			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			api_req_finish(r, cc);
		}
	}
	if (--a->in_callback == 0 && a->free_pending)
		api_destroy(a);
}

static void api_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct api_sock *s = (struct api_sock *)w;
	struct bot_api *a = s->a;
	int running, action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
			      (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);

	(void)loop;
	a->in_callback++;
	curl_multi_socket_action(a->multi, w->fd, action, &running);
	a->in_callback--;
	api_check(a);
}

static void api_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bot_api *a = w->data;
	int running;

	(void)loop;
	(void)revents;
	a->in_callback++;
	curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	a->in_callback--;
	api_check(a);
}

static int api_sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct bot_api *a = userp;
	struct api_sock *s = socketp;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(a->loop, &s->io);
			curl_multi_assign(a->multi, fd, NULL);
			free(s);
		}
		return 0;
	}
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))))
			return -1;
		s->a = a;
		ev_init(&s->io, api_io_cb);
		curl_multi_assign(a->multi, fd, s);
	}
	ev_io_stop(a->loop, &s->io);
	ev_io_set(&s->io, fd, (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
	ev_io_start(a->loop, &s->io);
	return 0;
}

static int api_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
	struct bot_api *a = userp;

	(void)multi;
	ev_timer_stop(a->loop, &a->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&a->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(a->loop, &a->timer);
	}
	return 0;
}

static size_t api_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct api_req *r = userdata;
	size_t n = size * nmemb;

	if (r->too_big || r->resp_len + n > BOT_API_MAX_REPLY) {
		r->too_big = true;
		return 0;
	}
	if (r->resp_len + n + 1 > r->resp_cap) {
		size_t cap = r->resp_cap ? r->resp_cap * 2 : 4096;
		char *b;

		while (cap < r->resp_len + n + 1)
			cap *= 2;
		if (!(b = realloc(r->resp, cap)))
			return 0;
		r->resp = b;
		r->resp_cap = cap;
	}
	memcpy(r->resp + r->resp_len, ptr, n);
	r->resp_len += n;
	r->resp[r->resp_len] = 0;
	return n;
}

int bot_api_new(struct ev_loop *loop, const char *base_url, struct bot_api **out)
{
	struct bot_api *a;
	size_t n;

	*out = NULL;
	if (!base_url || (strncmp(base_url, "https://", 8) && strncmp(base_url, "http://", 7)))
		return -EINVAL;
	n = strlen(base_url);
	if (n >= sizeof(a->base) || strpbrk(base_url, " \t\r\n?#"))
		return -EINVAL;
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	a->loop = loop;
	memcpy(a->base, base_url, n + 1);
	if (n && a->base[n - 1] == '/')
		a->base[n - 1] = 0;
	if (!(a->multi = curl_multi_init())) {
		free(a);
		return -ENOMEM;
	}
	curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, api_sock_cb);
	curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
	curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, api_timer_set);
	curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
	ev_timer_init(&a->timer, api_timer_cb, 0., 0.);
	a->timer.data = a;
	*out = a;
	return 0;
}

int bot_api_set_token(struct bot_api *a, const char *token)
{
	if (!bot_api_token_ok(token))
		return -EINVAL;
	sodium_memzero(a->token, sizeof(a->token));
	memcpy(a->token, token, strlen(token) + 1);
	return 0;
}

/* Sets up a transfer for method; the caller adds its body, then submits. */
static int api_req_new(struct bot_api *a, const char *method, double timeout_s,
		       bot_api_done_fn done, void *user, struct api_req **out)
{
	char url[sizeof(a->base) + API_TOKEN_MAX + 80];
	struct api_req *r;
	int n;

	*out = NULL;
	if (a->free_pending)
		return -ECANCELED;
	if (!a->token[0])
		return -ENOKEY;
	n = snprintf(url, sizeof(url), "%s/bot%s/%s", a->base, a->token, method);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	if (!(r->easy = curl_easy_init())) {
		free(r);
		sodium_memzero(url, sizeof(url));
		return -ENOMEM;
	}
	r->a = a;
	r->done = done;
	r->user = user;
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	sodium_memzero(url, sizeof(url));
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(r->easy, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, api_write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)((timeout_s > 0 ? timeout_s : 10) * 1000));
	r->headers = curl_slist_append(r->headers, "Expect:");
	*out = r;
	return 0;
}

static int api_req_submit(struct bot_api *a, struct api_req *r)
{
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	r->next = a->reqs;
	if (a->reqs)
		a->reqs->prev = r;
	a->reqs = r;
	a->n_reqs++;
	if (curl_multi_add_handle(a->multi, r->easy) != CURLM_OK) {
		api_req_free(r);
		return -EIO;
	}
	return 0;
}

static void api_req_discard(struct api_req *r)
{
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	curl_mime_free(r->mime);
	free(r->body);
	free(r);
}

int bot_api_call(struct bot_api *a, const char *method, cJSON *params, double timeout_s,
		 bot_api_done_fn done, void *user)
{
	struct api_req *r;
	int e;

	if ((e = api_req_new(a, method, timeout_s, done, user, &r))) {
		cJSON_Delete(params);
		return e;
	}
	r->body = params ? cJSON_PrintUnformatted(params) : strdup("{}");
	cJSON_Delete(params);
	if (!r->body) {
		api_req_discard(r);
		return -ENOMEM;
	}
	r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	return api_req_submit(a, r);
}

static int api_mime_text(curl_mime *m, const char *name, const char *value)
{
	curl_mimepart *p = curl_mime_addpart(m);

	return p && curl_mime_name(p, name) == CURLE_OK &&
			       curl_mime_data(p, value, CURL_ZERO_TERMINATED) == CURLE_OK
		       ? 0
		       : -ENOMEM;
}

int bot_api_send_photo(struct bot_api *a, int64_t chat_id, const void *png, size_t png_len,
		       const char *caption, const char *parse_mode, cJSON *reply_markup,
		       double timeout_s, bot_api_done_fn done, void *user)
{
	struct api_req *r;
	curl_mimepart *p;
	char id[32], *markup = NULL;
	int e;

	if ((e = api_req_new(a, "sendPhoto", timeout_s, done, user, &r))) {
		cJSON_Delete(reply_markup);
		return e;
	}
	e = -ENOMEM;
	if (reply_markup && !(markup = cJSON_PrintUnformatted(reply_markup)))
		goto fail;
	snprintf(id, sizeof(id), "%lld", (long long)chat_id);
	if (!(r->mime = curl_mime_init(r->easy)) || api_mime_text(r->mime, "chat_id", id) ||
	    (caption && api_mime_text(r->mime, "caption", caption)) ||
	    (parse_mode && api_mime_text(r->mime, "parse_mode", parse_mode)) ||
	    (markup && api_mime_text(r->mime, "reply_markup", markup)) ||
	    !(p = curl_mime_addpart(r->mime)) || curl_mime_name(p, "photo") != CURLE_OK ||
	    curl_mime_filename(p, "chart.png") != CURLE_OK ||
	    curl_mime_type(p, "image/png") != CURLE_OK ||
	    curl_mime_data(p, png, png_len) != CURLE_OK)
		goto fail;
	curl_easy_setopt(r->easy, CURLOPT_MIMEPOST, r->mime);
	free(markup);
	cJSON_Delete(reply_markup);
	return api_req_submit(a, r);
fail:
	free(markup);
	cJSON_Delete(reply_markup);
	api_req_discard(r);
	return e;
}

unsigned bot_api_pending(const struct bot_api *a)
{
	return a->n_reqs;
}

void bot_api_cancel_all(struct bot_api *a)
{
	struct bot_api_result res = { .err = -ECANCELED, .description = "cancelled" };

	a->in_callback++;
	while (a->reqs) {
		bot_api_done_fn done = a->reqs->done;
		void *user = a->reqs->user;

		api_req_free(a->reqs);
		done(user, &res);
	}
	if (--a->in_callback == 0 && a->free_pending)
		api_destroy(a);
}

void bot_api_free(struct bot_api *a)
{
	if (!a || a->free_pending)
		return;
	sodium_memzero(a->token, sizeof(a->token));
	a->free_pending = true;
	a->in_callback++;
	bot_api_cancel_all(a);
	if (--a->in_callback == 0)
		api_destroy(a);
}
