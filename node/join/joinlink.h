/* Join links: join://HOST:PORT?net=NETWORK_ID&token=TOKEN[&ttl=900s]
 * HOST is an IPv4 address, a bracketed IPv6 address or a DNS name; TOKEN is
 * 32 bytes in unpadded base64url. The token is a secret: whoever holds the
 * link may join once. Parsing is strict: anything else is rejected with a
 * message naming what is wrong, and nothing is kept from a rejected link. */
#ifndef NODE_JOINLINK_H
#define NODE_JOINLINK_H

#include <stddef.h>
#include <stdint.h>

#define NODE_TOKEN_LEN 32
#define NODE_NETWORK_ID_MAX 64

struct node_joinlink {
	char host[256];
	uint16_t port;
	char network_id[NODE_NETWORK_ID_MAX + 1];
	uint8_t token[NODE_TOKEN_LEN];
	uint64_t ttl_s; /* 0 when absent: informational, the seed decides */
};

/* Returns 0, or -EINVAL with *err set to a static message. */
int node_joinlink_parse(const char *link, struct node_joinlink *out, const char **err);
/* Formats a link (buf of at least 512 bytes). */
int node_joinlink_format(const struct node_joinlink *l, char *buf, size_t len);
/* Wipes the token. */
void node_joinlink_clear(struct node_joinlink *l);

/* Durations for --ttl: "30s", "15m", "1h", "2d" or plain seconds, from 1 s
 * to 30 days. Returns 0 or -EINVAL. */
int node_duration_parse(const char *s, uint64_t *seconds);

#endif
