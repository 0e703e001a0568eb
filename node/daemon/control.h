/* The local control socket: STATE_DIR/control.sock, mode 0600 inside the
 * 0700 state directory, so only the node's owner can drive the daemon. One
 * request per connection: a JSON object and a newline in, a JSON object and
 * a newline out. */
#ifndef NODE_CONTROL_H
#define NODE_CONTROL_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

#define NODE_CONTROL_MAX (64u * 1024)

/* Returns the reply (caller of the server frees it) for a request. */
typedef cJSON *(*node_control_fn)(void *user, const cJSON *req);

struct node_control_server;

/* A request answered later, when the answer waits on the network (e.g.
 * `stats NAME` asks another member): inside the handler, take a ticket and
 * return NULL; then answer with node_control_answer within timeout_s, or
 * the client gets {"ok": false, "error": "timed out"}. */
struct node_control_ticket {
	struct node_control_server *s;
	int slot;
	uint64_t gen;
};
/* Only from inside the handler, for the request it handles. 0 or -EINVAL. */
int node_control_defer(struct node_control_server *s, struct node_control_ticket *t,
		       double timeout_s);
/* Takes reply. -ENOENT when the request is gone (client left, deadline):
 * the reply is dropped. The server must still exist. */
int node_control_answer(const struct node_control_ticket *t, cJSON *reply);

int node_control_server_new(struct ev_loop *loop, const char *path, node_control_fn fn,
			    void *user, struct node_control_server **out);
void node_control_server_free(struct node_control_server *s);

/* Client: sends req, waits up to timeout_s for the reply. 0 or -errno
 * (-ENOENT / -ECONNREFUSED: no daemon). */
int node_control_call(const char *path, const cJSON *req, double timeout_s, cJSON **reply);

#endif
