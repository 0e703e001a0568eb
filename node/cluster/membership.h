/* Liveness of the members, gossip style (docs/cluster.md, "Membership").
 *
 * Every node counts its own heartbeats (gen, hb): gen is fixed for one run
 * of the daemon and greater than the previous run's (persisted), hb counts
 * up every gossip round. A counter is the only evidence that a member runs:
 * only that member makes it. Nodes pass counters on with their age (how long
 * ago the relaying node learnt it, by its own clock: durations travel, clock
 * readings never do), so a member is seen alive through any path, and one
 * whose freshest counter is older than the failure timeout is down.
 *
 * A member with no counter at all is "unknown": it joined (its record
 * exists) but nobody has heard it run. It is neither leader nor a blocker of
 * the bot lease; a record created or relayed is not evidence. While this
 * node is in its own startup window (grace seconds after start) an unknown
 * member may simply not have been heard yet: it does not lead, but this node
 * does not lead over it either.
 *
 * A member can also be suspected: declared down now (its bot lease lapsed
 * without renewal, or it said it was leaving) until it speaks to us
 * directly again. Relayed counters do not clear a suspicion: a late digest
 * can carry a dead node's last heartbeat.
 *
 * Pure: time is an argument (seconds on a monotonic clock); the random
 * partner choice takes its generator state from the struct (seedable). */
#ifndef NODE_MEMBERSHIP_H
#define NODE_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* Members a node gossips with per round. */
#define NODE_MSHIP_FANOUT 2

/* Why a member is suspected (counted down until it speaks to us). */
enum node_mship_why {
	NODE_MSHIP_NOT_SUSPECT = 0,
	NODE_MSHIP_LEASE_LAPSED, /* it held the bot lease and stopped renewing */
	NODE_MSHIP_LEFT,         /* it said it was stopping */
	NODE_MSHIP_REBOOTING,    /* it said it was rebooting */
};

enum node_mship_status {
	NODE_MSHIP_UNKNOWN = 0, /* no heartbeat of it known (never ran, or not heard yet) */
	NODE_MSHIP_ALIVE,
	NODE_MSHIP_DOWN,
};

struct node_mship_entry {
	char node_id[NODE_ID_HEX + 1];
	uint64_t gen, hb; /* its freshest counter we know; gen 0: none */
	double heard;     /* when that counter was fresh, on our clock */
	double direct;    /* last time it spoke to us itself (-inf: never) */
	enum node_mship_why suspect;
	int at_start;     /* a member when this node started */
	/* Its latest accepted claim of the lease this node knows (the cluster
	 * engine keeps it): the holder's send time in ms, 0 none. */
	char ack_holder[NODE_ID_HEX + 1];
	uint64_t ack_epoch, ack_ms;
	/* Clocks (filled by the cluster engine): wall-clock offset of the
	 * member from ours, in seconds (theirs - ours), when measured. */
	double clock_offset, clock_at;   /* clock_at -inf: never measured */
	double skew_at;                  /* last refusal for clock skew, either way */
	int skew_ours;                   /* 1: it refused us; 0: we refused it */
};

struct node_mship {
	char self[NODE_ID_HEX + 1];
	uint64_t gen, hb;
	double down_after; /* DOWN_AFTER_MISSES x HEARTBEAT_INTERVAL */
	double round;      /* gossip period */
	double started, grace;
	struct node_mship_entry *e;
	size_t n, cap;
	uint32_t *index;   /* open addressing over e: slot = entry + 1, 0 empty */
	size_t index_cap;
	uint64_t rng;
};

void node_mship_init(struct node_mship *m, const char *self, uint64_t gen, double down_after,
		     double round, double grace, double now);
void node_mship_deinit(struct node_mship *m);
void node_mship_seed(struct node_mship *m, uint64_t seed);
/* id was a member when this node started: while starting, this node does
 * not lead over it before hearing it. (A member that joins later brings its
 * counter with it once it runs.) */
void node_mship_known_at_start(struct node_mship *m, const char *id);
/* A member that has run for at least the failure timeout told us (in a
 * Gossip) that it has no counter of id either: id has not run lately, so a
 * starting node stops waiting to hear it (it neither keeps this node from
 * leading nor holds the lease up). Without this, a member that joined and
 * never ran would cost every restart of the leader the whole startup grace.
 * Returns 1 when that changed something. */
int node_mship_unheard(struct node_mship *m, const char *id);
/* Our own next heartbeat. */
void node_mship_beat(struct node_mship *m);
/* A counter for id, heard directly from it (age 0) or relayed (age:
 * seconds since the relaying node learnt it). A counter with gen 0 is "none"
 * and never evidence. Returns 1 when it advanced what we knew, 0 otherwise,
 * -ENOMEM. */
int node_mship_observe(struct node_mship *m, const char *id, uint64_t gen, uint64_t hb,
		       double age, int direct, double now);
void node_mship_suspect(struct node_mship *m, const char *id, enum node_mship_why why);
/* id spoke to us directly (e.g. renewed its lease): not suspect anymore. */
void node_mship_unsuspect(struct node_mship *m, const char *id, double now);
void node_mship_forget(struct node_mship *m, const char *id);
const struct node_mship_entry *node_mship_get(const struct node_mship *m, const char *id);
/* The entry for id, created if needed (NULL: out of memory). */
struct node_mship_entry *node_mship_entry(struct node_mship *m, const char *id);
/* Seconds since the freshest counter of id was fresh (for the digest). */
double node_mship_age(const struct node_mship *m, const struct node_mship_entry *e, double now);

/* Failure timeout for a network of n members: down_after, plus one round
 * per doubling of n above 16 (gossip spreads a counter in O(log n) rounds,
 * so a live member's freshest counter is older in a larger network). */
double node_mship_fail_after(const struct node_mship *m, size_t n);
enum node_mship_status node_mship_status(const struct node_mship *m, const char *id, size_t n,
					 double now);
const char *node_mship_status_str(enum node_mship_status s);
/* This node started less than grace seconds ago. */
int node_mship_starting(const struct node_mship *m, double now);

/* The bot lease waits for this member's acknowledgements: it is ALIVE, or
 * this node is starting and the member was one at its start and is not
 * heard yet (it may hold the lease). */
int node_mship_lease_waits_for(const struct node_mship *m, const char *id, size_t n, double now);

/* The leader: the smallest (priority, node_id) among self and the ALIVE
 * members. While this node is starting, an UNKNOWN member that was a member
 * when it started and ranks above it keeps it from leading (-2: no leader
 * yet). Returns the index into
 * st->peers, -1 when self is not in st, -2 for none yet. */
int node_mship_leader(const struct node_mship *m, const struct node_state *st, double now);

/* Picks gossip partners: up to k random ALIVE members, and with
 * probability (not alive)/(alive + 1) one more among the others, so that a
 * down member or a whole other side of a healed partition is tried now and
 * then. Writes indexes into st->peers to out (room for k + 1); returns how
 * many. */
size_t node_mship_pick(struct node_mship *m, const struct node_state *st, size_t k, double now,
		       size_t *out);

#endif
