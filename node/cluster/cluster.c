/* The cluster engine: life, the periodic work, clocks and status
 * (cluster.h). Gossip is in cluster_gossip.c, the lease over RPC in
 * cluster_lease.c. */
#include "cluster_internal.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "gossip.h"
#include "log.h"

/* Lease and liveness use CLOCK_BOOTTIME: it keeps counting across a
 * suspend, so a lease never looks younger than it is. */
double cl_now(void)
{
	return (double)cst_clock_boot_ns() / 1e9;
}

double cl_wall(void)
{
	return (double)cst_clock_wall_ns() / 1e9;
}

const char *cl_name(struct node_cluster *c, const char *id)
{
	const struct node_peer *p = node_state_find_peer(c->st, id);

	return p ? p->name : "?";
}

/* A write that fails (disk full, read-only) keeps the previous file (the
 * write is atomic) and is retried every second by the tick until it
 * succeeds; the daemon goes on serving from memory meanwhile. */
void cl_save(struct node_cluster *c)
{
	int r;
	unsigned held;

	c->save_tried = cl_now();
	r = node_state_save(c->cfg->state_dir, c->st);
	if (!r) {
		if (c->dirty)
			cst_info("%s/network_state.json saved again", c->cfg->state_dir);
		c->dirty = 0;
		return;
	}
	if (cst_ratelimit_ok(&c->rl_save, c->save_tried, CL_LOG_EVERY_S, &held))
		cst_err("cannot save %s/network_state.json: %s; the previous file is kept, "
			"retrying every second%s", c->cfg->state_dir, strerror(-r),
			held ? " (failed again since the last such line)" : "");
	c->dirty = 1;
}

void cl_changed(struct node_cluster *c)
{
	c->changed = 1;
}

static struct cl_call *cl_call_new(struct node_cluster *c, const char *peer, uint64_t epoch)
{
	struct cl_call *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->c = c;
	memcpy(k->peer, peer, NODE_ID_HEX);
	k->epoch = epoch;
	k->sent_at = cl_now();
	k->sent_wall = cl_wall();
	return k;
}

/* Sends method to one peer; takes params. */
void cl_call(struct node_cluster *c, const struct node_peer *p, const char *method,
	     cJSON *params, double timeout, rpc_done_fn done, uint64_t epoch)
{
	struct cl_call *k = cl_call_new(c, p->node_id, epoch);

	if (!k) {
		cJSON_Delete(params);
		return;
	}
	if (rpc_client_call(c->cli, p->addr, method, params, timeout, done, k))
		free(k);
}

/* ---- clocks ---- */

static const char *cl_ahead_behind(double skew)
{
	return skew < 0 ? "behind" : "ahead of";
}

/* A member refused our request for clock skew: our timestamp minus its
 * clock is skew seconds. */
static void cl_note_skew_out(struct node_cluster *c, const char *id, double skew)
{
	struct node_mship_entry *e = node_mship_entry(&c->ms, id);
	unsigned held;

	if (!e)
		return;
	e->skew_at = cl_now();
	e->skew_ours = 1;
	e->clock_offset = -skew;
	e->clock_at = e->skew_at;
	if (cst_ratelimit_ok(&c->rl_skew_out, e->skew_at, CL_LOG_EVERY_S, &held))
		cst_warn("clock: %s (%.8s) refused our request: our clock is %.0f s %s %s's "
			 "(limit ±%u s)%s", cl_name(c, id), id, fabs(skew), cl_ahead_behind(skew),
			 cl_name(c, id), c->cfg->clock_skew,
			 held ? " (and more refusals since the last such line)" : "");
}

