/* The cluster engine: gossip membership, leader, bot lease (cluster.h). */
#include "cluster.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "gossip.h"
#include "lease.h"
#include "log.h"
#include "membership.h"

#define CL_TICK_S 0.1
/* A member that announced a reboot shows as "rebooting" while it is not
 * heard, until it runs again (a newer generation) or this long passed. */
#define CL_REBOOT_GRACE_S 600.0
#define CL_REBOOT_MAX 64

struct cl_reboot {
	char id[NODE_ID_HEX + 1];
	uint64_t gen; /* its generation when it announced */
	double since;
};

struct node_cluster {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state *st;
	char self[NODE_ID_HEX + 1];
	struct rpc_server *srv;
	struct rpc_client *cli;
	struct node_cluster_runner runner;
	struct node_mship ms;
	struct node_lease lease;
	ev_timer hb_timer, tick_timer;
	char leader[NODE_ID_HEX + 1];
	uint64_t runner_epoch; /* 0: the runner is not running */
	double lease_timeout;
	double asked_lease;    /* last GetLease round while not settled */
	int removed;
	struct node_cluster_gossip_hook hook;
	struct cl_reboot reboots[CL_REBOOT_MAX]; /* members that announced a reboot */
	size_t n_reboots;
	node_cluster_observer_fn observer;
	void *observer_user;
};

/* One outgoing call: what its completion needs to know. */
struct cl_call {
	struct node_cluster *c;
	char peer[NODE_ID_HEX + 1];
	uint64_t epoch;
	double sent_at;
};

/* Lease and liveness use CLOCK_BOOTTIME: it keeps counting across a
 * suspend, so a lease never looks younger than it is. */
static double cl_now(void)
{
	return (double)cst_clock_boot_ns() / 1e9;
}

static const char *cl_name(struct node_cluster *c, const char *id)
{
	const struct node_peer *p = node_state_find_peer(c->st, id);

	return p ? p->name : "?";
}

static void cl_save(struct node_cluster *c)
{
	int r = node_state_save(c->cfg->state_dir, c->st);

	if (r)
		cst_err("cannot save %s/network_state.json: %s", c->cfg->state_dir, strerror(-r));
	/* every change of the table is saved here: tell the observer */
	if (c->observer)
		c->observer(c->observer_user);
}

void node_cluster_set_observer(struct node_cluster *c, node_cluster_observer_fn fn, void *user)
{
	c->observer = fn;
	c->observer_user = user;
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
	return k;
}

