/* The owner's console: who may talk to the bot, the commands, the buttons,
 * and the one screen message per chat that is edited in place. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botstate.h"
#include "cbdata.h"
#include "cluster.h"
#include "daemon.h"
#include "internal.h"
#include "invite.h"
#include "joinlink.h"
#include "log.h"
#include "screens.h"
#include "text.h"

/* ---- chats ---- */

struct bot_chat *bot_ui_chat(struct bot *b, int64_t chat_id)
{
	struct bot_chat *lru = &b->chats[0];

	for (int i = 0; i < BOT_MAX_CHATS; i++) {
		if (b->chats[i].chat_id == chat_id) {
			b->chats[i].used = bot_now_wall();
			return &b->chats[i];
		}
		if (b->chats[i].used < lru->used)
			lru = &b->chats[i];
	}
	memset(lru, 0, sizeof(*lru));
	lru->chat_id = chat_id;
	lru->used = bot_now_wall();
	return lru;
}

void bot_ui_reset(struct bot *b)
{
	memset(b->chats, 0, sizeof(b->chats));
}

/* ---- nodes ---- */

static void ui_view(struct bot *b, const struct node_peer *p, struct bot_node_view *v)
{
	struct node_cluster *cl = node_daemon_cluster(b->d);

	memset(v, 0, sizeof(*v));
	memcpy(v->id, p->node_id, sizeof(v->id));
	snprintf(v->name, sizeof(v->name), "%s", p->name);
	snprintf(v->addr, sizeof(v->addr), "%s", p->addr);
	v->online = !node_cluster_member_down(cl, p->node_id);
	v->rebooting = !v->online && node_cluster_member_rebooting(cl, p->node_id);
	v->leader = !strcmp(node_cluster_leader(cl), p->node_id);
	v->runs_bot = !strcmp(node_daemon_self_id(b->d), p->node_id);
	v->last_seen = p->last_seen;
}

int bot_ui_node(struct bot *b, const char *id, struct bot_node_view *out)
{
	const struct node_state *st = node_daemon_state(b->d);
	size_t n = strlen(id);

	if (n < BOT_CB_NODE_HEX)
		return -ENOENT;
	for (size_t i = 0; i < st->n_peers; i++)
		if (!strncmp(st->peers[i].node_id, id, n)) {
			ui_view(b, &st->peers[i], out);
			return 0;
		}
	return -ENOENT;
}

static int ui_node_by_name(struct bot *b, const char *name, struct bot_node_view *out)
{
	struct node_peer *p = node_state_find_peer_by_name(node_daemon_state(b->d), name);

	if (!p)
		return -ENOENT;
	ui_view(b, p, out);
	return 0;
}

static int ui_view_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bot_node_view *)a)->name, ((const struct bot_node_view *)b)->name);
}

/* Every member, sorted by name (malloc'd; n may be 0). */
static struct bot_node_view *ui_nodes(struct bot *b, size_t *n)
{
	const struct node_state *st = node_daemon_state(b->d);
	struct bot_node_view *v = calloc(st->n_peers ? st->n_peers : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < st->n_peers; i++)
		ui_view(b, &st->peers[i], &v[(*n)++]);
	qsort(v, *n, sizeof(*v), ui_view_cmp);
	return v;
}

/* ---- showing a screen ---- */

struct ui_show {
	struct bot *b;
	uint32_t run;
	int64_t chat_id;
	uint32_t gen;
	int64_t old_msg;   /* the previous screen: its buttons go */
	int64_t reply_to;
	char *text;        /* kept for a fallback to a new message */
	cJSON *markup;
};

static void ui_show_free(struct ui_show *k)
{
	free(k->text);
	cJSON_Delete(k->markup);
	free(k);
}

