/* The bot's replicated state: files, gossip of settings, the cursor
 * (botstate.h). */
#include "botstate.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "gossip.h"
#include "log.h"

struct node_botstate {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state *st;
	char self[NODE_ID_HEX + 1];
	struct rpc_client *cli;
	struct node_cluster *cl;
	struct node_bot_settings s; /* holds the token: wiped at free */
	uint8_t key[NODE_BOT_SETTINGS_KEY];
	unsigned pulls;             /* GetSettings in flight */
	double call_timeout;
	node_botstate_change_fn on_change;
	void *on_change_ctx;
};

/* One batch of calls to the members (commit, gather, pull). */
struct bs_batch {
	struct node_botstate *bs;
	unsigned pending;
	int stale, cancelled;
	node_botstate_done_fn done;
	node_botstate_cursor_fn cursor_done;
	void *user;
};

/* ---- files ---- */

static int bs_path(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int bs_write_files(const char *dir, const struct node_bot_settings *s, int token_too)
{
	char path[PATH_MAX], *json;
	int r;

	if (token_too && s->token[0]) {
		if ((r = bs_path(path, sizeof(path), dir, "bot_token")) ||
		    (r = cst_file_write_atomic(path, s->token, strlen(s->token), 0600)))
			return r;
	}
	if ((r = bs_path(path, sizeof(path), dir, "bot.json")))
		return r;
	if (!(json = node_botwire_file_json(s)))
		return -ENOMEM;
	r = cst_file_write_atomic(path, json, strlen(json), 0600);
	free(json);
	return r;
}

/* Reads bot.json (absent: all zero) and bot_token (absent: no token). */
static int bs_read_files(const char *dir, struct node_bot_settings *s, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = bs_path(path, sizeof(path), dir, "bot.json")))
		return r;
	r = cst_file_read_all(path, 1u << 16, &text, &len);
	if (r && r != -ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (!r) {
		char why[160];

		r = node_botwire_file_parse(text, len, s, why, sizeof(why));
		free(text);
		text = NULL;
		if (r) {
			snprintf(err, errlen, "%s: %s", path, why);
			return r;
		}
	}
	if ((r = bs_path(path, sizeof(path), dir, "bot_token")))
		return r;
	r = cst_file_read_all(path, 4096, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = 0;
	r = 0;
	if (!node_botwire_token_ok(text)) {
		snprintf(err, errlen, "%s: not a bot token (1-127 of [A-Za-z0-9:_-])", path);
		r = -EINVAL;
	} else {
		memcpy(s->token, text, len + 1);
	}
	sodium_memzero(text, len);
	free(text);
	return r;
}

static void bs_save(struct node_botstate *bs, int token_too)
{
	int r = bs_write_files(bs->cfg->state_dir, &bs->s, token_too);

	if (r)
		cst_err("cannot save the bot settings in %s: %s", bs->cfg->state_dir, strerror(-r));
}

static void bs_changed(struct node_botstate *bs, unsigned what)
{
	if (bs->on_change)
		bs->on_change(bs->on_change_ctx, what);
}

static const char *bs_name(struct node_botstate *bs, const char *id)
{
	const struct node_peer *p = node_state_find_peer(bs->st, id);

	return p ? p->name : "?";
}

/* ---- settings ---- */

/* Applies the newer of the settings in in (have says which are there). */
static void bs_apply(struct node_botstate *bs, const struct node_bot_settings *in, unsigned have,
		     const char *via)
{
	unsigned what = 0;

	if ((have & NODE_BOT_HAVE_TOKEN) &&
	    node_botwire_newer(in->token_ver, in->token_origin, bs->s.token_ver, bs->s.token_origin)) {
		bs->s.token_ver = in->token_ver;
		memcpy(bs->s.token_origin, in->token_origin, sizeof(bs->s.token_origin));
		sodium_memzero(bs->s.token, sizeof(bs->s.token));
		memcpy(bs->s.token, in->token, sizeof(bs->s.token));
		what |= NODE_BOTSTATE_TOKEN;
		cst_info("bot token version %llu (set on %s) received from %s",
			 (unsigned long long)in->token_ver, bs_name(bs, in->token_origin), via);
	}
	if ((have & NODE_BOT_HAVE_OWNER) &&
	    node_botwire_newer(in->owner_ver, in->owner_origin, bs->s.owner_ver, bs->s.owner_origin)) {
		bs->s.owner_ver = in->owner_ver;
		memcpy(bs->s.owner_origin, in->owner_origin, sizeof(bs->s.owner_origin));
		memcpy(bs->s.owner_username, in->owner_username, sizeof(bs->s.owner_username));
		bs->s.owner_id = in->owner_id;
		what |= NODE_BOTSTATE_OWNER;
		cst_info("bot owner %s bound to Telegram user %lld (version %llu) received from %s",
			 in->owner_username, (long long)in->owner_id,
			 (unsigned long long)in->owner_ver, via);
	}
	if (what) {
		bs_save(bs, !!(what & NODE_BOTSTATE_TOKEN));
		bs_changed(bs, what);
	}
}

static void m_get_settings(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_botstate *bs = user;
	cJSON *doc = node_botwire_seal(&bs->s, bs->key, bs->st->network_id);

	(void)params;
	if (!doc) {
		rpc_call_error(call, 500, "cannot seal the settings");
		return;
	}
	rpc_call_reply(call, doc);
}

struct bs_pull {
	struct node_botstate *bs;
	char peer[NODE_ID_HEX + 1];
};

static void on_pull_done(void *user, int err, const cJSON *result, const char *message)
{
	struct bs_pull *p = user;
	struct node_botstate *bs = p->bs;
	struct node_bot_settings in;
	unsigned have = 0;

	bs->pulls--;
	if (err) {
		if (err != -ECANCELED)
			cst_debug("GetSettings from %.8s: %s", p->peer,
				  message && *message ? message : strerror(-err));
		goto out;
	}
	if (node_botwire_open(result, bs->key, bs->st->network_id, &in, &have)) {
		cst_warn("bad GetSettings answer from %s (%.8s): sealed settings do not open",
			 bs_name(bs, p->peer), p->peer);
		goto out;
	}
	bs_apply(bs, &in, have, bs_name(bs, p->peer));
	sodium_memzero(&in, sizeof(in));
out:
	free(p);
}

static void bs_gossip_extend(void *ctx, cJSON *params)
{
	struct node_botstate *bs = ctx;

	cJSON_AddItemToObject(params, "bot", node_botwire_digest(&bs->s));
}

static void bs_gossip_seen(void *ctx, const struct node_peer *from, const cJSON *params)
{
	struct node_botstate *bs = ctx;
	struct node_bot_settings d;
	struct bs_pull *p;
	const cJSON *dj = cJSON_GetObjectItemCaseSensitive(params, "bot");

	/* A member without this code sends no digest: nothing to pull. */
	if (!dj || node_botwire_parse_digest(dj, &d))
		return;
	if (!node_botwire_newer(d.token_ver, d.token_origin, bs->s.token_ver, bs->s.token_origin) &&
	    !node_botwire_newer(d.owner_ver, d.owner_origin, bs->s.owner_ver, bs->s.owner_origin))
		return;
	if (bs->pulls >= 4 || !(p = calloc(1, sizeof(*p))))
		return;
	p->bs = bs;
	memcpy(p->peer, from->node_id, NODE_ID_HEX);
	if (rpc_client_call(bs->cli, from->addr, "GetSettings", NULL, bs->call_timeout,
			    on_pull_done, p)) {
		free(p);
		return;
	}
	bs->pulls++;
}

/* ---- cursor ---- */

static void m_bot_cursor(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_botstate *bs = user;
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(params, "holder");
	const char *known_holder = "";
	struct node_bot_cursor in;
	uint64_t epoch, known;
	cJSON *o;
	char why[160];

	if (!cJSON_IsString(h) || !node_gossip_is_id(h->valuestring) ||
	    node_gossip_get_u64(params, "epoch", &epoch) || !epoch ||
	    node_botwire_parse_cursor(cJSON_GetObjectItemCaseSensitive(params, "cursor"), &in)) {
		rpc_call_error(call, 400, "BotCursor: holder, epoch (>= 1) and cursor "
					  "{token_ver, update_id, answered <= update_id, epoch} are required");
		return;
	}
	/* Fenced by the lease: only the holder of the lease we know (or of a
	 * greater one we have not heard of yet) moves the cursor. */
	known = node_cluster_lease_known(bs->cl, &known_holder);
	if (epoch < known || (epoch == known && strcmp(h->valuestring, known_holder))) {
		snprintf(why, sizeof(why), "stale lease: epoch %llu of %.8s is known here",
			 (unsigned long long)known, known_holder);
		rpc_call_error(call, 409, why);
		return;
	}
	in.epoch = epoch;
	if (node_botwire_cursor_merge(&bs->s.cursor, &in))
		bs_save(bs, 0);
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "cursor", node_botwire_cursor_json(&bs->s.cursor));
	rpc_call_reply(call, o);
}

