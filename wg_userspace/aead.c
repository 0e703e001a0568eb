/* The data path's ChaCha20-Poly1305: BoringSSL loaded privately at run time,
 * or libsodium. See aead.h; the reasoning is in docs/constella-wg.md
 * ("Embedding").
 *
 * Why the loading is done the way it is:
 *  - RTLD_LOCAL: BoringSSL's 2422 exported names (1803 of them also
 *    OpenSSL 3's) stay out of the global scope, so libssh2's calls to
 *    OpenSSL can never bind to BoringSSL.
 *  - RTLD_DEEPBIND: BoringSSL calls its own exported functions through its
 *    PLT (1061 JUMP_SLOT relocations, 706 of them names OpenSSL 3 exports
 *    too: OPENSSL_cleanse, CRYPTO_memcmp, ...) and is not linked with
 *    -Bsymbolic; deep binding resolves them in its own scope (itself, then
 *    libc) before the global one, where OpenSSL's libcrypto.so.3 may be.
 *  - glibc's own dlopen, fetched from libc.so.6 itself: AddressSanitizer's
 *    dlopen interceptor refuses RTLD_DEEPBIND outright, because a deep-bound
 *    library calls libc's malloc and free instead of the sanitizer's, and a
 *    pointer crossing between the two allocators would crash. Here none
 *    crosses: we never free what BoringSSL allocated nor it what we did (the
 *    contexts live in our memory, BoringSSL allocates only its per-thread
 *    error queue, which it frees itself from a thread-exit destructor). So
 *    the plain and the sanitizer builds take the same path: glibc's dlopen is
 *    what the plain build's dlopen is anyway.
 *  - not dlmopen(LM_ID_NEWLM): a second namespace brings a second libc whose
 *    pthread keys index the same per-thread slots as the first's; BoringSSL's
 *    error queue key then aliases the first key the process created (tried:
 *    the process's key 0 came back holding BoringSSL's ERR_STATE, and with a
 *    value of its own set, BoringSSL crashed writing its error into it).
 *
 * The loaded library is process-wide by nature, so its entry points are one
 * process-wide table, written once under pthread_once and read-only after. */
#include "aead.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <openssl/aead.h> /* types and prototypes only: nothing links to BoringSSL */
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef WG_BORINGSSL_PATH
#error "WG_BORINGSSL_PATH: where the build found BoringSSL's libcrypto.so.0"
#endif

_Static_assert(sizeof(EVP_AEAD_CTX) <= WG_AEAD_CTX_SIZE, "EVP_AEAD_CTX does not fit");
_Static_assert(_Alignof(EVP_AEAD_CTX) <= 16, "EVP_AEAD_CTX alignment");

enum wg_aead_kind { WG_AEAD_SODIUM = 0, WG_AEAD_BORINGSSL = 1 };

static struct {
	enum wg_aead_kind kind;
	int status;
	char path[PATH_MAX];
	const EVP_AEAD *chacha;
	__typeof__(EVP_aead_chacha20_poly1305) *aead;
	__typeof__(EVP_AEAD_CTX_init) *init;
	__typeof__(EVP_AEAD_CTX_cleanup) *cleanup;
	__typeof__(EVP_AEAD_CTX_seal) *seal;
	__typeof__(EVP_AEAD_CTX_open) *open;
} wg_aead;

static pthread_once_t wg_aead_once = PTHREAD_ONCE_INIT;

typedef void *(*wg_aead_dlopen_fn)(const char *file, int mode);

/* glibc's dlopen as libc.so.6 itself exports it (not an interposer's). */
static wg_aead_dlopen_fn wg_aead_libc_dlopen(void)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	wg_aead_dlopen_fn fn = NULL;

	if (libc) {
		fn = (wg_aead_dlopen_fn)dlsym(libc, "dlopen");
		dlclose(libc); /* drops the reference NOLOAD took; libc stays */
	}
	return fn;
}

/* The loaded library must compute what libsodium computes: a random key,
 * nonce, associated data and message sealed by both must agree byte for
 * byte, and the result must open (and not open once a bit is flipped). */
