/* IPv4 addresses and the overlay's CIDR: strict text parsers (the CIDR
 * comes from a CLI flag and from gossiped state) and the little arithmetic
 * IPAM needs. Addresses are host-order uint32_t. */
#ifndef NODE_CIDR_H
#define NODE_CIDR_H

#include <stddef.h>
#include <stdint.h>

#define NODE_CIDR_MIN_PREFIX 8
#define NODE_CIDR_MAX_PREFIX 30
#define NODE_IP4_STRLEN 16   /* "255.255.255.255" + NUL */
#define NODE_CIDR_STRLEN 32  /* "a.b.c.d/NN" with room */

struct node_cidr {
	uint32_t net;    /* host bits zero */
	uint8_t prefix;  /* NODE_CIDR_MIN_PREFIX..NODE_CIDR_MAX_PREFIX */
};

/* "a.b.c.d": four decimal octets 0-255, no leading zeros, nothing else.
 * 0 or -EINVAL. */
int node_ip4_parse(const char *s, uint32_t *out);
void node_ip4_str(uint32_t a, char out[NODE_IP4_STRLEN]);

/* "a.b.c.d/N": IPv4, N in 8..30 (a /31 or /32 leaves no room for a hub
 * and a member), host bits zero. 0 or -EINVAL with the reason in err. */
int node_cidr_parse(const char *s, struct node_cidr *out, char *err, size_t errlen);
void node_cidr_str(const struct node_cidr *c, char out[NODE_CIDR_STRLEN]);
int node_cidr_contains(const struct node_cidr *c, uint32_t a);
/* The first and last usable host addresses (network and broadcast excluded). */
uint32_t node_cidr_first_host(const struct node_cidr *c);
uint32_t node_cidr_last_host(const struct node_cidr *c);

#endif
