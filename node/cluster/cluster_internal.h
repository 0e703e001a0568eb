/* The cluster engine's parts (cluster.c: life, ticks, status; gossip.c's
 * RPC side in cluster_gossip.c; the lease over RPC in cluster_lease.c)
 * share this state. Not for other rooms: they use cluster.h. */
#ifndef NODE_CLUSTER_INTERNAL_H
#define NODE_CLUSTER_INTERNAL_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

#include "cluster.h"
#include "lease.h"
#include "membership.h"
#include "ratelimit.h"

#define CL_TICK_S 0.1
#define CL_LOG_EVERY_S 10.0
/* A member that announced a reboot shows as "rebooting" while it is not
 * heard, until it runs again (a newer generation) or this long passed. */
#define CL_REBOOT_GRACE_S 600.0
#define CL_REBOOT_MAX 64

struct cl_reboot {
	char id[NODE_ID_HEX + 1];
	uint64_t gen; /* its generation when it announced */
	double since;
};

struct node_cluster {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state *st;
	char self[NODE_ID_HEX + 1];
	struct rpc_server *srv;
	struct rpc_client *cli;
	struct node_cluster_runner runner;
	struct node_mship ms;
	struct node_lease lease;
	ev_timer gossip_timer, tick_timer;
	char leader[NODE_ID_HEX + 1];
	uint64_t runner_epoch; /* 0: the runner is not running */
	double lease_timeout, gossip_timeout;
	double claim_timeout;  /* an acknowledgement is of use until then */
	double asked_lease;    /* last GetLease round while not settled */
	int removed;
	/* the state file: a failed save is retried until one succeeds */
	int dirty;
	double save_tried;
	struct cst_ratelimit rl_save;
	/* other rooms */
	node_cluster_observer_fn observer;
	void *observer_ctx;
	int changed;           /* membership changed since the observer last ran */
	struct node_cluster_gossip_hook hook;
	/* clocks */
	int outlier;           /* most members refuse us for clock skew */
	int outlier_now;       /* the latest verdict (every 0.5 s) */
	unsigned long ticks;
	struct cst_ratelimit rl_skew_in, rl_skew_out;
	size_t limits_for;     /* member count the RPC limits were last set for */
	struct cl_reboot reboots[CL_REBOOT_MAX]; /* members that announced a reboot */
	size_t n_reboots;
	/* our latest accepted claim (for the digests: acceptances travel) */
	char self_ack_holder[NODE_ID_HEX + 1];
	uint64_t self_ack_epoch, self_ack_ms;
};

/* One outgoing call: what its completion needs to know. */
struct cl_call {
	struct node_cluster *c;
	char peer[NODE_ID_HEX + 1];
	uint64_t epoch;
	double sent_at;   /* boot clock */
	double sent_wall; /* wall clock, for the peer's clock offset */
};

/* cluster.c */
double cl_now(void);
double cl_wall(void);
const char *cl_name(struct node_cluster *c, const char *id);
void cl_save(struct node_cluster *c);
void cl_changed(struct node_cluster *c);
void cl_call(struct node_cluster *c, const struct node_peer *p, const char *method,
	     cJSON *params, double timeout, rpc_done_fn done, uint64_t epoch);
/* A failed call: notes a refusal for clock skew (result: the error
 * document) and a removal ("you were removed"). */
void cl_call_failed(struct cl_call *k, int err, const cJSON *result, const char *message);
/* Direct word from a member: its counter (when given) and its wall clock
 * in unix ms (<= 0: not given; sent_wall: our wall clock when we asked,
 * 0 for a request it sent us). */
void cl_heard_direct(struct node_cluster *c, const char *id, const cJSON *o, double sent_wall);
void cl_become_removed(struct node_cluster *c, const char *why);
void cl_runner_stop(struct node_cluster *c);
/* id said it is rebooting; 1 while it has not run again since. */
void cl_reboot_note(struct node_cluster *c, const char *id, double now);
int cl_rebooting(const struct node_cluster *c, const char *id, double now);

/* cluster_gossip.c */
int cl_gossip_register(struct node_cluster *c);
void cl_gossip_round(struct node_cluster *c);
int cl_tombstone(struct node_cluster *c, const char *id);

/* cluster_lease.c */
/* id's latest accepted claim of the lease we know (holder's clock, ms; 0
 * none), for the digest. */
uint64_t cl_ack_of(struct node_cluster *c, const char *id);
/* id accepted the claim of (holder, epoch) sent at ack_ms (holder's clock),
 * heard directly or relayed; the holder counts it as an acknowledgement. */
void cl_note_ack(struct node_cluster *c, const char *id, const char *holder, uint64_t epoch,
		 uint64_t ack_ms);
int cl_lease_register(struct node_cluster *c);
void cl_apply_actions(struct node_cluster *c, unsigned acts);
void cl_ask_lease(struct node_cluster *c);
void cl_send_lease(struct node_cluster *c, const char *method, rpc_done_fn done);
void cl_send_leave(struct node_cluster *c, const char *reason);
void on_release_done(void *user, int err, const cJSON *result, const char *message);

#endif
