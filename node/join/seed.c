/* POST /join on the seed, with the overlay allocation in between (seed.h). */
#include "seed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* One join waiting for the hub. */
struct seed_join {
	struct node_join_seed *s;     /* NULL once the seed is gone */
	struct rpc_call *call;        /* NULL once the server gave up on it */
	struct node_join_probe *probe; /* the reachability probe under way, or NULL */
	char target[80];              /* the probed "ip:port" */
	struct node_join_pending p;
	char peer[64];
	struct seed_join *next;
};

struct node_join_seed {
	const char *state_dir;
	struct node_state *st;
	struct node_join_seed_ops ops;
	struct seed_join *waiting;
};

int node_join_seed_new(const char *state_dir, struct node_state *st,
		       const struct node_join_seed_ops *ops, struct node_join_seed **out)
{
	struct node_join_seed *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->state_dir = state_dir;
	s->st = st;
	if (ops)
		s->ops = *ops;
	*out = s;
	return 0;
}

static void seed_refuse(struct rpc_call *call, const char *peer, enum node_join_result r,
			const char *message)
{
	const char *why = message && message[0] ? message : node_join_result_str(r);

	cst_info("join from %s refused: %s", peer, why);
	rpc_call_error(call, node_join_result_http(r), why);
}

static void seed_admitted(struct node_join_seed *s, struct rpc_call *call, const char *peer,
			  cJSON *reply, const struct node_peer *j)
{
	cst_info("join: %s (%.8s) at %s%s%s joined from %s", j->name, j->node_id, j->addr,
		 j->overlay_addr[0] ? ", overlay " : "", j->overlay_addr, peer);
	rpc_call_raw_reply(call, 200, reply);
	if (s->ops.joined)
		s->ops.joined(s->ops.ctx, j);
}

