/* The bot runner (bot.h): its life on the lease, the long poll, the error
 * rules (back-off with jitter, 429, 409, a bad token) and the cursor that
 * makes answers exactly-once across handovers (node/botstate/botstate.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botstate.h"
#include "chart.h"
#include "clock.h"
#include "cluster.h"
#include "daemon.h"
#include "internal.h"
#include "log.h"

#define RUN_BACKOFF_MIN 1.0
#define RUN_BACKOFF_MAX 60.0
#define RUN_BAD_TOKEN_RECHECK 600.0
#define RUN_CONFLICT_YIELD 5.0
/* A poll that comes back empty this fast did not wait: pause a little, so
 * a server that ignores "timeout" does not make a busy loop. */
#define RUN_FAST_EMPTY 1.0
#define RUN_FAST_PAUSE 0.5

static void run_poll(struct bot *b);
static void run_session_begin(struct bot *b);

double bot_now_wall(void)
{
	return (double)cst_clock_wall_ns() / 1e9;
}

const char *bot_state_str(enum bot_state s)
{
	switch (s) {
	case BOT_STOPPED: return "stopped";
	case BOT_STARTING: return "starting";
	case BOT_RUNNING: return "running";
	case BOT_BACKOFF: return "backoff";
	case BOT_RATE_LIMITED: return "rate_limited";
	case BOT_CONFLICT: return "conflict";
	case BOT_BAD_TOKEN: return "bad_token";
	case BOT_NO_TOKEN: return "no_token";
	}
	return "?";
}

static void run_set_state(struct bot *b, enum bot_state s, const char *why)
{
	if (b->state != s)
		b->state_since = bot_now_wall();
	b->state = s;
	if (why)
		snprintf(b->last_error, sizeof(b->last_error), "%s", why);
}

/* ---- the test runner log (docs/cluster.md) ---- */

static void run_log_event(struct bot *b, const char *what, uint64_t epoch)
{
	char line[160];
	int n;

	if (b->runlog_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %s %llu %llu\n", what, b->node_name,
		     (unsigned long long)epoch, (unsigned long long)cst_clock_mono_ns());
	/* one write: lines from several daemons never interleave */
	if (n > 0 && write(b->runlog_fd, line, (size_t)n) != n)
		cst_warn("runner log: %s", strerror(errno));
}

/* ---- waiting ---- */

static void on_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct bot *b = w->data;
	void (*fn)(struct bot *) = b->wait_fn;

	(void)loop;
	(void)revents;
	b->wait_fn = NULL;
	if (b->epoch && fn)
		fn(b);
}

static void run_wait(struct bot *b, double secs, void (*fn)(struct bot *))
{
	if (ev_is_active(&b->wait))
		ev_timer_stop(b->loop, &b->wait);
	b->wait_fn = fn;
	ev_timer_set(&b->wait, secs, 0);
	ev_timer_start(b->loop, &b->wait);
}

/* Exponential back-off with ±25 % jitter, so that members that lost the
 * network together do not come back in step. */
static double run_backoff(struct bot *b)
{
	double d = b->backoff;
	double j = 0.75 + 0.5 * ((double)randombytes_uniform(1000) / 1000.0);

	b->backoff = fmin(b->backoff * 2, RUN_BACKOFF_MAX);
	return d * j;
}

/* ---- batches: commit, answer, record ---- */

static void on_answered_done(void *user, int err)
{
	(void)user;
	(void)err;
}

void bot_batch_put(struct bot_batch *bt)
{
	struct bot *b = bt->b;
	struct node_bot_cursor c;

	if (--bt->pending)
		return;
	/* every first answer of the batch is out: record it, so that a new
	 * holder knows nothing of it is left unanswered */
	if (bt->run == b->run && b->epoch) {
		node_botstate_cursor(node_daemon_botstate(b->d), &c);
		c.token_ver = b->token_ver;
		c.epoch = b->epoch;
		if (bt->last_id > c.answered) {
			c.answered = bt->last_id;
			if (c.update_id < c.answered)
				c.update_id = c.answered;
			node_botstate_cursor_commit(node_daemon_botstate(b->d), &c, on_answered_done,
						    NULL);
		}
	}
	free(bt);
}

struct run_commit {
	struct bot *b;
	uint32_t run;
	struct bot_update *u;
	size_t n;
};

