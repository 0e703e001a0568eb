/* The seed's side of POST /join inside constellad. Without an overlay the
 * seed first checks that the joiner answers at the address it would get
 * (probe.h; joiners that send no probe nonce are admitted at once, as
 * before); a joiner nobody can reach is refused. With one, the joiner needs an
 * overlay address first, which only the hub hands out: the seed examines the
 * request, asks the hub (or itself, when it is the hub) through the
 * allocate hook, and only then spends the token, admits the joiner and
 * answers. If the hub refuses or cannot be reached, the join is refused and
 * nothing is admitted (the token stays valid for a retry). */
#ifndef NODE_JOIN_SEED_H
#define NODE_JOIN_SEED_H

#include "join.h"
#include "rpc.h"

/* The hub's answer: err 0 and overlay_addr, or a negative errno and the
 * message to pass on to the joiner. */
typedef void (*node_join_alloc_done_fn)(void *user, int err, const char *overlay_addr,
					const char *message);

struct node_join_seed_ops {
	/* Asks for an overlay address for joiner (name, node_id, wg_pubkey,
	 * announced addr). Returns 0 and calls done exactly once, possibly
	 * before returning; or a negative errno and never calls it. */
	int (*allocate)(void *alloc_ctx, const struct node_peer *joiner,
			node_join_alloc_done_fn done, void *user);
	void *alloc_ctx;
	/* A joiner was admitted (st saved): spread it, reconcile. */
	void (*joined)(void *ctx, const struct node_peer *joiner);
	/* Members to add to the sealed reply (the bot settings); the seed
	 * deletes them. May be NULL. */
	cJSON *(*reply_extra)(void *ctx);
	void *ctx;
	/* The seed's loop, for the reachability probe of a joiner in a network
	 * without a hub (probe.h). NULL: no probe (joiners admitted as before). */
	struct ev_loop *loop;
};

struct node_join_seed;

/* state_dir and st must outlive the seed. */
int node_join_seed_new(const char *state_dir, struct node_state *st,
		       const struct node_join_seed_ops *ops, struct node_join_seed **out);
/* The rpc_route_fn for POST /join (user = the seed). */
void node_join_seed_route(void *user, const char *body, size_t len, struct rpc_call *call);
/* Joins still waiting for the hub are dropped (their calls are answered by
 * the RPC server's own teardown). */
void node_join_seed_free(struct node_join_seed *s);

#endif
