/* The join protocol (POST /join on the seed, unauthenticated route).
 *
 * Both sides derive from the invite token (which only holders of the link
 * know):  token_id = BLAKE2b-256(key = token, "constella join id")
 *         K        = BLAKE2b-256(key = token, "constella join key")
 * Request: {"network_id", "token_id": hex, "nonce": b64, "box": b64}, box =
 * XChaCha20-Poly1305(K, nonce, AD = network_id, {name, public_addr, node_id,
 * wg_pubkey, priority, public_ips, probe}). probe (32 hex, optional: older
 * joiners omit it) is the reachability proof's nonce (probe.h). Reply: {"ok": true, "nonce", "box"} with
 * box under K (AD = network_id) holding {network_id, owner_username,
 * network_secret, peers, vpn, ..., join: {addr, overlay_addr, observed,
 * addr_reason}}. An observer of the wire without the link learns nothing. */
#ifndef NODE_JOIN_H
#define NODE_JOIN_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "invite.h"
#include "joinlink.h"
#include "probe.h"
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

/* Joiner: the request body (malloc'd string). public_ips are the addresses
 * the joiner's --public-addr host resolves to (numeric, n may be 0): the
 * seed compares them with the source it sees, without resolving names on
 * its loop. self->wg_pubkey is the joiner's fresh WireGuard public key. */
int node_join_request_build(const struct node_joinlink *l, const struct node_peer *self,
			    const char *const *public_ips, size_t n_public_ips, char **body);
/* The same with the reachability probe's nonce (NULL: none, as an older
 * joiner, e.g. when its listener could not bind). */
int node_join_request_build_probe(const struct node_joinlink *l, const struct node_peer *self,
				  const char *const *public_ips, size_t n_public_ips,
				  const uint8_t *probe_nonce, char **body);

/* Seed: the outcome of examining a request. */
enum node_join_result {
	NODE_JOIN_OK = 0, NODE_JOIN_MALFORMED, NODE_JOIN_WRONG_NETWORK, NODE_JOIN_UNKNOWN_TOKEN,
	NODE_JOIN_EXPIRED, NODE_JOIN_USED, NODE_JOIN_REVOKED, NODE_JOIN_BAD_BOX, NODE_JOIN_INTERNAL,
	NODE_JOIN_DUPLICATE,
	NODE_JOIN_NAT_NO_HUB,   /* public address not the one seen, and no hub to carry it */
	NODE_JOIN_NEED_WG_KEY,  /* the network has a hub: the joiner must send a public key */
	NODE_JOIN_OVERLAY,      /* the hub refused or could not be reached: see the message */
};
/* The exact message sent to the joiner for each result. */
const char *node_join_result_str(enum node_join_result r);
/* The HTTP status the seed answers a refusal with. */
unsigned node_join_result_http(enum node_join_result r);

/* A request the seed has examined: the token was valid (not yet spent), the
 * box opened, the joiner's record is filled in. Holds the token-derived key:
 * node_join_pending_clear wipes it. */
struct node_join_pending {
	struct node_join_keys k;
	struct node_peer joiner;      /* addr as the joiner announced it */
	char observed[64];            /* the source IP the seed saw */
	int public_given;             /* the joiner gave a public address */
	int public_seen;              /* ... and the seed saw the join come from it */
	int needs_overlay;            /* the network has a hub: allocate an address */
	int probe_given;              /* the joiner listens for the reachability probe */
	uint8_t probe_nonce[NODE_JOIN_PROBE_NONCE_LEN];
	/* with a hub: the public address given and seen did not answer the
	 * probe, so the member is reached over the overlay instead */
	int public_unreachable;
	char unreachable_why[128];    /* what the probe met ("connection refused") */
	char message[512];            /* a refusal's full reason, when more precise */
	const cJSON *extra;           /* members added to the sealed reply (the bot
				       * settings, "bot"); the caller's, may be NULL */
};
void node_join_pending_clear(struct node_join_pending *p);

/* Step 1 (no state change): parses and checks the request against st and
 * the invites in state_dir; observed is the connection's "ip:port". On OK,
 * *p is ready for step 2 (after an overlay allocation when
 * p->needs_overlay). */
enum node_join_result node_join_examine(const char *state_dir, const struct node_state *st,
					const char *body, size_t len, int64_t now,
					const char *observed, struct node_join_pending *p);
/* Where the seed probes an examined joiner: the source IP it saw and the
 * port of the announced address (the address the joiner would get without
 * an overlay, or the host its public name resolved to). 0 or -EINVAL. */
int node_join_pending_probe_target(const struct node_join_pending *p, char *ip, size_t cap,
				   unsigned *port);

/* Step 2: under the invites lock, checks the token again (a second request
 * with the same token may have been faster), marks it used and persists
 * invites.json BEFORE anything leaves, then fixes the joiner's RPC address
 * (see docs/overlay.md: its public address when the seed saw it, else
 * <overlay_addr>:<port> when there is an overlay), adds it to st, saves, and
 * builds the sealed reply: the network state plus {"join": {addr,
 * overlay_addr, observed, addr_reason}}. overlay_addr is the hub's answer
 * (NULL without an overlay). */
enum node_join_result node_join_finish(const char *state_dir, struct node_state *st,
				       struct node_join_pending *p, int64_t now,
				       const char *overlay_addr, cJSON **reply,
				       struct node_peer *joiner);

/* Both steps at once, for a network without an overlay (tests, and the
 * daemon when no allocation is needed). observed ("ip:port" of the
 * connection, may be NULL) replaces the host of a joiner that announces a
 * wildcard address (0.0.0.0:P or [::]:P). */
enum node_join_result node_join_handle(const char *state_dir, struct node_state *st,
				       const char *body, size_t len, int64_t now,
				       const char *observed, cJSON **reply,
				       struct node_peer *joiner);

/* What the seed decided about the joiner, from the reply. */
struct node_join_outcome {
	char addr[280];          /* the RPC address the network will use */
	char overlay_addr[64];   /* empty without an overlay */
	char observed[64];       /* the source the seed saw */
	char addr_reason[256];   /* why addr is not the given public address, or "" */
	cJSON *bot;              /* the reply's "bot" member (the bot settings,
				  * node/botstate/), a copy the caller deletes; NULL when absent */
};
/* Joiner: opens the seed's reply into st (network, secret, peers, vpn) and,
 * when out is not NULL, the seed's decision. */
int node_join_reply_open(const struct node_joinlink *l, const cJSON *reply,
			 struct node_state *st, struct node_join_outcome *out, char *err,
			 size_t errlen);

#endif