/* The RPC server refused a member's request for clock skew. */
static void cl_on_refusal(void *user, const struct rpc_refusal *r)
{
	struct node_cluster *c = user;
	struct node_mship_entry *e = NULL;
	const char *name = "an unnamed member";
	unsigned held;

	if (r->node && node_state_find_peer(c->st, r->node)) {
		name = cl_name(c, r->node);
		if ((e = node_mship_entry(&c->ms, r->node))) {
			e->skew_at = cl_now();
			e->skew_ours = 0;
			e->clock_offset = (double)r->skew_s;
			e->clock_at = e->skew_at;
		}
	}
	if (cst_ratelimit_ok(&c->rl_skew_in, cl_now(), CL_LOG_EVERY_S, &held))
		cst_warn("clock: refused a request from %s (%s): its clock is %lld s %s ours "
			 "(limit ±%u s)%s", name, r->peer, (long long)llabs(r->skew_s),
			 cl_ahead_behind((double)r->skew_s), c->cfg->clock_skew,
			 held ? " (and more refusals since the last such line)" : "");
}

void cl_call_failed(struct cl_call *k, int err, const cJSON *result, const char *message)
{
	struct node_cluster *c = k->c;
	const cJSON *skew = cJSON_GetObjectItemCaseSensitive(result, "skew_s");

	if (err == -EACCES && cJSON_IsNumber(skew)) {
		cl_note_skew_out(c, k->peer, skew->valuedouble);
		return;
	}
	if (err == -EREMOTEIO && message && strstr(message, "removed from the network") &&
	    strstr(message, "you were")) {
		cl_become_removed(c, "a member refused our request");
		return;
	}
}

void cl_heard_direct(struct node_cluster *c, const char *id, const cJSON *o, double sent_wall)
{
	const cJSON *wall = cJSON_GetObjectItemCaseSensitive(o, "wall");
	struct node_mship_entry *e;
	uint64_t gen, hb;
	double now = cl_now();

	if (!node_state_find_peer(c->st, id))
		return;
	if (!node_gossip_get_u64(o, "gen", &gen) && !node_gossip_get_u64(o, "hb", &hb))
		node_mship_observe(&c->ms, id, gen, hb, 0, 1, now);
	else
		node_mship_unsuspect(&c->ms, id, now);
	if (!cJSON_IsNumber(wall) || !(wall->valuedouble > 0) || !(e = node_mship_entry(&c->ms, id)))
		return;
	/* theirs minus ours; an answer is taken as made half way */
	e->clock_offset = wall->valuedouble / 1000.0 -
			  (sent_wall > 0 ? (sent_wall + cl_wall()) / 2 : cl_wall());
	e->clock_at = now;
}

/* Most of the members we hear of refuse us, or are refused, for clock
 * skew: then our clock is the odd one out, and we must not lead (our claims
 * would be refused everywhere, and a side of one would run its own bot). */
static int cl_clock_outlier(struct node_cluster *c, double now)
{
	size_t skewed = 0, fine = 0;
	double window = node_mship_fail_after(&c->ms, c->st->n_peers);

	for (size_t i = 0; i < c->st->n_peers; i++) {
		const char *id = c->st->peers[i].node_id;
		const struct node_mship_entry *e = node_mship_get(&c->ms, id);

		if (!strcmp(id, c->self))
			continue;
		if (e && now - e->skew_at <= window)
			skewed++;
		else if (node_mship_status(&c->ms, id, c->st->n_peers, now) == NODE_MSHIP_ALIVE)
			fine++;
	}
	return skewed > fine;
}

/* ---- the runner ---- */

void cl_runner_stop(struct node_cluster *c)
{
	uint64_t e = c->runner_epoch;

	if (!e)
		return;
	c->runner_epoch = 0;
	if (c->runner.stop)
		c->runner.stop(c->runner.ctx, e);
	cst_info("bot runner stopped (epoch %llu)", (unsigned long long)e);
}

void cl_become_removed(struct node_cluster *c, const char *why)
{
	if (c->removed)
		return;
	c->removed = 1;
	cl_runner_stop(c);
	c->lease.role = NODE_LEASE_IDLE;
	c->lease.running = 0;
	ev_timer_stop(c->loop, &c->gossip_timer);
	if (!node_state_is_removed(c->st, c->self) && node_state_add_removed(c->st, c->self) == 0)
		cl_save(c);
	cst_err("this node was removed from the network (%s): it no longer takes part; "
		"remove %s to reuse this host", why, c->cfg->state_dir);
}

