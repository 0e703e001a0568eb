/* What the buttons ask of the nodes: GetStats, RunSpeedtest, GetTS and
 * Reboot over the signed RPC to the member concerned. The card shows
 * "running…" at once; the answer comes back through the loop, so a slow
 * node (a speed test takes up to SPEEDTEST_RPC_TIMEOUT) never holds up
 * other chats or the node. If the owner moved on meanwhile (the screen's
 * generation changed) the result comes as a message of its own instead of
 * replacing what they look at now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chart.h"
#include "config.h"
#include "daemon.h"
#include "internal.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"
#include "screens.h"
#include "text.h"

enum act_kind { ACT_STATS, ACT_SPEEDTEST, ACT_METRICS, ACT_REBOOT, ACT_STATS_CMD };

struct act_job;

/* One RPC of a job. */
struct act_call {
	struct act_job *job;
	size_t slot;
};

struct act_job {
	struct bot *b;
	uint32_t run;
	enum act_kind kind;
	int64_t chat_id;
	uint32_t gen;          /* the screen generation the job started on */
	int64_t msg;           /* /stats: the message to edit with the result */
	char node[NODE_ID_HEX + 1];
	char name[64];
	char name2[64];        /* speed test: the partner */
	unsigned pending;
	size_t n_slots;
	struct act_slot {
		char node[NODE_ID_HEX + 1];
		char name[64];
		int err;
		char message[200];
		cJSON *result;
	} slots[];
};

static const struct node_config *act_cfg(struct bot *b)
{
	return node_daemon_config(b->d);
}

static struct act_job *act_job_new(struct bot *b, enum act_kind kind, int64_t chat_id,
				   uint32_t gen, const struct bot_node_view *v, size_t slots)
{
	struct act_job *j = calloc(1, sizeof(*j) + slots * sizeof(j->slots[0]));

	if (!j)
		return NULL;
	j->b = b;
	j->run = b->run;
	j->kind = kind;
	j->chat_id = chat_id;
	j->gen = gen;
	j->n_slots = slots;
	if (v) {
		memcpy(j->node, v->id, sizeof(j->node));
		snprintf(j->name, sizeof(j->name), "%s", v->name);
	}
	return j;
}

static void act_job_free(struct act_job *j)
{
	for (size_t i = 0; i < j->n_slots; i++)
		cJSON_Delete(j->slots[i].result);
	free(j);
}

static void act_finish(struct act_job *j);

static void on_act_rpc(void *user, int err, const cJSON *result, const char *message)
{
	struct act_call *k = user;
	struct act_job *j = k->job;
	struct act_slot *s = &j->slots[k->slot];

	s->err = err;
	snprintf(s->message, sizeof(s->message), "%s",
		 message && *message ? message : err ? strerror(-err) : "");
	if (!err && result)
		s->result = cJSON_Duplicate(result, 1);
	free(k);
	if (--j->pending)
		return;
	/* a job outlives neither its run nor the bot's lease */
	if (j->run == j->b->run && j->b->epoch)
		act_finish(j);
	act_job_free(j);
}

/* Calls method on the member with id node (address from the state). */
static void act_rpc(struct act_job *j, size_t slot, const char *node, const char *method,
		    cJSON *params, double timeout)
{
	struct node_peer *p = node_state_find_peer(node_daemon_state(j->b->d), node);
	struct act_call *k = calloc(1, sizeof(*k));
	struct act_slot *s = &j->slots[slot];

	memcpy(s->node, node, NODE_ID_HEX);
	if (p)
		snprintf(s->name, sizeof(s->name), "%s", p->name);
	j->pending++;
	if (!p || !k ||
	    rpc_client_call(node_daemon_rpc(j->b->d), p->addr, method, params, timeout, on_act_rpc,
			    k)) {
		if (!p || !k)
			cJSON_Delete(params);
		free(k);
		s->err = -EHOSTUNREACH;
		snprintf(s->message, sizeof(s->message), "no such member");
		j->pending--;
	} else {
		k->job = j;
		k->slot = slot;
	}
}

/* After the rpc calls are issued: a job with nothing in flight ends now. */
static void act_go(struct act_job *j)
{
	if (j->pending)
		return;
	act_finish(j);
	act_job_free(j);
}

