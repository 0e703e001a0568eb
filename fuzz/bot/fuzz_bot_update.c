/* libFuzzer target for what the bot reads from outside: the Bot API's
 * getUpdates answer (update.h), the callback_data of a pressed button
 * (cbdata.h) and the node data answers (metrics.h). Whatever the input, the
 * parsers accept only what they promise: ascending ids, bounded and valid
 * UTF-8 strings, data that re-encodes to itself. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbdata.h"
#include "metrics.h"
#include "text.h"
#include "update.h"

static void check_update(const struct bot_update *u, const struct bot_update *prev)
{
	struct bot_cb cb;
	char again[BOT_CB_MAX + 1];

	if (u->update_id < 0 || (prev && u->update_id <= prev->update_id))
		abort();
	switch (u->kind) {
	case BOT_UPDATE_MESSAGE:
		if (u->from.id < 1 || !u->chat_id || u->message_id < 1)
			abort();
		if (u->text && (strlen(u->text) > BOT_TEXT_MAX_BYTES ||
				!bot_utf8_valid(u->text, strlen(u->text))))
			abort();
		break;
	case BOT_UPDATE_CALLBACK:
		if (u->from.id < 1 || !u->callback_id[0] || strlen(u->data) > BOT_CALLBACK_DATA_MAX)
			abort();
		if (bot_cb_decode(u->data, &cb) == 0 &&
		    (bot_cb_encode(&cb, again) || strcmp(again, u->data)))
			abort(); /* only canonical data is accepted */
		break;
	case BOT_UPDATE_INVALID:
		if (!u->reason[0] || u->text)
			abort();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	struct bot_update *u = NULL;
	struct bot_series s[BOT_SERIES_MAX];
	struct bot_stats st;
	struct bot_cb cb;
	char err[160], line[300], text[256];
	size_t n = 0;

	/* callback_data straight from the bytes */
	if (size <= BOT_CB_MAX) {
		char d[BOT_CB_MAX + 1], again[BOT_CB_MAX + 1];

		memcpy(d, data, size);
		d[size] = 0;
		if (bot_cb_decode(d, &cb) == 0 && (bot_cb_encode(&cb, again) || strcmp(again, d)))
			abort();
	}
	if (size < sizeof(text)) {
		char in[256];

		memcpy(in, data, size);
		in[size] = 0;
		bot_text_escape(in, text, sizeof(text));
		if (strchr(text, '<') || strchr(text, '>'))
			abort();
	}
	if (!root)
		return 0;
	if (bot_update_parse_list(cJSON_GetObjectItemCaseSensitive(root, "result"), &u, &n, err,
				  sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++)
			check_update(&u[i], i ? &u[i - 1] : NULL);
		bot_update_free_list(u, n);
	} else if (u || n) {
		abort();
	}
	if (bot_stats_parse(root, &st) == 0 && st.n_cpus > BOT_STATS_MAX_CPUS)
		abort();
	n = 0;
	if (bot_ts_parse(root, "cpu", s, &n) == 0) {
		if (n > BOT_SERIES_MAX)
			abort();
		bot_series_free(s, n);
	} else if (n) {
		abort();
	}
	bot_speedtest_format(root, line, sizeof(line));
	cJSON_Delete(root);
	return 0;
}