static void run_dispatch(struct bot *b, struct bot_update *u, size_t n)
{
	struct bot_batch *bt = calloc(1, sizeof(*bt));

	if (!bt)
		return;
	bt->b = b;
	bt->run = b->run;
	bt->last_id = u[n - 1].update_id;
	bt->pending = 1;
	b->cur = bt;
	for (size_t i = 0; i < n && b->epoch && bt->run == b->run; i++) {
		if (u[i].kind == BOT_UPDATE_INVALID)
			cst_warn("update %lld skipped: %s", (long long)u[i].update_id, u[i].reason);
		else if (u[i].kind != BOT_UPDATE_OTHER)
			bot_ui_handle(b, &u[i]);
	}
	b->cur = NULL;
	bot_batch_put(bt);
}

static void on_committed(void *user, int err)
{
	struct run_commit *k = user;
	struct bot *b = k->b;

	if (k->run != b->run || !b->epoch || err == -ECANCELED) {
		/* the run ended while committing: the next holder answers */
	} else if (err == -ESTALE) {
		/* a member knows a greater lease: we are not the holder any more */
		cst_warn("updates up to %lld not answered: a newer bot lease exists; yielding",
			 (long long)k->u[k->n - 1].update_id);
		node_cluster_lease_recheck(node_daemon_cluster(b->d));
		run_set_state(b, BOT_CONFLICT, "a newer bot lease exists");
		run_wait(b, RUN_CONFLICT_YIELD, run_poll);
	} else if (err) {
		/* not committed: fetch the batch again after a pause */
		cst_warn("cannot commit updates up to %lld: %s", (long long)k->u[k->n - 1].update_id,
			 strerror(-err));
		b->offset = k->u[0].update_id;
		run_wait(b, run_backoff(b), run_poll);
	} else {
		run_dispatch(b, k->u, k->n);
		if (b->epoch && k->run == b->run)
			run_poll(b);
	}
	bot_update_free_list(k->u, k->n);
	free(k);
}

/* Commits the batch (its last update_id, to every member) before the
 * first answer goes out, then answers it. */
static void run_commit(struct bot *b, struct bot_update *u, size_t n)
{
	struct run_commit *k = calloc(1, sizeof(*k));
	struct node_bot_cursor c;

	if (!k) {
		bot_update_free_list(u, n);
		run_wait(b, 1.0, run_poll);
		return;
	}
	k->b = b;
	k->run = b->run;
	k->u = u;
	k->n = n;
	node_botstate_cursor(node_daemon_botstate(b->d), &c);
	if (c.token_ver != b->token_ver) {
		c.token_ver = b->token_ver;
		c.answered = 0;
	}
	c.update_id = u[n - 1].update_id;
	c.epoch = b->epoch;
	b->offset = c.update_id + 1;
	b->n_updates += n;
	node_botstate_cursor_commit(node_daemon_botstate(b->d), &c, on_committed, k);
}

/* ---- the long poll ---- */

static void run_api_failed(struct bot *b, const struct bot_api_result *res, const char *what,
			   void (*again)(struct bot *))
{
	char why[200];
	double d;

	snprintf(why, sizeof(why), "%s: %s (%d)", what, res->description,
		 res->error_code ? res->error_code : res->err);
	if (res->err == -EREMOTEIO && (res->error_code == 401 || res->error_code == 404)) {
		/* once, clearly; then only a slow recheck until the token changes */
		if (b->state != BOT_BAD_TOKEN)
			cst_err("the bot token is refused by Telegram (%s: %d %s): set a valid one "
				"with `constella bot-token set`", what, res->error_code,
				res->description);
		run_set_state(b, BOT_BAD_TOKEN, why);
		run_wait(b, RUN_BAD_TOKEN_RECHECK, run_session_begin);
		return;
	}
	if (res->err == -EREMOTEIO && res->error_code == 429) {
		b->n_rate_limited++;
		d = res->retry_after > 0 ? res->retry_after : 1.0;
		cst_warn("Telegram rate limit on %s (429): waiting %.0f s as asked", what, d);
		run_set_state(b, BOT_RATE_LIMITED, why);
		run_wait(b, d, again);
		return;
	}
	if (res->err == -EREMOTEIO && res->error_code == 409) {
		/* another getUpdates on this token (or a webhook): another node
		 * may think it holds the lease. Step back and let the lease
		 * decide: our claim is renewed now, and a greater lease held
		 * elsewhere stops this runner. */
		b->n_conflicts++;
		cst_warn("409 Conflict from Telegram (%s): another poller uses this token; yielding "
			 "%.0f s and re-checking the bot lease", res->description, RUN_CONFLICT_YIELD);
		node_cluster_lease_recheck(node_daemon_cluster(b->d));
		run_set_state(b, BOT_CONFLICT, why);
		run_wait(b, RUN_CONFLICT_YIELD, again);
		return;
	}
	d = run_backoff(b);
	if (b->state != BOT_BACKOFF)
		cst_warn("Telegram %s failed: %s (%d); retrying in %.1f s", what, res->description,
			 res->error_code ? res->error_code : res->err, d);
	else
		cst_debug("Telegram %s failed again: %s; retrying in %.1f s", what,
			  res->description, d);
	run_set_state(b, BOT_BACKOFF, why);
	run_wait(b, d, again);
}

