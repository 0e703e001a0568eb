/* Message text for the HTML parse mode, within Telegram's limits.
 *
 * Everything that comes from outside the bot's own strings (node names,
 * addresses, RPC error messages, usernames) goes in through
 * bot_text_escaped(), which escapes & < > as the HTML parse mode requires.
 * Telegram counts the limit (4096 for a message, 1024 for a caption) in
 * UTF-16 code units of the text after entity parsing; we count the raw
 * text, tags included, which is never less. Lines are added whole: a line
 * that would not fit is dropped with everything after it, and the text ends
 * with a "…" line, so a tag is never cut in half. */
#ifndef BOT_TEXT_H
#define BOT_TEXT_H

#include <stddef.h>

#define BOT_TEXT_LIMIT 4096
#define BOT_CAPTION_LIMIT 1024

struct bot_text {
	char *buf;
	size_t len, cap;
	size_t units;     /* UTF-16 code units of buf */
	size_t limit;
	int truncated;
	char line[8192];  /* the line being built */
	size_t line_len;
	int oom;
};

void bot_text_init(struct bot_text *t, size_t limit);
void bot_text_deinit(struct bot_text *t);
/* Appends to the current line: our own markup, as is. */
void bot_text_raw(struct bot_text *t, const char *s);
void bot_text_rawf(struct bot_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends outside text to the current line, HTML-escaped. */
void bot_text_escaped(struct bot_text *t, const char *s);
/* Ends the current line: it goes into the text if it fits. */
void bot_text_endl(struct bot_text *t);
/* Ends the last line and returns the text (owned by t; "" when empty). */
const char *bot_text_finish(struct bot_text *t);

/* UTF-16 code units of UTF-8 text (4-byte sequences count 2). */
size_t bot_text_utf16_units(const char *s, size_t len);
/* s escaped for HTML into out (cap bytes, truncated at a character
 * boundary). Returns out. */
char *bot_text_escape(const char *s, char *out, size_t cap);

#endif
