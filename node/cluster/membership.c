/* Gossip liveness and the leader rule (see membership.h). */
#include "membership.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void node_mship_init(struct node_mship *m, const char *self, uint64_t gen, double down_after,
		     double now)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->self, self, strnlen(self, NODE_ID_HEX));
	m->gen = gen;
	m->down_after = down_after;
	m->started = now;
}

void node_mship_deinit(struct node_mship *m)
{
	free(m->e);
	m->e = NULL;
	m->n = m->cap = 0;
}

void node_mship_beat(struct node_mship *m)
{
	m->hb++;
}

static struct node_mship_entry *mship_find(const struct node_mship *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].node_id, id))
			return &m->e[i];
	return NULL;
}

static int mship_add(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		struct node_mship_entry *ne = realloc(m->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		m->e = ne;
		m->cap = cap;
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->node_id, id, strnlen(id, NODE_ID_HEX));
	return 0;
}

const struct node_mship_entry *node_mship_get(const struct node_mship *m, const char *id)
{
	return mship_find(m, id);
}

int node_mship_observe(struct node_mship *m, const char *id, uint64_t gen, uint64_t hb,
		       int direct, double now)
{
	struct node_mship_entry *e;

	if (!strcmp(id, m->self))
		return 0;
	if (!mship_find(m, id) && mship_add(m, id))
		return -ENOMEM;
	e = mship_find(m, id);
	if (gen < e->gen || (gen == e->gen && hb <= e->hb && e->seen)) {
		if (direct)
			e->suspect = 0;
		return 0;
	}
	e->gen = gen;
	e->hb = hb;
	e->heard = now;
	e->seen = 1;
	if (direct)
		e->suspect = 0;
	return 1;
}

void node_mship_suspect(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e;

	/* also one not heard since we started: its lease ran out all the same */
	if (!mship_find(m, id) && mship_add(m, id))
		return;
	if ((e = mship_find(m, id)))
		e->suspect = 1;
}

void node_mship_unsuspect(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e = mship_find(m, id);

	if (e)
		e->suspect = 0;
}

void node_mship_forget(struct node_mship *m, const char *id)
{
	struct node_mship_entry *e = mship_find(m, id);

	if (e)
		*e = m->e[--m->n];
}

enum node_mship_status node_mship_status(const struct node_mship *m, const char *id, double now)
{
	const struct node_mship_entry *e;

	if (!strcmp(id, m->self))
		return NODE_MSHIP_ALIVE;
	e = mship_find(m, id);
	if (e && e->suspect)
		return NODE_MSHIP_DOWN;
	if (!e || !e->seen)
		return now - m->started <= m->down_after ? NODE_MSHIP_UNKNOWN : NODE_MSHIP_DOWN;
	if (now - e->heard > m->down_after)
		return NODE_MSHIP_DOWN;
	return NODE_MSHIP_ALIVE;
}

const char *node_mship_status_str(enum node_mship_status s)
{
	return s == NODE_MSHIP_ALIVE ? "alive" : s == NODE_MSHIP_DOWN ? "down" : "unknown";
}

int node_mship_leader(const struct node_mship *m, const struct node_state *st, double now)
{
	int best = -1;

	for (size_t i = 0; i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i], *b;

		if (node_mship_status(m, p->node_id, now) == NODE_MSHIP_DOWN)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = &st->peers[best];
		if (p->priority < b->priority ||
		    (p->priority == b->priority && strcmp(p->node_id, b->node_id) < 0))
			best = (int)i;
	}
	if (!node_state_find_peer((struct node_state *)st, m->self))
		return -1;
	return best;
}
