/* The bot lease state machine (see lease.h for the safety argument). */
#include "lease.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void node_lease_init(struct node_lease *l, const char *self, double ttl, double grace,
		     double now)
{
	memset(l, 0, sizeof(*l));
	memcpy(l->self, self, strnlen(self, NODE_ID_HEX));
	l->ttl = ttl;
	l->renew_every = ttl / 4;
	l->take_margin = ttl / 8;
	l->hold_margin = fmin(ttl / 16, 0.25);
	l->grace = grace;
	l->started = now;
	l->heard = now;
}

void node_lease_deinit(struct node_lease *l)
{
	free(l->acks);
	l->acks = NULL;
	l->n_acks = l->cap_acks = 0;
}

void node_lease_restore(struct node_lease *l, const char *holder, uint64_t epoch, double now)
{
	memset(l->holder, 0, sizeof(l->holder));
	memcpy(l->holder, holder, strnlen(holder, NODE_ID_HEX));
	l->epoch = epoch;
	l->heard = now;
	l->released = 0;
}

/* >0: (epoch, holder) is greater than the lease we know. An empty holder
 * (nothing known) is below everything. */
static int lease_cmp(const struct node_lease *l, const char *holder, uint64_t epoch)
{
	int c;

	if (!l->holder[0])
		return 1;
	if (epoch != l->epoch)
		return epoch > l->epoch ? 1 : -1;
	/* same epoch from two sides of a partition: the smaller id wins */
	c = strcmp(holder, l->holder);
	return c < 0 ? 1 : c > 0 ? -1 : 0;
}

static void lease_adopt(struct node_lease *l, const char *holder, uint64_t epoch, double now)
{
	node_lease_restore(l, holder, epoch, now);
	l->settled = 1;
}

static unsigned lease_step_down(struct node_lease *l)
{
	unsigned a = l->running ? NODE_LEASE_STOP : 0;

	l->running = 0;
	l->role = NODE_LEASE_IDLE;
	l->n_acks = 0;
	return a;
}

enum node_lease_verdict node_lease_on_claim(struct node_lease *l, const char *holder,
					    uint64_t epoch, double now, unsigned *actions)
{
	int c;

	*actions = 0;
	/* Only this node claims in its own name; anything else is stale. */
	if (!strcmp(holder, l->self))
		return NODE_LEASE_CONFLICT;
	c = lease_cmp(l, holder, epoch);
	if (c < 0)
		return NODE_LEASE_CONFLICT;
	if (c == 0) {
		/* A renewal sent before a release can arrive after it (each call
		 * has its own connection): a released epoch stays released, as
		 * its holder never claims it again. */
		l->heard = now;
		l->settled = 1;
		return NODE_LEASE_ACCEPT;
	}
	if (l->role != NODE_LEASE_IDLE)
		*actions |= lease_step_down(l);
	lease_adopt(l, holder, epoch, now);
	return NODE_LEASE_ACCEPT;
}

unsigned node_lease_on_release(struct node_lease *l, const char *holder, uint64_t epoch,
			       double now)
{
	int c = lease_cmp(l, holder, epoch);
	unsigned a = 0;

	if (c < 0 || !strcmp(holder, l->self))
		return 0;
	if (c > 0) {
		/* A greater lease than ours existed: our claim is stale. */
		if (l->role != NODE_LEASE_IDLE)
			a = lease_step_down(l);
		lease_adopt(l, holder, epoch, now);
	}
	l->released = 1;
	l->settled = 1;
	return a;
}

void node_lease_on_ack(struct node_lease *l, const char *peer, uint64_t epoch, double sent_at)
{
	struct node_lease_ack *a;

	if (l->role == NODE_LEASE_IDLE || epoch != l->epoch || sent_at < l->claimed_at)
		return;
	for (size_t i = 0; i < l->n_acks; i++) {
		if (!strcmp(l->acks[i].node_id, peer)) {
			if (sent_at > l->acks[i].sent_at)
				l->acks[i].sent_at = sent_at;
			return;
		}
	}
	if (l->n_acks == l->cap_acks) {
		size_t cap = l->cap_acks ? 2 * l->cap_acks : 8;

		if (!(a = realloc(l->acks, cap * sizeof(*a))))
			return; /* an ack lost: the claim is renewed next time */
		l->acks = a;
		l->cap_acks = cap;
	}
	a = &l->acks[l->n_acks++];
	memset(a, 0, sizeof(*a));
	memcpy(a->node_id, peer, strnlen(peer, NODE_ID_HEX));
	a->sent_at = sent_at;
}

unsigned node_lease_on_conflict(struct node_lease *l, const char *holder, uint64_t epoch,
				double age, double now)
{
	unsigned a = 0;

	if (!strcmp(holder, l->self) || lease_cmp(l, holder, epoch) <= 0)
		return 0;
	if (l->role != NODE_LEASE_IDLE)
		a = lease_step_down(l);
	lease_adopt(l, holder, epoch, now - fmax(age, 0));
	return a;
}