static void ui_strip_keyboard(struct bot *b, int64_t chat_id, int64_t msg)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "chat_id", (double)chat_id);
	cJSON_AddNumberToObject(p, "message_id", (double)msg);
	cJSON_AddItemToObject(p, "reply_markup", bot_screen_no_keyboard());
	bot_send(b, "editMessageReplyMarkup", p, NULL, NULL);
}

static void ui_send_new(struct bot *b, struct ui_show *k);

static void on_screen_sent(struct bot *b, void *user, const struct bot_api_result *res)
{
	struct ui_show *k = user;
	const cJSON *mid = cJSON_GetObjectItemCaseSensitive(res->result, "message_id");
	struct bot_chat *c;

	if (res->err) {
		ui_show_free(k);
		return;
	}
	c = bot_ui_chat(b, k->chat_id);
	if (cJSON_IsNumber(mid) && c->gen == k->gen) {
		c->screen_msg = (int64_t)mid->valuedouble;
		if (k->old_msg && k->old_msg != c->screen_msg)
			ui_strip_keyboard(b, k->chat_id, k->old_msg);
	}
	ui_show_free(k);
}

static void on_screen_edited(struct bot *b, void *user, const struct bot_api_result *res)
{
	struct ui_show *k = user;
	struct bot_chat *c;

	if (res->err == -EREMOTEIO && res->error_code == 400 && k->run == b->run) {
		/* the message is gone or too old to edit: show it anew */
		c = bot_ui_chat(b, k->chat_id);
		if (c->gen == k->gen) {
			k->old_msg = 0;
			c->screen_msg = 0;
			ui_send_new(b, k);
			return;
		}
	}
	ui_show_free(k);
}

static void ui_send_new(struct bot *b, struct ui_show *k)
{
	bot_send_text(b, k->chat_id, k->text, cJSON_Duplicate(k->markup, 1), k->reply_to,
		      on_screen_sent, k);
}

/* Shows s (taken) in chat c as its screen, generation gen: edits msg, or
 * sends a new message when msg is 0 (then the old screen loses its
 * buttons). */
static void ui_show(struct bot *b, struct bot_chat *c, struct bot_screen *s, uint32_t gen,
		    int64_t msg, int64_t reply_to)
{
	struct ui_show *k = calloc(1, sizeof(*k));
	cJSON *p;

	if (!k) {
		bot_screen_free(s);
		return;
	}
	k->b = b;
	k->run = b->run;
	k->chat_id = c->chat_id;
	k->gen = gen;
	k->reply_to = reply_to;
	k->text = s->text;
	k->markup = s->markup;
	s->text = NULL;
	s->markup = NULL;
	if (!msg) {
		k->old_msg = c->screen_msg;
		c->screen_msg = 0;
		ui_send_new(b, k);
		return;
	}
	c->screen_msg = msg;
	p = cJSON_CreateObject();
	cJSON_AddNumberToObject(p, "chat_id", (double)c->chat_id);
	cJSON_AddNumberToObject(p, "message_id", (double)msg);
	cJSON_AddStringToObject(p, "text", k->text);
	cJSON_AddStringToObject(p, "parse_mode", "HTML");
	cJSON_AddBoolToObject(p, "disable_web_page_preview", 1);
	cJSON_AddItemToObject(p, "reply_markup", cJSON_Duplicate(k->markup, 1));
	bot_send(b, "editMessageText", p, on_screen_edited, k);
}

/* The node list (page) as the chat's screen, in msg (0: a new message). */
static void ui_list(struct bot *b, struct bot_chat *c, unsigned page, const char *note,
		    int64_t msg, int64_t reply_to)
{
	struct bot_screen s;
	size_t n = 0;
	struct bot_node_view *v = ui_nodes(b, &n);
	uint32_t gen = ++c->gen;

	if (!v)
		return;
	if (bot_screen_list(v, n, page, gen, (int64_t)time(NULL), note, &s) == 0) {
		c->screen = BOT_SCR_LIST;
		c->page = page;
		ui_show(b, c, &s, gen, msg, reply_to);
	}
	free(v);
}

