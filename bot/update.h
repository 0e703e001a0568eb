/* The Bot API update parser: the "result" array of getUpdates into plain
 * structs, strictly. It is outside input (whoever answers on the API URL),
 * so every field is checked for type, range and size, and text must be valid
 * UTF-8. Fuzzed by fuzz/bot/fuzz_bot_update.c.
 *
 * Two levels of failure: a list that is not an array of objects each with a
 * valid update_id is rejected whole (nothing is applied, the offset does not
 * move); an update with a valid id whose body is malformed becomes
 * BOT_UPDATE_INVALID (with the reason), so the runner can skip it and still
 * confirm it, instead of fetching it forever. Kinds the bot does not use
 * (edited messages, channel posts, ...) are BOT_UPDATE_OTHER. */
#ifndef BOT_UPDATE_H
#define BOT_UPDATE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define BOT_UPDATE_MAX 100           /* getUpdates' own limit */
#define BOT_TEXT_MAX_BYTES (4096 * 4) /* 4096 characters of UTF-8 */
#define BOT_USERNAME_MAX 32
#define BOT_CALLBACK_ID_MAX 64
#define BOT_CALLBACK_DATA_MAX 64     /* Telegram: 1-64 bytes */
#define BOT_ID_MAX ((int64_t)1 << 53) /* ids fit a double exactly */

enum bot_update_kind {
	BOT_UPDATE_OTHER = 0,
	BOT_UPDATE_MESSAGE,  /* a message to the bot (text may be empty) */
	BOT_UPDATE_CALLBACK, /* an inline button was pressed */
	BOT_UPDATE_INVALID,  /* update_id is valid, the rest is not */
};

struct bot_user {
	int64_t id;
	int is_bot;
	char username[BOT_USERNAME_MAX + 1]; /* "" when the user has none */
};

struct bot_update {
	int64_t update_id;
	enum bot_update_kind kind;
	struct bot_user from;
	int64_t chat_id;     /* 0 when unknown (a callback on an inaccessible message) */
	int private_chat;
	int64_t message_id;  /* the message; for a callback, the message of the button (0: unknown) */
	char *text;          /* message text (malloc'd, may be NULL) */
	char callback_id[BOT_CALLBACK_ID_MAX + 1];
	char data[BOT_CALLBACK_DATA_MAX + 1]; /* callback data, "" when absent */
	char reason[96];     /* BOT_UPDATE_INVALID: why */
};

/* result: getUpdates' "result". On success *out is a malloc'd array of *n
 * updates in ascending update_id order (the list must be strictly
 * ascending, as Telegram sends it). 0, -EINVAL (reason in err), -ENOMEM. */
int bot_update_parse_list(const cJSON *result, struct bot_update **out, size_t *n, char *err,
			  size_t errlen);
void bot_update_free_list(struct bot_update *u, size_t n);

/* Valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
int bot_utf8_valid(const char *s, size_t len);

#endif
