/* The update parser (update.h). */
#include "update.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bot_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p, n, cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if ((size_t)(end - p) <= n)
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* An integer id in [lo, BOT_ID_MAX] (chat ids of groups are negative). */
static int upd_int(const cJSON *o, const char *k, int64_t lo, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	double d;

	if (!cJSON_IsNumber(v))
		return -EINVAL;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)BOT_ID_MAX ||
	    d < -(double)BOT_ID_MAX)
		return -EINVAL;
	*out = (int64_t)d;
	return 0;
}

/* A string of at most max bytes of valid UTF-8 without NUL. Absent is
 * allowed when !required (dst ""). */
static int upd_str(const cJSON *o, const char *k, char *dst, size_t max, int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	size_t n;

	if (!v) {
		dst[0] = 0;
		return required ? -EINVAL : 0;
	}
	if (!cJSON_IsString(v))
		return -EINVAL;
	n = strlen(v->valuestring);
	if (n > max || !bot_utf8_valid(v->valuestring, n))
		return -EINVAL;
	memcpy(dst, v->valuestring, n + 1);
	return 0;
}

static int upd_username_ok(const char *u)
{
	for (; *u; u++)
		if (!((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
		      (*u >= '0' && *u <= '9') || *u == '_'))
			return 0;
	return 1;
}

static int upd_user(const cJSON *o, struct bot_user *u, char *why, size_t wl)
{
	const cJSON *ib = cJSON_GetObjectItemCaseSensitive(o, "is_bot");

	if (!cJSON_IsObject(o) || upd_int(o, "id", 1, &u->id)) {
		snprintf(why, wl, "from.id must be a positive integer");
		return -EINVAL;
	}
	if (ib && !cJSON_IsBool(ib)) {
		snprintf(why, wl, "from.is_bot must be a boolean");
		return -EINVAL;
	}
	u->is_bot = cJSON_IsTrue(ib);
	if (upd_str(o, "username", u->username, BOT_USERNAME_MAX, 0) ||
	    !upd_username_ok(u->username)) {
		snprintf(why, wl, "from.username must be 1-32 of [A-Za-z0-9_]");
		return -EINVAL;
	}
	return 0;
}

static int upd_chat(const cJSON *o, struct bot_update *u, char *why, size_t wl)
{
	char type[16];

	if (!cJSON_IsObject(o) || upd_int(o, "id", -BOT_ID_MAX, &u->chat_id) || !u->chat_id ||
	    upd_str(o, "type", type, sizeof(type) - 1, 0)) {
		snprintf(why, wl, "chat must have a non-zero integer id");
		return -EINVAL;
	}
	u->private_chat = !type[0] || !strcmp(type, "private");
	return 0;
}

static int upd_message(const cJSON *m, struct bot_update *u, char *why, size_t wl)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(m, "text");
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(m, "from");
	size_t n;

	if (!cJSON_IsObject(m) || upd_int(m, "message_id", 1, &u->message_id)) {
		snprintf(why, wl, "message.message_id must be a positive integer");
		return -EINVAL;
	}
	if (upd_chat(cJSON_GetObjectItemCaseSensitive(m, "chat"), u, why, wl))
		return -EINVAL;
	if (!from) {
		/* a channel post or an anonymous admin: nobody to answer */
		u->kind = BOT_UPDATE_OTHER;
		return 0;
	}
	if (upd_user(from, &u->from, why, wl))
		return -EINVAL;
	if (text) {
		if (!cJSON_IsString(text) || (n = strlen(text->valuestring)) > BOT_TEXT_MAX_BYTES ||
		    !bot_utf8_valid(text->valuestring, n)) {
			snprintf(why, wl, "message.text must be UTF-8 of at most %d bytes",
				 BOT_TEXT_MAX_BYTES);
			return -EINVAL;
		}
		if (!(u->text = strdup(text->valuestring)))
			return -ENOMEM;
	}
	u->kind = BOT_UPDATE_MESSAGE;
	return 0;
}

