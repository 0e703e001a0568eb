/* The bot lease: while the network is connected, at most one node runs the
 * Telegram bot. No coordinator: the holder claims the lease from every peer,
 * and every node judges expiry by its own monotonic clock.
 *
 * A lease is (epoch, holder). Leases are ordered by epoch, then by the
 * smaller holder id, so two sides of a partition that both moved from epoch
 * e to e+1 still settle on one winner when they meet again; a holder that
 * learns of a greater lease stops at once (fencing).
 *
 * Safety argument, all in durations measured by one clock each:
 *   - the holder sends a claim at s (its clock); a peer that accepts it at
 *     r >= s takes the lease over no sooner than r + ttl + take_margin;
 *   - the holder runs only until (min over the peers it believes alive of
 *     the send time of their latest acknowledged claim) + ttl - hold_margin.
 * So the holder has stopped before any peer that acknowledged it can take
 * over. A peer that acknowledged nothing for ttl is one the holder cannot
 * reach: a partition, where each side may elect its own holder (the bot
 * makes that harmless with Telegram's 409 Conflict).
 *
 * A new holder starts its runner only once every peer it believes alive has
 * acknowledged its claim (the "preparing" step): two nodes that both think
 * they lead resolve it by the lease order before either runs. A peer that
 * comes alive while the runner runs gets ttl from then to acknowledge
 * (lease_admit_new in lease.c says why that is safe).
 *
 * Pure state machine: time is an argument (seconds on a monotonic clock),
 * messages are the caller's business. */
#ifndef NODE_LEASE_H
#define NODE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

enum node_lease_role {
	NODE_LEASE_IDLE = 0,
	NODE_LEASE_PREPARING, /* claimed, waiting for every alive peer's ack */
	NODE_LEASE_HOLDING,   /* runner on */
};

/* Actions returned by the functions below (a bit set). */
#define NODE_LEASE_SEND_CLAIM   0x1u /* send claim(epoch) to every peer now */
#define NODE_LEASE_SEND_RELEASE 0x2u /* send release(epoch) to every peer */
#define NODE_LEASE_START        0x4u /* start the runner (epoch) */
#define NODE_LEASE_STOP         0x8u /* stop the runner */

struct node_lease_ack {
	char node_id[NODE_ID_HEX + 1];
	double sent_at; /* send time of the latest acknowledged claim */
};

struct node_lease {
	char self[NODE_ID_HEX + 1];
	double ttl, renew_every, take_margin, hold_margin, grace;
	double started;
	int settled; /* knows the network's lease, or the grace has passed */

	/* The lease as this node knows it. */
	char holder[NODE_ID_HEX + 1]; /* "" = none known */
	uint64_t epoch;
	double heard;  /* when its latest claim reached us (or we sent ours) */
	int released;

	/* Our own claim. */
	enum node_lease_role role;
	int running;
	double claimed_at, last_sent;
	struct node_lease_ack *acks;
	size_t n_acks, cap_acks;
};

/* ttl: lease time to live; grace: after start, how long to wait before
 * claiming a lease nobody told us about. Derived: renew every ttl/4,
 * take_margin ttl/8, hold_margin min(ttl/16, 0.25 s) (larger than the
 * caller's step period). */
void node_lease_init(struct node_lease *l, const char *self, double ttl, double grace,
		     double now);
void node_lease_deinit(struct node_lease *l);
/* From the state file after a restart: known, treated as just renewed. */
void node_lease_restore(struct node_lease *l, const char *holder, uint64_t epoch, double now);

enum node_lease_verdict { NODE_LEASE_ACCEPT = 0, NODE_LEASE_CONFLICT };
/* A peer claims (holder, epoch). CONFLICT: we know a greater lease (the
 * caller answers with node_lease_holder/epoch). *actions gets STOP if this
 * node was holding a lesser one. */
enum node_lease_verdict node_lease_on_claim(struct node_lease *l, const char *holder,
					    uint64_t epoch, double now, unsigned *actions);
/* The holder gave the lease up: free at once, no waiting for expiry.
 * Returns STOP if it reveals our own claim as stale. */
unsigned node_lease_on_release(struct node_lease *l, const char *holder, uint64_t epoch,
			       double now);
/* peer acknowledged our claim for epoch that we sent at sent_at. */
void node_lease_on_ack(struct node_lease *l, const char *peer, uint64_t epoch, double sent_at);
/* peer refused our claim: it knows (holder, epoch), last renewed age
 * seconds ago by its clock (a duration, so clocks need not agree; the
 * message's own delay only makes the lease look younger, the safe side).
 * Returns STOP if we step down from a runner. */
unsigned node_lease_on_conflict(struct node_lease *l, const char *holder, uint64_t epoch,
				double age, double now);
/* A peer's answer to "which lease do you know" (holder "" = none): a node
 * that just started learns the lease from it instead of waiting the grace.
 * Returns STOP if it reveals our own claim as stale. */
unsigned node_lease_on_info(struct node_lease *l, const char *holder, uint64_t epoch, double age,
			    int released, double now);
/* Seconds since the known lease was last renewed (0 for our own). */
double node_lease_age(const struct node_lease *l, double now);

/* Advances the machine. am_leader: this node is the leader in its own view;
 * alive: the peers (not self) it believes alive. */
unsigned node_lease_step(struct node_lease *l, int am_leader, const char *const *alive,
			 size_t n_alive, double now);

/* Among alive, the peer whose latest acknowledged claim is the oldest (the
 * one the runner waits for): its index, and that claim's send time in
 * *sent_at (-inf: none this epoch). -1 when alive is empty. */
int node_lease_weakest(const struct node_lease *l, const char *const *alive, size_t n_alive,
		       double *sent_at);

/* The known lease belongs to another node, was not released, and has
 * surely expired by our clock: its holder stopped renewing. */
int node_lease_expired(const struct node_lease *l, double now);
/* The lease may be taken: none known, released, ours and idle, or expired. */
int node_lease_free(const struct node_lease *l, double now);
/* Seconds left on the known lease by our clock (<= 0 when not live). */
double node_lease_remaining(const struct node_lease *l, double now);

#endif
