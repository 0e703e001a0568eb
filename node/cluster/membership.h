/* Liveness of the members, gossip style. Every node counts its own
 * heartbeats (gen, hb): gen is fixed for one run of the daemon and greater
 * than the previous run's (persisted), hb counts up every
 * HEARTBEAT_INTERVAL. Nodes exchange digests of every counter they know, so
 * a member is seen alive through any path (a node behind NAT that only the
 * hub reaches is still alive for everyone), and a member whose counter has
 * not moved for DOWN_AFTER_MISSES intervals is down.
 *
 * A member can also be suspected: declared down now (its bot lease lapsed
 * without renewal) until it speaks to us directly again. Relayed counters do
 * not clear a suspicion, since a late digest can carry a dead node's last
 * heartbeat.
 *
 * Pure: time is an argument (seconds on a monotonic clock). */
#ifndef NODE_MEMBERSHIP_H
#define NODE_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

enum node_mship_status {
	NODE_MSHIP_UNKNOWN = 0, /* not heard since we started, not yet overdue */
	NODE_MSHIP_ALIVE,
	NODE_MSHIP_DOWN,
};

struct node_mship_entry {
	char node_id[NODE_ID_HEX + 1];
	uint64_t gen, hb;
	double heard;   /* when (gen, hb) last advanced */
	int seen;       /* advanced at least once since we started */
	int suspect;
};

struct node_mship {
	char self[NODE_ID_HEX + 1];
	uint64_t gen, hb;
	double down_after, started;
	struct node_mship_entry *e;
	size_t n, cap;
};

void node_mship_init(struct node_mship *m, const char *self, uint64_t gen, double down_after,
		     double now);
void node_mship_deinit(struct node_mship *m);
/* Our own next heartbeat. */
void node_mship_beat(struct node_mship *m);
/* A counter for id, heard directly from it or relayed. Returns 1 when it
 * advanced what we knew, 0 otherwise, -ENOMEM. */
int node_mship_observe(struct node_mship *m, const char *id, uint64_t gen, uint64_t hb,
		       int direct, double now);
void node_mship_suspect(struct node_mship *m, const char *id);
/* id spoke to us directly (e.g. renewed its lease): not suspect anymore. */
void node_mship_unsuspect(struct node_mship *m, const char *id);
void node_mship_forget(struct node_mship *m, const char *id);
enum node_mship_status node_mship_status(const struct node_mship *m, const char *id, double now);
const struct node_mship_entry *node_mship_get(const struct node_mship *m, const char *id);
const char *node_mship_status_str(enum node_mship_status s);

/* The leader: among self and the members whose status is not DOWN (an
 * unknown member may be alive: a node that just started must not lead over
 * one it has not heard yet), the smallest (priority, node_id). Returns the
 * index into st->peers, or -1 when self is not in st. */
int node_mship_leader(const struct node_mship *m, const struct node_state *st, double now);

#endif