/* ---- members announcing a reboot ---- */

void cl_reboot_note(struct node_cluster *c, const char *id, double now)
{
	const struct node_mship_entry *e = node_mship_get(&c->ms, id);
	size_t i, oldest = 0;

	for (i = 0; i < c->n_reboots && strcmp(c->reboots[i].id, id); i++)
		if (c->reboots[i].since < c->reboots[oldest].since)
			oldest = i;
	if (i == c->n_reboots) {
		if (c->n_reboots < CL_REBOOT_MAX)
			c->n_reboots++;
		else
			i = oldest;
	}
	memcpy(c->reboots[i].id, id, sizeof(c->reboots[i].id));
	c->reboots[i].gen = e ? e->gen : 0;
	c->reboots[i].since = now;
}

int cl_rebooting(const struct node_cluster *c, const char *id, double now)
{
	const struct node_mship_entry *e = node_mship_get(&c->ms, id);

	for (size_t i = 0; i < c->n_reboots; i++)
		if (!strcmp(c->reboots[i].id, id))
			return now - c->reboots[i].since < CL_REBOOT_GRACE_S &&
			       !(e && e->gen > c->reboots[i].gen);
	return 0;
}

/* ---- the periodic work ---- */

/* Status transitions go to the state file (and the log); last_seen is kept
 * current in memory for `constella status`. */
static void cl_update_members(struct node_cluster *c, double now)
{
	int64_t wall = (int64_t)time(NULL);
	int dirty = 0;

	for (size_t i = 0; i < c->st->n_peers; i++) {
		struct node_peer *p = &c->st->peers[i];
		const struct node_mship_entry *e;
		enum node_mship_status s;
		enum node_peer_status ps;

		if (!strcmp(p->node_id, c->self)) {
			p->last_seen = wall;
			continue;
		}
		/* every member has an entry (the gossip relies on it) */
		e = node_mship_entry(&c->ms, p->node_id);
		s = node_mship_status(&c->ms, p->node_id, c->st->n_peers, now);
		if (e && e->gen)
			p->last_seen = wall - (int64_t)(now - e->heard);
		if (s == NODE_MSHIP_UNKNOWN)
			continue;
		ps = s == NODE_MSHIP_ALIVE ? NODE_PEER_ALIVE : NODE_PEER_DOWN;
		if (ps != p->status) {
			p->status = ps;
			dirty = 1;
			cst_info("member %s (%.8s) is %s", p->name, p->node_id,
				 node_mship_status_str(s));
		}
	}
	if (dirty) {
		cl_save(c);
		cl_changed(c);
	}
}

static void cl_persist_lease(struct node_cluster *c)
{
	if (!strcmp(c->st->lease_owner, c->lease.holder) && c->st->lease_epoch == c->lease.epoch)
		return;
	snprintf(c->st->lease_owner, sizeof(c->st->lease_owner), "%s", c->lease.holder);
	c->st->lease_epoch = c->lease.epoch;
	c->st->lease_until = (int64_t)time(NULL) + (int64_t)ceil(c->lease.ttl);
	cl_save(c);
}

/* The server's limits and the client's cache follow the membership: every
 * member may hold RPC_CLIENT_CONNS_PER_PEER connections to us (all from one
 * address behind a NAT, or on loopback), plus room for joins and the CLI. */