uint32_t bot_ui_card(struct bot *b, struct bot_chat *c, const char *node_id, const char *body)
{
	struct bot_node_view v;
	struct bot_screen s;
	uint32_t gen;

	if (bot_ui_node(b, node_id, &v)) {
		ui_list(b, c, c->page, "That node is no longer in the network.", c->screen_msg, 0);
		return c->gen;
	}
	gen = ++c->gen;
	if (bot_screen_card(&v, gen, (int64_t)time(NULL), body, &s) == 0) {
		c->screen = BOT_SCR_CARD;
		memcpy(c->node, v.id, sizeof(c->node));
		ui_show(b, c, &s, gen, c->screen_msg, 0);
	}
	return gen;
}

static void on_screen_deleted(struct bot *b, void *user, const struct bot_api_result *res)
{
	(void)b;
	(void)user;
	(void)res;
}

void bot_ui_card_below(struct bot *b, struct bot_chat *c, const char *node_id, const char *body)
{
	struct bot_node_view v;
	struct bot_screen s;
	uint32_t gen;
	cJSON *p;

	if (bot_ui_node(b, node_id, &v))
		return;
	if (c->screen_msg) {
		p = cJSON_CreateObject();
		cJSON_AddNumberToObject(p, "chat_id", (double)c->chat_id);
		cJSON_AddNumberToObject(p, "message_id", (double)c->screen_msg);
		bot_send(b, "deleteMessage", p, on_screen_deleted, NULL);
		c->screen_msg = 0;
	}
	gen = ++c->gen;
	if (bot_screen_card(&v, gen, (int64_t)time(NULL), body, &s) == 0) {
		c->screen = BOT_SCR_CARD;
		memcpy(c->node, v.id, sizeof(c->node));
		ui_show(b, c, &s, gen, 0, 0);
	}
}

/* ---- who may talk ---- */

/* 1: the owner; 0: anyone else (refused once per run, logged every time). */
static int ui_owner(struct bot *b, const struct bot_update *u)
{
	struct node_botstate *bs = node_daemon_botstate(b->d);
	int64_t owner = node_botstate_owner_id(bs);
	const char *want = node_botstate_owner_username(bs);

	if (u->from.is_bot)
		return 0;
	if (owner)
		return u->from.id == owner;
	/* first contact: the configured username binds to this numeric id;
	 * from now on only the id counts (usernames change hands) */
	if (u->from.username[0] && node_botwire_username_eq(want, u->from.username) &&
	    node_botstate_owner_bind(bs, u->from.username, u->from.id) == 0)
		return 1;
	return 0;
}

static void ui_refuse(struct bot *b, const struct bot_update *u)
{
	int told = 0;
	cJSON *p;

	for (unsigned i = 0; i < b->n_strangers; i++)
		told |= b->strangers[i] == u->from.id;
	cst_info("refused Telegram user %lld (@%s): the bot serves its owner only%s",
		 (long long)u->from.id, u->from.username[0] ? u->from.username : "-",
		 told ? " (already told)" : "");
	if (u->kind == BOT_UPDATE_CALLBACK) {
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "callback_query_id", u->callback_id);
		cJSON_AddStringToObject(p, "text", "⛔ This bot serves its owner only.");
		bot_send(b, "answerCallbackQuery", p, NULL, NULL);
		return;
	}
	if (told || u->from.is_bot || !u->chat_id)
		return;
	if (b->n_strangers < BOT_MAX_STRANGERS)
		b->strangers[b->n_strangers++] = u->from.id;
	bot_send_text(b, u->chat_id, "⛔ This bot serves its owner only.", NULL, 0, NULL, NULL);
}

void bot_ui_notify_owner(struct bot *b, const char *html)
{
	int64_t owner = node_botstate_owner_id(node_daemon_botstate(b->d));

	if (owner)
		bot_send_text(b, owner, html, NULL, 0, NULL, NULL);
}