static const char *act_reason(const struct act_slot *s, char *buf, size_t cap)
{
	return bot_text_escape(s->err == -ETIMEDOUT ? "no answer in time" : s->message, buf, cap);
}

/* The result on the card when the owner still looks at it, else as a
 * message of its own (with the node's name). */
static void act_show(struct act_job *j, const char *icon, const char *body)
{
	struct bot *b = j->b;
	struct bot_chat *c = bot_ui_chat(b, j->chat_id);
	char msg[4000], esc[200];

	if (c->gen == j->gen && c->screen == BOT_SCR_CARD && !strcmp(c->node, j->node)) {
		bot_ui_card(b, c, j->node, body);
		return;
	}
	snprintf(msg, sizeof(msg), "%s <b>%s</b>\n%s", icon,
		 bot_text_escape(j->name, esc, sizeof(esc)), body);
	bot_send_text(b, j->chat_id, msg, NULL, 0, NULL, NULL);
}

/* ---- 📊 Stats ---- */

static void act_stats_body(const struct act_slot *s, char *out, size_t cap)
{
	struct bot_stats st;
	struct bot_text t;
	char why[200];

	if (s->err) {
		snprintf(out, cap, "📊 Stats unavailable: %s", act_reason(s, why, sizeof(why)));
		return;
	}
	if (bot_stats_parse(s->result, &st)) {
		snprintf(out, cap, "📊 Stats unavailable: the node answered something unexpected");
		return;
	}
	bot_text_init(&t, cap - 1);
	bot_text_raw(&t, "📊 <b>Stats</b>");
	bot_text_endl(&t);
	bot_stats_format(&t, &st);
	snprintf(out, cap, "%s", bot_text_finish(&t));
	bot_text_deinit(&t);
}

void bot_act_stats(struct bot *b, struct bot_chat *c, const struct bot_node_view *v)
{
	uint32_t gen = bot_ui_card(b, c, v->id, "📊 <i>fetching stats…</i>");
	struct act_job *j = act_job_new(b, ACT_STATS, c->chat_id, gen, v, 1);

	if (!j)
		return;
	act_rpc(j, 0, v->id, "GetStats", NULL, act_cfg(b)->rpc_timeout);
	act_go(j);
}

/* ---- 🌐 Network ---- */

/* The member to test node v against: this node (the bot's), or when v is
 * this node, the first other member online by name. 0: none. */
static int act_speedtest_peer(struct bot *b, const struct bot_node_view *v, char *name,
			      size_t cap)
{
	const struct node_state *st = node_daemon_state(b->d);
	const char *self = node_daemon_self_id(b->d);
	struct bot_node_view w;
	int found = 0;

	name[0] = 0;
	for (size_t i = 0; i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i];

		if (!strcmp(p->node_id, v->id))
			continue;
		if (!strcmp(v->id, self) ? (bot_ui_node(b, p->node_id, &w) || !w.online)
					 : strcmp(p->node_id, self))
			continue;
		if (!found || strcmp(p->name, name) < 0)
			snprintf(name, cap, "%s", p->name);
		found = 1;
	}
	return found;
}

void bot_act_speedtest(struct bot *b, struct bot_chat *c, const struct bot_node_view *v)
{
	char body[200];
	uint32_t gen;
	struct act_job *j;
	cJSON *params;

	snprintf(body, sizeof(body), "🌐 Speed test: <i>running…</i> (up to %.0f s)",
		 act_cfg(b)->speedtest_rpc_timeout);
	gen = bot_ui_card(b, c, v->id, body);
	if (!(j = act_job_new(b, ACT_SPEEDTEST, c->chat_id, gen, v, 1)))
		return;
	params = cJSON_CreateObject();
	/* node to node (docs/cli.md, RunSpeedtest): the node against the one that
	 * runs the bot, or the bot's node against another member; alone, the
	 * internet test (SPEEDTEST_URL) */
	if (act_speedtest_peer(b, v, j->slots[0].message, sizeof(j->slots[0].message)))
		cJSON_AddStringToObject(params, "peer", j->slots[0].message);
	snprintf(j->name2, sizeof(j->name2), "%.63s", j->slots[0].message);
	j->slots[0].message[0] = 0;
	cJSON_AddNumberToObject(params, "seconds", 5);
	act_rpc(j, 0, v->id, "RunSpeedtest", params, act_cfg(b)->speedtest_rpc_timeout);
	act_go(j);
}

