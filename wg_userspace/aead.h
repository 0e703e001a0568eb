/* The data path's AEAD (ChaCha20-Poly1305, RFC 8439) behind one small
 * backend, the only code in the project that touches BoringSSL.
 *
 * BoringSSL is not linked: the first device (wg_crypto_init) loads it at run
 * time, privately, so a process may also hold OpenSSL's libcrypto.so.3
 * (libcurl-gnutls -> libssh2 does) although both export the same names:
 * BoringSSL's symbols never enter the global scope (RTLD_LOCAL) and its own
 * calls to itself bind to itself first (RTLD_DEEPBIND). docs/constella-wg.md
 * ("Embedding") has the why and the alternatives rejected. Where it cannot
 * be loaded, or CONSTELLA_WG_BORINGSSL=off, libsodium's ChaCha20-Poly1305
 * takes its place (slower; one info line says why).
 *
 * The handshake's one-shot AEADs stay on libsodium (crypto.h): one call per
 * handshake message does not need the faster code. */
#ifndef WG_AEAD_H
#define WG_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "wg_constants.h"

/* Room for BoringSSL's EVP_AEAD_CTX (a key schedule of up to 580 bytes and
 * its tag length: aead.c checks it fits) or libsodium's key. */
#define WG_AEAD_CTX_SIZE 608

/* One key, initialised once, used by any number of threads at once. */
struct wg_aead_ctx {
	_Alignas(16) uint8_t opaque[WG_AEAD_CTX_SIZE];
};

/* Chooses the backend, once per process (later calls return at once):
 * BoringSSL from CONSTELLA_WG_BORINGSSL if set (a path; "off" = libsodium),
 * else from where the build found the package's libcrypto.so.0. A library
 * that loads but lacks an entry point or disagrees with libsodium on a
 * test message is not used. 0, or -EIO when libsodium cannot start. */
int wg_aead_backend_init(void);
/* "boringssl" or "libsodium" (after wg_aead_backend_init). */
const char *wg_aead_backend_name(void);
/* The BoringSSL file loaded, or NULL. */
const char *wg_aead_backend_path(void);
/* The BoringSSL entry point in use for name ("EVP_AEAD_CTX_seal",
 * "EVP_AEAD_CTX_open", "EVP_AEAD_CTX_init", "EVP_AEAD_CTX_cleanup",
 * "EVP_aead_chacha20_poly1305"), or NULL: lets a test check where the calls
 * go (dladdr). */
void *wg_aead_backend_symbol(const char *name);

/* 0, or -EIO (the backend refused the key). Wipe with cleanup. */
int wg_aead_ctx_init(struct wg_aead_ctx *ctx, const uint8_t key[WG_KEY_LEN]);
void wg_aead_ctx_cleanup(struct wg_aead_ctx *ctx);
/* Seals len bytes of src into dst (len + WG_TAG_LEN bytes: ciphertext then
 * tag); dst may be src exactly, not partly overlapping. ad may be NULL/0.
 * 0 or -EIO. */
int wg_aead_ctx_seal(const struct wg_aead_ctx *ctx, uint8_t *dst, const uint8_t nonce[12],
		     const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen);
/* Opens len bytes (ciphertext and tag) of src into dst (len - WG_TAG_LEN
 * bytes; dst may be src exactly). 0, or -EBADMSG when it does not
 * authenticate (dst then holds nothing usable). */
int wg_aead_ctx_open(const struct wg_aead_ctx *ctx, uint8_t *dst, const uint8_t nonce[12],
		     const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen);

#endif