/* ---- commands ---- */

static void ui_help(struct bot *b, int64_t chat_id, int64_t reply_to)
{
	bot_send_text(b, chat_id,
		      "🛰 <b>Constella</b>: your nodes from here.\n\n"
		      "/nodes: the node list; a node's card has 📊 Stats, 🌐 Network (speed test), "
		      "📈 Metrics (chart) and 🔄 Reboot\n"
		      "/stats [NAME]: the numbers of every node, or of one\n"
		      "/invite [30s|15m|1h]: a one-time join link (default 15 min)\n"
		      "/remove NAME: take a node out of the network (asks first)\n"
		      "/help: this text\n\n"
		      "The bot runs on the leader and moves with it; only you can use it.",
		      NULL, reply_to, NULL, NULL);
}

static void ui_invite(struct bot *b, int64_t chat_id, int64_t reply_to, const char *arg)
{
	struct node_daemon *d = b->d;
	char link[600], esc[1400], id[NODE_INVITE_SHORT_ID + 1], msg[3200], ttl_txt[32];
	uint64_t ttl = 900;
	int r;

	if (arg && *arg && (node_duration_parse(arg, &ttl) || ttl < 30 || ttl > 86400)) {
		bot_send_text(b, chat_id, "Usage: /invite [TTL], e.g. <code>/invite 30s</code>, "
					  "<code>/invite 15m</code> (the default), <code>/invite 1h</code> "
					  "(30 s to 24 h).",
			      NULL, reply_to, NULL, NULL);
		return;
	}
	r = node_invite_issue(node_daemon_config(d)->state_dir, node_daemon_state(d),
			      node_daemon_self_id(d), (int64_t)time(NULL), ttl, link, sizeof(link), id);
	if (r) {
		cst_err("/invite: cannot issue an invite: %s", strerror(-r));
		bot_send_text(b, chat_id, "⚠️ Could not create an invite on this node.", NULL, reply_to,
			      NULL, NULL);
		return;
	}
	cst_info("/invite: invite %s issued for %llu s", id, (unsigned long long)ttl);
	bot_text_escape(link, esc, sizeof(esc));
	if (ttl % 3600 == 0)
		snprintf(ttl_txt, sizeof(ttl_txt), "%llu h", (unsigned long long)(ttl / 3600));
	else if (ttl % 60 == 0)
		snprintf(ttl_txt, sizeof(ttl_txt), "%llu min", (unsigned long long)(ttl / 60));
	else
		snprintf(ttl_txt, sizeof(ttl_txt), "%llu s", (unsigned long long)ttl);
	snprintf(msg, sizeof(msg),
		 "🔗 <b>Join link</b> (one use, valid %s, id <code>%s</code>):\n<code>%s</code>\n\n"
		 "On the new server:\n<code>constella join --server-name NAME --join '%s'</code>\n"
		 "Revoke it with <code>constella invite --revoke %s</code>.",
		 ttl_txt, id, esc, esc, id);
	bot_send_text(b, chat_id, msg, NULL, reply_to, NULL, NULL);
	/* the link is a secret until used: wiped, not left on the stack */
	sodium_memzero(link, sizeof(link));
	sodium_memzero(esc, sizeof(esc));
	sodium_memzero(msg, sizeof(msg));
}

