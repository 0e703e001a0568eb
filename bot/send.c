/* Bot API calls of the runner, with Telegram's retry rules (internal.h):
 * 429 waits retry_after, a refused connection retries with back-off, other
 * network errors retry only where repeating cannot duplicate a message. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botstate.h"
#include "daemon.h"
#include "internal.h"
#include "log.h"

#define SEND_TIMEOUT_S 20.0
#define SEND_PHOTO_TIMEOUT_S 40.0
#define SEND_MAX_TRIES 5

struct bot_out {
	struct bot *b;
	uint32_t run;
	char method[40];
	cJSON *params;          /* kept for a retry */
	uint8_t *png;           /* sendPhoto */
	size_t png_len;
	int64_t photo_chat;
	char *caption;
	unsigned tries;
	bool idempotent;
	struct bot_batch *batch;
	bot_sent_fn done;
	void *user;
	ev_timer retry;
};

static void out_free(struct bot_out *o)
{
	if (ev_is_active(&o->retry))
		ev_timer_stop(o->b->loop, &o->retry);
	if (o->batch)
		bot_batch_put(o->batch);
	cJSON_Delete(o->params);
	free(o->png);
	free(o->caption);
	free(o);
}

static void out_issue(struct bot_out *o);

/* The run ended: the caller's context is freed by its callback. */
static void out_cancel(struct bot_out *o)
{
	struct bot_api_result res = { .err = -ECANCELED, .description = "cancelled" };

	if (o->done)
		o->done(o->b, o->user, &res);
	out_free(o);
}

static void on_out_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bot_out *o = w->data;

	(void)loop;
	(void)revents;
	if (o->run != o->b->run) {
		out_cancel(o);
		return;
	}
	out_issue(o);
}

static void on_out_done(void *user, const struct bot_api_result *res)
{
	struct bot_out *o = user;
	struct bot *b = o->b;
	double delay = 0;

	if (res->err == -ECANCELED || o->run != b->run) {
		out_cancel(o);
		return;
	}
	if (res->err == -EREMOTEIO && res->error_code == 429) {
		b->n_rate_limited++;
		delay = res->retry_after > 0 ? res->retry_after : 1.0;
		cst_warn("Telegram rate limit on %s (429): retrying after %.0f s as asked",
			 o->method, delay);
	} else if (res->err == -ECONNREFUSED || (o->idempotent && res->err && res->err != -EREMOTEIO) ||
		   (o->idempotent && res->err == -EREMOTEIO && res->error_code >= 500)) {
		delay = 1u << (o->tries < 5 ? o->tries : 5);
	}
	if (delay > 0 && o->tries < SEND_MAX_TRIES) {
		ev_timer_init(&o->retry, on_out_retry, delay, 0);
		o->retry.data = o;
		ev_timer_start(b->loop, &o->retry);
		return;
	}
	/* "message is not modified": the screen already shows it */
	if (res->err == -EREMOTEIO && res->error_code == 400 &&
	    strstr(res->description, "not modified")) {
		struct bot_api_result ok = *res;

		ok.err = 0;
		if (o->done)
			o->done(b, o->user, &ok);
		out_free(o);
		return;
	}
	if (res->err)
		cst_warn("Telegram %s failed: %s (%d)", o->method, res->description,
			 res->error_code ? res->error_code : res->err);
	if (o->done)
		o->done(b, o->user, res);
	out_free(o);
}

static void out_issue(struct bot_out *o)
{
	struct bot_api_result res = { .err = -EIO, .description = "cannot issue the call" };
	int r;

	o->tries++;
	if (o->png)
		r = bot_api_send_photo(o->b->api, o->photo_chat, o->png, o->png_len, o->caption,
				       "HTML",
				       cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o->params,
										"reply_markup"), 1),
				       SEND_PHOTO_TIMEOUT_S, on_out_done, o);
	else
		r = bot_api_call(o->b->api, o->method, cJSON_Duplicate(o->params, 1), SEND_TIMEOUT_S,
				 on_out_done, o);
	if (r) {
		res.err = r;
		o->tries = SEND_MAX_TRIES; /* no retry of a call that cannot start */
		on_out_done(o, &res);
	}
}

static struct bot_out *out_new(struct bot *b, const char *method, cJSON *params,
			       bot_sent_fn done, void *user)
{
	struct bot_out *o = calloc(1, sizeof(*o));

	if (!o) {
		cJSON_Delete(params);
		return NULL;
	}
	o->b = b;
	o->run = b->run;
	snprintf(o->method, sizeof(o->method), "%s", method);
	o->params = params ? params : cJSON_CreateObject();
	o->idempotent = strncmp(method, "send", 4) != 0;
	o->done = done;
	o->user = user;
	if (b->cur) {
		o->batch = b->cur;
		b->cur->pending++;
	}
	return o;
}

static void send_refused(struct bot *b, bot_sent_fn done, void *user)
{
	struct bot_api_result res = { .err = -ECANCELED, .description = "not running" };

	if (done)
		done(b, user, &res);
}

void bot_send(struct bot *b, const char *method, cJSON *params, bot_sent_fn done, void *user)
{
	struct bot_out *o;

	if (!b->epoch) {
		cJSON_Delete(params);
		send_refused(b, done, user);
		return;
	}
	if ((o = out_new(b, method, params, done, user)))
		out_issue(o);
	else
		send_refused(b, done, user);
}

void bot_send_photo(struct bot *b, int64_t chat_id, const void *png, size_t len,
		    const char *caption, cJSON *markup, bot_sent_fn done, void *user)
{
	struct bot_out *o;
	cJSON *params = cJSON_CreateObject();

	if (!b->epoch) {
		cJSON_Delete(params);
		cJSON_Delete(markup);
		send_refused(b, done, user);
		return;
	}
	if (markup)
		cJSON_AddItemToObject(params, "reply_markup", markup);
	if (!(o = out_new(b, "sendPhoto", params, done, user))) {
		send_refused(b, done, user);
		return;
	}
	o->photo_chat = chat_id;
	o->png = malloc(len);
	o->caption = caption ? strdup(caption) : NULL;
	if (!o->png || (caption && !o->caption)) {
		out_cancel(o);
		return;
	}
	memcpy(o->png, png, len);
	o->png_len = len;
	out_issue(o);
}

void bot_send_text(struct bot *b, int64_t chat_id, const char *html, cJSON *markup,
		   int64_t reply_to, bot_sent_fn done, void *user)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "chat_id", (double)chat_id);
	cJSON_AddStringToObject(p, "text", html);
	cJSON_AddStringToObject(p, "parse_mode", "HTML");
	cJSON_AddBoolToObject(p, "disable_web_page_preview", 1);
	if (reply_to) {
		cJSON_AddNumberToObject(p, "reply_to_message_id", (double)reply_to);
		cJSON_AddBoolToObject(p, "allow_sending_without_reply", 1);
	}
	if (markup)
		cJSON_AddItemToObject(p, "reply_markup", markup);
	bot_send(b, "sendMessage", p, done, user);
}
