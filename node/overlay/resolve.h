/* Endpoint names resolved off the event loop. A record's wg_endpoint may be
 * a DNS name (the hub's "vps.example:51820"); getaddrinfo blocks, so it runs
 * on a worker thread and the loop is told when the answer is in. Numeric
 * endpoints are answered at once. Answers are kept NODE_RESOLVE_TTL
 * seconds, then looked up again in the background (the old answer is used
 * meanwhile), so a hub that moves to a new address is followed. */
#ifndef NODE_RESOLVE_H
#define NODE_RESOLVE_H

#include <ev.h>
#include <sys/socket.h>

#define NODE_RESOLVE_TTL 60.0

struct node_resolve;

/* done (may be NULL) runs on the loop whenever a lookup finished. */
int node_resolve_new(struct ev_loop *loop, void (*done)(void *user), void *user,
		     struct node_resolve **out);
/* host_port: "a.b.c.d:port", "[v6]:port" or "name:port". 0 with *out;
 * -EAGAIN while a lookup is under way (done will run); -EHOSTUNREACH when
 * the last lookup failed (retried after a while); -EINVAL malformed. */
int node_resolve_get(void *r, const char *host_port, struct sockaddr_storage *out);
/* Waits for a lookup in flight, then frees. */
void node_resolve_free(struct node_resolve *r);

#endif