static void cl_scale_limits(struct node_cluster *c)
{
	size_t n = c->st->n_peers;

	if (n == c->limits_for)
		return;
	c->limits_for = n;
	rpc_server_set_limits(c->srv, (unsigned)(RPC_DEFAULT_MAX_CONNS + RPC_CLIENT_CONNS_PER_PEER * n),
			      (unsigned)(RPC_DEFAULT_MAX_PER_IP + RPC_CLIENT_CONNS_PER_PEER * n));
	rpc_client_set_cache(c->cli, (unsigned)(16 + n));
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_cluster *c = w->data;
	double now = cl_now();
	const char **alive;
	size_t n_alive = 0;
	int li, outlier;

	(void)loop;
	(void)revents;
	if (c->dirty && now - c->save_tried >= 1.0)
		cl_save(c);
	if (c->removed)
		return;
	cl_scale_limits(c);
	/* A holder that stopped renewing is dead or cut off: either way it
	 * must not keep the leadership for the rest of the down timeout. */
	if (node_lease_expired(&c->lease, now) &&
	    node_mship_status(&c->ms, c->lease.holder, c->st->n_peers, now) == NODE_MSHIP_ALIVE) {
		cst_info("bot lease of %s (epoch %llu) expired unrenewed: treating it as down",
			 cl_name(c, c->lease.holder), (unsigned long long)c->lease.epoch);
		node_mship_suspect(&c->ms, c->lease.holder, NODE_MSHIP_LEASE_LAPSED);
	}
	if (!c->lease.settled && now - c->asked_lease >= 1.0) {
		c->asked_lease = now;
		cl_ask_lease(c);
	}
	/* Status transitions and the clock verdict are for logs and status:
	 * every 0.5 s is enough, and a hundred members make them cost. The
	 * leader and the lease are judged every tick. */
	if (++c->ticks % 5 == 0 || c->changed) {
		cl_update_members(c, now);
		c->outlier_now = cl_clock_outlier(c, now);
	}
	outlier = c->outlier_now;
	if (outlier != c->outlier) {
		c->outlier = outlier;
		if (outlier)
			cst_err("clock: most members refuse this node's requests for clock skew (or "
				"are refused): this node's clock is off; it will not lead until its "
				"time is fixed (NTP)");
		else
			cst_info("clock: members accept this node's requests again");
	}
	li = node_mship_leader(&c->ms, c->st, now);
	if (outlier && li >= 0 && !strcmp(c->st->peers[li].node_id, c->self))
		li = -2;
	if (li >= 0 && strcmp(c->leader, c->st->peers[li].node_id)) {
		memcpy(c->leader, c->st->peers[li].node_id, sizeof(c->leader));
		cst_info("leader is now %s (%.8s)", c->st->peers[li].name, c->leader);
		cl_changed(c);
	} else if (li == -2 && c->leader[0]) {
		cst_info("no leader for now: %s", outlier ? "this node's clock is off"
							  : "waiting to hear the members above it");
		memset(c->leader, 0, sizeof(c->leader));
		cl_changed(c);
	}
	if (!(alive = calloc(c->st->n_peers + 1, sizeof(*alive))))
		return;
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const char *id = c->st->peers[i].node_id;

		/* A member nobody has heard run is not waited for; while we are
		 * starting, one we have not heard yet may still hold a lease. */
		if (node_mship_lease_waits_for(&c->ms, id, c->st->n_peers, now))
			alive[n_alive++] = id;
	}
	{
		int was_holding = c->lease.role == NODE_LEASE_HOLDING, lead = li >= 0 &&
			!strcmp(c->leader, c->self), wi;
		double sent;
		unsigned acts;

		wi = was_holding ? node_lease_weakest(&c->lease, alive, n_alive, &sent) : -1;
		acts = node_lease_step(&c->lease, lead, alive, n_alive, now);
		/* Say whom the runner could not renew with: that member is alive
		 * for us but out of reach (or the network loses too much). */
		if (was_holding && lead && (acts & NODE_LEASE_STOP) && wi >= 0)
			cst_warn("bot runner paused: no acknowledgement from %s (%.8s) of a claim "
				 "sent in the last %.1f s; claiming again", cl_name(c, alive[wi]),
				 alive[wi], now - sent);
		cl_apply_actions(c, acts);
	}
	free(alive);
	if (!c->removed)
		cl_persist_lease(c);
	if (c->changed && c->observer) {
		c->changed = 0;
		c->observer(c->observer_ctx);
	}
}

static void on_gossip_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	cl_gossip_round(w->data);
}

/* ---- public ---- */