unsigned node_lease_on_info(struct node_lease *l, const char *holder, uint64_t epoch, double age,
			    int released, double now)
{
	unsigned a = 0;
	int c;

	l->settled = 1;
	if (!strcmp(holder, l->self)) {
		/* our own lease from before a restart (or a lost state file):
		 * only its epoch matters, our next claim goes above it */
		if (epoch > l->epoch && l->role == NODE_LEASE_IDLE)
			node_lease_restore(l, holder, epoch, now);
		return 0;
	}
	if (!holder[0] || (c = lease_cmp(l, holder, epoch)) < 0)
		return 0;
	if (c == 0) {
		l->heard = fmax(l->heard, now - fmax(age, 0));
		l->released |= released;
		return 0;
	}
	if (l->role != NODE_LEASE_IDLE)
		a = lease_step_down(l);
	lease_adopt(l, holder, epoch, now - fmax(age, 0));
	l->released = released;
	return a;
}

double node_lease_age(const struct node_lease *l, double now)
{
	if (!strcmp(l->holder, l->self))
		return 0;
	return fmax(now - l->heard, 0);
}

/* How long our claim holds: the earliest latest-acknowledged claim among
 * the peers we believe alive, plus ttl. -inf when one of them has not
 * acknowledged this epoch at all. */
static double lease_valid_until(const struct node_lease *l, const char *const *alive,
				size_t n_alive)
{
	double until = INFINITY;

	for (size_t i = 0; i < n_alive; i++) {
		double sent = -INFINITY;

		for (size_t j = 0; j < l->n_acks; j++)
			if (!strcmp(l->acks[j].node_id, alive[i]))
				sent = l->acks[j].sent_at;
		until = fmin(until, sent + l->ttl);
	}
	return until;
}

/* A member that comes alive while we hold (it joined, restarted, or came
 * back) has not acknowledged this epoch yet: it gets ttl from now to do so,
 * as if it had acknowledged now. It cannot take over before that: a node
 * that starts learns the lease from its peers (GetLease) or waits the
 * grace, and one that hears our renewals is bound by them; one we cannot
 * reach at all is the partition case. */
static void lease_admit_new(struct node_lease *l, const char *const *alive, size_t n_alive,
			    double now)
{
	for (size_t i = 0; i < n_alive; i++) {
		size_t j;

		for (j = 0; j < l->n_acks; j++)
			if (!strcmp(l->acks[j].node_id, alive[i]))
				break;
		if (j == l->n_acks)
			node_lease_on_ack(l, alive[i], l->epoch, now);
	}
}

int node_lease_weakest(const struct node_lease *l, const char *const *alive, size_t n_alive,
		       double *sent_at)
{
	int best = -1;

	*sent_at = INFINITY;
	for (size_t i = 0; i < n_alive; i++) {
		double sent = -INFINITY;

		for (size_t j = 0; j < l->n_acks; j++)
			if (!strcmp(l->acks[j].node_id, alive[i]))
				sent = l->acks[j].sent_at;
		if (sent < *sent_at) {
			*sent_at = sent;
			best = (int)i;
		}
	}
	return best;
}

int node_lease_expired(const struct node_lease *l, double now)
{
	return l->holder[0] && strcmp(l->holder, l->self) && !l->released &&
	       now > l->heard + l->ttl + l->take_margin;
}

int node_lease_free(const struct node_lease *l, double now)
{
	if (!l->holder[0] || l->released)
		return 1;
	if (!strcmp(l->holder, l->self))
		return l->role == NODE_LEASE_IDLE;
	return node_lease_expired(l, now);
}

double node_lease_remaining(const struct node_lease *l, double now)
{
	if (!l->holder[0] || l->released)
		return 0;
	if (!strcmp(l->holder, l->self))
		return l->running ? l->ttl : 0;
	return l->heard + l->ttl - now;
}

unsigned node_lease_step(struct node_lease *l, int am_leader, const char *const *alive,
			 size_t n_alive, double now)
{
	unsigned a = 0;
	double until;

	if (!l->settled && now - l->started >= l->grace)
		l->settled = 1;
	if (l->role == NODE_LEASE_IDLE) {
		if (!am_leader || !l->settled || !node_lease_free(l, now))
			return 0;
		/* Take it with a new epoch: every run of a runner has its own. */
		l->epoch++;
		memset(l->holder, 0, sizeof(l->holder));
		memcpy(l->holder, l->self, sizeof(l->self));
		l->released = 0;
		l->role = NODE_LEASE_PREPARING;
		l->claimed_at = now;
		l->n_acks = 0;
		l->last_sent = -INFINITY;
	}
	if (!am_leader) {
		/* Hand it to the leader now rather than let it wait for expiry:
		 * the runner stops before anyone hears the release. */
		a = lease_step_down(l) | NODE_LEASE_SEND_RELEASE;
		l->released = 1;
		return a;
	}
	if (now - l->last_sent >= l->renew_every) {
		a |= NODE_LEASE_SEND_CLAIM;
		l->last_sent = now;
		l->heard = now;
	}
	if (l->role == NODE_LEASE_HOLDING)
		lease_admit_new(l, alive, n_alive, now);
	until = lease_valid_until(l, alive, n_alive);
	if (l->role == NODE_LEASE_PREPARING) {
		if (until - l->hold_margin > now) {
			l->role = NODE_LEASE_HOLDING;
			l->running = 1;
			a |= NODE_LEASE_START;
		} else if (now - l->claimed_at > l->ttl) {
			/* An alive peer never answered: give this epoch up; the
			 * next step claims a new one if we still lead. */
			a |= lease_step_down(l);
		}
	} else if (now >= until - l->hold_margin) {
		/* Could not renew with everyone in time: stop before any of
		 * them may take over. */
		a |= lease_step_down(l);
	}
	return a;
}