static void act_speedtest_done(struct act_job *j)
{
	const struct act_slot *s = &j->slots[0];
	char body[600], line[300], why[200];

	if (s->err == -EREMOTEIO && strstr(s->message, "not implemented"))
		snprintf(body, sizeof(body), "🌐 Speed tests are not available on this node yet.");
	else if (s->err == -EREMOTEIO && strstr(s->message, "already running"))
		snprintf(body, sizeof(body), "🌐 A speed test is already running on this node or "
					     "its partner: try again in a few seconds.");
	else if (s->err == -EREMOTEIO && strstr(s->message, "SPEEDTEST_URL"))
		snprintf(body, sizeof(body), "🌐 This node has no other member to test against, and "
					     "its internet test is off (SPEEDTEST_URL is not set).");
	else if (s->err)
		snprintf(body, sizeof(body), "🌐 Speed test failed: %s",
			 act_reason(s, why, sizeof(why)));
	else if (bot_speedtest_format(s->result, line, sizeof(line)))
		snprintf(body, sizeof(body), "🌐 Speed test: the node answered something unexpected");
	else if (j->name2[0])
		snprintf(body, sizeof(body), "🌐 <b>Speed test</b> with %s\n%s",
			 bot_text_escape(j->name2, why, sizeof(why)), line);
	else
		snprintf(body, sizeof(body), "🌐 <b>Speed test</b> (internet)\n%s", line);
	act_show(j, "🌐", body);
}

/* ---- 📈 Metrics ---- */

void bot_act_metrics(struct bot *b, struct bot_chat *c, const struct bot_node_view *v)
{
	/* GetTS kinds (docs/cli.md); the network in bytes/s, drawn in Mbit/s */
	static const char *const kinds[] = { "cpu", "mem", "net_rx", "net_tx" };
	uint32_t gen = bot_ui_card(b, c, v->id, "📈 <i>collecting the history…</i>");
	struct act_job *j = act_job_new(b, ACT_METRICS, c->chat_id, gen, v, 5);

	if (!j)
		return;
	act_rpc(j, 0, v->id, "GetStats", NULL, act_cfg(b)->rpc_timeout);
	for (size_t i = 0; i < 4; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "kind", kinds[i]);
		cJSON_AddNumberToObject(p, "hours", act_cfg(b)->metrics_window_h);
		/* one point per chart pixel column is plenty */
		cJSON_AddNumberToObject(p, "points", 360);
		act_rpc(j, i + 1, v->id, "GetTS", p, act_cfg(b)->rpc_timeout);
	}
	act_go(j);
}

struct act_photo {
	struct bot *b;
	uint32_t run;
	int64_t chat_id;
	uint32_t gen;
	char node[NODE_ID_HEX + 1];
};

static void on_chart_sent(struct bot *b, void *user, const struct bot_api_result *res)
{
	struct act_photo *k = user;
	struct bot_chat *c;

	if (res->err == -ECANCELED) {
		free(k);
		return;
	}
	c = bot_ui_chat(b, k->chat_id);
	/* the card moves below the chart, so the screen stays the last message */
	if (!res->err && c->gen == k->gen)
		bot_ui_card_below(b, c, k->node, "📈 Chart above.");
	else if (res->err && c->gen == k->gen)
		bot_ui_card(b, c, k->node, "📈 The chart could not be sent.");
	free(k);
}

/* "CPU: avg 12%, max 40% ▁▂▅" for the caption. */
static void act_summary_line(struct bot_text *t, const char *label, const struct bot_series *s,
			     double since, double top, size_t points, const char *unit)
{
	double avg, max;
	char spark[200];

	if (s && s->has_summary) {
		avg = s->s_avg;
		max = s->s_max;
	}
	if (!s || (!s->has_summary && bot_series_summary(s, since, &avg, &max))) {
		bot_text_rawf(t, "%s: no samples yet", label);
	} else {
		bot_series_spark(s, points, top > 0 ? top : max, spark, sizeof(spark));
		bot_text_rawf(t, "%s: avg %.1f%s, max %.1f%s %s", label, avg, unit, max, unit, spark);
	}
	bot_text_endl(t);
}

static const struct bot_series *act_find(const struct bot_series *s, size_t n, const char *a,
					 const char *b2)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].name, a) || (b2 && !strcmp(s[i].name, b2)))
			return &s[i];
	return NULL;
}

