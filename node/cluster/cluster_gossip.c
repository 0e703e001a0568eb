/* Gossip over the RPC: rounds, the Gossip and Sync methods, records and
 * tombstones (docs/cluster.md, "Membership").
 *
 * A round (every HEARTBEAT_INTERVAL/2): count a heartbeat, pick
 * NODE_MSHIP_FANOUT random members (node_mship_pick) and send each a Gossip:
 * our counter, our wall clock and a digest, one [id, gen, hb, age_ms, ver]
 * per member. The partner takes every counter newer than its own (relayed
 * ones with their age: durations travel, never clock readings), and answers
 * with the counters and records we lack, the ids whose records it wants
 * (we push them with Sync) and, when the tombstone sets differ (their hash
 * "rmh" says so), its tombstones; we then push ours. Push and pull in one
 * call: a counter reaches every node in O(log n) rounds, and the messages
 * per node and round stay NODE_MSHIP_FANOUT whatever the size of the
 * network. */
#include "cluster_internal.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "log.h"

/* ---- tombstones ---- */

/* An order-free hash of the tombstone set: equal sets, equal hashes. */
static void cl_removed_hash(const struct node_state *st, char out[17])
{
	uint8_t acc[8] = { 0 }, h[8];

	for (size_t i = 0; i < st->n_removed; i++) {
		crypto_generichash(h, sizeof(h), (const uint8_t *)st->removed[i], NODE_ID_HEX, NULL, 0);
		for (size_t j = 0; j < sizeof(acc); j++)
			acc[j] ^= h[j];
	}
	sodium_bin2hex(out, 17, acc, sizeof(acc));
}

static cJSON *cl_removed_json(const struct node_state *st)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < st->n_removed; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(st->removed[i]));
	return a;
}

/* 1 when it changed the state (caller saves). */
int cl_tombstone(struct node_cluster *c, const char *id)
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
	cl_changed(c);
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
	/* status and last_seen are this node's own view, never taken over */
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
	if (changed) {
		cl_save(c);
		cl_changed(c);
	}
}

/* ---- digests ---- */

static int cl_counter_newer(uint64_t g1, uint64_t h1, uint64_t g2, uint64_t h2)
{
	return g1 > g2 || (g1 == g2 && h1 > h2);
}

/* Every member: our freshest counter of it (gen 0: none) and its record
 * version. */
static cJSON *cl_digest_json(struct node_cluster *c, double now)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];
		const struct node_mship_entry *e = node_mship_get(&c->ms, p->node_id);

		if (!strcmp(p->node_id, c->self))
			node_gossip_digest_add(a, p->node_id, c->ms.gen, c->ms.hb, 0, p->ver,
					       cl_ack_of(c, p->node_id));
		else
			node_gossip_digest_add(a, p->node_id, e ? e->gen : 0, e ? e->hb : 0,
					       node_mship_age(&c->ms, e, now), p->ver,
					       cl_ack_of(c, p->node_id));
	}
	return a;
}

/* While we start: a partner that has run for the failure timeout and has
 * no counter of a member we were waiting to hear (no digest entry with
 * one: an answer leaves out the counters we already match, and ours is
 * none) has not heard it run either, so we stop waiting for it. Its uptime
 * is its own clock now ("wall") minus its start time ("gen", unix seconds
 * at its start, or above: a clock that went back only makes it smaller). */
static void cl_merge_unheard(struct node_cluster *c, const cJSON *msg,
			     const struct node_gossip_digest_entry *dg, size_t n)
{
	const cJSON *wall = cJSON_GetObjectItemCaseSensitive(msg, "wall");
	uint64_t gen;

	if (node_gossip_get_u64(msg, "gen", &gen) || !cJSON_IsNumber(wall) ||
	    wall->valuedouble / 1000.0 - (double)gen <
		    node_mship_fail_after(&c->ms, c->st->n_peers))
		return;
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const char *id = c->st->peers[i].node_id;
		const struct node_gossip_digest_entry *d = node_gossip_digest_find(dg, n, id);

		if ((!d || !d->gen) && node_mship_unheard(&c->ms, id)) {
			cst_debug("member %s (%.8s): not heard run by members either; not waiting "
				  "for it", cl_name(c, id), id);
			cl_changed(c);
		}
	}
}