int node_cluster_shutdown(struct node_cluster *c)
{
	ev_timer_stop(c->loop, &c->gossip_timer);
	ev_timer_stop(c->loop, &c->tick_timer);
	if (c->removed || c->st->n_peers < 2)
		return 0;
	if (c->lease.role != NODE_LEASE_IDLE) {
		c->lease.role = NODE_LEASE_IDLE;
		c->lease.running = 0;
		c->lease.released = 1;
		cl_runner_stop(c);
		cst_info("stopping: bot lease released (epoch %llu)",
			 (unsigned long long)c->lease.epoch);
		cl_send_lease(c, "ReleaseLease", on_release_done);
	}
	/* Say goodbye: peers count us down now, not after the down timeout,
	 * so a new leader (and bot) follows at once. */
	cl_send_leave(c, "stop");
	return 1;
}

void node_cluster_announce_reboot(struct node_cluster *c)
{
	if (!c->removed && c->st->n_peers > 1)
		cl_send_leave(c, "rebooting");
}

void node_cluster_member_added(struct node_cluster *c, const char *node_id)
{
	(void)node_id;
	cl_changed(c);
	cl_gossip_round(c);
}

int node_cluster_remove(struct node_cluster *c, const char *node_id)
{
	if (!strcmp(node_id, c->self))
		return -EINVAL;
	if (!node_state_find_peer(c->st, node_id))
		return -ENOENT;
	if (!cl_tombstone(c, node_id))
		return -EIO;
	if (node_state_save(c->cfg->state_dir, c->st))
		return -EIO;
	cl_gossip_round(c);
	return 0;
}

void node_cluster_set_observer(struct node_cluster *c, node_cluster_observer_fn fn, void *user)
{
	c->observer = fn;
	c->observer_ctx = user;
}

void node_cluster_set_gossip_hook(struct node_cluster *c, const struct node_cluster_gossip_hook *h)
{
	c->hook = *h;
}

uint64_t node_cluster_lease_known(const struct node_cluster *c, const char **holder)
{
	*holder = c->lease.holder;
	return c->lease.epoch;
}

const char *node_cluster_leader(const struct node_cluster *c)
{
	return c->leader;
}

int node_cluster_member_down(struct node_cluster *c, const char *node_id)
{
	if (!strcmp(node_id, c->self))
		return 0;
	return !node_state_find_peer(c->st, node_id) ||
	       node_mship_status(&c->ms, node_id, c->st->n_peers, cl_now()) != NODE_MSHIP_ALIVE;
}

int node_cluster_member_rebooting(struct node_cluster *c, const char *node_id)
{
	double now = cl_now();

	return strcmp(node_id, c->self) &&
	       node_mship_status(&c->ms, node_id, c->st->n_peers, now) != NODE_MSHIP_ALIVE &&
	       cl_rebooting(c, node_id, now);
}

void node_cluster_lease_recheck(struct node_cluster *c)
{
	if (c->lease.role != NODE_LEASE_IDLE)
		c->lease.last_sent = -INFINITY;
}

/* Why a member has the status it has, in words. */
static void cl_status_detail(struct node_cluster *c, const char *id, enum node_mship_status s,
			     double now, char *out, size_t len)
{
	const struct node_mship_entry *e = node_mship_get(&c->ms, id);
	double window = node_mship_fail_after(&c->ms, c->st->n_peers);

	out[0] = 0;
	if (!strcmp(id, c->self))
		return;
	if (e && now - e->skew_at <= window) {
		snprintf(out, len, "clock skew: %s clock is %.0f s %s %s", e->skew_ours ? "our" : "its",
			 fabs(e->clock_offset), e->skew_ours == (e->clock_offset > 0) ? "behind"
										: "ahead of",
			 e->skew_ours ? "theirs" : "ours");
		return;
	}
	if (s == NODE_MSHIP_UNKNOWN) {
		/* "not heard yet" only for a member this node still waits for */
		snprintf(out, len, node_mship_starting(&c->ms, now) && e && e->at_start
					   ? "not heard yet since this node started"
					   : "never heard: its daemon has not run since it joined");
		return;
	}
	if (s != NODE_MSHIP_DOWN || !e)
		return;
	switch (e->suspect) {
	case NODE_MSHIP_LEASE_LAPSED: snprintf(out, len, "stopped renewing the bot lease"); break;
	case NODE_MSHIP_LEFT: snprintf(out, len, "stopped"); break;
	case NODE_MSHIP_REBOOTING: snprintf(out, len, "rebooting"); break;
	default: snprintf(out, len, "no heartbeat for %.0f s", now - e->heard); break;
	}
}