static void on_poll_done(void *user, const struct bot_api_result *res)
{
	struct bot *b = user;
	struct bot_update *u = NULL;
	size_t n = 0;
	char err[160];

	b->polling = 0;
	if (res->err == -ECANCELED || !b->epoch)
		return;
	if (res->err) {
		run_api_failed(b, res, "getUpdates", run_poll);
		return;
	}
	if (bot_update_parse_list(res->result, &u, &n, err, sizeof(err))) {
		cst_warn("getUpdates answer rejected: %s", err);
		run_set_state(b, BOT_BACKOFF, err);
		run_wait(b, run_backoff(b), run_poll);
		return;
	}
	b->backoff = RUN_BACKOFF_MIN;
	if (b->state != BOT_RUNNING) {
		if (b->state != BOT_STARTING)
			cst_info("Telegram reachable again: polling");
		run_set_state(b, BOT_RUNNING, "");
	}
	if (!n) {
		if (bot_now_wall() - b->poll_started < RUN_FAST_EMPTY)
			run_wait(b, RUN_FAST_PAUSE, run_poll);
		else
			run_poll(b);
		return;
	}
	if (u[0].update_id < b->offset && b->offset > 0) {
		/* Telegram never sends below the offset; drop what a confused
		 * server repeats rather than answer it twice */
		size_t k = 0;

		while (k < n && u[k].update_id < b->offset)
			k++;
		if (k == n) {
			bot_update_free_list(u, n);
			run_poll(b);
			return;
		}
		for (size_t i = 0; i < k; i++)
			free(u[i].text);
		memmove(u, u + k, (n - k) * sizeof(*u));
		n -= k;
	}
	run_commit(b, u, n);
}

static void run_poll(struct bot *b)
{
	cJSON *p, *allowed;
	int r;

	if (!b->epoch || b->polling)
		return;
	p = cJSON_CreateObject();
	if (b->offset > 0)
		cJSON_AddNumberToObject(p, "offset", (double)b->offset);
	cJSON_AddNumberToObject(p, "timeout", b->poll_timeout);
	allowed = cJSON_AddArrayToObject(p, "allowed_updates");
	cJSON_AddItemToArray(allowed, cJSON_CreateString("message"));
	cJSON_AddItemToArray(allowed, cJSON_CreateString("callback_query"));
	b->poll_started = bot_now_wall();
	if ((r = bot_api_call(b->api, "getUpdates", p, b->poll_timeout + 15, on_poll_done, b))) {
		struct bot_api_result res = { .err = r, .description = strerror(-r) };

		run_api_failed(b, &res, "getUpdates", run_poll);
		return;
	}
	b->polling = 1;
}

/* ---- session start: getMe, deleteWebhook, setMyCommands, cursor ---- */

