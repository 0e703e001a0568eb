/* Message text builder (text.h). */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_ELLIPSIS "…"

void bot_text_init(struct bot_text *t, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit;
}

void bot_text_deinit(struct bot_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

size_t bot_text_utf16_units(const char *s, size_t len)
{
	size_t u = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xc0) == 0x80)
			continue; /* continuation byte */
		u += c >= 0xf0 ? 2 : 1;
	}
	return u;
}

/* Appends n bytes to the line, cutting at a character boundary when the
 * line buffer is full (a line is never that long in practice). */
static void text_line_put(struct bot_text *t, const char *s, size_t n)
{
	size_t room = sizeof(t->line) - 1 - t->line_len;

	if (n > room) {
		n = room;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(t->line + t->line_len, s, n);
	t->line_len += n;
	t->line[t->line_len] = 0;
}

void bot_text_raw(struct bot_text *t, const char *s)
{
	text_line_put(t, s, strlen(s));
}

void bot_text_rawf(struct bot_text *t, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		text_line_put(t, tmp, strlen(tmp));
}

char *bot_text_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return out;
	for (; *s; s++) {
		const char *rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
		size_t n = rep ? strlen(rep) : 1;

		if (o + n >= cap)
			break;
		if (rep)
			memcpy(out + o, rep, n);
		else
			out[o] = *s;
		o += n;
	}
	/* never end inside a UTF-8 sequence */
	while (o && ((unsigned char)out[o - 1] & 0x80)) {
		size_t k = o - 1;

		while (k && ((unsigned char)out[k] & 0xc0) == 0x80)
			k--;
		{
			unsigned char lead = (unsigned char)out[k];
			size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;

			if (o - k == need)
				break;
			o = k;
		}
	}
	out[o] = 0;
	return out;
}

void bot_text_escaped(struct bot_text *t, const char *s)
{
	char tmp[4096];

	bot_text_escape(s, tmp, sizeof(tmp));
	text_line_put(t, tmp, strlen(tmp));
}

static int text_grow(struct bot_text *t, size_t need)
{
	char *b;
	size_t cap = t->cap ? t->cap : 1024;

	if (t->len + need + 1 <= t->cap)
		return 0;
	while (cap < t->len + need + 1)
		cap *= 2;
	if (!(b = realloc(t->buf, cap))) {
		t->oom = 1;
		return -1;
	}
	t->buf = b;
	t->cap = cap;
	return 0;
}

void bot_text_endl(struct bot_text *t)
{
	size_t lu = bot_text_utf16_units(t->line, t->line_len) + (t->len ? 1 : 0);
	/* room kept for the "\n…" that marks a cut */
	size_t reserve = 2;

	if (!t->truncated && t->units + lu + reserve <= t->limit && !text_grow(t, t->line_len + 1)) {
		if (t->len)
			t->buf[t->len++] = '\n';
		memcpy(t->buf + t->len, t->line, t->line_len);
		t->len += t->line_len;
		t->buf[t->len] = 0;
		t->units += lu;
	} else if (!t->truncated) {
		t->truncated = 1;
		if (!text_grow(t, sizeof(TEXT_ELLIPSIS) + 1)) {
			if (t->len)
				t->buf[t->len++] = '\n';
			memcpy(t->buf + t->len, TEXT_ELLIPSIS, sizeof(TEXT_ELLIPSIS));
			t->len += sizeof(TEXT_ELLIPSIS) - 1;
			t->units += 2;
		}
	}
	t->line_len = 0;
	t->line[0] = 0;
}

const char *bot_text_finish(struct bot_text *t)
{
	if (t->line_len)
		bot_text_endl(t);
	return t->buf ? t->buf : "";
}
