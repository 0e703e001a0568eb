/* constellad: one libev loop for the control plane. It loads the state,
 * serves the node RPC (signed methods and the unauthenticated POST /join)
 * and keeps network_state.json current. */
#ifndef NODE_DAEMON_H
#define NODE_DAEMON_H

#include <ev.h>

#include "cluster.h"
#include "config.h"

struct node_daemon;

/* Loads state from cfg->state_dir and binds the RPC server on
 * cfg->listen_addr. Returns 0 or -errno with a reason in err. */
/* runner (may be NULL) is what the bot lease starts and stops. */
int node_daemon_new(struct ev_loop *loop, const struct node_config *cfg,
		    const struct node_cluster_runner *runner, struct node_daemon **out, char *err,
		    size_t errlen);
/* The bound RPC port (useful with port 0). */
unsigned node_daemon_port(const struct node_daemon *d);
/* This node's name (its record in the state). */
const char *node_daemon_name(const struct node_daemon *d);
/* What the bot (bot/) works with; valid while the daemon lives. The state
 * is the daemon's own: read it, change it only through the cluster engine. */
struct node_botstate;
struct rpc_client;
struct ev_loop *node_daemon_loop(const struct node_daemon *d);
const struct node_config *node_daemon_config(const struct node_daemon *d);
struct node_state *node_daemon_state(struct node_daemon *d);
const char *node_daemon_self_id(const struct node_daemon *d);
struct rpc_client *node_daemon_rpc(struct node_daemon *d);
struct node_cluster *node_daemon_cluster(struct node_daemon *d);
struct node_botstate *node_daemon_botstate(struct node_daemon *d);
/* Begins a clean stop; 1 when the loop should run a moment longer (the
 * bot lease is being handed back). */
int node_daemon_shutdown(struct node_daemon *d);
void node_daemon_free(struct node_daemon *d);

#endif