/* The relayed counters of a digest from `from` (validated already), and
 * the acceptances of its lease ("lease": [holder, epoch]) when it is ours. */
static void cl_merge_counters(struct node_cluster *c, const char *from, const cJSON *msg,
			      const struct node_gossip_digest_entry *dg, size_t n, double now)
{
	const cJSON *lease = cJSON_GetObjectItemCaseSensitive(msg, "lease");
	const cJSON *lh = cJSON_GetArrayItem(lease, 0), *le = cJSON_GetArrayItem(lease, 1);
	int acks = cJSON_IsArray(lease) && cJSON_IsString(lh) && cJSON_IsNumber(le) &&
		   !strcmp(lh->valuestring, c->lease.holder) && le->valuedouble == (double)c->lease.epoch;

	for (size_t i = 0; acks && i < n; i++)
		cl_note_ack(c, dg[i].id, c->lease.holder, c->lease.epoch, dg[i].ack_ms);
	for (size_t i = 0; i < n; i++) {
		/* only members (every member has a membership entry: the tick
		 * makes them): an id we have no record of gets its counter in a
		 * later round, once its record came */
		if (!strcmp(dg[i].id, c->self) || !node_mship_get(&c->ms, dg[i].id))
			continue;
		node_mship_observe(&c->ms, dg[i].id, dg[i].gen, dg[i].hb, dg[i].age,
				   !strcmp(dg[i].id, from), now);
	}
	if (node_mship_starting(&c->ms, now))
		cl_merge_unheard(c, msg, dg, n);
}

static void cl_add_self(struct node_cluster *c, cJSON *o)
{
	cJSON *l;

	cJSON_AddNumberToObject(o, "gen", (double)c->ms.gen);
	cJSON_AddNumberToObject(o, "hb", (double)c->ms.hb);
	cJSON_AddNumberToObject(o, "wall", floor(cl_wall() * 1000));
	/* the lease whose acceptances the digest's ack_ms are */
	if (c->lease.holder[0] && (l = cJSON_AddArrayToObject(o, "lease"))) {
		cJSON_AddItemToArray(l, cJSON_CreateString(c->lease.holder));
		cJSON_AddItemToArray(l, cJSON_CreateNumber((double)c->lease.epoch));
	}
}

static int cl_parse_rmh(const cJSON *o, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "rmh");

	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !node_state_is_hex(v->valuestring, 16))
		return -EINVAL;
	*out = v->valuestring;
	return 0;
}

static int cl_peer_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct node_peer *const *)a)->node_id,
		      (*(const struct node_peer *const *)b)->node_id);
}

/* The peers in id order (malloc'd; NULL when out of memory). */
static const struct node_peer **cl_peer_order(struct node_cluster *c)
{
	const struct node_peer **o = malloc((c->st->n_peers + 1) * sizeof(*o));

	if (!o)
		return NULL;
	for (size_t i = 0; i < c->st->n_peers; i++)
		o[i] = &c->st->peers[i];
	qsort(o, c->st->n_peers, sizeof(*o), cl_peer_cmp);
	return o;
}

/* ---- the exchange ---- */

static void on_sync_done(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;

	if (err && err != -ECANCELED) {
		cl_call_failed(k, err, result, message);
		cst_debug("Sync to %.8s failed: %s", k->peer, message && *message ? message :
			  strerror(-err));
	}
	free(k);
}

/* Sends the records for the ids in want to peer, and our tombstones. */
static void cl_push(struct node_cluster *c, const struct node_peer *to, const cJSON *want,
		    int removed)
{
	cJSON *params, *recs;
	const cJSON *x;

	if ((!cJSON_IsArray(want) || !cJSON_GetArraySize(want)) && !removed)
		return;
	params = cJSON_CreateObject();
	recs = cJSON_AddArrayToObject(params, "records");
	cJSON_ArrayForEach(x, want) {
		struct node_peer *p;

		if (cJSON_IsString(x) && (p = node_state_find_peer(c->st, x->valuestring)))
			cJSON_AddItemToArray(recs, node_peer_to_json(p));
	}
	if (removed)
		cJSON_AddItemToObject(params, "removed", cl_removed_json(c->st));
	cl_call(c, to, "Sync", params, c->cfg->rpc_timeout, on_sync_done, 0);
}

