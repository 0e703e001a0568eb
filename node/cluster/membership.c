/* Gossip liveness and the leader rule (see membership.h). */
#include "membership.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void node_mship_init(struct node_mship *m, const char *self, uint64_t gen, double down_after,
		     double round, double grace, double now)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->self, self, strnlen(self, NODE_ID_HEX));
	m->gen = gen;
	m->down_after = down_after;
	m->round = round;
	m->grace = grace;
	m->started = now;
	m->rng = 0x9e3779b97f4a7c15ull ^ gen;
}

void node_mship_deinit(struct node_mship *m)
{
	free(m->e);
	free(m->index);
	m->e = NULL;
	m->index = NULL;
	m->n = m->cap = m->index_cap = 0;
}

void node_mship_seed(struct node_mship *m, uint64_t seed)
{
	m->rng = seed ? seed : 1;
}

/* xorshift64*: partner choice needs spread, not secrecy. */
static uint64_t mship_rand(struct node_mship *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 0x2545f4914f6cdd1dull;
}

void node_mship_beat(struct node_mship *m)
{
	m->hb++;
}

static uint64_t mship_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 0x100000001b3ull;
	return h;
}

/* Lookups run for every digest entry and every member on every tick: a
 * hash index keeps them O(1) at a hundred members and more. */
static int mship_reindex(struct node_mship *m, size_t cap)
{
	uint32_t *ix = calloc(cap, sizeof(*ix));

	if (!ix)
		return -ENOMEM;
	free(m->index);
	m->index = ix;
	m->index_cap = cap;
	for (size_t i = 0; i < m->n; i++) {
		size_t s = mship_hash(m->e[i].node_id) & (cap - 1);

		while (ix[s])
			s = (s + 1) & (cap - 1);
		ix[s] = (uint32_t)i + 1;
	}
	return 0;
}

static struct node_mship_entry *mship_find(const struct node_mship *m, const char *id)
{
	size_t s;

	if (!m->index_cap)
		return NULL;
	s = mship_hash(id) & (m->index_cap - 1);
	while (m->index[s]) {
		struct node_mship_entry *e = &m->e[m->index[s] - 1];

		if (!strcmp(e->node_id, id))
			return e;
		s = (s + 1) & (m->index_cap - 1);
	}
	return NULL;
}

struct node_mship_entry *node_mship_entry(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e = mship_find(m, id);

	if (e)
		return e;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		struct node_mship_entry *ne = realloc(m->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		m->e = ne;
		m->cap = cap;
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->node_id, id, strnlen(id, NODE_ID_HEX));
	e->heard = e->direct = e->clock_at = e->skew_at = -INFINITY;
	if (2 * m->n > m->index_cap) {
		if (mship_reindex(m, m->index_cap ? 2 * m->index_cap : 16)) {
			m->n--;
			return NULL;
		}
	} else {
		size_t s = mship_hash(e->node_id) & (m->index_cap - 1);

		while (m->index[s])
			s = (s + 1) & (m->index_cap - 1);
		m->index[s] = (uint32_t)m->n;
	}
	return e;
}

void node_mship_known_at_start(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e = strcmp(id, m->self) ? node_mship_entry(m, id) : NULL;

	if (e)
		e->at_start = 1;
}

int node_mship_unheard(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e = mship_find(m, id);

	if (!e || !e->at_start || e->gen)
		return 0;
	e->at_start = 0;
	return 1;
}

const struct node_mship_entry *node_mship_get(const struct node_mship *m, const char *id)
{
	return mship_find(m, id);
}

int node_mship_observe(struct node_mship *m, const char *id, uint64_t gen, uint64_t hb,
		       double age, int direct, double now)
{
	struct node_mship_entry *e;
	double fresh = now - (age > 0 ? age : 0);

	if (!strcmp(id, m->self))
		return 0;
	if (!(e = node_mship_entry(m, id)))
		return -ENOMEM;
	if (direct) {
		e->suspect = NODE_MSHIP_NOT_SUSPECT;
		e->direct = now;
	}
	/* gen 0 is "no counter": a record, not evidence that it runs */
	if (!gen || gen < e->gen || (gen == e->gen && hb <= e->hb))
		return 0;
	e->gen = gen;
	e->hb = hb;
	/* a newer counter was made later, whatever its path says */
	e->heard = fmax(e->heard, fresh);
	return 1;
}

void node_mship_suspect(struct node_mship *m, const char *id, enum node_mship_why why)
{
	struct node_mship_entry *e = node_mship_entry(m, id);

	if (e)
		e->suspect = why;
}

void node_mship_unsuspect(struct node_mship *m, const char *id, double now)
{
	struct node_mship_entry *e = mship_find(m, id);

	if (e) {
		e->suspect = 0;
		e->direct = now;
	}
}