cJSON *node_cluster_status_json(struct node_cluster *c)
{
	double now = cl_now();
	int live = node_lease_remaining(&c->lease, now) > 0;
	const char *owner = live ? c->lease.holder : "";
	cJSON *doc = node_status_json(c->st, c->self, c->leader[0] ? c->leader : NULL,
				      (int64_t)time(NULL));
	struct rpc_server_stats ss;
	struct rpc_client_stats cs;
	cJSON *p, *o;

	if (!doc)
		return NULL;
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "bot_lease_owner", cJSON_CreateString(owner));
	cJSON_AddNumberToObject(doc, "bot_lease_epoch", (double)c->lease.epoch);
	cJSON_AddBoolToObject(doc, "bot_runner", c->runner_epoch != 0);
	cJSON_AddBoolToObject(doc, "removed", c->removed);
	cJSON_AddBoolToObject(doc, "clock_outlier", c->outlier);
	cJSON_AddBoolToObject(doc, "state_saved", !c->dirty);
	o = cJSON_AddObjectToObject(doc, "membership");
	cJSON_AddNumberToObject(o, "round_s", c->ms.round);
	cJSON_AddNumberToObject(o, "fanout", NODE_MSHIP_FANOUT);
	cJSON_AddNumberToObject(o, "fail_after_s", node_mship_fail_after(&c->ms, c->st->n_peers));
	rpc_server_get_stats(c->srv, &ss);
	rpc_client_get_stats(c->cli, &cs);
	o = cJSON_AddObjectToObject(doc, "rpc");
	cJSON_AddNumberToObject(o, "served", (double)ss.served);
	cJSON_AddNumberToObject(o, "refused_busy", (double)ss.refused_busy);
	cJSON_AddNumberToObject(o, "refused_auth", (double)ss.refused_auth);
	cJSON_AddNumberToObject(o, "connections", ss.conns);
	cJSON_AddNumberToObject(o, "max_connections", ss.max_conns);
	cJSON_AddNumberToObject(o, "max_per_address", ss.max_per_ip);
	cJSON_AddNumberToObject(o, "calls", (double)cs.calls);
	cJSON_AddNumberToObject(o, "calls_failed", (double)cs.failed);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "peers")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "node_id");
		const struct node_mship_entry *e;
		enum node_mship_status s;
		char detail[128];

		if (!cJSON_IsString(id))
			continue;
		s = node_mship_status(&c->ms, id->valuestring, c->st->n_peers, now);
		e = node_mship_get(&c->ms, id->valuestring);
		cJSON_ReplaceItemInObjectCaseSensitive(
			p, "status", cJSON_CreateString(s != NODE_MSHIP_ALIVE &&
							cl_rebooting(c, id->valuestring, now) ?
							"rebooting" : node_mship_status_str(s)));
		cl_status_detail(c, id->valuestring, s, now, detail, sizeof(detail));
		cJSON_AddStringToObject(p, "detail", detail);
		if (e && now - e->clock_at <= 60)
			cJSON_AddNumberToObject(p, "clock_offset_s", round(e->clock_offset));
		else
			cJSON_AddNullToObject(p, "clock_offset_s");
		cJSON_AddBoolToObject(p, "clock_skew",
				      e && now - e->skew_at <= node_mship_fail_after(&c->ms,
										     c->st->n_peers));
		cJSON_ReplaceItemInObjectCaseSensitive(
			p, "bot_lease", cJSON_CreateBool(*owner && !strcmp(owner, id->valuestring)));
	}
	return doc;
}

