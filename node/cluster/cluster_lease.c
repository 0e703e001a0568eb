/* The bot lease over the RPC (lease.h has the state machine and its
 * safety argument): claims, renewals, releases, the lease a starting node
 * asks for, and Leave. Every lease message carries its sender's heartbeat
 * counter: a renewal is the holder speaking to each member directly every
 * TTL/4, and each answer is the member speaking to the holder. */
#include "cluster_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "log.h"

static void on_claim_done(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;
	struct node_cluster *c = k->c;
	const cJSON *acc, *h;
	uint64_t e;
	double age;

	if (err == -ECANCELED || c->removed)
		goto out;
	if (err && err != -ECONNREFUSED)
		cl_call_failed(k, err, result, message);
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
	cl_heard_direct(c, k->peer, result, k->sent_wall);
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

uint64_t cl_ack_of(struct node_cluster *c, const char *id)
{
	const struct node_mship_entry *e;

	if (!c->lease.holder[0])
		return 0;
	if (!strcmp(id, c->self))
		return !strcmp(c->self_ack_holder, c->lease.holder) &&
		       c->self_ack_epoch == c->lease.epoch ? c->self_ack_ms : 0;
	e = node_mship_get(&c->ms, id);
	return e && !strcmp(e->ack_holder, c->lease.holder) && e->ack_epoch == c->lease.epoch
		       ? e->ack_ms : 0;
}

void cl_note_ack(struct node_cluster *c, const char *id, const char *holder, uint64_t epoch,
		 uint64_t ack_ms)
{
	struct node_mship_entry *e;

	/* members only: every member has a membership entry */
	if (!ack_ms || strcmp(holder, c->lease.holder) || epoch != c->lease.epoch ||
	    !strcmp(id, c->self) || !(e = (struct node_mship_entry *)node_mship_get(&c->ms, id)))
		return;
	if (strcmp(e->ack_holder, holder) || e->ack_epoch != epoch) {
		snprintf(e->ack_holder, sizeof(e->ack_holder), "%s", holder);
		e->ack_epoch = epoch;
		e->ack_ms = 0;
	}
	if (ack_ms <= e->ack_ms)
		return;
	e->ack_ms = ack_ms;
	/* Ours: the member accepted our claim sent then (our clock), whatever
	 * path the news took; it cannot take over before that + TTL + TTL/8. */
	if (!strcmp(holder, c->self))
		node_lease_on_ack(&c->lease, id, epoch, (double)ack_ms / 1000.0);
}

void cl_send_lease(struct node_cluster *c, const char *method, rpc_done_fn done)
{
	cJSON *params = cJSON_CreateObject();

	cJSON_AddStringToObject(params, "holder", c->self);
	cJSON_AddNumberToObject(params, "epoch", (double)c->lease.epoch);
	cJSON_AddNumberToObject(params, "gen", (double)c->ms.gen);
	cJSON_AddNumberToObject(params, "hb", (double)c->ms.hb);
	/* our clock, for the acceptances relayed back to us (floored: an
	 * acceptance never looks younger than it is) */
	cJSON_AddNumberToObject(params, "sent", floor(cl_now() * 1000));
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, method, cJSON_Duplicate(params, 1),
				done == on_claim_done ? c->claim_timeout : c->lease_timeout, done,
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
	cJSON_AddNumberToObject(o, "gen", (double)c->ms.gen);
	cJSON_AddNumberToObject(o, "hb", (double)c->ms.hb);
	if (node_lease_on_claim(&c->lease, holder, epoch, cl_now(), &acts) == NODE_LEASE_ACCEPT) {
		uint64_t sent;

		/* a renewal is its holder speaking to us: alive */
		cl_heard_direct(c, holder, params, 0);
		cJSON_AddBoolToObject(o, "accepted", 1);
		if (!node_gossip_get_u64(params, "sent", &sent) && sent) {
			snprintf(c->self_ack_holder, sizeof(c->self_ack_holder), "%s", holder);
			c->self_ack_epoch = epoch;
			c->self_ack_ms = sent;
		}
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

/* A member stopping cleanly: down now, until it speaks to us again. */
static void m_leave(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_cluster *c = user;
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(params, "from");
	const cJSON *why = cJSON_GetObjectItemCaseSensitive(params, "reason");
	int reboot;

	if (c->removed) {
		rpc_call_error(call, 410, "this node was removed from the network");
		return;
	}
	if (!cJSON_IsString(from) || !node_gossip_is_id(from->valuestring) ||
	    !strcmp(from->valuestring, c->self) ||
	    (why && (!cJSON_IsString(why) || (strcmp(why->valuestring, "stop") &&
					      strcmp(why->valuestring, "rebooting"))))) {
		rpc_call_error(call, 400, "Leave: from (another node's id) is required; "
			       "reason is stop or rebooting");
		return;
	}
	reboot = why && !strcmp(why->valuestring, "rebooting");
	if (node_state_find_peer(c->st, from->valuestring)) {
		cst_info("member %s (%.8s) is %s", cl_name(c, from->valuestring),
			 from->valuestring, reboot ? "rebooting" : "stopping");
		if (reboot)
			cl_reboot_note(c, from->valuestring, cl_now());
		node_mship_suspect(&c->ms, from->valuestring,
				   reboot ? NODE_MSHIP_REBOOTING : NODE_MSHIP_LEFT);
		cl_changed(c);
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
	cJSON_AddNumberToObject(o, "gen", (double)c->ms.gen);
	cJSON_AddNumberToObject(o, "hb", (double)c->ms.hb);
	rpc_call_reply(call, o);
}

static void on_lease_info(void *user, int err, const cJSON *result, const char *message)
{
	struct cl_call *k = user;
	struct node_cluster *c = k->c;
	const cJSON *h, *rel;
	uint64_t e;
	double age;

	if (err && err != -ECANCELED)
		cl_call_failed(k, err, result, message);
	if (err || c->removed)
		goto out;
	cl_heard_direct(c, k->peer, result, k->sent_wall);
	if (c->lease.settled)
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
void cl_ask_lease(struct node_cluster *c)
{
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, "GetLease", NULL, c->lease_timeout, on_lease_info, 0);
	}
}

void on_release_done(void *user, int err, const cJSON *result, const char *message)
{
	(void)err;
	(void)result;
	(void)message;
	free(user);
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

void cl_send_leave(struct node_cluster *c, const char *reason)
{
	cJSON *params = cJSON_CreateObject();

	cJSON_AddStringToObject(params, "from", c->self);
	cJSON_AddStringToObject(params, "reason", reason);
	for (size_t i = 0; i < c->st->n_peers; i++) {
		const struct node_peer *p = &c->st->peers[i];

		if (strcmp(p->node_id, c->self))
			cl_call(c, p, "Leave", cJSON_Duplicate(params, 1), c->lease_timeout,
				on_release_done, 0);
	}
	cJSON_Delete(params);
}

void cl_apply_actions(struct node_cluster *c, unsigned acts)
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


int cl_lease_register(struct node_cluster *c)
{
	int r;

	if ((r = rpc_server_register(c->srv, "GetLease", m_get_lease, c)) ||
	    (r = rpc_server_register(c->srv, "TryAcquireLease", m_try_acquire, c)) ||
	    (r = rpc_server_register(c->srv, "ReleaseLease", m_release, c)) ||
	    (r = rpc_server_register(c->srv, "Leave", m_leave, c)))
		return r;
	return 0;
}
