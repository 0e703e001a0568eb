/* The Telegram Bot API client: HTTPS POSTs through libcurl's multi interface
 * driven by the daemon's libev loop, so no call ever blocks the loop (a long
 * poll of getUpdates sits on a socket like any other call).
 *
 * The base URL comes from the caller (TELEGRAM_API_URL, default
 * https://api.telegram.org); a method's URL is BASE/bot<token>/<method>. The
 * token is in that path, so this module never prints a URL: errors are
 * reported by libcurl's code string (which names no URL), the HTTP status and
 * Telegram's own "description". libcurl's verbose mode is never switched on.
 *
 * Every call completes exactly once: its callback runs from the loop, or with
 * -ECANCELED from bot_api_cancel_all()/bot_api_free(). */
#ifndef BOT_API_H
#define BOT_API_H

#include <cJSON.h>
#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define BOT_API_DEFAULT_URL "https://api.telegram.org"
#define BOT_API_MAX_REPLY (8u << 20)

struct bot_api;

struct bot_api_result {
	/* 0: {"ok": true}; -EREMOTEIO: {"ok": false} (see error_code);
	 * -ETIMEDOUT, -ECONNREFUSED, -EIO: no HTTP answer; -EPROTO: an answer
	 * that is not the Bot API's JSON; -ECANCELED: cancelled. */
	int err;
	long http_status;        /* 0 when there was no HTTP answer */
	int error_code;          /* Telegram's error_code (else the HTTP status) */
	const char *description; /* Telegram's description or our reason; never NULL */
	double retry_after;      /* 429: parameters.retry_after, else 0 */
	const cJSON *result;     /* "result" on success; borrowed for the callback */
};

typedef void (*bot_api_done_fn)(void *user, const struct bot_api_result *res);

/* base_url: scheme://host[:port][/prefix] without a trailing slash (one is
 * dropped). 0, -EINVAL (not http(s)://), -ENOMEM. */
int bot_api_new(struct ev_loop *loop, const char *base_url, struct bot_api **out);
/* Copies the token (the old copy is wiped). A token is 1-127 bytes of
 * [A-Za-z0-9:_-]: it goes into a URL path. 0 or -EINVAL. */
int bot_api_set_token(struct bot_api *a, const char *token);
/* Calls method with params (taken; NULL = {}) as a JSON body. timeout_s is
 * the whole call (a long poll needs its poll timeout plus a margin). 0, or
 * a negative errno and the callback never runs. */
int bot_api_call(struct bot_api *a, const char *method, cJSON *params, double timeout_s,
		 bot_api_done_fn done, void *user);
/* sendPhoto as multipart/form-data: the PNG is copied. caption may be NULL;
 * reply_markup (taken) may be NULL. */
int bot_api_send_photo(struct bot_api *a, int64_t chat_id, const void *png, size_t png_len,
		       const char *caption, const char *parse_mode, cJSON *reply_markup,
		       double timeout_s, bot_api_done_fn done, void *user);
/* Calls in flight. */
unsigned bot_api_pending(const struct bot_api *a);
/* Every call in flight completes now with -ECANCELED (safe from inside a
 * callback of this client; calls made meanwhile are cancelled too). */
void bot_api_cancel_all(struct bot_api *a);
/* Cancels everything, wipes the token and frees. */
void bot_api_free(struct bot_api *a);

/* Checks a token's characters (see bot_api_set_token). */
int bot_api_token_ok(const char *token);

#endif