static void ui_remove_ask(struct bot *b, int64_t chat_id, int64_t reply_to, const char *name)
{
	struct bot_chat *c = bot_ui_chat(b, chat_id);
	struct bot_node_view v;
	struct bot_screen s;
	char msg[400], esc[200];
	uint32_t gen;

	if (!name || !*name) {
		bot_send_text(b, chat_id, "Usage: /remove NAME (/nodes lists the names).", NULL,
			      reply_to, NULL, NULL);
		return;
	}
	if (ui_node_by_name(b, name, &v)) {
		snprintf(msg, sizeof(msg), "No node named <b>%s</b>. /nodes lists them.",
			 bot_text_escape(name, esc, sizeof(esc)));
		bot_send_text(b, chat_id, msg, NULL, reply_to, NULL, NULL);
		return;
	}
	if (v.runs_bot) {
		snprintf(msg, sizeof(msg),
			 "<b>%s</b> runs this bot right now, so it cannot remove itself: run "
			 "<code>constella remove %s</code> on another member.",
			 bot_text_escape(v.name, esc, sizeof(esc)), esc);
		bot_send_text(b, chat_id, msg, NULL, reply_to, NULL, NULL);
		return;
	}
	gen = ++c->gen;
	if (bot_screen_remove_ask(&v, gen, &s) == 0) {
		c->screen = BOT_SCR_REMOVE_ASK;
		memcpy(c->node, v.id, sizeof(c->node));
		ui_show(b, c, &s, gen, 0, reply_to);
	}
}

/* "/cmd@botname args" -> cmd, args */
static void ui_command(struct bot *b, const struct bot_update *u)
{
	char cmd[33] = "", arg[256] = "";
	const char *p = u->text + 1, *sp;
	size_t n;

	sp = p + strcspn(p, " \t\n");
	n = (size_t)(sp - p);
	snprintf(cmd, sizeof(cmd), "%.*s", (int)(n < sizeof(cmd) ? n : sizeof(cmd) - 1), p);
	cmd[strcspn(cmd, "@")] = 0;
	while (*sp == ' ' || *sp == '\t' || *sp == '\n')
		sp++;
	snprintf(arg, sizeof(arg), "%s", sp);
	n = strlen(arg);
	while (n && (arg[n - 1] == ' ' || arg[n - 1] == '\n' || arg[n - 1] == '\t'))
		arg[--n] = 0;
	cst_info("owner command /%s%s%s", cmd, arg[0] ? " " : "", arg);
	if (!strcmp(cmd, "start") || !strcmp(cmd, "nodes"))
		ui_list(b, bot_ui_chat(b, u->chat_id), 0, NULL, 0, u->message_id);
	else if (!strcmp(cmd, "help"))
		ui_help(b, u->chat_id, u->message_id);
	else if (!strcmp(cmd, "invite"))
		ui_invite(b, u->chat_id, u->message_id, arg);
	else if (!strcmp(cmd, "stats"))
		bot_act_stats_command(b, u->chat_id, u->message_id, arg[0] ? arg : NULL);
	else if (!strcmp(cmd, "remove"))
		ui_remove_ask(b, u->chat_id, u->message_id, arg);
	else
		bot_send_text(b, u->chat_id, "Unknown command. /help lists what I can do.", NULL,
			      u->message_id, NULL, NULL);
}

/* ---- buttons ---- */

static void ui_answer(struct bot *b, const struct bot_update *u, const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "callback_query_id", u->callback_id);
	if (text)
		cJSON_AddStringToObject(p, "text", text);
	bot_send(b, "answerCallbackQuery", p, NULL, NULL);
}

static void ui_remove_yes(struct bot *b, struct bot_chat *c, const struct bot_node_view *v)
{
	char note[300], esc[200];
	int r = node_cluster_remove(node_daemon_cluster(b->d), v->id);

	bot_text_escape(v->name, esc, sizeof(esc));
	if (r == 0) {
		cst_info("owner removed member %s (%.8s) through the bot", v->name, v->id);
		snprintf(note, sizeof(note), "🗑 <b>%s</b> was removed from the network.", esc);
	} else if (r == -ENOENT) {
		snprintf(note, sizeof(note), "<b>%s</b> is no longer in the network.", esc);
	} else {
		snprintf(note, sizeof(note), "⚠️ Could not remove <b>%s</b>: %s.", esc,
			 r == -EINVAL ? "it runs this bot" : "the state could not be saved");
	}
	ui_list(b, c, 0, note, c->screen_msg, 0);
}