/* Sends method to one peer; takes params. */
static void cl_call(struct node_cluster *c, const struct node_peer *p, const char *method,
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

/* ---- the runner ---- */

static void cl_runner_stop(struct node_cluster *c)
{
	uint64_t e = c->runner_epoch;

	if (!e)
		return;
	c->runner_epoch = 0;
	if (c->runner.stop)
		c->runner.stop(c->runner.ctx, e);
	cst_info("bot runner stopped (epoch %llu)", (unsigned long long)e);
}

static void cl_runner_start(struct node_cluster *c, uint64_t epoch)
{
	int r = c->runner.start ? c->runner.start(c->runner.ctx, epoch) : 0;

	if (r) {
		/* The lease stays ours: another node would fail the same way
		 * (a bad token is the network's, not this node's). */
		cst_err("bot runner failed to start (epoch %llu): %s", (unsigned long long)epoch,
			strerror(-r));
		return;
	}
	c->runner_epoch = epoch;
	cst_info("bot runner started (epoch %llu)", (unsigned long long)epoch);
}

/* ---- removal ---- */

static void cl_apply_actions(struct node_cluster *c, unsigned acts);

static void cl_become_removed(struct node_cluster *c, const char *why)
{
	if (c->removed)
		return;
	c->removed = 1;
	cl_runner_stop(c);
	c->lease.role = NODE_LEASE_IDLE;
	c->lease.running = 0;
	ev_timer_stop(c->loop, &c->hb_timer);
	ev_timer_stop(c->loop, &c->tick_timer);
	if (!node_state_is_removed(c->st, c->self) && node_state_add_removed(c->st, c->self) == 0)
		cl_save(c);
	cst_err("this node was removed from the network (%s): it no longer takes part; "
		"remove %s to reuse this host", why, c->cfg->state_dir);
}

/* 1 when it changed the state (caller saves). */
static int cl_tombstone(struct node_cluster *c, const char *id)
{
	char name[sizeof(c->st->peers[0].name)];

	if (node_state_is_removed(c->st, id))
		return 0;
	if (!strcmp(id, c->self)) {
		cl_become_removed(c, "a member carries its tombstone");
		return 0;
	}
	snprintf(name, sizeof(name), "%s", cl_name(c, id));
	if (node_state_add_removed(c->st, id))
		return 0;
	node_state_remove_peer(c->st, id);
	node_mship_forget(&c->ms, id);
	cst_info("member %s (%.8s) removed from the network", name, id);
	return 1;
}

/* Validates every entry first: a bad list changes nothing. */
static int cl_apply_removed(struct node_cluster *c, const cJSON *arr, char *err, size_t errlen)
{
	const cJSON *x;
	int changed = 0, r;

	if ((r = node_gossip_check_ids(arr, err, errlen)))
		return r;
	cJSON_ArrayForEach(x, arr)
		changed |= cl_tombstone(c, x->valuestring);
	if (changed)
		cl_save(c);
	return 0;
}

/* ---- records ---- */

static int cl_merge_record(struct node_cluster *c, const struct node_peer *in)
{
	struct node_peer *local, np;

	if (node_state_is_removed(c->st, in->node_id))
		return 0;
	local = node_state_find_peer(c->st, in->node_id);
	if (!strcmp(in->node_id, c->self)) {
		/* Only we write our record: a copy claiming a version we never
		 * made (state lost and restored, say) is outbid. */
		if (local && in->ver >= local->ver &&
		    (strcmp(in->addr, local->addr) || strcmp(in->name, local->name) ||
		     in->priority != local->priority || strcmp(in->wg_pubkey, local->wg_pubkey) ||
		     strcmp(in->overlay_addr, local->overlay_addr) ||
		     strcmp(in->wg_endpoint, local->wg_endpoint) || in->vpn_role != local->vpn_role)) {
			local->ver = in->ver + 1;
			return 1;
		}
		return 0;
	}
	if (local && in->ver <= local->ver)
		return 0;
	np = *in;
	np.status = local ? local->status : NODE_PEER_ALIVE;
	np.last_seen = local ? local->last_seen : 0;
	if (node_state_upsert_peer(c->st, &np))
		return 0;
	if (local)
		cst_info("member %s (%.8s) updated: %s, priority %d", np.name, np.node_id, np.addr,
			 np.priority);
	else
		cst_info("member %s (%.8s) at %s joined the network", np.name, np.node_id,
			 np.addr);
	return 1;
}

static void cl_merge_records(struct node_cluster *c, const struct node_peer *recs, size_t n)
{
	int changed = 0;

	for (size_t i = 0; i < n; i++)
		changed |= cl_merge_record(c, &recs[i]);
	if (changed)
		cl_save(c);
}

/* ---- heartbeats ---- */

static cJSON *cl_removed_json(const struct node_state *st)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < st->n_removed; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(st->removed[i]));
	return a;
}

static cJSON *cl_digest_json(struct node_cluster *c)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];
		const struct node_mship_entry *e = node_mship_get(&c->ms, p->node_id);
		cJSON *o = cJSON_CreateObject();
		int self = !strcmp(p->node_id, c->self);

		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "id", p->node_id);
		cJSON_AddNumberToObject(o, "gen", (double)(self ? c->ms.gen : e ? e->gen : 0));
		cJSON_AddNumberToObject(o, "hb", (double)(self ? c->ms.hb : e ? e->hb : 0));
		cJSON_AddNumberToObject(o, "ver", (double)p->ver);
	}
	return a;
}