static void on_gathered(void *user, const struct node_bot_cursor *c)
{
	struct bot *b = user;
	struct node_bot_cursor mine;

	if (!b->epoch || b->state == BOT_STOPPED)
		return;
	if (c->token_ver == b->token_ver) {
		b->offset = c->update_id > 0 ? c->update_id + 1 : 0;
		if (c->answered < c->update_id) {
			/* The previous holder committed updates up to update_id
			 * and stopped before all were answered (killed in the
			 * middle): they are never answered twice, so say so. */
			cst_warn("the previous bot holder stopped while answering updates %lld..%lld: "
				 "telling the owner", (long long)c->answered + 1,
				 (long long)c->update_id);
			bot_ui_notify_owner(b, "⚠️ The bot moved to another node while it was "
					       "answering your last message. If you got no answer, "
					       "please send it again.");
			mine = *c;
			mine.answered = c->update_id;
			mine.epoch = b->epoch;
			node_botstate_cursor_commit(node_daemon_botstate(b->d), &mine,
						    on_answered_done, NULL);
		}
	} else {
		b->offset = 0; /* another bot: its update ids start elsewhere */
	}
	/* getMe and deleteWebhook just succeeded: the token works and the
	 * long poll starts now. Waiting for the first poll to come back would
	 * show "starting" for the whole poll timeout (25 s) while the bot
	 * already answers. */
	run_set_state(b, BOT_RUNNING, "");
	cst_info("bot @%s polling from update %lld (lease epoch %llu)", b->username,
		 (long long)b->offset, (unsigned long long)b->epoch);
	run_poll(b);
}

static void on_commands_set(struct bot *b, void *user, const struct bot_api_result *res)
{
	(void)b;
	(void)user;
	if (!res->err)
		cst_debug("bot commands registered (setMyCommands)");
}

static void run_set_commands(struct bot *b)
{
	static const char *const cmds[][2] = {
		{ "start", "Node list" },
		{ "nodes", "Node list" },
		{ "stats", "Stats of every node, or /stats NAME" },
		{ "invite", "Join link: /invite [30s|15m|1h]" },
		{ "remove", "Remove a node: /remove NAME" },
		{ "help", "What this bot does" },
	};
	cJSON *p = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(p, "commands");

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "command", cmds[i][0]);
		cJSON_AddStringToObject(c, "description", cmds[i][1]);
		cJSON_AddItemToArray(arr, c);
	}
	bot_send(b, "setMyCommands", p, on_commands_set, NULL);
}

static void on_webhook_deleted(void *user, const struct bot_api_result *res)
{
	struct bot *b = user;

	if (res->err == -ECANCELED || !b->epoch)
		return;
	if (res->err) {
		run_api_failed(b, res, "deleteWebhook", run_session_begin);
		return;
	}
	run_set_commands(b);
	node_botstate_cursor_gather(node_daemon_botstate(b->d), on_gathered, b);
}

static void on_get_me(void *user, const struct bot_api_result *res)
{
	struct bot *b = user;
	const cJSON *un = cJSON_GetObjectItemCaseSensitive(res->result, "username");
	cJSON *p;
	int r;

	if (res->err == -ECANCELED || !b->epoch)
		return;
	if (res->err) {
		run_api_failed(b, res, "getMe", run_session_begin);
		return;
	}
	snprintf(b->username, sizeof(b->username), "%s",
		 cJSON_IsString(un) && strlen(un->valuestring) < 33 ? un->valuestring : "?");
	if (b->state == BOT_BAD_TOKEN)
		cst_info("the bot token is accepted again");
	/* A webhook would make getUpdates fail with 409: polling needs none. */
	p = cJSON_CreateObject();
	cJSON_AddBoolToObject(p, "drop_pending_updates", 0);
	if ((r = bot_api_call(b->api, "deleteWebhook", p, 20, on_webhook_deleted, b))) {
		struct bot_api_result e = { .err = r, .description = strerror(-r) };

		run_api_failed(b, &e, "deleteWebhook", run_session_begin);
	}
}

/* (Re)starts talking to Telegram with the network's current token. */
static void run_session_begin(struct bot *b)
{
	char token[NODE_BOT_TOKEN_MAX + 1];
	uint64_t ver = 0;
	int r;

	if (!b->epoch)
		return;
	bot_api_cancel_all(b->api);
	b->polling = 0;
	if (node_botstate_token(node_daemon_botstate(b->d), token, sizeof(token), &ver)) {
		if (b->state != BOT_NO_TOKEN)
			cst_warn("no bot token in this network: the bot waits for one "
				 "(`constella bot-token set`, or BOT_TOKEN / --bot-token at init)");
		run_set_state(b, BOT_NO_TOKEN, "no bot token");
		return;
	}
	r = bot_api_set_token(b->api, token);
	sodium_memzero(token, sizeof(token));
	if (r) {
		run_set_state(b, BOT_BAD_TOKEN, "the token has characters a URL cannot carry");
		return;
	}
	if (ver != b->token_ver)
		bot_ui_reset(b);
	b->token_ver = ver;
	if (b->state != BOT_BAD_TOKEN)
		run_set_state(b, BOT_STARTING, NULL);
	if ((r = bot_api_call(b->api, "getMe", NULL, 20, on_get_me, b))) {
		struct bot_api_result e = { .err = r, .description = strerror(-r) };

		run_api_failed(b, &e, "getMe", run_session_begin);
	}
}