static void m_get_bot_cursor(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_botstate *bs = user;
	cJSON *o = cJSON_CreateObject();

	(void)params;
	cJSON_AddItemToObject(o, "cursor", node_botwire_cursor_json(&bs->s.cursor));
	rpc_call_reply(call, o);
}

static void bs_batch_end(struct bs_batch *b)
{
	if (--b->pending)
		return;
	if (b->done)
		b->done(b->user, b->stale ? -ESTALE : b->cancelled ? -ECANCELED : 0);
	if (b->cursor_done)
		b->cursor_done(b->user, &b->bs->s.cursor);
	free(b);
}

static void on_commit_done(void *user, int err, const cJSON *result, const char *message)
{
	struct bs_batch *b = user;

	(void)result;
	if (err == -EREMOTEIO && message && !strncmp(message, "stale lease", 11)) {
		cst_warn("bot cursor refused: %s", message);
		b->stale = 1;
	} else if (err == -ECANCELED) {
		b->cancelled = 1; /* shutting down: not committed */
	} else if (err) {
		cst_debug("BotCursor: %s", message && *message ? message : strerror(-err));
	}
	bs_batch_end(b);
}

static void on_gather_done(void *user, int err, const cJSON *result, const char *message)
{
	struct bs_batch *b = user;
	struct node_bot_cursor in;

	(void)message;
	if (!err && !node_botwire_parse_cursor(cJSON_GetObjectItemCaseSensitive(result, "cursor"),
					       &in) &&
	    node_botwire_cursor_merge(&b->bs->s.cursor, &in))
		bs_save(b->bs, 0);
	bs_batch_end(b);
}