static void on_sync_done(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;

	(void)result;
	if (err && err != -ECANCELED)
		cst_debug("Sync to %.8s failed: %s", k->peer, message && *message ? message :
			  strerror(-err));
	free(k);
}

/* Sends the records for the ids in want to peer. */
static void cl_push_records(struct node_cluster *c, const struct node_peer *to,
			    const cJSON *want)
{
	cJSON *params, *recs;
	const cJSON *x;

	if (!cJSON_IsArray(want) || !cJSON_GetArraySize(want))
		return;
	params = cJSON_CreateObject();
	recs = cJSON_AddArrayToObject(params, "records");
	cJSON_ArrayForEach(x, want) {
		struct node_peer *p;

		if (cJSON_IsString(x) && (p = node_state_find_peer(c->st, x->valuestring)))
			cJSON_AddItemToArray(recs, node_peer_to_json(p));
	}
	cl_call(c, to, "Sync", params, c->cfg->rpc_timeout, on_sync_done, 0);
}

static void on_heartbeat_done(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;
	struct node_cluster *c = k->c;
	struct node_peer *recs = NULL, *to;
	size_t n = 0;
	char why[160];

	if (err == -ECANCELED || c->removed)
		goto out;
	if (err) {
		if (err == -EREMOTEIO && message && strstr(message, "removed from the network") &&
		    strstr(message, "you were"))
			cl_become_removed(c, "a member refused our heartbeat");
		else
			cst_debug("heartbeat to %s (%.8s): %s", cl_name(c, k->peer), k->peer,
				  message && *message ? message : strerror(-err));
		goto out;
	}
	/* records are validated before the tombstones are applied: a bad
	 * answer changes nothing */
	if (node_gossip_parse_records(cJSON_GetObjectItemCaseSensitive(result, "records"), &recs,
				      &n, why, sizeof(why)) ||
	    cl_apply_removed(c, cJSON_GetObjectItemCaseSensitive(result, "removed"), why,
			     sizeof(why))) {
		cst_warn("bad heartbeat answer from %.8s: %s", k->peer, why);
		goto out;
	}
	if (c->removed)
		goto out;
	cl_merge_records(c, recs, n);
	if ((to = node_state_find_peer(c->st, k->peer)))
		cl_push_records(c, to, cJSON_GetObjectItemCaseSensitive(result, "want"));
out:
	free(recs);
	free(k);
}

static void cl_heartbeat_round(struct node_cluster *c)
{
	cJSON *params;

	if (c->removed)
		return;
	node_mship_beat(&c->ms);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "from", c->self);
	cJSON_AddNumberToObject(params, "gen", (double)c->ms.gen);
	cJSON_AddNumberToObject(params, "hb", (double)c->ms.hb);
	cJSON_AddItemToObject(params, "digest", cl_digest_json(c));
	cJSON_AddItemToObject(params, "removed", cl_removed_json(c->st));
	if (c->hook.extend)
		c->hook.extend(c->hook.ctx, params);
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, "Heartbeat", cJSON_Duplicate(params, 1), c->cfg->rpc_timeout,
				on_heartbeat_done, 0);
	}
	cJSON_Delete(params);
}