static void seed_unlink(struct seed_join *w)
{
	struct seed_join **pp;

	if (!w->s)
		return;
	for (pp = &w->s->waiting; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->s = NULL;
}

static void seed_join_free(struct seed_join *w)
{
	seed_unlink(w);
	node_join_pending_clear(&w->p);
	free(w);
}

static void on_call_abort(void *user, struct rpc_call *call)
{
	struct seed_join *w = user;

	(void)call;
	/* the hub answers later: the reservation then expires unused */
	w->call = NULL;
}

/* node_join_finish with the daemon's extra members (the bot settings) in
 * the sealed reply. */
static enum node_join_result seed_finish(struct node_join_seed *s, struct node_join_pending *p,
					 int64_t now, const char *overlay_addr, cJSON **reply,
					 struct node_peer *joiner)
{
	cJSON *extra = s->ops.reply_extra ? s->ops.reply_extra(s->ops.ctx) : NULL;
	enum node_join_result r;

	p->extra = extra;
	r = node_join_finish(s->state_dir, s->st, p, now, overlay_addr, reply, joiner);
	p->extra = NULL;
	cJSON_Delete(extra); /* may hold the bot token: freed, not wiped (cJSON) */
	return r;
}

/* w waits for a completion (the probe, the hub): linked to the seed, and
 * told when the server gives up on its call. */
static void seed_wait(struct node_join_seed *s, struct seed_join *w, struct rpc_call *call)
{
	w->s = s;
	w->call = call;
	w->next = s->waiting;
	s->waiting = w;
	rpc_call_on_abort(call, on_call_abort, w);
}

/* Step 2 of the join and its answer: admitted, or refused with the reason. */
static void seed_conclude(struct node_join_seed *s, struct seed_join *w, struct rpc_call *call,
			  const char *overlay_addr)
{
	struct node_peer joiner;
	cJSON *reply = NULL;
	enum node_join_result r;

	r = seed_finish(s, &w->p, (int64_t)time(NULL), overlay_addr, &reply, &joiner);
	if (r != NODE_JOIN_OK)
		seed_refuse(call, w->peer, r, NULL);
	else
		seed_admitted(s, call, w->peer, reply, &joiner);
}

static void on_allocated(void *user, int err, const char *overlay_addr, const char *message)
{
	struct seed_join *w = user;
	struct node_join_seed *s = w->s;
	char why[400];

	if (!w->call || !s)
		goto out;
	if (err) {
		snprintf(why, sizeof(why), "%s", message && *message ? message :
			 "the overlay hub could not admit this node");
		seed_refuse(w->call, w->peer, NODE_JOIN_OVERLAY, why);
		goto out;
	}
	seed_conclude(s, w, w->call, overlay_addr);
out:
	seed_join_free(w);
}

/* Asks the hub for w's overlay address; on_allocated finishes the join.
 * w is linked to the seed. 0, or -errno when the request cannot start:
 * then the join is refused here and w is still the caller's to free. */
static int seed_allocate(struct node_join_seed *s, struct seed_join *w)
{
	char why[200];
	int e = s->ops.allocate(s->ops.alloc_ctx, &w->p.joiner, on_allocated, w);

	if (e < 0) {
		snprintf(why, sizeof(why), "cannot ask the overlay hub for an address: %s",
			 strerror(-e));
		seed_refuse(w->call, w->peer, NODE_JOIN_OVERLAY, why);
	}
	return e < 0 ? e : 0;
}

/* The probe's answer. Without a hub: admit, or refuse with what happened.
 * With a hub (only a public address given and seen is probed there): go on
 * to the allocation either way, the member reached over the overlay when
 * its public address did not answer. */
static void on_probed(void *user, int err, const char *why)
{
	struct seed_join *w = user;
	struct node_join_seed *s = w->s;
	char msg[512];

	w->probe = NULL;
	if (!w->call || !s)
		goto out;
	if (w->p.needs_overlay) {
		if (err) {
			w->p.public_unreachable = 1;
			snprintf(w->p.unreachable_why, sizeof(w->p.unreachable_why), "%s", why);
			cst_info("join from %s: nothing answers at %s (%s): it will be reached over "
				 "the overlay", w->peer, w->target, why);
		}
		if (seed_allocate(s, w) == 0)
			return; /* on_allocated owns w */
		goto out;
	}
	if (err) {
		snprintf(msg, sizeof(msg), "%s: the seed sees this join coming from %s and nothing "
			 "answers at %s (%s), and this network has no overlay hub to carry a node "
			 "behind NAT (forward the port, give --public-addr HOST:PORT that others can "
			 "reach, or create the network with `constella init --vpn-mode hub`)",
			 w->p.public_given ? "unreachable" : "behind NAT", w->p.observed, w->target,
			 why);
		seed_refuse(w->call, w->peer, NODE_JOIN_NAT_NO_HUB, msg);
		goto out;
	}
	seed_conclude(s, w, w->call, NULL);
out:
	seed_join_free(w);
}

/* Starts the reachability probe of w's joiner; 0, or -errno when it cannot
 * start (then the join is refused: admitting unchecked would hide a split). */
static int seed_probe(struct node_join_seed *s, struct seed_join *w, struct rpc_call *call)
{
	char ip[64];
	unsigned port;
	int e;

	if ((e = node_join_pending_probe_target(&w->p, ip, sizeof(ip), &port)))
		return e;
	snprintf(w->target, sizeof(w->target), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
	e = node_join_probe_start(s->ops.loop, ip, port, w->p.probe_nonce, NODE_JOIN_PROBE_TIMEOUT,
				  on_probed, w, &w->probe);
	if (e)
		return e;
	seed_wait(s, w, call);
	cst_debug("join from %s: probing %s", w->peer, w->target);
	return 0;
}

void node_join_seed_route(void *user, const char *body, size_t len, struct rpc_call *call)
{
	struct node_join_seed *s = user;
	struct seed_join *w = calloc(1, sizeof(*w));
	enum node_join_result r;
	int64_t now = (int64_t)time(NULL);
	char why[200];
	int e;

	if (!w) {
		rpc_call_error(call, 500, "out of memory");
		return;
	}
	snprintf(w->peer, sizeof(w->peer), "%s", rpc_call_peer(call));
	r = node_join_examine(s->state_dir, s->st, body, len, now, rpc_call_peer(call), &w->p);
	if (r != NODE_JOIN_OK) {
		seed_refuse(call, w->peer, r, w->p.message);
		goto done;
	}
	if (!w->p.needs_overlay && w->p.probe_given && s->ops.loop) {
		if ((e = seed_probe(s, w, call)) == 0)
			return; /* on_probed owns w */
		snprintf(why, sizeof(why), "the seed cannot probe this joiner: %s", strerror(-e));
		seed_refuse(call, w->peer, NODE_JOIN_INTERNAL, why);
		goto done;
	}
	/* With a hub, a public address given and seen becomes the member's
	 * address: first check that it answers there (a firewalled RPC port
	 * would leave the others unable to call it); if the probe cannot even
	 * start, the address is taken as given, as before the probe existed. */
	if (w->p.needs_overlay && w->p.public_given && w->p.public_seen && w->p.probe_given &&
	    s->ops.loop && s->ops.allocate && seed_probe(s, w, call) == 0)
		return; /* on_probed owns w */
	if (!w->p.needs_overlay) {
		seed_conclude(s, w, call, NULL);
		goto done;
	}
	if (!s->ops.allocate) {
		seed_refuse(call, w->peer, NODE_JOIN_OVERLAY,
			    "this seed runs no overlay: it cannot ask the hub for an address");
		goto done;
	}
	seed_wait(s, w, call);
	if (seed_allocate(s, w) < 0)
		goto done;
	return; /* on_allocated owns w (it may already have run) */
done:
	seed_join_free(w);
}

void node_join_seed_free(struct node_join_seed *s)
{
	if (!s)
		return;
	while (s->waiting) {
		struct seed_join *w = s->waiting;

		if (w->probe) { /* ours: its completion would never come */
			node_join_probe_cancel(w->probe);
			w->probe = NULL;
			seed_join_free(w);
		} else {
			seed_unlink(w); /* the hub's completions find no seed */
		}
	}
	free(s);
}
