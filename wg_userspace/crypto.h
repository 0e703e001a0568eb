/* The primitives of WireGuard (whitepaper §5.4): BLAKE2s hash/MAC, HMAC,
 * HKDF, (X)ChaCha20-Poly1305 for handshakes (libsodium), X25519 and TAI64N.
 * The data path's AEAD is aead.h's backend (BoringSSL or libsodium, with
 * per-keypair contexts in keypair.c). */
#ifndef WG_CRYPTO_H
#define WG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_constants.h"

/* HASH(a ‖ b ‖ c): any of the parts may be NULL/0. */
void wg_hash3(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b,
	      size_t blen, const void *c, size_t clen);
static inline void wg_hash(uint8_t out[WG_HASH_LEN], const void *a, size_t alen)
{
	wg_hash3(out, a, alen, NULL, 0, NULL, 0);
}
/* MAC(key, x): keyed BLAKE2s, 16-byte output. */
void wg_mac(uint8_t out[WG_COOKIE_LEN], const uint8_t *key, size_t keylen,
	    const void *in, size_t inlen);
/* HMAC-BLAKE2s-256 (RFC 2104, block 64). */
void wg_hmac(uint8_t out[WG_HASH_LEN], const uint8_t *key, size_t keylen,
	     const void *in, size_t inlen);
/* KDFn(key, input) → n 32-byte outputs (out2/out3 may be NULL). */
void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t key[WG_HASH_LEN],
	    const void *in, size_t inlen);

/* ChaCha20-Poly1305 IETF with nonce = 4 zero bytes ‖ LE64(counter). dst
 * gets len + 16 bytes on seal; open returns -EBADMSG on a bad tag. */
void wg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen, uint64_t counter, const uint8_t key[WG_KEY_LEN]);
int wg_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen, uint64_t counter, const uint8_t key[WG_KEY_LEN]);
void wg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		   size_t adlen, const uint8_t nonce[WG_COOKIE_NONCE_LEN],
		   const uint8_t key[WG_KEY_LEN]);
int wg_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen, const uint8_t nonce[WG_COOKIE_NONCE_LEN],
		  const uint8_t key[WG_KEY_LEN]);

/* X25519. Returns -EINVAL when the result is all zeros (a low-order point
 * would let an attacker fix the shared secret). */
int wg_dh(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN], const uint8_t pub[WG_KEY_LEN]);
void wg_key_generate_private(uint8_t priv[WG_KEY_LEN]);
/* Clamps priv in place (RFC 7748 §5) and derives the public key; returns
 * -EINVAL for a private key that yields the all-zero public key. */
int wg_key_public_from_private(uint8_t pub[WG_KEY_LEN], uint8_t priv[WG_KEY_LEN]);
bool wg_key_is_zero(const uint8_t key[WG_KEY_LEN]);

/* TAI64N of wall time (ns since the Unix epoch), nanoseconds rounded down to
 * a multiple of 2^24 so a timestamp leaks no fine-grained clock. */
void wg_tai64n(uint8_t out[WG_TIMESTAMP_LEN], uint64_t wall_ns);

/* Library initialisation (sodium_init, and the data path's AEAD backend,
 * which may load BoringSSL: aead.h); call before any keypair exists, once
 * or more (later calls are cheap). */
int wg_crypto_init(void);

#endif