static void m_heartbeat(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(params, "from");
	struct node_gossip_digest_entry *dg = NULL;
	uint64_t gen, hb;
	size_t n = 0;
	double now = cl_now();
	cJSON *reply, *recs, *want;
	char why[160];

	if (c->removed) {
		rpc_call_error(call, 410, "this node was removed from the network");
		return;
	}
	if (!cJSON_IsString(from) || !node_gossip_is_id(from->valuestring) ||
	    node_gossip_get_u64(params, "gen", &gen) || node_gossip_get_u64(params, "hb", &hb)) {
		rpc_call_error(call, 400, "Heartbeat: from, gen and hb are required");
		return;
	}
	if (node_state_is_removed(c->st, from->valuestring)) {
		rpc_call_error(call, 410, "you were removed from the network");
		return;
	}
	if (node_gossip_parse_digest(cJSON_GetObjectItemCaseSensitive(params, "digest"), &dg, &n)) {
		rpc_call_error(call, 400, "Heartbeat: digest must be [{id, gen, hb, ver}]");
		return;
	}
	if (cl_apply_removed(c, cJSON_GetObjectItemCaseSensitive(params, "removed"), why,
			     sizeof(why))) {
		free(dg);
		rpc_call_error(call, 400, why);
		return;
	}
	if (c->removed) {
		free(dg);
		rpc_call_error(call, 410, "this node was removed from the network");
		return;
	}
	node_mship_observe(&c->ms, from->valuestring, gen, hb, 1, now);
	reply = cJSON_CreateObject();
	want = cJSON_AddArrayToObject(reply, "want");
	for (size_t i = 0; i < n; i++) {
		const struct node_peer *p;

		if (!strcmp(dg[i].id, c->self) || node_state_is_removed(c->st, dg[i].id))
			continue;
		/* relayed counters count too: a member only the sender hears
		 * (behind NAT) is alive for us as well */
		node_mship_observe(&c->ms, dg[i].id, dg[i].gen, dg[i].hb,
				   !strcmp(dg[i].id, from->valuestring), now);
		p = node_state_find_peer(c->st, dg[i].id);
		if (!p || dg[i].ver > p->ver)
			cJSON_AddItemToArray(want, cJSON_CreateString(dg[i].id));
	}
	recs = cJSON_AddArrayToObject(reply, "records");
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];
		const struct node_gossip_digest_entry *d = node_gossip_digest_find(dg, n, p->node_id);

		if (!d || p->ver > d->ver)
			cJSON_AddItemToArray(recs, node_peer_to_json(p));
	}
	cJSON_AddItemToObject(reply, "removed", cl_removed_json(c->st));
	free(dg);
	rpc_call_reply(call, reply);
	{
		const struct node_peer *fp = node_state_find_peer(c->st, from->valuestring);

		if (c->hook.seen && fp)
			c->hook.seen(c->hook.ctx, fp, params);
	}
}

static void m_sync(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	struct node_peer *recs = NULL;
	size_t n = 0;
	char why[160];

	if (c->removed) {
		rpc_call_error(call, 410, "this node was removed from the network");
		return;
	}
	if (node_gossip_parse_records(cJSON_GetObjectItemCaseSensitive(params, "records"), &recs,
				      &n, why, sizeof(why))) {
		rpc_call_error(call, 400, why);
		return;
	}
	cl_merge_records(c, recs, n);
	free(recs);
	rpc_call_reply(call, NULL);
}

/* ---- the lease over RPC ---- */

static void on_claim_done(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;
	struct node_cluster *c = k->c;
	const cJSON *acc, *h;
	uint64_t e;
	double age;

	if (err == -ECANCELED || c->removed)
		goto out;
	if (err == -ECONNREFUSED) {
		/* Nothing listens there: no process, so no lease clock that could
		 * run out before ours. Restarted, it hears our claims (or waits
		 * LEADER_GRACE_SEC) before it could take over. As good as an ack,
		 * and a dead member then does not stop the bot until it is
		 * declared down. */
		node_lease_on_ack(&c->lease, k->peer, k->epoch, k->sent_at);
		goto out;
	}
	if (err) {
		cst_debug("lease claim to %.8s: %s", k->peer,
			  message && *message ? message : strerror(-err));
		goto out;
	}
	acc = cJSON_GetObjectItemCaseSensitive(result, "accepted");
	if (cJSON_IsTrue(acc)) {
		node_lease_on_ack(&c->lease, k->peer, k->epoch, k->sent_at);
		goto out;
	}
	h = cJSON_GetObjectItemCaseSensitive(result, "holder");
	if (!cJSON_IsFalse(acc) || !cJSON_IsString(h) || !node_gossip_is_id(h->valuestring) ||
	    node_gossip_get_u64(result, "epoch", &e) || node_gossip_get_age(result, &age)) {
		cst_warn("bad lease answer from %.8s", k->peer);
		goto out;
	}
	if (k->epoch == c->lease.epoch && !strcmp(c->lease.holder, c->self))
		cst_info("lease claim (epoch %llu) refused by %s: it knows %s's epoch %llu",
			 (unsigned long long)k->epoch, cl_name(c, k->peer),
			 cl_name(c, h->valuestring), (unsigned long long)e);
	cl_apply_actions(c, node_lease_on_conflict(&c->lease, h->valuestring, e, age, cl_now()));
out:
	free(k);
}

