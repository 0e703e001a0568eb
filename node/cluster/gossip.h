/* Parsers of the cluster engine's RPC parameters (cluster.h): pure, strict,
 * and fuzzed (fuzz/node/fuzz_node_gossip.c). Each validates a whole list
 * before anything is applied, so a malformed request changes nothing. */
#ifndef NODE_GOSSIP_H
#define NODE_GOSSIP_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* A list longer than this is refused: far beyond "a handful of nodes". */
#define NODE_GOSSIP_MAX_MEMBERS 1024

/* One member in a digest: the string "id:gen:hb:age_ms:ver:ack_ms" on the
 * wire (decimal numbers; one JSON string per member rather than an array
 * of six: a digest of a hundred members is parsed and printed several times
 * a second, and the JSON library's cost is per value).
 * gen 0 means the sender has no counter of it (only its record). ack_ms is
 * the send time, on the lease holder's own clock, of the latest claim of
 * the sender's known lease (the Gossip's "lease") that this member
 * accepted, 0 for none: acceptances reach the holder through any path. */
struct node_gossip_digest_entry {
	char id[NODE_ID_HEX + 1];
	uint64_t gen, hb, ver, ack_ms;
	double age;     /* seconds since the sender learnt the counter */
};

/* 32 lowercase hex digits. */
int node_gossip_is_id(const char *s);
/* An integer number 0..2^53 at key k. 0 or -EINVAL. */
int node_gossip_get_u64(const cJSON *o, const char *k, uint64_t *out);
/* "age_s": seconds >= 0 (capped at a day). 0 or -EINVAL. */
int node_gossip_get_age(const cJSON *o, double *out);
/* ["id:gen:hb:age_ms:ver:ack_ms", ...] -> malloc'd array sorted by id (caller
 * frees); an id twice is malformed. age_ms is capped at a day. 0, -EINVAL,
 * -ENOMEM. */
int node_gossip_parse_digest(const cJSON *arr, struct node_gossip_digest_entry **out, size_t *n);
/* Appends "id:gen:hb:age_ms:ver:ack_ms" to arr. 0 or -ENOMEM. */
int node_gossip_digest_add(cJSON *arr, const char *id, uint64_t gen, uint64_t hb, double age,
			   uint64_t ver, uint64_t ack_ms);
/* Binary search in a parsed (sorted) digest. */
const struct node_gossip_digest_entry *node_gossip_digest_find(
	const struct node_gossip_digest_entry *d, size_t n, const char *id);
/* [peer record] (NULL = none) -> malloc'd array. 0, -EINVAL (reason in
 * err), -ENOMEM. */
int node_gossip_parse_records(const cJSON *arr, struct node_peer **out, size_t *n, char *err,
			      size_t errlen);
/* [node id] (NULL = none). 0 or -EINVAL with a reason. */
int node_gossip_check_ids(const cJSON *arr, char *err, size_t errlen);

#endif