void node_mship_forget(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e = mship_find(m, id);

	if (!e)
		return;
	*e = m->e[--m->n];
	mship_reindex(m, m->index_cap); /* same size: cannot fail but for memory */
}

double node_mship_age(const struct node_mship *m, const struct node_mship_entry *e, double now)
{
	(void)m;
	return e && e->gen ? fmax(now - e->heard, 0) : 0;
}

double node_mship_fail_after(const struct node_mship *m, size_t n)
{
	double extra = 0;

	for (size_t k = 16; k < n; k *= 2)
		extra += m->round;
	return m->down_after + extra;
}

enum node_mship_status node_mship_status(const struct node_mship *m, const char *id, size_t n,
					 double now)
{
	const struct node_mship_entry *e;

	if (!strcmp(id, m->self))
		return NODE_MSHIP_ALIVE;
	e = mship_find(m, id);
	if (e && e->suspect)
		return NODE_MSHIP_DOWN;
	if (!e || !e->gen)
		return NODE_MSHIP_UNKNOWN;
	if (now - e->heard > node_mship_fail_after(m, n))
		return NODE_MSHIP_DOWN;
	return NODE_MSHIP_ALIVE;
}

const char *node_mship_status_str(enum node_mship_status s)
{
	return s == NODE_MSHIP_ALIVE ? "alive" : s == NODE_MSHIP_DOWN ? "down" : "unknown";
}

int node_mship_starting(const struct node_mship *m, double now)
{
	return now - m->started < m->grace;
}

int node_mship_lease_waits_for(const struct node_mship *m, const char *id, size_t n, double now)
{
	const struct node_mship_entry *e = mship_find(m, id);

	switch (node_mship_status(m, id, n, now)) {
	case NODE_MSHIP_ALIVE:
		return strcmp(id, m->self) != 0;
	case NODE_MSHIP_UNKNOWN:
		return node_mship_starting(m, now) && e && e->at_start;
	default:
		return 0;
	}
}

static int mship_ranks_before(const struct node_peer *a, const struct node_peer *b)
{
	return a->priority < b->priority ||
	       (a->priority == b->priority && strcmp(a->node_id, b->node_id) < 0);
}

int node_mship_leader(const struct node_mship *m, const struct node_state *st, double now)
{
	int best = -1, self = -1, starting = node_mship_starting(m, now);

	for (size_t i = 0; i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i];

		if (!strcmp(p->node_id, m->self))
			self = (int)i;
		else if (node_mship_status(m, p->node_id, st->n_peers, now) != NODE_MSHIP_ALIVE)
			continue;
		if (best < 0 || mship_ranks_before(p, &st->peers[best]))
			best = (int)i;
	}
	if (self < 0)
		return -1;
	if (best == self && starting) {
		for (size_t i = 0; i < st->n_peers; i++) {
			const struct node_peer *p = &st->peers[i];

			const struct node_mship_entry *e = mship_find(m, p->node_id);

			if ((int)i != self && e && e->at_start &&
			    mship_ranks_before(p, &st->peers[self]) &&
			    node_mship_status(m, p->node_id, st->n_peers, now) == NODE_MSHIP_UNKNOWN)
				return -2;
		}
	}
	return best;
}

/* want distinct random members among the n that are (alive) or are not
 * (!alive) ALIVE, by selection sampling in one pass. */
static size_t mship_sample(struct node_mship *m, const struct node_state *st, int alive,
			   size_t want, size_t n, double now, size_t *out)
{
	size_t got = 0;

	for (size_t i = 0; i < st->n_peers && got < want && n; i++) {
		const char *id = st->peers[i].node_id;

		if (!strcmp(id, m->self) ||
		    (node_mship_status(m, id, st->n_peers, now) == NODE_MSHIP_ALIVE) != alive)
			continue;
		if (mship_rand(m) % n < want - got)
			out[got++] = i;
		n--;
	}
	return got;
}

size_t node_mship_pick(struct node_mship *m, const struct node_state *st, size_t k, double now,
		       size_t *out)
{
	size_t n_alive = 0, n_other = 0, got = 0;

	for (size_t i = 0; i < st->n_peers; i++) {
		const char *id = st->peers[i].node_id;

		if (!strcmp(id, m->self))
			continue;
		if (node_mship_status(m, id, st->n_peers, now) == NODE_MSHIP_ALIVE)
			n_alive++;
		else
			n_other++;
	}
	/* Nobody alive (just started, or cut off): try anyone. */
	if (!n_alive)
		return mship_sample(m, st, 0, k < n_other ? k : n_other, n_other, now, out);
	got = mship_sample(m, st, 1, k < n_alive ? k : n_alive, n_alive, now, out);
	if (n_other && mship_rand(m) % (n_alive + 1) < n_other)
		got += mship_sample(m, st, 0, 1, n_other, now, out + got);
	return got;
}
