/* callback_data encoding (cbdata.h). */
#include "cbdata.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char cb_letters[] = "lnswmrydx"; /* indexed by enum bot_cb_action */

static int cb_has_node(enum bot_cb_action a)
{
	return a != BOT_CB_LIST && a != BOT_CB_CANCEL;
}

static int cb_hex_ok(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int bot_cb_encode(const struct bot_cb *c, char *out)
{
	char gen[16];
	size_t i = sizeof(gen) - 1;
	uint32_t g = c->gen;

	if ((unsigned)c->action >= sizeof(cb_letters) - 1)
		return -EINVAL;
	gen[i] = 0;
	do {
		gen[--i] = "0123456789abcdefghijklmnopqrstuvwxyz"[g % 36];
		g /= 36;
	} while (g);
	if (c->action == BOT_CB_LIST) {
		snprintf(out, BOT_CB_MAX + 1, "%s.%c.%u", gen + i, cb_letters[c->action],
			 c->page > 9999 ? 9999 : c->page);
		return 0;
	}
	if (c->action == BOT_CB_CANCEL && !c->node[0]) {
		snprintf(out, BOT_CB_MAX + 1, "%s.%c", gen + i, cb_letters[c->action]);
		return 0;
	}
	if (!cb_hex_ok(c->node, BOT_CB_NODE_HEX))
		return -EINVAL;
	snprintf(out, BOT_CB_MAX + 1, "%s.%c.%s", gen + i, cb_letters[c->action], c->node);
	return 0;
}

int bot_cb_decode(const char *s, struct bot_cb *c)
{
	const char *p = s, *act;
	uint64_t g = 0;
	size_t ng = 0;

	memset(c, 0, sizeof(*c));
	if (strlen(s) > BOT_CB_MAX)
		return -EINVAL;
	for (; *p && *p != '.'; p++, ng++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'z' ? *p - 'a' + 10 : -1;

		if (d < 0 || ng >= 7 || (ng == 0 && d == 0 && p[1] != '.'))
			return -EINVAL;
		g = g * 36 + (uint64_t)d;
	}
	if (!ng || *p != '.' || g > UINT32_MAX)
		return -EINVAL;
	act = strchr(cb_letters, p[1]);
	if (!p[1] || !act)
		return -EINVAL;
	c->gen = (uint32_t)g;
	c->action = (enum bot_cb_action)(act - cb_letters);
	p += 2;
	if (c->action == BOT_CB_LIST) {
		unsigned v = 0;
		size_t nd = 0;

		if (*p++ != '.')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9' && nd < 4; p++, nd++)
			v = v * 10 + (unsigned)(*p - '0');
		if (!nd || *p || (nd > 1 && p[-(long)nd] == '0'))
			return -EINVAL;
		c->page = v;
		return 0;
	}
	if (c->action == BOT_CB_CANCEL && !*p)
		return 0;
	if (*p++ != '.' || !cb_hex_ok(p, BOT_CB_NODE_HEX))
		return -EINVAL;
	memcpy(c->node, p, BOT_CB_NODE_HEX + 1);
	return cb_has_node(c->action) || c->action == BOT_CB_CANCEL ? 0 : -EINVAL;
}