int node_cluster_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		     const char *self_id, struct rpc_server *srv, struct rpc_client *cli,
		     const struct node_cluster_runner *runner, struct node_cluster **out)
{
	struct node_cluster *c = calloc(1, sizeof(*c));
	struct node_peer *me;
	double now = cl_now(), round = cfg->heartbeat_interval / 2;
	uint64_t gen, seed;
	int r;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->cfg = cfg;
	c->st = st;
	memcpy(c->self, self_id, NODE_ID_HEX);
	c->srv = srv;
	c->cli = cli;
	if (runner)
		c->runner = *runner;
	if (!(me = node_state_find_peer(st, self_id))) {
		free(c);
		return -EINVAL;
	}
	/* A new generation per run, above the last one even if the clock went
	 * back: peers then see our counters as new, not as stale. */
	gen = (uint64_t)time(NULL);
	if (gen <= st->generation)
		gen = st->generation + 1;
	st->generation = gen;
	/* PUBLIC_ADDR changed since the record was written: a new version of
	 * our record, so it spreads. */
	if (cfg->public_addr[0] && strcmp(cfg->public_addr, me->addr)) {
		cst_info("public address changed from %s to %s", me->addr, cfg->public_addr);
		snprintf(me->addr, sizeof(me->addr), "%s", cfg->public_addr);
		me->ver++;
	}
	/* A full disk must not keep the node from running: cl_save retries. */
	cl_save(c);
	node_mship_init(&c->ms, self_id, gen, cfg->heartbeat_interval * cfg->down_after_misses,
			round, cfg->leader_grace_sec, now);
	randombytes_buf(&seed, sizeof(seed));
	node_mship_seed(&c->ms, seed);
	for (size_t i = 0; i < st->n_peers; i++)
		node_mship_known_at_start(&c->ms, st->peers[i].node_id);
	node_lease_init(&c->lease, self_id, cfg->bot_lease_ttl, cfg->leader_grace_sec, now);
	if (st->lease_owner[0])
		node_lease_restore(&c->lease, st->lease_owner, st->lease_epoch, now);
	else
		c->lease.epoch = st->lease_epoch;
	c->lease_timeout = fmin(cfg->rpc_timeout, cfg->bot_lease_ttl / 2);
	/* A claim's acknowledgement keeps the runner going until its send
	 * time + TTL (less the margin), however late it comes: under packet
	 * loss a slow one is still worth waiting for. */
	c->claim_timeout = cfg->bot_lease_ttl - c->lease.hold_margin;
	c->gossip_timeout = fmin(cfg->rpc_timeout, fmax(2 * round, 1.0));
	c->asked_lease = -INFINITY;
	rpc_client_set_node_id(cli, self_id);
	rpc_server_on_refusal(srv, cl_on_refusal, c);
	cl_scale_limits(c);
	if ((r = cl_gossip_register(c)) || (r = cl_lease_register(c))) {
		node_cluster_free(c);
		return r;
	}
	ev_timer_init(&c->gossip_timer, on_gossip_timer, 0.05, round);
	c->gossip_timer.data = c;
	ev_timer_init(&c->tick_timer, on_tick, CL_TICK_S, CL_TICK_S);
	c->tick_timer.data = c;
	if (node_state_is_removed(st, self_id)) {
		c->removed = 1;
		cst_err("this node was removed from the network: it does not take part; "
			"remove %s to reuse this host", cfg->state_dir);
	} else {
		ev_timer_start(loop, &c->gossip_timer);
		ev_timer_start(loop, &c->tick_timer);
	}
	*out = c;
	return 0;
}

void node_cluster_free(struct node_cluster *c)
{
	if (!c)
		return;
	cl_runner_stop(c);
	rpc_server_on_refusal(c->srv, NULL, NULL);
	if (ev_is_active(&c->gossip_timer))
		ev_timer_stop(c->loop, &c->gossip_timer);
	if (ev_is_active(&c->tick_timer))
		ev_timer_stop(c->loop, &c->tick_timer);
	node_mship_deinit(&c->ms);
	node_lease_deinit(&c->lease);
	free(c);
}
