#include "crypto.h"

#include <blake2.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "aead.h"

int wg_crypto_init(void)
{
	if (sodium_init() < 0)
		return -EIO;
	return wg_aead_backend_init(); /* the data path's AEAD, chosen once */
}

void wg_hash3(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b,
	      size_t blen, const void *c, size_t clen)
{
	blake2s_state s;

	blake2s_init(&s, WG_HASH_LEN);
	if (alen)
		blake2s_update(&s, a, alen);
	if (blen)
		blake2s_update(&s, b, blen);
	if (clen)
		blake2s_update(&s, c, clen);
	blake2s_final(&s, out, WG_HASH_LEN);
	sodium_memzero(&s, sizeof(s));
}

void wg_mac(uint8_t out[WG_COOKIE_LEN], const uint8_t *key, size_t keylen,
	    const void *in, size_t inlen)
{
	/* libb2 argument order: out, in, key, outlen, inlen, keylen. */
	blake2s(out, in, key, WG_COOKIE_LEN, inlen, keylen);
}

void wg_hmac(uint8_t out[WG_HASH_LEN], const uint8_t *key, size_t keylen,
	     const void *in, size_t inlen)
{
	uint8_t k[BLAKE2S_BLOCKBYTES] = { 0 }, pad[BLAKE2S_BLOCKBYTES], inner[WG_HASH_LEN];
	blake2s_state s;

	if (keylen > BLAKE2S_BLOCKBYTES)
		wg_hash(k, key, keylen);
	else
		memcpy(k, key, keylen);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	blake2s_init(&s, WG_HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	if (inlen)
		blake2s_update(&s, in, inlen);
	blake2s_final(&s, inner, WG_HASH_LEN);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	blake2s_init(&s, WG_HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, inner, WG_HASH_LEN);
	blake2s_final(&s, out, WG_HASH_LEN);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&s, sizeof(s));
}

void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const uint8_t key[WG_HASH_LEN],
	    const void *in, size_t inlen)
{
	uint8_t prk[WG_HASH_LEN], t[WG_HASH_LEN + 1];

	wg_hmac(prk, key, WG_HASH_LEN, in, inlen);
	t[0] = 1;
	wg_hmac(t, prk, WG_HASH_LEN, t, 1);
	memcpy(out1, t, WG_HASH_LEN);
	if (out2) {
		t[WG_HASH_LEN] = 2;
		wg_hmac(t, prk, WG_HASH_LEN, t, WG_HASH_LEN + 1);
		memcpy(out2, t, WG_HASH_LEN);
	}
	if (out3) {
		t[WG_HASH_LEN] = 3;
		wg_hmac(t, prk, WG_HASH_LEN, t, WG_HASH_LEN + 1);
		memcpy(out3, t, WG_HASH_LEN);
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

static void wg_aead_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void wg_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen, uint64_t counter, const uint8_t key[WG_KEY_LEN])
{
	uint8_t nonce[12];

	wg_aead_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen, NULL,
						  nonce, key);
}

int wg_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen, uint64_t counter, const uint8_t key[WG_KEY_LEN])
{
	uint8_t nonce[12];

	if (len < WG_TAG_LEN)
		return -EBADMSG;
	wg_aead_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, adlen,
						      nonce, key) != 0)
		return -EBADMSG;
	return 0;
}

void wg_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		   size_t adlen, const uint8_t nonce[WG_COOKIE_NONCE_LEN],
		   const uint8_t key[WG_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen, NULL,
						   nonce, key);
}

int wg_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen, const uint8_t nonce[WG_COOKIE_NONCE_LEN],
		  const uint8_t key[WG_KEY_LEN])
{
	if (len < WG_TAG_LEN)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, adlen,
						       nonce, key) != 0)
		return -EBADMSG;
	return 0;
}

bool wg_key_is_zero(const uint8_t key[WG_KEY_LEN])
{
	return sodium_is_zero(key, WG_KEY_LEN) == 1;
}

int wg_dh(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN], const uint8_t pub[WG_KEY_LEN])
{
	/* libsodium itself refuses an all-zero result (returns -1). */
	if (crypto_scalarmult_curve25519(out, priv, pub) != 0 || wg_key_is_zero(out)) {
		sodium_memzero(out, WG_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

static void wg_key_clamp(uint8_t k[WG_KEY_LEN])
{
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
}

void wg_key_generate_private(uint8_t priv[WG_KEY_LEN])
{
	randombytes_buf(priv, WG_KEY_LEN);
	wg_key_clamp(priv);
}

int wg_key_public_from_private(uint8_t pub[WG_KEY_LEN], uint8_t priv[WG_KEY_LEN])
{
	wg_key_clamp(priv);
	if (crypto_scalarmult_curve25519_base(pub, priv) != 0 || wg_key_is_zero(pub))
		return -EINVAL;
	return 0;
}

void wg_tai64n(uint8_t out[WG_TIMESTAMP_LEN], uint64_t wall_ns)
{
	/* TAI64 label: 2^62 + 10 (TAI-UTC offset at the epoch) + seconds. */
	uint64_t secs = 0x400000000000000aULL + wall_ns / WG_NSEC_PER_SEC;
	uint32_t nsec = (uint32_t)(wall_ns % WG_NSEC_PER_SEC) & ~((1U << 24) - 1);

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(secs >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}