static void cl_send_lease(struct node_cluster *c, const char *method, rpc_done_fn done)
{
	cJSON *params = cJSON_CreateObject();

	cJSON_AddStringToObject(params, "holder", c->self);
	cJSON_AddNumberToObject(params, "epoch", (double)c->lease.epoch);
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, method, cJSON_Duplicate(params, 1), c->lease_timeout, done,
				c->lease.epoch);
	}
	cJSON_Delete(params);
}

static int cl_lease_params(struct node_cluster *c, const cJSON *params, struct rpc_call *call,
			   const char **holder, uint64_t *epoch)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(params, "holder");

	if (c->removed) {
		rpc_call_error(call, 410, "this node was removed from the network");
		return -1;
	}
	if (!cJSON_IsString(h) || !node_gossip_is_id(h->valuestring) ||
	    node_gossip_get_u64(params, "epoch", epoch) ||
	    *epoch == 0) {
		rpc_call_error(call, 400, "holder (node id) and epoch (>= 1) are required");
		return -1;
	}
	if (node_state_is_removed(c->st, h->valuestring)) {
		rpc_call_error(call, 410, "you were removed from the network");
		return -1;
	}
	*holder = h->valuestring;
	return 0;
}

static void m_try_acquire(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	const char *holder;
	uint64_t epoch;
	unsigned acts = 0;
	cJSON *o;

	if (cl_lease_params(c, params, call, &holder, &epoch))
		return;
	o = cJSON_CreateObject();
	if (node_lease_on_claim(&c->lease, holder, epoch, cl_now(), &acts) == NODE_LEASE_ACCEPT) {
		/* a renewal is its holder speaking to us: alive */
		node_mship_unsuspect(&c->ms, holder);
		cJSON_AddBoolToObject(o, "accepted", 1);
	} else {
		cJSON_AddBoolToObject(o, "accepted", 0);
		cJSON_AddStringToObject(o, "holder", c->lease.holder);
		cJSON_AddNumberToObject(o, "epoch", (double)c->lease.epoch);
		cJSON_AddNumberToObject(o, "age_s", node_lease_age(&c->lease, cl_now()));
	}
	rpc_call_reply(call, o);
	cl_apply_actions(c, acts);
}

static void m_release(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	const char *holder;
	uint64_t epoch;
	unsigned acts;

	if (cl_lease_params(c, params, call, &holder, &epoch))
		return;
	acts = node_lease_on_release(&c->lease, holder, epoch, cl_now());
	rpc_call_reply(call, NULL);
	cl_apply_actions(c, acts);
}

/* ---- members announcing a reboot ---- */

static void cl_reboot_note(struct node_cluster *c, const char *id, double now)
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

static int cl_rebooting(const struct node_cluster *c, const char *id, double now)
{
	const struct node_mship_entry *e = node_mship_get(&c->ms, id);

	for (size_t i = 0; i < c->n_reboots; i++)
		if (!strcmp(c->reboots[i].id, id))
			return now - c->reboots[i].since < CL_REBOOT_GRACE_S &&
			       !(e && e->gen > c->reboots[i].gen);
	return 0;
}