/* Sends method to every member this node does not count down. */
static void bs_batch_send(struct bs_batch *b, const char *method, const cJSON *params,
			  rpc_done_fn fn)
{
	struct node_botstate *bs = b->bs;

	b->pending = 1; /* ours, dropped at the end: done never runs mid-loop */
	for (size_t i = 0; i < bs->st->n_peers; i++) {
		const struct node_peer *p = &bs->st->peers[i];

		if (!strcmp(p->node_id, bs->self) || node_cluster_member_down(bs->cl, p->node_id))
			continue;
		if (rpc_client_call(bs->cli, p->addr, method,
				    params ? cJSON_Duplicate(params, 1) : NULL, bs->call_timeout, fn,
				    b) == 0)
			b->pending++;
	}
	bs_batch_end(b);
}

void node_botstate_cursor_commit(struct node_botstate *bs, const struct node_bot_cursor *c,
				 node_botstate_done_fn done, void *user)
{
	struct bs_batch *b = calloc(1, sizeof(*b));
	cJSON *params;

	if (node_botwire_cursor_merge(&bs->s.cursor, c))
		bs_save(bs, 0);
	if (!b) {
		done(user, -ENOMEM);
		return;
	}
	b->bs = bs;
	b->done = done;
	b->user = user;
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "holder", bs->self);
	cJSON_AddNumberToObject(params, "epoch", (double)c->epoch);
	cJSON_AddItemToObject(params, "cursor", node_botwire_cursor_json(c));
	bs_batch_send(b, "BotCursor", params, on_commit_done);
	cJSON_Delete(params);
}

void node_botstate_cursor_gather(struct node_botstate *bs, node_botstate_cursor_fn done,
				 void *user)
{
	struct bs_batch *b = calloc(1, sizeof(*b));

	if (!b) {
		done(user, &bs->s.cursor);
		return;
	}
	b->bs = bs;
	b->cursor_done = done;
	b->user = user;
	bs_batch_send(b, "GetBotCursor", NULL, on_gather_done);
}

