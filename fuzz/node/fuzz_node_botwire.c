/* libFuzzer target for the bot settings and cursor parsers (botwire.h):
 * what a member sends in a heartbeat's "bot" digest, a GetSettings answer,
 * a BotCursor request, a join reply's "bot" member, and bot.json. Accepted
 * values are within their limits and round-trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botwire.h"

static const char net[] = "0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[NODE_BOT_SETTINGS_KEY];
	static int have_key;
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	struct node_bot_settings s, back;
	struct node_bot_cursor c;
	unsigned have;
	char err[160], *txt;

	if (!have_key) {
		node_botwire_key("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", key);
		have_key = 1;
	}
	if (node_botwire_file_parse((const char *)data, size, &s, err, sizeof(err)) == 0) {
		if (s.cursor.answered > s.cursor.update_id || s.owner_id < 0)
			abort();
		if (!(txt = node_botwire_file_json(&s)))
			abort();
		if (node_botwire_file_parse(txt, strlen(txt), &back, err, sizeof(err)) ||
		    memcmp(&back.cursor, &s.cursor, sizeof(s.cursor)) || back.owner_id != s.owner_id ||
		    back.token_ver != s.token_ver || strcmp(back.owner_username, s.owner_username))
			abort();
		free(txt);
	}
	if (!root)
		return 0;
	if (node_botwire_parse_digest(cJSON_GetObjectItemCaseSensitive(root, "bot"), &s) == 0 &&
	    ((s.token_ver && strlen(s.token_origin) != NODE_ID_HEX) || s.token[0]))
		abort();
	if (node_botwire_parse_plain(cJSON_GetObjectItemCaseSensitive(root, "plain"), &s, &have) == 0 &&
	    (have & NODE_BOT_HAVE_TOKEN) && !node_botwire_token_ok(s.token))
		abort();
	if (node_botwire_open(cJSON_GetObjectItemCaseSensitive(root, "sealed"), key, net, &s, &have) == 0 &&
	    (have & NODE_BOT_HAVE_TOKEN) && !node_botwire_token_ok(s.token))
		abort();
	if (node_botwire_parse_cursor(cJSON_GetObjectItemCaseSensitive(root, "cursor"), &c) == 0 &&
	    (c.answered > c.update_id || c.update_id < 0))
		abort();
	cJSON_Delete(root);
	return 0;
}