/* A member stopping cleanly: down now, until it speaks to us again. */
static void m_leave(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(params, "from");

	if (c->removed) {
		rpc_call_error(call, 410, "this node was removed from the network");
		return;
	}
	if (!cJSON_IsString(from) || !node_gossip_is_id(from->valuestring) ||
	    !strcmp(from->valuestring, c->self)) {
		rpc_call_error(call, 400, "Leave: from (another node's id) is required");
		return;
	}
	if (node_state_find_peer(c->st, from->valuestring)) {
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(params, "reason");
		int reboot = cJSON_IsString(why) && !strcmp(why->valuestring, "rebooting");

		cst_info("member %s (%.8s) is %s", cl_name(c, from->valuestring),
			 from->valuestring, reboot ? "rebooting" : "stopping");
		if (reboot)
			cl_reboot_note(c, from->valuestring, cl_now());
		node_mship_suspect(&c->ms, from->valuestring);
	}
	rpc_call_reply(call, NULL);
}

static void m_get_lease(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	double now = cl_now(), rem = node_lease_remaining(&c->lease, now);
	cJSON *o = cJSON_CreateObject();

	(void)params;
	/* The lease as known here, live or not: a node that just started
	 * needs the epoch and how long ago it was renewed, by our clock. */
	cJSON_AddStringToObject(o, "holder", c->lease.holder);
	cJSON_AddNumberToObject(o, "epoch", (double)c->lease.epoch);
	cJSON_AddNumberToObject(o, "age_s", node_lease_age(&c->lease, now));
	cJSON_AddBoolToObject(o, "released", c->lease.released);
	cJSON_AddNumberToObject(o, "remaining_s", rem > 0 ? rem : 0);
	rpc_call_reply(call, o);
}

static void on_lease_info(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;
	struct node_cluster *c = k->c;
	const cJSON *h, *rel;
	uint64_t e;
	double age;

	(void)message;
	if (err || c->removed || c->lease.settled)
		goto out;
	h = cJSON_GetObjectItemCaseSensitive(result, "holder");
	rel = cJSON_GetObjectItemCaseSensitive(result, "released");
	if (!cJSON_IsString(h) || (h->valuestring[0] && !node_gossip_is_id(h->valuestring)) ||
	    node_gossip_get_u64(result, "epoch", &e) || node_gossip_get_age(result, &age) ||
	    !cJSON_IsBool(rel)) {
		cst_warn("bad GetLease answer from %.8s", k->peer);
		goto out;
	}
	cl_apply_actions(c, node_lease_on_info(&c->lease, h->valuestring, e, age,
					       cJSON_IsTrue(rel), cl_now()));
	cst_debug("lease learnt from %s: %.8s epoch %llu, renewed %.1f s ago",
		  cl_name(c, k->peer), h->valuestring, (unsigned long long)e, age);
out:
	free(k);
}

/* Until it knows the network's lease, a node that just started asks. */
static void cl_ask_lease(struct node_cluster *c)
{
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, "GetLease", NULL, c->lease_timeout, on_lease_info, 0);
	}
}

static void on_release_done(void *user, int err, const cJSON *result, const char *message)
{
	(void)err;
	(void)result;
	(void)message;
	free(user);
}