static void on_gossip_done(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;
	struct node_cluster *c = k->c;
	struct node_gossip_digest_entry *dg = NULL;
	struct node_peer *recs = NULL, *to;
	size_t n = 0, nd = 0;
	char why[160];

	if (err == -ECANCELED || c->removed)
		goto out;
	if (err) {
		cl_call_failed(k, err, result, message);
		cst_debug("gossip with %s (%.8s): %s", cl_name(c, k->peer), k->peer,
			  message && *message ? message : strerror(-err));
		goto out;
	}
	/* everything is validated before anything is applied */
	if (node_gossip_parse_digest(cJSON_GetObjectItemCaseSensitive(result, "digest"), &dg, &nd)) {
		cst_warn("bad gossip answer from %.8s: malformed digest", k->peer);
		goto out;
	}
	if (node_gossip_parse_records(cJSON_GetObjectItemCaseSensitive(result, "records"), &recs,
				      &n, why, sizeof(why)) ||
	    node_gossip_check_ids(cJSON_GetObjectItemCaseSensitive(result, "removed"), why,
				  sizeof(why)) ||
	    node_gossip_check_ids(cJSON_GetObjectItemCaseSensitive(result, "want"), why,
				  sizeof(why))) {
		cst_warn("bad gossip answer from %.8s: %s", k->peer, why);
		goto out;
	}
	cl_heard_direct(c, k->peer, result, k->sent_wall);
	cl_apply_removed(c, cJSON_GetObjectItemCaseSensitive(result, "removed"), why, sizeof(why));
	if (c->removed)
		goto out;
	cl_merge_records(c, recs, n);
	cl_merge_counters(c, k->peer, result, dg, nd, cl_now());
	if ((to = node_state_find_peer(c->st, k->peer))) {
		cl_push(c, to, cJSON_GetObjectItemCaseSensitive(result, "want"),
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "want_removed")));
		if (c->hook.seen)
			c->hook.seen(c->hook.ctx, to, result);
	}
out:
	free(dg);
	free(recs);
	free(k);
}

void cl_gossip_round(struct node_cluster *c)
{
	size_t idx[NODE_MSHIP_FANOUT + 1], n;
	double now = cl_now();
	cJSON *params;
	char rmh[17];

	if (c->removed)
		return;
	node_mship_beat(&c->ms);
	if (!(n = node_mship_pick(&c->ms, c->st, NODE_MSHIP_FANOUT, now, idx)))
		return;
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "from", c->self);
	cl_add_self(c, params);
	cJSON_AddItemToObject(params, "digest", cl_digest_json(c, now));
	cl_removed_hash(c->st, rmh);
	cJSON_AddStringToObject(params, "rmh", rmh);
	if (c->hook.extend)
		c->hook.extend(c->hook.ctx, params);
	for (size_t i = 0; i < n; i++)
		cl_call(c, &c->st->peers[idx[i]], "Gossip",
			i + 1 < n ? cJSON_Duplicate(params, 1) : params, c->gossip_timeout,
			on_gossip_done, 0);
}