void node_botstate_cursor(const struct node_botstate *bs, struct node_bot_cursor *out)
{
	*out = bs->s.cursor;
}

/* ---- public ---- */

void node_botstate_on_change(struct node_botstate *bs, node_botstate_change_fn fn, void *ctx)
{
	bs->on_change = fn;
	bs->on_change_ctx = ctx;
}

int node_botstate_token(const struct node_botstate *bs, char *out, size_t cap, uint64_t *ver)
{
	*ver = bs->s.token_ver;
	if (!bs->s.token[0] || strlen(bs->s.token) >= cap)
		return -ENOENT;
	memcpy(out, bs->s.token, strlen(bs->s.token) + 1);
	return 0;
}

int node_botstate_token_set(struct node_botstate *bs, const char *token)
{
	struct node_bot_settings old = bs->s;
	int r;

	if (!node_botwire_token_ok(token))
		return -EINVAL;
	bs->s.token_ver++;
	memcpy(bs->s.token_origin, bs->self, sizeof(bs->s.token_origin));
	sodium_memzero(bs->s.token, sizeof(bs->s.token));
	memcpy(bs->s.token, token, strlen(token) + 1);
	if ((r = bs_write_files(bs->cfg->state_dir, &bs->s, 1))) {
		cst_err("cannot save the bot token: %s", strerror(-r));
		bs->s = old;
		sodium_memzero(&old, sizeof(old));
		return -EIO;
	}
	sodium_memzero(&old, sizeof(old));
	cst_info("bot token replaced (version %llu): spreading to every member",
		 (unsigned long long)bs->s.token_ver);
	bs_changed(bs, NODE_BOTSTATE_TOKEN);
	/* a gossip round now rather than at the next heartbeat */
	node_cluster_member_added(bs->cl, bs->self);
	return 0;
}

const char *node_botstate_owner_username(const struct node_botstate *bs)
{
	return bs->st->owner_username[0] ? bs->st->owner_username : bs->cfg->owner_username;
}

int64_t node_botstate_owner_id(const struct node_botstate *bs)
{
	return bs->s.owner_ver ? bs->s.owner_id : 0;
}

int node_botstate_owner_bind(struct node_botstate *bs, const char *username, int64_t user_id)
{
	if (!node_botwire_username_ok(username) || user_id < 1 ||
	    strlen(username) >= sizeof(bs->s.owner_username) - 1)
		return -EINVAL;
	bs->s.owner_ver++;
	memcpy(bs->s.owner_origin, bs->self, sizeof(bs->s.owner_origin));
	snprintf(bs->s.owner_username, sizeof(bs->s.owner_username), "%s%s",
		 username[0] == '@' ? "" : "@", username);
	bs->s.owner_id = user_id;
	bs_save(bs, 0);
	cst_info("bot owner %s bound to Telegram user %lld (version %llu)", bs->s.owner_username,
		 (long long)user_id, (unsigned long long)bs->s.owner_ver);
	bs_changed(bs, NODE_BOTSTATE_OWNER);
	node_cluster_member_added(bs->cl, bs->self);
	return 0;
}

void node_botstate_status_fill(const struct node_botstate *bs, cJSON *o)
{
	cJSON_AddBoolToObject(o, "token_set", bs->s.token[0] != 0);
	cJSON_AddNumberToObject(o, "token_version", (double)bs->s.token_ver);
	cJSON_AddStringToObject(o, "owner", node_botstate_owner_username(bs));
	cJSON_AddBoolToObject(o, "owner_bound", bs->s.owner_ver != 0);
	cJSON_AddNumberToObject(o, "owner_id", (double)node_botstate_owner_id(bs));
	cJSON_AddNumberToObject(o, "update_id", (double)bs->s.cursor.update_id);
	cJSON_AddNumberToObject(o, "answered", (double)bs->s.cursor.answered);
}

cJSON *node_botstate_join_json(const struct node_botstate *bs)
{
	return node_botwire_plain(&bs->s);
}

int node_botstate_store_join(const char *dir, const cJSON *bot)
{
	struct node_bot_settings s;
	unsigned have = 0;
	int r;

	if (!bot)
		return 0;
	if (node_botwire_parse_plain(bot, &s, &have))
		return -EINVAL;
	r = bs_write_files(dir, &s, 1);
	sodium_memzero(&s, sizeof(s));
	return r;
}