static void cl_apply_actions(struct node_cluster *c, unsigned acts)
{
	if (acts & NODE_LEASE_STOP)
		cl_runner_stop(c);
	if (acts & NODE_LEASE_SEND_RELEASE) {
		cst_info("bot lease released (epoch %llu): %s leads",
			 (unsigned long long)c->lease.epoch, cl_name(c, c->leader));
		cl_send_lease(c, "ReleaseLease", on_release_done);
	}
	if (acts & NODE_LEASE_SEND_CLAIM)
		cl_send_lease(c, "TryAcquireLease", on_claim_done);
	if (acts & NODE_LEASE_START)
		cl_runner_start(c, c->lease.epoch);
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
		const struct node_mship_entry *e = node_mship_get(&c->ms, p->node_id);
		enum node_mship_status s = node_mship_status(&c->ms, p->node_id, now);
		enum node_peer_status ps;

		if (!strcmp(p->node_id, c->self)) {
			p->last_seen = wall;
			continue;
		}
		if (e && e->seen)
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
	if (dirty)
		cl_save(c);
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

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_cluster *c = w->data;
	double now = cl_now();
	const char **alive;
	size_t n_alive = 0;
	int li;

	(void)loop;
	(void)revents;
	/* A holder that stopped renewing is dead or cut off: either way it
	 * must not keep the leadership for the rest of the down timeout. */
	if (node_lease_expired(&c->lease, now) &&
	    node_mship_status(&c->ms, c->lease.holder, now) != NODE_MSHIP_DOWN) {
		cst_info("bot lease of %s (epoch %llu) expired unrenewed: treating it as down",
			 cl_name(c, c->lease.holder), (unsigned long long)c->lease.epoch);
		node_mship_suspect(&c->ms, c->lease.holder);
	}
	if (!c->lease.settled && now - c->asked_lease >= 1.0) {
		c->asked_lease = now;
		cl_ask_lease(c);
	}
	cl_update_members(c, now);
	li = node_mship_leader(&c->ms, c->st, now);
	if (li >= 0 && strcmp(c->leader, c->st->peers[li].node_id)) {
		memcpy(c->leader, c->st->peers[li].node_id, sizeof(c->leader));
		cst_info("leader is now %s (%.8s)", c->st->peers[li].name, c->leader);
	}
	if (!(alive = calloc(c->st->n_peers + 1, sizeof(*alive))))
		return;
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const char *id = c->st->peers[i].node_id;

		/* unknown counts: one we have not heard may still hold a lease */
		if (strcmp(id, c->self) &&
		    node_mship_status(&c->ms, id, now) != NODE_MSHIP_DOWN)
			alive[n_alive++] = id;
	}
	cl_apply_actions(c, node_lease_step(&c->lease, li >= 0 && !strcmp(c->leader, c->self),
					    alive, n_alive, now));
	free(alive);
	if (!c->removed)
		cl_persist_lease(c);
}

static void on_hb_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	cl_heartbeat_round(w->data);
}

/* ---- public ---- */

/* Leave {from, reason?} to every peer. */
static void cl_send_leave(struct node_cluster *c, const char *reason)
{
	cJSON *params = cJSON_CreateObject();

	cJSON_AddStringToObject(params, "from", c->self);
	if (reason)
		cJSON_AddStringToObject(params, "reason", reason);
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, "Leave", cJSON_Duplicate(params, 1), c->lease_timeout,
				on_release_done, 0);
	}
	cJSON_Delete(params);
}

int node_cluster_shutdown(struct node_cluster *c)
{
	ev_timer_stop(c->loop, &c->hb_timer);
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
	cl_send_leave(c, NULL);
	return 1;
}

void node_cluster_announce_reboot(struct node_cluster *c)
{
	if (!c->removed)
		cl_send_leave(c, "rebooting");
}

void node_cluster_member_added(struct node_cluster *c, const char *node_id)
{
	(void)node_id;
	cl_heartbeat_round(c);
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
	if (c->observer)
		c->observer(c->observer_user);
	cl_heartbeat_round(c);
	return 0;
}

