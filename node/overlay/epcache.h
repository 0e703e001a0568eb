/* The hub's memory of where its clients were: STATE_DIR/vpn_endpoints.json
 * (0600), {"endpoints": [{"wg_pubkey", "endpoint"}]}, the last endpoint the
 * device learnt for each peer (by roaming: NAT'd clients have no endpoint in
 * their record). After a restart the hub sets these at once and initiates
 * handshakes towards them, so clients behind NAT reconnect in about a
 * second instead of waiting for their own timers (docs/overlay.md). */
#ifndef NODE_EPCACHE_H
#define NODE_EPCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NODE_EPCACHE_FILE "vpn_endpoints.json"
#define NODE_EPCACHE_MAX 65536

struct node_epcache_entry {
	uint8_t pub[32];
	struct sockaddr_storage ep; /* AF_INET or AF_INET6, never v4-mapped */
};

struct node_epcache {
	struct node_epcache_entry *v;
	size_t n, cap;
};

/* "a.b.c.d:port" or "[v6]:port", numeric, port 1-65535. v4-mapped IPv6
 * comes back as AF_INET. 0 or -EINVAL. */
int node_sockaddr_parse(const char *s, struct sockaddr_storage *out);
/* The inverse, in the same form ("?" for an unknown family). */
void node_sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t cap);
/* v4-mapped IPv6 -> AF_INET; anything else copied. */
void node_sockaddr_normalize(const struct sockaddr_storage *in, struct sockaddr_storage *out);
/* Same family, address and port (after normalising both). */
int node_sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

int node_epcache_from_json(struct node_epcache *c, const char *text, size_t len, char *err,
			   size_t errlen);
int node_epcache_to_json(const struct node_epcache *c, char **out);
/* Absent file = empty cache. */
int node_epcache_load(const char *dir, struct node_epcache *c, char *err, size_t errlen);
int node_epcache_save(const char *dir, const struct node_epcache *c);
const struct sockaddr_storage *node_epcache_get(const struct node_epcache *c,
						const uint8_t pub[32]);
/* Records ep for pub: 1 when that changed the cache, 0 when it already
 * said so, -ENOMEM. */
int node_epcache_put(struct node_epcache *c, const uint8_t pub[32],
		     const struct sockaddr_storage *ep);
/* Keeps only the entries keep(pub) says yes to; returns how many went. */
size_t node_epcache_retain(struct node_epcache *c, int (*keep)(void *ctx, const uint8_t pub[32]),
			   void *ctx);
void node_epcache_clear(struct node_epcache *c);

#endif