cJSON *node_botstate_control(struct node_botstate *bs, const cJSON *req)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "token");
	cJSON *o = cJSON_CreateObject();
	int r;

	if (!cJSON_IsString(t) || !node_botwire_token_ok(t->valuestring)) {
		cJSON_AddBoolToObject(o, "ok", 0);
		cJSON_AddStringToObject(o, "error",
					"not a bot token (1-127 of [A-Za-z0-9:_-], from @BotFather)");
		return o;
	}
	r = node_botstate_token_set(bs, t->valuestring);
	cJSON_AddBoolToObject(o, "ok", r == 0);
	if (r)
		cJSON_AddStringToObject(o, "error", "cannot save the token in the state directory");
	else
		cJSON_AddNumberToObject(o, "version", (double)bs->s.token_ver);
	return o;
}

int node_botstate_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		      const char *self_id, struct rpc_server *srv, struct rpc_client *cli,
		      struct node_cluster *cl, struct node_botstate **out, char *err, size_t errlen)
{
	struct node_cluster_gossip_hook hook;
	struct node_botstate *bs = calloc(1, sizeof(*bs));
	int r, dirty = 0;

	*out = NULL;
	if (!bs)
		return -ENOMEM;
	bs->loop = loop;
	bs->cfg = cfg;
	bs->st = st;
	memcpy(bs->self, self_id, NODE_ID_HEX);
	bs->cli = cli;
	bs->cl = cl;
	bs->call_timeout = cfg->rpc_timeout < cfg->bot_lease_ttl / 2 ? cfg->rpc_timeout
								      : cfg->bot_lease_ttl / 2;
	if ((r = bs_read_files(cfg->state_dir, &bs->s, err, errlen)))
		goto fail;
	if (bs->s.token[0] && !bs->s.token_ver) {
		/* written by `constella init --bot-token`: version 1, from here */
		bs->s.token_ver = 1;
		memcpy(bs->s.token_origin, self_id, NODE_ID_HEX + 1);
		dirty = 1;
	}
	if (cfg->bot_token[0] && !bs->s.token[0]) {
		if (!node_botwire_token_ok(cfg->bot_token)) {
			snprintf(err, errlen, "BOT_TOKEN: not a bot token (1-127 of [A-Za-z0-9:_-])");
			r = -EINVAL;
			goto fail;
		}
		memcpy(bs->s.token, cfg->bot_token, strlen(cfg->bot_token) + 1);
		bs->s.token_ver++;
		memcpy(bs->s.token_origin, self_id, NODE_ID_HEX + 1);
		dirty = 1;
		cst_info("BOT_TOKEN from the configuration becomes the network's bot token");
	} else if (cfg->bot_token[0] && strcmp(cfg->bot_token, bs->s.token)) {
		cst_info("BOT_TOKEN ignored: the network's bot token (version %llu) is in %s/bot_token; "
			 "change it everywhere with `constella bot-token set`",
			 (unsigned long long)bs->s.token_ver, cfg->state_dir);
	}
	if (dirty && (r = bs_write_files(cfg->state_dir, &bs->s, 1))) {
		snprintf(err, errlen, "cannot write the bot settings: %s", strerror(-r));
		goto fail;
	}
	node_botwire_key(st->network_secret, bs->key);
	if ((r = rpc_server_register(srv, "GetSettings", m_get_settings, bs)) ||
	    (r = rpc_server_register(srv, "BotCursor", m_bot_cursor, bs)) ||
	    (r = rpc_server_register(srv, "GetBotCursor", m_get_bot_cursor, bs))) {
		snprintf(err, errlen, "RPC registration: %s", strerror(-r));
		goto fail;
	}
	hook.extend = bs_gossip_extend;
	hook.seen = bs_gossip_seen;
	hook.ctx = bs;
	node_cluster_set_gossip_hook(cl, &hook);
	*out = bs;
	return 0;
fail:
	node_botstate_free(bs);
	return r;
}

void node_botstate_free(struct node_botstate *bs)
{
	if (!bs)
		return;
	sodium_memzero(bs, sizeof(*bs));
	free(bs);
}
