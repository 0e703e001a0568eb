/* A transport keypair (whitepaper §5.4.6) and the data-path seal/open of
 * type-4 messages. The AEAD is the backend's (aead.h: BoringSSL, or
 * libsodium), with one initialised context per direction so no per-packet
 * key setup happens.
 *
 * Threading: seal may run on several threads at once (the send counter is
 * atomic); open may too (the replay window has its own lock, taken once per
 * batch by wg_keypair_open_batch, not once per packet). Keypairs
 * are reference counted: a holder of a reference may use it after the peer
 * replaced it; the last wg_keypair_put frees it, wiping the keys and
 * removing its index from the index table. */
#ifndef WG_KEYPAIR_H
#define WG_KEYPAIR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aead.h"
#include "replay.h"
#include "wg_constants.h"

struct wg_peer;
struct wg_index_table;
struct wg_cpool;

struct wg_keypair {
	struct wg_aead_ctx send;
	struct wg_aead_ctx recv;
	_Atomic uint64_t send_counter;
	pthread_mutex_t replay_lock;
	struct wg_replay replay;
	uint64_t birth_ns;      /* monotonic */
	bool i_am_initiator;
	uint32_t local_index;   /* receiver_index of packets sent to us */
	uint32_t remote_index;  /* receiver_index we put on packets we send */
	_Atomic int refcount;
	struct wg_peer *peer;   /* not a counted reference: the peer outlives its keypairs' slots */
	struct wg_index_table *index_table;
};

/* Creates a keypair from the two 32-byte transport keys (refcount 1). The
 * keys are copied into the AEAD contexts; the caller wipes its copies. */
int wg_keypair_new(const uint8_t send_key[WG_KEY_LEN], const uint8_t recv_key[WG_KEY_LEN],
		   bool i_am_initiator, uint64_t now_ns, struct wg_keypair **out);
struct wg_keypair *wg_keypair_get(struct wg_keypair *kp);
void wg_keypair_put(struct wg_keypair *kp);

/* Space a sealed message needs for a plaintext of len bytes with padding
 * limited by mtu (0 = pad to 16 without limit). */
size_t wg_keypair_sealed_size(size_t len, size_t mtu);

/* Builds a type-4 message in dst (capacity dst_cap): header, the plaintext
 * zero-padded to a multiple of 16 without exceeding mtu, tag. Returns the
 * message length, -EKEYEXPIRED when the keypair is past REJECT_AFTER_TIME or
 * its counter is exhausted, -ENOSPC when dst is too small. src and the
 * payload area of dst (dst + 16) may be the same buffer. */
ssize_t wg_keypair_seal(struct wg_keypair *kp, uint8_t *dst, size_t dst_cap,
			const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns,
			uint64_t *counter_out);

/* wg_keypair_seal in two halves, so a batch takes its counters in order on
 * one thread and spreads the encryption over several: prepare checks, takes
 * the counter and writes header and padding (same returns as
 * wg_keypair_seal; on failure dst is untouched); encrypt then seals the
 * prepared message of len bytes in place (0, or -EIO). Encrypt may run on
 * any thread, for any prepared message of kp, in any order. */
ssize_t wg_keypair_seal_prepare(struct wg_keypair *kp, uint8_t *dst, size_t dst_cap,
				const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns,
				uint64_t *counter_out);
int wg_keypair_seal_encrypt(struct wg_keypair *kp, uint8_t *msg, size_t len);

/* Authenticates and decrypts a type-4 message into dst (capacity >= len -
 * 32; may be msg + 16 for in place). Returns the plaintext length (padding
 * included; 0 for a keepalive), -EINVAL for a malformed message, -EKEYEXPIRED
 * for an expired keypair, -EBADMSG when authentication fails, -EALREADY for a
 * replayed or too-old counter. The keypair changes only on success. */
ssize_t wg_keypair_open(struct wg_keypair *kp, uint8_t *dst, const uint8_t *msg, size_t len,
			uint64_t now_ns, uint64_t *counter_out);

/* One message of a batch for wg_keypair_open_batch. */
struct wg_open_item {
	const uint8_t *msg; /* the type-4 message */
	size_t len;
	uint8_t *dst;       /* plaintext out, as for wg_keypair_open (may be msg + 16) */
	ssize_t result;     /* out: plaintext length or -errno, as wg_keypair_open returns */
	uint64_t counter;   /* out: the message's counter when result >= 0 */
};

/* wg_keypair_open for n messages in order, with the replay window locked
 * once for the whole batch instead of once per message. Returns how many
 * opened. The data path's receive thread is the only opener in practice, so
 * holding the lock across the decryptions costs nobody a wait. When pool
 * (may be NULL) finds the batch worth sharing, the decryptions run on it
 * and the window is checked and moved afterwards, in order, for the
 * authenticated messages only (same results as the serial path). */
size_t wg_keypair_open_batch(struct wg_keypair *kp, struct wg_open_item *items, size_t n,
			     uint64_t now_ns, struct wg_cpool *pool);

#endif
