/* The local control socket: STATE_DIR/control.sock, mode 0600 inside the
 * 0700 state directory, so only the node's owner can drive the daemon. One
 * request per connection: a JSON object and a newline in, a JSON object and
 * a newline out. */
#ifndef NODE_CONTROL_H
#define NODE_CONTROL_H

#include <cJSON.h>
#include <ev.h>

#define NODE_CONTROL_MAX (64u * 1024)

/* Returns the reply (caller of the server frees it) for a request. */
typedef cJSON *(*node_control_fn)(void *user, const cJSON *req);

struct node_control_server;

int node_control_server_new(struct ev_loop *loop, const char *path, node_control_fn fn,
			    void *user, struct node_control_server **out);
void node_control_server_free(struct node_control_server *s);

/* Client: sends req, waits up to timeout_s for the reply. 0 or -errno
 * (-ENOENT / -ECONNREFUSED: no daemon). */
int node_control_call(const char *path, const cJSON *req, double timeout_s, cJSON **reply);

#endif