static bool wg_aead_self_test(void)
{
	uint8_t key[WG_KEY_LEN], nonce[12], ad[12], msg[100], a[116], b[116], back[100];
	EVP_AEAD_CTX ctx;
	size_t out = 0;
	bool ok;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(ad, sizeof(ad));
	randombytes_buf(msg, sizeof(msg));
	memset(&ctx, 0, sizeof(ctx));
	if (!wg_aead.init(&ctx, wg_aead.chacha, key, sizeof(key), WG_TAG_LEN, NULL))
		return false;
	crypto_aead_chacha20poly1305_ietf_encrypt(b, NULL, msg, sizeof(msg), ad, sizeof(ad), NULL,
						  nonce, key);
	ok = wg_aead.seal(&ctx, a, &out, sizeof(a), nonce, sizeof(nonce), msg, sizeof(msg), ad,
			  sizeof(ad)) &&
	     out == sizeof(a) && memcmp(a, b, sizeof(a)) == 0 &&
	     wg_aead.open(&ctx, back, &out, sizeof(back), nonce, sizeof(nonce), a, sizeof(a), ad,
			  sizeof(ad)) &&
	     out == sizeof(back) && memcmp(back, msg, sizeof(msg)) == 0;
	a[7] ^= 1;
	ok = ok && !wg_aead.open(&ctx, back, &out, sizeof(back), nonce, sizeof(nonce), a, sizeof(a),
				 ad, sizeof(ad));
	wg_aead.cleanup(&ctx);
	sodium_memzero(&ctx, sizeof(ctx));
	sodium_memzero(key, sizeof(key));
	return ok;
}

/* Loads BoringSSL from path; false with the reason in why. */
static bool wg_aead_load(const char *path, char *why, size_t whylen)
{
	wg_aead_dlopen_fn libc_dlopen = wg_aead_libc_dlopen();
	const char *missing = NULL;
	void *h;

	if (!libc_dlopen) {
		snprintf(why, whylen, "glibc's dlopen not found in libc.so.6");
		return false;
	}
	h = libc_dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, whylen, "%s", e ? e : "dlopen failed");
		return false;
	}
	/* dlsym on the handle searches the library itself first. */
#define WG_AEAD_SYM(field, name)                                              \
	do {                                                                  \
		wg_aead.field = (__typeof__(wg_aead.field))dlsym(h, name);    \
		if (!wg_aead.field && !missing)                               \
			missing = name;                                       \
	} while (0)
	WG_AEAD_SYM(aead, "EVP_aead_chacha20_poly1305");
	WG_AEAD_SYM(init, "EVP_AEAD_CTX_init");
	WG_AEAD_SYM(cleanup, "EVP_AEAD_CTX_cleanup");
	WG_AEAD_SYM(seal, "EVP_AEAD_CTX_seal");
	WG_AEAD_SYM(open, "EVP_AEAD_CTX_open");
#undef WG_AEAD_SYM
	if (missing) {
		snprintf(why, whylen, "%s is not BoringSSL (no %s)", path, missing);
		goto fail;
	}
	wg_aead.chacha = wg_aead.aead();
	if (!wg_aead.chacha || !wg_aead_self_test()) {
		snprintf(why, whylen, "%s: ChaCha20-Poly1305 self-test against libsodium failed",
			 path);
		goto fail;
	}
	snprintf(wg_aead.path, sizeof(wg_aead.path), "%s", path);
	return true;
fail:
	wg_aead.aead = NULL;
	wg_aead.init = NULL;
	wg_aead.cleanup = NULL;
	wg_aead.seal = NULL;
	wg_aead.open = NULL;
	wg_aead.chacha = NULL;
	dlclose(h);
	return false;
}

static void wg_aead_choose(void)
{
	const char *env = getenv("CONSTELLA_WG_BORINGSSL");
	const char *path = env && *env ? env : WG_BORINGSSL_PATH;
	char why[PATH_MAX + 128];

	if (sodium_init() < 0) {
		wg_aead.status = -EIO;
		return;
	}
	if (env && !strcmp(env, "off")) {
		snprintf(why, sizeof(why), "CONSTELLA_WG_BORINGSSL=off");
	} else if (wg_aead_load(path, why, sizeof(why))) {
		wg_aead.kind = WG_AEAD_BORINGSSL;
		cst_info("data path AEAD: BoringSSL ChaCha20-Poly1305 from %s", path);
		return;
	}
	wg_aead.kind = WG_AEAD_SODIUM;
	cst_info("data path AEAD: libsodium ChaCha20-Poly1305, slower than BoringSSL, "
		 "which is not used: %s", why);
}

