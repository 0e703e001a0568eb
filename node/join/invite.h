/* One-time invite tokens: state/invites.json (0600, holds the tokens, which
 * are secrets). Each token is 32 random bytes; it is listed and revoked by
 * its id, the first 12 hex digits of BLAKE2b(token, key "constella join id"),
 * which can be shown and logged without giving the token away. */
#ifndef NODE_INVITE_H
#define NODE_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "joinlink.h"
#include "state.h"

#define NODE_TOKEN_ID_LEN 32   /* bytes of the full token id */
#define NODE_INVITE_SHORT_ID 12 /* hex digits shown to people */

struct node_invite {
	uint8_t token[NODE_TOKEN_LEN];       /* secret */
	char id[NODE_INVITE_SHORT_ID + 1];
	int64_t created_ts, exp_ts;          /* unix s */
	char used_by[33];                    /* node_id, empty when unused */
	int revoked;
};

struct node_invites {
	struct node_invite *v;
	size_t n, cap;
};

/* token_id = BLAKE2b-256 keyed with the token over "constella join id". */
void node_invite_token_id(const uint8_t token[NODE_TOKEN_LEN], uint8_t id[NODE_TOKEN_ID_LEN]);
/* The short hex id of a token (13 bytes with NUL). */
void node_invite_short_id(const uint8_t token[NODE_TOKEN_LEN], char out[NODE_INVITE_SHORT_ID + 1]);

/* dir/invites.json: absent = empty list; -EINVAL with a reason when bad. */
int node_invites_load(const char *dir, struct node_invites *inv, char *err, size_t errlen);
int node_invites_save(const char *dir, const struct node_invites *inv);

/* Creates a fresh token valid for ttl_s from now; returns a pointer into inv. */
int node_invites_create(struct node_invites *inv, int64_t now, uint64_t ttl_s,
			struct node_invite **out);
/* Finds by full token id (constant-time compare per entry). */
struct node_invite *node_invites_find_by_token_id(struct node_invites *inv,
						  const uint8_t id[NODE_TOKEN_ID_LEN]);
/* Revokes by short id, by base64url token or by a whole join link.
 * Returns 0, -ENOENT (unknown) or -EALREADY (already revoked). */
int node_invites_revoke(struct node_invites *inv, const char *what);

enum node_invite_check {
	NODE_INVITE_OK = 0, NODE_INVITE_UNKNOWN, NODE_INVITE_EXPIRED,
	NODE_INVITE_USED, NODE_INVITE_REVOKED,
};
enum node_invite_check node_invite_check(const struct node_invite *iv, int64_t now);
const char *node_invite_check_str(enum node_invite_check c);

void node_invites_clear(struct node_invites *inv);

/* Issues a new invite as `constella invite` does: under the invites lock,
 * a fresh token valid for ttl_s, saved, and its join link (to the node's own
 * address, self's entry in st) formatted into link (>= 512 bytes; a secret:
 * the caller wipes it). id gets the short id. 0 or -errno (-ENOENT: self
 * not in st). */
int node_invite_issue(const char *dir, const struct node_state *st, const char *self_id,
		      int64_t now, uint64_t ttl_s, char *link, size_t cap,
		      char id[NODE_INVITE_SHORT_ID + 1]);

/* Takes an exclusive flock on dir/invites.lock (the CLI and the daemon both
 * read-modify-write invites.json). Returns the fd (>= 0) or -errno. */
int node_invites_lock(const char *dir);
void node_invites_unlock(int fd);

#endif
