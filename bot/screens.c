/* The bot's screens (screens.h). */
#include "screens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cbdata.h"
#include "text.h"

void bot_screen_free(struct bot_screen *s)
{
	free(s->text);
	cJSON_Delete(s->markup);
	s->text = NULL;
	s->markup = NULL;
}

void bot_screen_ago(int64_t secs, char *out, size_t cap)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(out, cap, "%lld s", (long long)secs);
	else if (secs < 3600)
		snprintf(out, cap, "%lld min", (long long)(secs / 60));
	else if (secs < 86400 * 2)
		snprintf(out, cap, "%lld h", (long long)(secs / 3600));
	else
		snprintf(out, cap, "%lld d", (long long)(secs / 86400));
}

cJSON *bot_screen_no_keyboard(void)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddArrayToObject(m, "inline_keyboard");
	return m;
}

static cJSON *scr_keyboard(cJSON **rows)
{
	cJSON *m = cJSON_CreateObject();

	*rows = cJSON_AddArrayToObject(m, "inline_keyboard");
	return m;
}

/* Adds a button to row (a new row when row is NULL); returns the row. */
static cJSON *scr_button(cJSON *rows, cJSON *row, const char *label, const struct bot_cb *cb)
{
	char data[BOT_CB_MAX + 1];
	cJSON *btn;

	if (bot_cb_encode(cb, data))
		return row;
	if (!row) {
		row = cJSON_CreateArray();
		cJSON_AddItemToArray(rows, row);
	}
	btn = cJSON_CreateObject();
	cJSON_AddStringToObject(btn, "text", label);
	cJSON_AddStringToObject(btn, "callback_data", data);
	cJSON_AddItemToArray(row, btn);
	return row;
}

static struct bot_cb scr_cb(uint32_t gen, enum bot_cb_action a, const char *node_id)
{
	struct bot_cb cb;

	memset(&cb, 0, sizeof(cb));
	cb.gen = gen;
	cb.action = a;
	if (node_id)
		snprintf(cb.node, sizeof(cb.node), "%.*s", BOT_CB_NODE_HEX, node_id);
	return cb;
}

static int scr_finish(struct bot_text *t, cJSON *markup, struct bot_screen *out)
{
	const char *txt = bot_text_finish(t);

	out->text = t->oom ? NULL : strdup(txt);
	out->markup = markup;
	bot_text_deinit(t);
	if (!out->text) {
		bot_screen_free(out);
		return -ENOMEM;
	}
	return 0;
}

/* Button label: "🟢 name 👑", cut so that a long name still fits a button. */
static void scr_label(const struct bot_node_view *v, char *out, size_t cap)
{
	snprintf(out, cap, "%s %.40s%s%s", v->online ? "🟢" : v->rebooting ? "🔄" : "🔴", v->name,
		 strlen(v->name) > 40 ? "…" : "", v->leader ? " 👑" : "");
}

int bot_screen_list(const struct bot_node_view *v, size_t n, unsigned page, uint32_t gen,
		    int64_t now, const char *note, struct bot_screen *out)
{
	struct bot_text t;
	cJSON *rows, *m = scr_keyboard(&rows), *row = NULL;
	unsigned pages = n ? (unsigned)((n + BOT_LIST_PAGE - 1) / BOT_LIST_PAGE) : 1;
	size_t online = 0;
	struct bot_cb cb;
	char label[128];

	(void)now;
	memset(out, 0, sizeof(*out));
	if (page >= pages)
		page = pages - 1;
	for (size_t i = 0; i < n; i++)
		online += v[i].online != 0;
	bot_text_init(&t, BOT_TEXT_LIMIT);
	if (note) {
		bot_text_raw(&t, note);
		bot_text_endl(&t);
		bot_text_endl(&t);
	}
	bot_text_rawf(&t, "🛰 <b>Constella</b> · %zu node%s, %zu online", n, n == 1 ? "" : "s",
		      online);
	bot_text_endl(&t);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].leader)
			continue;
		bot_text_raw(&t, "👑 Leader: <b>");
		bot_text_escaped(&t, v[i].name);
		bot_text_raw(&t, "</b>");
		bot_text_endl(&t);
	}
	if (pages > 1) {
		bot_text_rawf(&t, "Page %u of %u", page + 1, pages);
		bot_text_endl(&t);
	}
	bot_text_raw(&t, n ? "Choose a node:" : "No nodes.");
	bot_text_endl(&t);
	for (size_t i = (size_t)page * BOT_LIST_PAGE; i < n && i < ((size_t)page + 1) * BOT_LIST_PAGE;
	     i++) {
		scr_label(&v[i], label, sizeof(label));
		cb = scr_cb(gen, BOT_CB_NODE, v[i].id);
		scr_button(rows, NULL, label, &cb);
	}
	if (pages > 1) {
		if (page > 0) {
			cb = scr_cb(gen, BOT_CB_LIST, NULL);
			cb.page = page - 1;
			row = scr_button(rows, row, "« Prev", &cb);
		}
		if (page + 1 < pages) {
			cb = scr_cb(gen, BOT_CB_LIST, NULL);
			cb.page = page + 1;
			row = scr_button(rows, row, "Next »", &cb);
		}
	}
	cb = scr_cb(gen, BOT_CB_LIST, NULL);
	cb.page = page;
	scr_button(rows, NULL, "🔄 Refresh", &cb);
	return scr_finish(&t, m, out);
}