/* A one-point series appended to ser (NULL when v < 0 or no room). */
static const struct bot_series *act_point(struct bot_series *ser, size_t *n, const char *name,
					  double t, double v)
{
	struct bot_series *s = &ser[*n];

	if (v < 0 || *n >= BOT_SERIES_MAX + 2)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->t = malloc(sizeof(double));
	s->v = malloc(sizeof(double));
	snprintf(s->name, sizeof(s->name), "%s", name);
	(*n)++;
	if (!s->t || !s->v)
		return NULL;
	s->t[0] = t;
	s->v[0] = v;
	s->n = 1;
	return s;
}

static void act_metrics_done(struct act_job *j)
{
	struct bot *b = j->b;
	const struct node_config *cfg = act_cfg(b);
	struct bot_series ser[BOT_SERIES_MAX + 2];
	size_t n = 0, n_cpu, n_mem;
	struct bot_chart_input in;
	struct bot_stats st;
	struct bot_text t;
	struct act_photo *k;
	const struct bot_series *cpu, *mem;
	uint8_t *png = NULL;
	size_t png_len = 0;
	double now = (double)time(NULL), window = cfg->metrics_window_h * 3600.0;
	char why[200], esc[200];
	int have_stats = !j->slots[0].err && !bot_stats_parse(j->slots[0].result, &st);

	memset(ser, 0, sizeof(ser));
	/* each kind's answer parsed under its own name; a refusal is no data */
	if (!j->slots[1].err)
		bot_ts_parse(j->slots[1].result, "cpu", ser, &n);
	n_cpu = n;
	if (!j->slots[2].err)
		bot_ts_parse(j->slots[2].result, "mem", ser, &n);
	n_mem = n;
	if (!j->slots[3].err && bot_ts_parse(j->slots[3].result, "down", ser, &n) == 0 && n > n_mem)
		bot_series_scale(&ser[n - 1], 8 / 1e6);
	if (!j->slots[4].err) {
		size_t before = n;

		if (bot_ts_parse(j->slots[4].result, "up", ser, &n) == 0 && n > before)
			bot_series_scale(&ser[n - 1], 8 / 1e6);
	}
	cpu = n_cpu ? act_find(ser, n_cpu, "cpu", NULL) : NULL;
	if (!cpu && n_cpu)
		cpu = &ser[0];
	mem = n_mem > n_cpu ? &ser[n_cpu] : NULL;
	memset(&in, 0, sizeof(in));
	in.title = j->name;
	in.now = now;
	in.window_s = window;
	in.cpu = cpu;
	in.mem = mem;
	in.net[0] = act_find(ser + n_mem, n - n_mem, "down", "rx");
	in.net[1] = act_find(ser + n_mem, n - n_mem, "up", "tx");
	if (!in.net[0] && n > n_mem)
		in.net[0] = &ser[n_mem];
	/* no history yet: at least the present, from GetStats, as a point */
	if (have_stats && (!cpu || !cpu->n))
		in.cpu = act_point(ser, &n, "cpu", now, bot_stats_cpu_avg(&st));
	if (have_stats && (!mem || !mem->n))
		in.mem = act_point(ser, &n, "mem", now, bot_stats_mem_pct(&st));
	bot_text_init(&t, BOT_CAPTION_LIMIT);
	bot_text_rawf(&t, "📈 <b>%s</b>: last %u h", bot_text_escape(j->name, esc, sizeof(esc)),
		      cfg->metrics_window_h);
	bot_text_endl(&t);
	act_summary_line(&t, "CPU", cpu, now - window, 100, cfg->metrics_summary_points, "%");
	act_summary_line(&t, "Memory", mem, now - window, 100, cfg->metrics_summary_points, "%");
	act_summary_line(&t, "Net ⬇️", in.net[0], now - window, 0, cfg->metrics_summary_points,
			 " Mbit/s");
	act_summary_line(&t, "Net ⬆️", in.net[1], now - window, 0, cfg->metrics_summary_points,
			 " Mbit/s");
	if (have_stats) {
		bot_text_rawf(&t, "Now: CPU %.0f%%", bot_stats_cpu_avg(&st));
		if (bot_stats_mem_pct(&st) >= 0)
			bot_text_rawf(&t, ", memory %.0f%%", bot_stats_mem_pct(&st));
		bot_text_endl(&t);
	} else if (j->slots[0].err) {
		bot_text_rawf(&t, "Now: %s", act_reason(&j->slots[0], why, sizeof(why)));
		bot_text_endl(&t);
	}
	if (bot_chart_png(&in, &png, &png_len) == 0 && (k = calloc(1, sizeof(*k)))) {
		k->b = b;
		k->run = b->run;
		k->chat_id = j->chat_id;
		k->gen = j->gen;
		memcpy(k->node, j->node, sizeof(k->node));
		bot_send_photo(b, j->chat_id, png, png_len, bot_text_finish(&t), NULL, on_chart_sent,
			       k);
	} else {
		cst_err("cannot draw the metrics chart");
		act_show(j, "📈", "📈 The chart could not be drawn.");
	}
	free(png);
	bot_text_deinit(&t);
	bot_series_free(ser, n);
}

