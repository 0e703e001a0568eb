/* The cluster engine inside constellad: membership by gossip (every
 * HEARTBEAT_INTERVAL/2 a node exchanges digests of heartbeat counters and
 * record versions with NODE_MSHIP_FANOUT random members; pull what
 * differs; tombstones for removals), the leader rule and the bot lease, over
 * the signed RPC. It owns no socket of its own: it registers its methods on
 * the daemon's RPC server and calls peers through the daemon's RPC client.
 * docs/cluster.md has the design, its bounds and its safety argument.
 *
 * RPC methods (all signed):
 *   Gossip     {from, gen, hb, wall, digest: [[id, gen, hb, age_ms, ver]],
 *              rmh} -> {gen, hb, wall, digest, records: [peer], want: [id],
 *              removed?: [id], want_removed?: true}
 *   Sync       {records: [peer], removed?: [id]} -> null
 *   GetLease   {} -> {holder, epoch, age_s, released, remaining_s, gen, hb}
 *   TryAcquireLease {holder, epoch, gen?, hb?} -> {accepted: true, gen, hb} |
 *              {accepted: false, holder, epoch, age_s, gen, hb}
 *   ReleaseLease {holder, epoch} -> null
 *   Leave      {from, reason?: "stop"|"rebooting"} -> null (count it down
 *              until it speaks; "rebooting": shown as rebooting, not down)
 * A member removed from the network gets 410 to all of them. */
#ifndef NODE_CLUSTER_H
#define NODE_CLUSTER_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "rpc.h"
#include "state.h"

/* What the lease starts and stops (bot/ fills it). start returns 0 or a
 * negative errno; stop must not fail. */
struct node_cluster_runner {
	int (*start)(void *ctx, uint64_t epoch);
	void (*stop)(void *ctx, uint64_t epoch);
	/* The runner's state for `constella status` ("bot"); may be NULL. */
	cJSON *(*status)(void *ctx);
	void *ctx;
};

struct node_cluster;

/* st and the other pointers must outlive the engine; st is the daemon's
 * state, which the engine updates and saves in cfg->state_dir. */
int node_cluster_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		     const char *self_id, struct rpc_server *srv, struct rpc_client *cli,
		     const struct node_cluster_runner *runner, struct node_cluster **out);
/* Stops the runner if it runs. Call after the RPC client is freed, so that
 * no call completion reaches a freed engine. */
void node_cluster_free(struct node_cluster *c);

/* Clean stop (SIGTERM): stops the runner and hands the lease back at once
 * (ReleaseLease to every peer, in flight when this returns) so the next
 * leader need not wait for expiry. Returns 1 when calls are in flight: run
 * the loop a moment longer before freeing. */
int node_cluster_shutdown(struct node_cluster *c);

/* A member was added locally (the join route): spread it now. */
void node_cluster_member_added(struct node_cluster *c, const char *node_id);
/* Removes a member everywhere: tombstone, save, spread now. 0, -ENOENT,
 * -EINVAL (self), -EIO (cannot save). */
int node_cluster_remove(struct node_cluster *c, const char *node_id);
/* Tells every peer this node is rebooting (Leave with reason "rebooting"):
 * they show it as "rebooting" rather than "down" until it runs again. */
void node_cluster_announce_reboot(struct node_cluster *c);
/* Called (from the loop, at most every 0.1 s) after the membership table
 * changed: a record added, updated or removed, a status change. One
 * observer; NULL clears. */
typedef void (*node_cluster_observer_fn)(void *user);
void node_cluster_set_observer(struct node_cluster *c, node_cluster_observer_fn fn, void *user);

/* The live view for `constella status`. */
cJSON *node_cluster_status_json(struct node_cluster *c);

/* Lets another room ride the gossip: extend adds members to the params of
 * every Gossip sent and to every Gossip answer; seen gets the params of
 * every Gossip accepted from a member, and every answer to ours. */
struct node_cluster_gossip_hook {
	void (*extend)(void *ctx, cJSON *params);
	void (*seen)(void *ctx, const struct node_peer *from, const cJSON *params);
	void *ctx;
};
void node_cluster_set_gossip_hook(struct node_cluster *c, const struct node_cluster_gossip_hook *h);
/* The lease this node knows: its epoch, and its holder in *holder ("" none). */
uint64_t node_cluster_lease_known(const struct node_cluster *c, const char **holder);
/* The leader in this node's view ("" when there is none yet). */
const char *node_cluster_leader(const struct node_cluster *c);
/* 1 when this node does not count the member alive (1 for an unknown id). */
int node_cluster_member_down(struct node_cluster *c, const char *node_id);
/* 1 while a member that announced a reboot is not back yet. */
int node_cluster_member_rebooting(struct node_cluster *c, const char *node_id);
/* Renew the claim now (the bot saw another poller on its token): a greater
 * lease held elsewhere then stops this runner at once. */
void node_cluster_lease_recheck(struct node_cluster *c);

#endif
