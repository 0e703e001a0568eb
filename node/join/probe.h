/* The seed's reachability probe of a joiner in a network without an overlay
 * hub (issue 8: a joiner nobody can call back must be refused, not admitted
 * into a split network). The joiner (`constella join`) listens on the port
 * its daemon will use and answers every connection with one line,
 * "CONSTELLA-PROBE1 <32 hex>\n", the 16-byte nonce it sent inside the sealed
 * join request; the seed connects to <source it saw>:<port>, non-blocking on
 * its loop, and compares the line in constant time. */
#ifndef NODE_JOIN_PROBE_H
#define NODE_JOIN_PROBE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_JOIN_PROBE_NONCE_LEN 16
/* "CONSTELLA-PROBE1 " + 32 hex + "\n" + NUL */
#define NODE_JOIN_PROBE_LINE_MAX 51
#define NODE_JOIN_PROBE_TIMEOUT 3.0

/* The proof line for nonce (NUL-terminated, ends in "\n"). */
void node_join_probe_line(const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN],
			  char out[NODE_JOIN_PROBE_LINE_MAX]);
/* 0 when buf (len bytes as read, no NUL needed) is exactly the proof line
 * for nonce; -EPROTO for anything else (another service, a wrong nonce, a
 * partial line). */
int node_join_probe_check(const char *buf, size_t len,
			  const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN]);

/* err 0: the joiner answered with the proof; else a negative errno and a
 * short reason ("connection refused", "timed out after 3 s", ...). */
typedef void (*node_join_probe_done_fn)(void *user, int err, const char *why);

struct node_join_probe;

/* Connects to ip (numeric, v4 or v6) : port and reads the proof, for at most
 * timeout seconds. done is called exactly once, always from the loop (never
 * before this returns), unless the probe is cancelled first. 0 or -errno
 * (then done is never called). */
int node_join_probe_start(struct ev_loop *loop, const char *ip, unsigned port,
			  const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN], double timeout,
			  node_join_probe_done_fn done, void *user, struct node_join_probe **out);
/* Stops and frees a probe whose done has not run; done never runs. */
void node_join_probe_cancel(struct node_join_probe *p);

/* The joiner's side: a listener answering every connection with the proof
 * line, served by loop while the join request is under way. */
struct node_join_probe_listener;
/* Binds the wildcard address (IPv6 dual-stack, else IPv4) at port. 0 or
 * -errno (-EADDRINUSE: something, e.g. a running constellad, holds it). */
int node_join_probe_listen(struct ev_loop *loop, unsigned port,
			   const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN],
			   struct node_join_probe_listener **out);
/* How many connections were answered. */
unsigned node_join_probe_listener_served(const struct node_join_probe_listener *l);
void node_join_probe_listener_free(struct node_join_probe_listener *l);

#endif