static void on_settings_changed(void *ctx, unsigned what)
{
	struct bot *b = ctx;

	if (!(what & NODE_BOTSTATE_TOKEN) || !b->epoch)
		return;
	cst_info("bot token changed: the bot starts again with the new one");
	b->run++; /* answers of the old session are dropped */
	b->backoff = RUN_BACKOFF_MIN;
	run_set_state(b, BOT_STARTING, "");
	run_session_begin(b);
}

/* ---- the lease's runner ---- */

int bot_runner_start(void *ctx, uint64_t epoch)
{
	struct bot *b = ctx;

	/* Logged before the start is reported: a test then never sees a start
	 * later than the moment the runner was in fact running. */
	run_log_event(b, "start", epoch);
	b->epoch = epoch;
	b->run++;
	b->backoff = RUN_BACKOFF_MIN;
	b->offset = 0;
	b->n_strangers = 0;
	b->last_error[0] = 0;
	run_set_state(b, BOT_STARTING, NULL);
	cst_info("bot runner starting (lease epoch %llu)", (unsigned long long)epoch);
	run_session_begin(b);
	return 0;
}

void bot_runner_stop(void *ctx, uint64_t epoch)
{
	struct bot *b = ctx;

	/* Polling stops now: the long poll and every answer in flight are
	 * cancelled, and late RPC answers see a new run number. */
	b->epoch = 0;
	b->run++;
	if (ev_is_active(&b->wait))
		ev_timer_stop(b->loop, &b->wait);
	b->wait_fn = NULL;
	bot_api_cancel_all(b->api);
	b->polling = 0;
	run_set_state(b, BOT_STOPPED, NULL);
	bot_ui_reset(b);
	cst_info("bot runner stopped (lease epoch %llu)", (unsigned long long)epoch);
	/* after the runner has stopped: a stop line is never early */
	run_log_event(b, "stop", epoch);
}

cJSON *bot_runner_status(void *ctx)
{
	struct bot *b = ctx;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "state", bot_state_str(b->state));
	cJSON_AddNumberToObject(o, "since", floor(b->state_since));
	cJSON_AddNumberToObject(o, "epoch", (double)b->epoch);
	cJSON_AddStringToObject(o, "bot_username", b->username);
	cJSON_AddStringToObject(o, "last_error", b->last_error);
	cJSON_AddNumberToObject(o, "updates", (double)b->n_updates);
	cJSON_AddNumberToObject(o, "conflicts", (double)b->n_conflicts);
	cJSON_AddNumberToObject(o, "rate_limited", (double)b->n_rate_limited);
	return o;
}

int bot_new(struct ev_loop *loop, const struct bot_config *cfg, struct bot **out)
{
	struct bot *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->loop = loop;
	b->runlog_fd = -1;
	b->poll_timeout = cfg->poll_timeout > 0 ? cfg->poll_timeout : 25;
	b->backoff = RUN_BACKOFF_MIN;
	b->state_since = bot_now_wall();
	ev_init(&b->wait, on_wait);
	b->wait.data = b;
	if ((r = bot_api_new(loop, cfg->api_url && *cfg->api_url ? cfg->api_url : BOT_API_DEFAULT_URL,
			     &b->api))) {
		free(b);
		return r;
	}
	if (cfg->runner_log && *cfg->runner_log &&
	    (b->runlog_fd = open(cfg->runner_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				 0600)) < 0) {
		r = -errno;
		bot_api_free(b->api);
		free(b);
		return r;
	}
	*out = b;
	return 0;
}

void bot_attach(struct bot *b, struct node_daemon *d, const char *node_name)
{
	b->d = d;
	snprintf(b->node_name, sizeof(b->node_name), "%s", node_name);
	node_botstate_on_change(node_daemon_botstate(d), on_settings_changed, b);
}

void bot_free(struct bot *b)
{
	if (!b)
		return;
	if (b->epoch)
		bot_runner_stop(b, b->epoch);
	bot_api_free(b->api);
	if (b->runlog_fd >= 0)
		close(b->runlog_fd);
	free(b);
	bot_chart_cleanup();
}