static void scr_when(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(out, cap, "%Y-%m-%d %H:%M UTC", gmtime_r(&tt, &tm));
}

int bot_screen_card(const struct bot_node_view *v, uint32_t gen, int64_t now, const char *body,
		    struct bot_screen *out)
{
	struct bot_text t;
	cJSON *rows, *m = scr_keyboard(&rows), *row;
	struct bot_cb cb;
	char when[40], ago[32];

	memset(out, 0, sizeof(*out));
	bot_text_init(&t, BOT_TEXT_LIMIT);
	bot_text_raw(&t, "🖥 <b>");
	bot_text_escaped(&t, v->name);
	bot_text_raw(&t, "</b>");
	bot_text_endl(&t);
	if (v->online) {
		bot_text_raw(&t, "🟢 online");
		if (v->leader)
			bot_text_raw(&t, " · 👑 leader");
		if (v->runs_bot)
			bot_text_raw(&t, " · 🤖 runs this bot");
	} else if (v->rebooting) {
		bot_text_raw(&t, "🔄 rebooting: not back yet");
	} else if (v->last_seen > 0) {
		scr_when(v->last_seen, when, sizeof(when));
		bot_screen_ago(now - v->last_seen, ago, sizeof(ago));
		bot_text_rawf(&t, "🔴 offline since %s (%s ago)", when, ago);
	} else {
		bot_text_raw(&t, "🔴 offline (never seen by this node)");
	}
	bot_text_endl(&t);
	bot_text_raw(&t, "Address: <code>");
	bot_text_escaped(&t, v->addr);
	bot_text_raw(&t, "</code>");
	bot_text_endl(&t);
	if (body && *body) {
		bot_text_endl(&t);
		/* the body is ours, already escaped: line by line so a cut is clean */
		for (const char *p = body; *p;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			char line[1024];

			snprintf(line, sizeof(line), "%.*s", (int)len, p);
			bot_text_raw(&t, line);
			bot_text_endl(&t);
			p += len + (nl ? 1 : 0);
		}
	}
	if (v->online) {
		cb = scr_cb(gen, BOT_CB_STATS, v->id);
		row = scr_button(rows, NULL, "📊 Stats", &cb);
		cb = scr_cb(gen, BOT_CB_NET, v->id);
		scr_button(rows, row, "🌐 Network", &cb);
		cb = scr_cb(gen, BOT_CB_METRICS, v->id);
		row = scr_button(rows, NULL, "📈 Metrics", &cb);
		cb = scr_cb(gen, BOT_CB_REBOOT, v->id);
		scr_button(rows, row, "🔄 Reboot", &cb);
	}
	cb = scr_cb(gen, BOT_CB_LIST, NULL);
	scr_button(rows, NULL, "← Back", &cb);
	return scr_finish(&t, m, out);
}

static int scr_ask(const struct bot_node_view *v, uint32_t gen, const char *question,
		   const char *detail, const char *yes, enum bot_cb_action yes_act,
		   const char *cancel_node, struct bot_screen *out)
{
	struct bot_text t;
	cJSON *rows, *m = scr_keyboard(&rows), *row;
	struct bot_cb cb;

	memset(out, 0, sizeof(*out));
	bot_text_init(&t, BOT_TEXT_LIMIT);
	bot_text_raw(&t, question);
	bot_text_raw(&t, " <b>");
	bot_text_escaped(&t, v->name);
	bot_text_raw(&t, "</b>?");
	bot_text_endl(&t);
	bot_text_raw(&t, detail);
	bot_text_endl(&t);
	cb = scr_cb(gen, yes_act, v->id);
	row = scr_button(rows, NULL, yes, &cb);
	cb = scr_cb(gen, BOT_CB_CANCEL, cancel_node);
	scr_button(rows, row, "✖ Cancel", &cb);
	return scr_finish(&t, m, out);
}

int bot_screen_reboot_ask(const struct bot_node_view *v, uint32_t gen, struct bot_screen *out)
{
	return scr_ask(v, gen, "🔄 Reboot", "The machine restarts; the node is offline until it is back.",
		       "✅ Yes, reboot", BOT_CB_REBOOT_YES, v->id, out);
}

int bot_screen_remove_ask(const struct bot_node_view *v, uint32_t gen, struct bot_screen *out)
{
	return scr_ask(v, gen, "🗑 Remove",
		       "It leaves the network for good: every member forgets it, and it needs a new "
		       "invite to come back.",
		       "🗑 Yes, remove", BOT_CB_REMOVE_YES, NULL, out);
}
