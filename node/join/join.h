/* The join protocol (POST /join on the seed, unauthenticated route).
 *
 * Both sides derive from the invite token (which only holders of the link
 * know):  token_id = BLAKE2b-256(key = token, "constella join id")
 *         K        = BLAKE2b-256(key = token, "constella join key")
 * Request: {"network_id", "token_id": hex, "nonce": b64, "box": b64}, box =
 * XChaCha20-Poly1305(K, nonce, AD = network_id, {name, public_addr, node_id,
 * wg_pubkey, priority}). Reply: {"ok": true, "nonce", "box"} with box under K
 * (AD = network_id) holding {network_id, owner_username, network_secret,
 * peers}. An observer of the wire without the link learns nothing. */
#ifndef NODE_JOIN_H
#define NODE_JOIN_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "invite.h"
#include "joinlink.h"
#include "state.h"

struct node_join_keys {
	uint8_t token_id[NODE_TOKEN_ID_LEN];
	uint8_t key[32]; /* secret */
};
void node_join_derive(const uint8_t token[NODE_TOKEN_LEN], struct node_join_keys *k);
void node_join_keys_clear(struct node_join_keys *k);

/* Seals a JSON document under k: fills {"nonce", "box"} into obj. */
int node_join_seal(const struct node_join_keys *k, const char *network_id, const cJSON *doc,
		   cJSON *obj);
/* Opens obj's {"nonce", "box"}; returns the inner document or NULL. */
cJSON *node_join_open(const struct node_join_keys *k, const char *network_id, const cJSON *obj);

/* Joiner: the request body (malloc'd string). */
int node_join_request_build(const struct node_joinlink *l, const struct node_peer *self,
			    char **body);

/* Seed: the outcome of examining a request. */
enum node_join_result {
	NODE_JOIN_OK = 0, NODE_JOIN_MALFORMED, NODE_JOIN_WRONG_NETWORK, NODE_JOIN_UNKNOWN_TOKEN,
	NODE_JOIN_EXPIRED, NODE_JOIN_USED, NODE_JOIN_REVOKED, NODE_JOIN_BAD_BOX, NODE_JOIN_INTERNAL,
	NODE_JOIN_DUPLICATE,
};
/* The exact message sent to the joiner for each result. */
const char *node_join_result_str(enum node_join_result r);

/* Seed side, complete: under the invites lock, finds the token, checks it,
 * decrypts the joiner, marks the token used AND persists invites.json
 * before returning OK, then adds the joiner to st and saves the state.
 * On OK *reply is the encrypted reply document and *joiner the new peer. */
/* observed ("ip:port" of the connection, may be NULL) replaces the host of a
 * joiner that announces a wildcard address (0.0.0.0:P or [::]:P). */
enum node_join_result node_join_handle(const char *state_dir, struct node_state *st,
				       const char *body, size_t len, int64_t now,
				       const char *observed, cJSON **reply,
				       struct node_peer *joiner);
/* The same, with extra members (e.g. the bot settings, "bot") added to the
 * sealed document; extra may be NULL. */
enum node_join_result node_join_handle_ex(const char *state_dir, struct node_state *st,
					  const char *body, size_t len, int64_t now,
					  const char *observed, const cJSON *extra,
					  cJSON **reply, struct node_peer *joiner);

/* Joiner: opens the seed's reply into st (network, secret, peers). */
int node_join_reply_open(const struct node_joinlink *l, const cJSON *reply,
			 struct node_state *st, char *err, size_t errlen);
/* The same, also handing back the opened document (*doc, caller deletes it:
 * it holds the secret) for the members the state does not keep. */
int node_join_reply_open_doc(const struct node_joinlink *l, const cJSON *reply,
			     struct node_state *st, cJSON **doc, char *err, size_t errlen);

#endif
