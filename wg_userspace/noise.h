/* Noise_IKpsk2 handshake (whitepaper §5.4.2-§5.4.5). Pure functions over a
 * handshake state; the caller holds the owning peer's lock. Every consume
 * function computes into temporaries and commits only on full success, so a
 * rejected message changes nothing. Every exit wipes stack secrets. */
#ifndef WG_NOISE_H
#define WG_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"
#include "wg_constants.h"

enum wg_handshake_state {
	WG_HANDSHAKE_ZEROED = 0,
	WG_HANDSHAKE_CREATED_INITIATION,
	WG_HANDSHAKE_CONSUMED_INITIATION,
	WG_HANDSHAKE_CREATED_RESPONSE,
	WG_HANDSHAKE_CONSUMED_RESPONSE,
};

/* This device's static keys. */
struct wg_identity {
	bool has_key;
	uint8_t private_key[WG_KEY_LEN];
	uint8_t public_key[WG_KEY_LEN];
};

struct wg_handshake {
	enum wg_handshake_state state;
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t precomputed_static_static[WG_KEY_LEN]; /* DH(S_priv, S_remote); zero if invalid */
	uint8_t preshared_key[WG_KEY_LEN];
	uint8_t ephemeral_private[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t latest_timestamp[WG_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption_ns; /* monotonic; 0 = never */
	uint32_t local_index;
	uint32_t remote_index;
};

/* The part of an initiation that can be decrypted before knowing the peer:
 * the initiator's static key, plus the transcript so far. */
struct wg_noise_initiation_partial {
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
};

int wg_identity_set_private_key(struct wg_identity *id, const uint8_t private_key[WG_KEY_LEN]);
void wg_identity_clear(struct wg_identity *id);

/* Prepares hs for a peer: remote static key, preshared key (NULL = zeros)
 * and the precomputed static-static DH. Keeps nothing else. */
void wg_noise_handshake_init(struct wg_handshake *hs, const struct wg_identity *id,
			     const uint8_t remote_static[WG_KEY_LEN], const uint8_t *psk);
/* Recomputes the static-static DH after the identity changed. */
void wg_noise_handshake_rekey_identity(struct wg_handshake *hs, const struct wg_identity *id);
void wg_noise_handshake_set_psk(struct wg_handshake *hs, const uint8_t *psk);
/* Back to ZEROED, wiping ephemeral and transcript (keeps the peer's static
 * key, psk, timestamp and flood-limit memory). */
void wg_noise_handshake_clear(struct wg_handshake *hs);

/* Initiator: fills msg up to (not including) the macs. */
int wg_noise_create_initiation(const struct wg_identity *id, struct wg_handshake *hs,
			       struct wg_msg_initiation *msg, uint32_t local_index,
			       uint64_t wall_ns);
/* Responder, step 1: decrypts the initiator's static key. -EINVAL when the
 * message does not authenticate or we have no key. */
int wg_noise_consume_initiation_begin(const struct wg_identity *id,
				      const struct wg_msg_initiation *msg,
				      struct wg_noise_initiation_partial *p);
/* Responder, step 2 (hs = the peer found by p->remote_static, locked):
 * decrypts the timestamp, rejects a replayed/older one (-EALREADY) or an
 * initiation less than 1/50 s after the last accepted (-EBUSY), then commits
 * the state CONSUMED_INITIATION. */
int wg_noise_consume_initiation_finish(struct wg_handshake *hs,
				       const struct wg_msg_initiation *msg,
				       struct wg_noise_initiation_partial *p, uint64_t now_ns);
/* Responder: answers a consumed initiation; fills msg up to the macs. */
int wg_noise_create_response(struct wg_handshake *hs, struct wg_msg_response *msg,
			     uint32_t local_index);
/* Initiator: consumes a response to our CREATED_INITIATION. */
int wg_noise_consume_response(const struct wg_identity *id, struct wg_handshake *hs,
			      const struct wg_msg_response *msg);
/* After CREATED_RESPONSE (responder) or CONSUMED_RESPONSE (initiator):
 * derives the transport keys and zeroes the handshake. -EINVAL otherwise. */
int wg_noise_derive_keys(struct wg_handshake *hs, uint8_t send_key[WG_KEY_LEN],
			 uint8_t recv_key[WG_KEY_LEN], bool *i_am_initiator);

#endif