/* ---- 🔄 Reboot ---- */

void bot_act_reboot(struct bot *b, struct bot_chat *c, const struct bot_node_view *v)
{
	uint32_t gen = bot_ui_card(b, c, v->id, "🔄 Reboot: <i>asking the node…</i>");
	struct act_job *j = act_job_new(b, ACT_REBOOT, c->chat_id, gen, v, 1);

	if (!j)
		return;
	cst_info("owner asked to reboot %s (%.8s)", v->name, v->id);
	act_rpc(j, 0, v->id, "Reboot", NULL, act_cfg(b)->rpc_timeout);
	act_go(j);
}

static void act_reboot_done(struct act_job *j)
{
	const struct act_slot *s = &j->slots[0];
	const cJSON *dry = cJSON_GetObjectItemCaseSensitive(s->result, "dry_run");
	char body[600], why[200];

	if (s->err == -EREMOTEIO)
		snprintf(body, sizeof(body), "🔄 The node refused to reboot: %s",
			 act_reason(s, why, sizeof(why)));
	else if (s->err)
		snprintf(body, sizeof(body), "🔄 Reboot failed: %s", act_reason(s, why, sizeof(why)));
	else if (cJSON_IsTrue(dry))
		snprintf(body, sizeof(body), "🔄 Reboot recorded (dry run): the node was not restarted.");
	else
		snprintf(body, sizeof(body), "🔄 <b>Rebooting.</b> The node shows 🔄 (rebooting, not down) until it is back.");
	act_show(j, "🔄", body);
}

/* ---- /stats ---- */

struct act_msg {
	struct bot *b;
	uint32_t run;
	struct act_job *job;
};

static void act_stats_cmd_text(struct act_job *j, char *out, size_t cap)
{
	struct bot_text t;
	char why[200];

	bot_text_init(&t, BOT_TEXT_LIMIT);
	for (size_t i = 0; i < j->n_slots; i++) {
		const struct act_slot *s = &j->slots[i];
		struct bot_stats st;
		double mem;

		bot_text_raw(&t, "<b>");
		bot_text_escaped(&t, s->name);
		bot_text_raw(&t, "</b>");
		if (!(j->n_slots == 1 && s->node[0] && !s->err))
			bot_text_raw(&t, ": ");
		if (!s->node[0]) {
			bot_text_raw(&t, "🔴 offline");
		} else if (s->err || bot_stats_parse(s->result, &st)) {
			bot_text_rawf(&t, "⚠️ %s", s->err ? act_reason(s, why, sizeof(why))
							   : "unexpected answer");
		} else if (j->n_slots == 1) {
			bot_text_endl(&t);
			bot_stats_format(&t, &st);
			continue;
		} else {
			bot_text_rawf(&t, "CPU %.0f%%", bot_stats_cpu_avg(&st));
			if ((mem = bot_stats_mem_pct(&st)) >= 0)
				bot_text_rawf(&t, " · mem %.0f%%", mem);
			if (st.disk_total_b > 0 && st.disk_free_b >= 0)
				bot_text_rawf(&t, " · disk %.0f%%",
					      100 * (st.disk_total_b - st.disk_free_b) / st.disk_total_b);
			if (st.uptime_s >= 0)
				bot_text_rawf(&t, " · up %.0f d", st.uptime_s / 86400);
		}
		bot_text_endl(&t);
	}
	snprintf(out, cap, "📊 <b>Stats</b>\n%s", bot_text_finish(&t));
	bot_text_deinit(&t);
}

