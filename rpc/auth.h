/* Authentication of node-to-node requests (fixes the original's unsigned
 * /join, nonce-less signatures and 15 s replay window).
 *
 * A request carries three headers: X-Constella-Timestamp (unix seconds),
 * X-Constella-Nonce (16 random bytes, hex) and X-Constella-Signature =
 * hex(HMAC-SHA256(network secret, canonical string)), where the canonical
 * string is
 *     "constella-rpc-v1\n" METHOD "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA-256(body))
 * A request is accepted once: inside ±skew of our clock and with a nonce not
 * seen within the window. Pure functions: time is an argument. */
#ifndef RPC_AUTH_H
#define RPC_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define RPC_HDR_TIMESTAMP "X-Constella-Timestamp"
#define RPC_HDR_NONCE "X-Constella-Nonce"
#define RPC_HDR_SIGNATURE "X-Constella-Signature"
/* Not signed: the sender's node id, for diagnostics only (clock skew). */
#define RPC_HDR_NODE "X-Constella-Node"
#define RPC_NONCE_LEN 16
#define RPC_SECRET_MIN 16
#define RPC_SECRET_MAX 64

struct rpc_auth_headers {
	char timestamp[21];
	char nonce[2 * RPC_NONCE_LEN + 1];
	char signature[65];
};

/* Signs a request made at now_s with a fresh random nonce. */
int rpc_auth_sign(const uint8_t *secret, size_t secret_len, const char *method, const char *path,
		  const void *body, size_t body_len, uint64_t now_s, struct rpc_auth_headers *out);

/* Remembers nonces for as long as their timestamps could still be accepted.
 * Bounded: when full of live nonces it refuses new requests rather than
 * forgetting one (forgetting would allow a replay). */
struct rpc_replay_cache;
int rpc_replay_cache_new(size_t capacity, struct rpc_replay_cache **out);
void rpc_replay_cache_free(struct rpc_replay_cache *c);
size_t rpc_replay_cache_count(const struct rpc_replay_cache *c, uint64_t now_s);

enum rpc_auth_result {
	RPC_AUTH_OK = 0,
	RPC_AUTH_MISSING,      /* a header is absent */
	RPC_AUTH_MALFORMED,    /* a header is not of the right form */
	RPC_AUTH_STALE,        /* timestamp outside ±skew */
	RPC_AUTH_BAD_SIGNATURE,
	RPC_AUTH_REPLAY,       /* nonce already used */
	RPC_AUTH_BUSY,         /* replay cache full of live nonces */
};
const char *rpc_auth_result_str(enum rpc_auth_result r);

/* Verifies headers (NULL = absent) against the request. The signature is
 * checked before the nonce is recorded, so forgeries cannot fill the cache.
 * On RPC_AUTH_OK the nonce is now remembered. */
enum rpc_auth_result rpc_auth_verify(const uint8_t *secret, size_t secret_len,
				     const char *method, const char *path, const void *body,
				     size_t body_len, const char *timestamp, const char *nonce,
				     const char *signature, uint64_t now_s, uint64_t skew_s,
				     struct rpc_replay_cache *cache);

/* Only the signature of a request (no window, no nonce): a refused stale
 * request is still known to come from a member. 1 when it is good. */
int rpc_auth_signature_ok(const uint8_t *secret, size_t secret_len, const char *method,
			  const char *path, const void *body, size_t body_len,
			  const char *timestamp, const char *nonce, const char *signature);

#endif