cJSON *node_cluster_status_json(struct node_cluster *c)
{
	double now = cl_now();
	int live = node_lease_remaining(&c->lease, now) > 0;
	const char *owner = live ? c->lease.holder : "";
	cJSON *doc = node_status_json(c->st, c->self, c->leader[0] ? c->leader : NULL,
				      (int64_t)time(NULL));
	cJSON *p;

	if (!doc)
		return NULL;
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "bot_lease_owner", cJSON_CreateString(owner));
	cJSON_AddNumberToObject(doc, "bot_lease_epoch", (double)c->lease.epoch);
	cJSON_AddBoolToObject(doc, "bot_runner", c->runner_epoch != 0);
	cJSON_AddBoolToObject(doc, "removed", c->removed);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "peers")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "node_id");
		enum node_mship_status s;

		if (!cJSON_IsString(id))
			continue;
		s = node_mship_status(&c->ms, id->valuestring, now);
		cJSON_ReplaceItemInObjectCaseSensitive(
			p, "status", cJSON_CreateString(s != NODE_MSHIP_ALIVE &&
							cl_rebooting(c, id->valuestring, now) ?
							"rebooting" : node_mship_status_str(s)));
		cJSON_ReplaceItemInObjectCaseSensitive(
			p, "bot_lease", cJSON_CreateBool(*owner && !strcmp(owner, id->valuestring)));
	}
	return doc;
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
	       node_mship_status(&c->ms, node_id, cl_now()) == NODE_MSHIP_DOWN;
}

int node_cluster_member_rebooting(struct node_cluster *c, const char *node_id)
{
	double now = cl_now();

	return strcmp(node_id, c->self) && node_mship_status(&c->ms, node_id, now) != NODE_MSHIP_ALIVE &&
	       cl_rebooting(c, node_id, now);
}

void node_cluster_lease_recheck(struct node_cluster *c)
{
	if (c->lease.role != NODE_LEASE_IDLE)
		c->lease.last_sent = -INFINITY;
}

int node_cluster_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		     const char *self_id, struct rpc_server *srv, struct rpc_client *cli,
		     const struct node_cluster_runner *runner, struct node_cluster **out)
{
	struct node_cluster *c = calloc(1, sizeof(*c));
	struct node_peer *me;
	double now = cl_now();
	uint64_t gen;
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
	if ((r = node_state_save(cfg->state_dir, st))) {
		free(c);
		return r;
	}
	node_mship_init(&c->ms, self_id, gen, cfg->heartbeat_interval * cfg->down_after_misses,
			now);
	node_lease_init(&c->lease, self_id, cfg->bot_lease_ttl, cfg->leader_grace_sec, now);
	if (st->lease_owner[0])
		node_lease_restore(&c->lease, st->lease_owner, st->lease_epoch, now);
	else
		c->lease.epoch = st->lease_epoch;
	c->lease_timeout = fmin(cfg->rpc_timeout, cfg->bot_lease_ttl / 2);
	c->asked_lease = -INFINITY;
	if ((r = rpc_server_register(srv, "Heartbeat", m_heartbeat, c)) ||
	    (r = rpc_server_register(srv, "Sync", m_sync, c)) ||
	    (r = rpc_server_register(srv, "GetLease", m_get_lease, c)) ||
	    (r = rpc_server_register(srv, "TryAcquireLease", m_try_acquire, c)) ||
	    (r = rpc_server_register(srv, "ReleaseLease", m_release, c)) ||
	    (r = rpc_server_register(srv, "Leave", m_leave, c))) {
		node_cluster_free(c);
		return r;
	}
	ev_timer_init(&c->hb_timer, on_hb_timer, 0.05, cfg->heartbeat_interval);
	c->hb_timer.data = c;
	ev_timer_init(&c->tick_timer, on_tick, CL_TICK_S, CL_TICK_S);
	c->tick_timer.data = c;
	if (node_state_is_removed(st, self_id)) {
		c->removed = 1;
		cst_err("this node was removed from the network: it does not take part; "
			"remove %s to reuse this host", cfg->state_dir);
	} else {
		ev_timer_start(loop, &c->hb_timer);
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
	if (ev_is_active(&c->hb_timer))
		ev_timer_stop(c->loop, &c->hb_timer);
	if (ev_is_active(&c->tick_timer))
		ev_timer_stop(c->loop, &c->tick_timer);
	node_mship_deinit(&c->ms);
	node_lease_deinit(&c->lease);
	free(c);
}