static int upd_callback(const cJSON *q, struct bot_update *u, char *why, size_t wl)
{
	const cJSON *m;
	int64_t mid;

	if (!cJSON_IsObject(q) || upd_str(q, "id", u->callback_id, BOT_CALLBACK_ID_MAX, 1) ||
	    !u->callback_id[0]) {
		snprintf(why, wl, "callback_query.id must be a string of 1-%d bytes",
			 BOT_CALLBACK_ID_MAX);
		return -EINVAL;
	}
	if (upd_user(cJSON_GetObjectItemCaseSensitive(q, "from"), &u->from, why, wl))
		return -EINVAL;
	if (upd_str(q, "data", u->data, BOT_CALLBACK_DATA_MAX, 0)) {
		snprintf(why, wl, "callback_query.data must be at most %d bytes",
			 BOT_CALLBACK_DATA_MAX);
		return -EINVAL;
	}
	/* The message the button is on: absent for inline-mode buttons, and
	 * possibly without a usable id; the runner then answers with a new
	 * screen instead of editing. */
	m = cJSON_GetObjectItemCaseSensitive(q, "message");
	if (m) {
		if (!cJSON_IsObject(m) ||
		    upd_chat(cJSON_GetObjectItemCaseSensitive(m, "chat"), u, why, wl)) {
			snprintf(why, wl, "callback_query.message must have a chat");
			return -EINVAL;
		}
		if (cJSON_GetObjectItemCaseSensitive(m, "message_id")) {
			if (upd_int(m, "message_id", 1, &mid)) {
				snprintf(why, wl, "callback_query.message.message_id is invalid");
				return -EINVAL;
			}
			u->message_id = mid;
		}
	}
	u->kind = BOT_UPDATE_CALLBACK;
	return 0;
}

static int upd_parse_one(const cJSON *o, struct bot_update *u)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
	const cJSON *cb = cJSON_GetObjectItemCaseSensitive(o, "callback_query");
	int r = 0;

	if (msg && cb)
		snprintf(u->reason, sizeof(u->reason), "an update carries one object, not two");
	else if (msg)
		r = upd_message(msg, u, u->reason, sizeof(u->reason));
	else if (cb)
		r = upd_callback(cb, u, u->reason, sizeof(u->reason));
	else
		return 0; /* OTHER */
	if (r == -ENOMEM)
		return r;
	if (r || u->reason[0]) {
		free(u->text);
		u->text = NULL;
		u->kind = BOT_UPDATE_INVALID;
		if (!u->reason[0])
			snprintf(u->reason, sizeof(u->reason), "malformed update");
	}
	return 0;
}

void bot_update_free_list(struct bot_update *u, size_t n)
{
	for (size_t i = 0; u && i < n; i++)
		free(u[i].text);
	free(u);
}

int bot_update_parse_list(const cJSON *result, struct bot_update **out, size_t *n, char *err,
			  size_t errlen)
{
	struct bot_update *v = NULL;
	const cJSON *o;
	size_t cnt = 0, i = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(result)) {
		snprintf(err, errlen, "getUpdates result must be an array");
		return -EINVAL;
	}
	cnt = (size_t)cJSON_GetArraySize(result);
	if (cnt > BOT_UPDATE_MAX) {
		snprintf(err, errlen, "getUpdates returned %zu updates (at most %d)", cnt,
			 BOT_UPDATE_MAX);
		return -EINVAL;
	}
	if (!cnt)
		return 0;
	if (!(v = calloc(cnt, sizeof(*v))))
		return -ENOMEM;
	cJSON_ArrayForEach(o, result) {
		if (!cJSON_IsObject(o) || upd_int(o, "update_id", 0, &v[i].update_id)) {
			snprintf(err, errlen, "update %zu has no valid update_id", i);
			r = -EINVAL;
			goto fail;
		}
		if (i && v[i].update_id <= v[i - 1].update_id) {
			snprintf(err, errlen, "update ids are not ascending (%lld after %lld)",
				 (long long)v[i].update_id, (long long)v[i - 1].update_id);
			r = -EINVAL;
			goto fail;
		}
		if ((r = upd_parse_one(o, &v[i])))
			goto fail;
		i++;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	bot_update_free_list(v, cnt);
	return r;
}