static void ui_callback(struct bot *b, const struct bot_update *u)
{
	struct bot_chat *c;
	struct bot_node_view v;
	struct bot_cb cb;

	if (!u->chat_id) {
		ui_answer(b, u, "This button is too old: send /nodes.");
		return;
	}
	c = bot_ui_chat(b, u->chat_id);
	if (bot_cb_decode(u->data, &cb) || cb.gen != c->gen || !c->screen_msg ||
	    (u->message_id && u->message_id != c->screen_msg)) {
		/* A button of an older screen (or from before a handover): act
		 * on nothing the owner no longer sees. The pressed message
		 * becomes the screen, showing the current node list. */
		ui_answer(b, u, "That screen was out of date: here is the current one.");
		if (u->message_id && c->screen_msg && u->message_id != c->screen_msg)
			ui_strip_keyboard(b, c->chat_id, c->screen_msg);
		if (u->message_id)
			c->screen_msg = u->message_id;
		ui_list(b, c, 0, NULL, u->message_id, 0);
		return;
	}
	if (cb.action == BOT_CB_LIST) {
		ui_answer(b, u, NULL);
		ui_list(b, c, cb.page, NULL, c->screen_msg, 0);
		return;
	}
	if (cb.action == BOT_CB_CANCEL && !cb.node[0]) {
		ui_answer(b, u, "Cancelled");
		ui_list(b, c, c->page, NULL, c->screen_msg, 0);
		return;
	}
	if (bot_ui_node(b, cb.node, &v)) {
		ui_answer(b, u, "That node is no longer in the network.");
		ui_list(b, c, c->page, NULL, c->screen_msg, 0);
		return;
	}
	switch (cb.action) {
	case BOT_CB_NODE:
		ui_answer(b, u, NULL);
		bot_ui_card(b, c, v.id, NULL);
		break;
	case BOT_CB_CANCEL:
		ui_answer(b, u, "Cancelled");
		bot_ui_card(b, c, v.id, NULL);
		break;
	case BOT_CB_STATS:
		ui_answer(b, u, "📊 Stats");
		bot_act_stats(b, c, &v);
		break;
	case BOT_CB_NET:
		ui_answer(b, u, "🌐 Speed test started");
		bot_act_speedtest(b, c, &v);
		break;
	case BOT_CB_METRICS:
		ui_answer(b, u, "📈 Drawing the chart");
		bot_act_metrics(b, c, &v);
		break;
	case BOT_CB_REBOOT: {
		struct bot_screen s;
		uint32_t gen = ++c->gen;

		ui_answer(b, u, NULL);
		if (bot_screen_reboot_ask(&v, gen, &s) == 0) {
			c->screen = BOT_SCR_REBOOT_ASK;
			memcpy(c->node, v.id, sizeof(c->node));
			ui_show(b, c, &s, gen, c->screen_msg, 0);
		}
		break;
	}
	case BOT_CB_REBOOT_YES:
		ui_answer(b, u, "🔄 Reboot requested");
		bot_act_reboot(b, c, &v);
		break;
	case BOT_CB_REMOVE_YES:
		ui_answer(b, u, "🗑 Removing");
		ui_remove_yes(b, c, &v);
		break;
	default:
		ui_answer(b, u, NULL);
		break;
	}
}

void bot_ui_handle(struct bot *b, const struct bot_update *u)
{
	if (!ui_owner(b, u)) {
		ui_refuse(b, u);
		return;
	}
	if (u->kind == BOT_UPDATE_CALLBACK) {
		ui_callback(b, u);
		return;
	}
	if (u->text && u->text[0] == '/')
		ui_command(b, u);
	else
		bot_send_text(b, u->chat_id, "Send /nodes for the node list, or /help.", NULL,
			      u->message_id, NULL, NULL);
}