int wg_aead_backend_init(void)
{
	pthread_once(&wg_aead_once, wg_aead_choose);
	return wg_aead.status;
}

const char *wg_aead_backend_name(void)
{
	return wg_aead.kind == WG_AEAD_BORINGSSL ? "boringssl" : "libsodium";
}

const char *wg_aead_backend_path(void)
{
	return wg_aead.kind == WG_AEAD_BORINGSSL ? wg_aead.path : NULL;
}

void *wg_aead_backend_symbol(const char *name)
{
	if (wg_aead.kind != WG_AEAD_BORINGSSL)
		return NULL;
	if (!strcmp(name, "EVP_AEAD_CTX_seal"))
		return (void *)wg_aead.seal;
	if (!strcmp(name, "EVP_AEAD_CTX_open"))
		return (void *)wg_aead.open;
	if (!strcmp(name, "EVP_AEAD_CTX_init"))
		return (void *)wg_aead.init;
	if (!strcmp(name, "EVP_AEAD_CTX_cleanup"))
		return (void *)wg_aead.cleanup;
	if (!strcmp(name, "EVP_aead_chacha20_poly1305"))
		return (void *)wg_aead.aead;
	return NULL;
}

int wg_aead_ctx_init(struct wg_aead_ctx *ctx, const uint8_t key[WG_KEY_LEN])
{
	/* A context is made for the backend in use: make sure it is chosen
	 * (after the first call this is one load of the once flag). */
	if (wg_aead_backend_init() < 0)
		return -EIO;
	memset(ctx, 0, sizeof(*ctx)); /* EVP_AEAD_CTX_zero: cleanup is then safe */
	if (wg_aead.kind == WG_AEAD_BORINGSSL)
		return wg_aead.init((EVP_AEAD_CTX *)ctx->opaque, wg_aead.chacha, key, WG_KEY_LEN,
				    WG_TAG_LEN, NULL) ? 0 : -EIO;
	memcpy(ctx->opaque, key, WG_KEY_LEN);
	return 0;
}

void wg_aead_ctx_cleanup(struct wg_aead_ctx *ctx)
{
	if (wg_aead.kind == WG_AEAD_BORINGSSL)
		wg_aead.cleanup((EVP_AEAD_CTX *)ctx->opaque);
	/* BoringSSL's cleanup leaves ChaCha20's key in the context */
	sodium_memzero(ctx, sizeof(*ctx));
}

int wg_aead_ctx_seal(const struct wg_aead_ctx *ctx, uint8_t *dst, const uint8_t nonce[12],
		     const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen)
{
	size_t out = 0;

	if (__builtin_expect(wg_aead.kind == WG_AEAD_BORINGSSL, 1))
		return wg_aead.seal((const EVP_AEAD_CTX *)ctx->opaque, dst, &out, len + WG_TAG_LEN,
				    nonce, 12, src, len, ad, adlen) ? 0 : -EIO;
	crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad, adlen, NULL, nonce,
						  ctx->opaque);
	return 0;
}

int wg_aead_ctx_open(const struct wg_aead_ctx *ctx, uint8_t *dst, const uint8_t nonce[12],
		     const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen)
{
	size_t out = 0;

	if (len < WG_TAG_LEN)
		return -EBADMSG;
	if (__builtin_expect(wg_aead.kind == WG_AEAD_BORINGSSL, 1))
		return wg_aead.open((const EVP_AEAD_CTX *)ctx->opaque, dst, &out, len - WG_TAG_LEN,
				    nonce, 12, src, len, ad, adlen) ? 0 : -EBADMSG;
	return crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, ad, adlen,
							 nonce, ctx->opaque) == 0 ? 0 : -EBADMSG;
}