static void on_stats_msg_sent(struct bot *b, void *user, const struct bot_api_result *res)
{
	struct act_msg *k = user;
	const cJSON *mid = cJSON_GetObjectItemCaseSensitive(res->result, "message_id");
	struct act_job *j = k->job;

	(void)b;
	free(k);
	if (res->err == -ECANCELED) {
		act_job_free(j);
		return;
	}
	if (!res->err && cJSON_IsNumber(mid))
		j->msg = (int64_t)mid->valuedouble;
	/* the "collecting" message is out: now ask the nodes */
	for (size_t i = 0; i < j->n_slots; i++)
		if (j->slots[i].node[0])
			act_rpc(j, i, j->slots[i].node, "GetStats", NULL, act_cfg(j->b)->rpc_timeout);
	act_go(j);
}

void bot_act_stats_command(struct bot *b, int64_t chat_id, int64_t reply_to, const char *name)
{
	const struct node_state *st = node_daemon_state(b->d);
	struct act_job *j;
	struct act_msg *k;
	struct bot_node_view v;
	size_t n = 0;
	char esc[200], msg[300];

	if (name) {
		struct node_peer *p = node_state_find_peer_by_name((struct node_state *)st, name);

		if (!p) {
			snprintf(msg, sizeof(msg), "No node named <b>%s</b>. /nodes lists them.",
				 bot_text_escape(name, esc, sizeof(esc)));
			bot_send_text(b, chat_id, msg, NULL, reply_to, NULL, NULL);
			return;
		}
		if (!(j = act_job_new(b, ACT_STATS_CMD, chat_id, 0, NULL, 1)))
			return;
		bot_ui_node(b, p->node_id, &v);
		snprintf(j->slots[0].name, sizeof(j->slots[0].name), "%s", v.name);
		if (v.online)
			memcpy(j->slots[0].node, v.id, sizeof(j->slots[0].node));
	} else {
		if (!(j = act_job_new(b, ACT_STATS_CMD, chat_id, 0, NULL, st->n_peers)))
			return;
		for (size_t i = 0; i < st->n_peers; i++, n++) {
			bot_ui_node(b, st->peers[i].node_id, &v);
			snprintf(j->slots[n].name, sizeof(j->slots[n].name), "%s", v.name);
			if (v.online)
				memcpy(j->slots[n].node, v.id, sizeof(j->slots[n].node));
		}
	}
	if (!(k = calloc(1, sizeof(*k)))) {
		act_job_free(j);
		return;
	}
	k->b = b;
	k->run = b->run;
	k->job = j;
	/* the answer at once (it is what the update's commit promised), the
	 * numbers as an edit of it */
	bot_send_text(b, chat_id, "📊 <i>collecting stats…</i>", NULL, reply_to, on_stats_msg_sent,
		      k);
}

static void act_stats_cmd_done(struct act_job *j)
{
	char *text = malloc(BOT_TEXT_LIMIT * 4 + 64);
	cJSON *p;

	if (!text)
		return;
	act_stats_cmd_text(j, text, BOT_TEXT_LIMIT * 4 + 64);
	if (!j->msg) {
		bot_send_text(j->b, j->chat_id, text, NULL, 0, NULL, NULL);
	} else {
		p = cJSON_CreateObject();
		cJSON_AddNumberToObject(p, "chat_id", (double)j->chat_id);
		cJSON_AddNumberToObject(p, "message_id", (double)j->msg);
		cJSON_AddStringToObject(p, "text", text);
		cJSON_AddStringToObject(p, "parse_mode", "HTML");
		bot_send(j->b, "editMessageText", p, NULL, NULL);
	}
	free(text);
}

static void act_finish(struct act_job *j)
{
	char body[1200];

	switch (j->kind) {
	case ACT_STATS:
		act_stats_body(&j->slots[0], body, sizeof(body));
		act_show(j, "📊", body);
		break;
	case ACT_SPEEDTEST:
		act_speedtest_done(j);
		break;
	case ACT_METRICS:
		act_metrics_done(j);
		break;
	case ACT_REBOOT:
		act_reboot_done(j);
		break;
	case ACT_STATS_CMD:
		act_stats_cmd_done(j);
		break;
	}
}