static void m_gossip(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(params, "from");
	struct node_gossip_digest_entry *dg = NULL;
	const struct node_peer *fp;
	const char *rmh;
	const struct node_peer **order;
	uint64_t gen, hb;
	size_t n = 0;
	double now = cl_now();
	cJSON *reply, *recs, *want, *digest;
	char mine[17];

	if (c->removed) {
		rpc_call_error(call, 410, "this node was removed from the network");
		return;
	}
	if (!cJSON_IsString(from) || !node_gossip_is_id(from->valuestring) ||
	    node_gossip_get_u64(params, "gen", &gen) || node_gossip_get_u64(params, "hb", &hb) ||
	    cl_parse_rmh(params, &rmh)) {
		rpc_call_error(call, 400, "Gossip: from, gen and hb are required (rmh: 16 hex)");
		return;
	}
	if (node_state_is_removed(c->st, from->valuestring)) {
		rpc_call_error(call, 410, "you were removed from the network");
		return;
	}
	if (node_gossip_parse_digest(cJSON_GetObjectItemCaseSensitive(params, "digest"), &dg, &n)) {
		rpc_call_error(call, 400, "Gossip: digest must be [\"id:gen:hb:age_ms:ver:ack_ms\"], "
			       "one entry per member");
		return;
	}
	cl_heard_direct(c, from->valuestring, params, 0);
	cl_merge_counters(c, from->valuestring, params, dg, n, now);
	reply = cJSON_CreateObject();
	cl_add_self(c, reply);
	want = cJSON_AddArrayToObject(reply, "want");
	digest = cJSON_AddArrayToObject(reply, "digest");
	recs = cJSON_AddArrayToObject(reply, "records");
	/* records the sender has and we lack or have older: both lists are
	 * walked in id order (the digest comes sorted), not searched */
	if ((order = cl_peer_order(c))) {
		size_t j = 0;

		for (size_t i = 0; i < n; i++) {
			const struct node_peer *p = NULL;
			int cmp = 1;

			while (j < c->st->n_peers &&
			       (cmp = strcmp(order[j]->node_id, dg[i].id)) < 0)
				j++;
			if (j < c->st->n_peers && !cmp)
				p = order[j];
			if (!strcmp(dg[i].id, c->self) || (!p && node_state_is_removed(c->st, dg[i].id)))
				continue;
			if (!p || dg[i].ver > p->ver)
				cJSON_AddItemToArray(want, cJSON_CreateString(dg[i].id));
		}
		free(order);
	}
	/* what the sender lacks: newer counters, newer records */
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];
		const struct node_gossip_digest_entry *d = node_gossip_digest_find(dg, n, p->node_id);
		const struct node_mship_entry *e = node_mship_get(&c->ms, p->node_id);
		int self = !strcmp(p->node_id, c->self);
		uint64_t g = self ? c->ms.gen : e ? e->gen : 0, h = self ? c->ms.hb : e ? e->hb : 0;

		/* A newer counter is worth sending when it is fresher by half a
		 * round or more (every counter moves every round: sending all the
		 * slightly newer ones would double the answer for little), or
		 * from a new run. The ack is compared only when both speak of the
		 * same lease; sending it again otherwise costs an entry. */
		if (g && (!d || d->gen != g ||
			  (cl_counter_newer(g, h, d->gen, d->hb) &&
			   d->age - (self ? 0 : node_mship_age(&c->ms, e, now)) >= c->ms.round / 2) ||
			  cl_ack_of(c, p->node_id) > d->ack_ms))
			node_gossip_digest_add(digest, p->node_id, g, h,
					       self ? 0 : node_mship_age(&c->ms, e, now), p->ver,
					       cl_ack_of(c, p->node_id));
		if (!d || p->ver > d->ver)
			cJSON_AddItemToArray(recs, node_peer_to_json(p));
	}
	cl_removed_hash(c->st, mine);
	if (rmh && strcmp(rmh, mine)) {
		cJSON_AddItemToObject(reply, "removed", cl_removed_json(c->st));
		cJSON_AddBoolToObject(reply, "want_removed", 1);
	}
	free(dg);
	if (c->hook.extend)
		c->hook.extend(c->hook.ctx, reply);
	rpc_call_reply(call, reply);
	if (c->hook.seen && (fp = node_state_find_peer(c->st, from->valuestring)))
		c->hook.seen(c->hook.ctx, fp, params);
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
				      &n, why, sizeof(why)) ||
	    node_gossip_check_ids(cJSON_GetObjectItemCaseSensitive(params, "removed"), why,
				  sizeof(why))) {
		free(recs);
		rpc_call_error(call, 400, why);
		return;
	}
	cl_apply_removed(c, cJSON_GetObjectItemCaseSensitive(params, "removed"), why, sizeof(why));
	if (!c->removed)
		cl_merge_records(c, recs, n);
	free(recs);
	rpc_call_reply(call, NULL);
}

int cl_gossip_register(struct node_cluster *c)
{
	int r;

	if ((r = rpc_server_register(c->srv, "Gossip", m_gossip, c)) ||
	    (r = rpc_server_register(c->srv, "Sync", m_sync, c)))
		return r;
	return 0;
}
