/* The libcrypto clash, settled in one process (what constellad is): libcurl
 * (GnuTLS flavour, which brings OpenSSL's libcrypto.so.3 through libssh2)
 * and wg_userspace (BoringSSL's libcrypto.so.0, loaded by the AEAD backend)
 * side by side, both used for real.
 *
 *   crypto_clash URL CA_FILE BODY_SHA256 IFNAME KEYFILE PEER_PUB PEER_ENDPOINT
 *                ADDR/PREFIX PEER_IP PORT MB
 *
 * Asserts, in order:
 *  premise  OpenSSL's libcrypto.so.3 is loaded and owns the global
 *           OPENSSL_cleanse; a BoringSSL loaded the ordinary way (RTLD_LOCAL,
 *           no deep binding; in a child process) has its own calls to
 *           OPENSSL_cleanse and CRYPTO_memcmp bound into OpenSSL: the clash
 *           is real here;
 *  backend  the AEAD backend is BoringSSL, its entry points lie in
 *           libcrypto.so.0, its own calls to OPENSSL_cleanse / CRYPTO_memcmp
 *           are bound into itself, none of its names entered the global scope
 *           (which still resolves OPENSSL_cleanse and SHA256 into OpenSSL,
 *           whose SHA256 still computes SHA-256), and libssh2 still starts;
 *  aead     the RFC 8439 §2.8.2 vector through the backend;
 *  https    a GET through libcurl/GnuTLS to the local TLS server, body checked
 *           by SHA-256 (before the tunnel and after it);
 *  tunnel   an embedded device (wg_device_set, addresses over rtnetlink)
 *           carries MB megabytes to the peer's echo server and back over TCP:
 *           the echo must equal what was sent (SHA-256); prints
 *           "sent BYTES SHA256" for the script to compare with the peer's.
 * Exit 0 when everything held; every wait is bounded. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aead.h"
#include "crypto.h"
#include "device.h"
#include "log.h"
#include "rfc8439.h"
#include "tun.h"

#ifndef BORINGSSL_RUNTIME
#error "BORINGSSL_RUNTIME: the libcrypto.so.0 the build found"
#endif

#if defined(__x86_64__)
#define PLT_RELOC R_X86_64_JUMP_SLOT
#elif defined(__aarch64__)
#define PLT_RELOC R_AARCH64_JUMP_SLOT
#else
#error "the GOT check knows x86_64 and aarch64"
#endif

static int failures;

#define EXPECT(what, cond) do { if (cond) { printf("ok: %s\n", what); } else { \
	printf("FAIL: %s\n", what); failures++; } } while (0)

/* ---- where symbols and relocations point ---- */

static const char *object_of(const void *addr)
{
	Dl_info info;

	return addr && dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "(none)";
}

static bool in_object(const void *addr, const char *soname)
{
	return strstr(object_of(addr), soname) != NULL;
}

struct find_loaded {
	const char *soname;
	int count;
};

static int find_loaded_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find_loaded *f = data;

	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, f->soname))
		f->count++;
	return 0;
}

static int loaded_count(const char *soname)
{
	struct find_loaded f = { .soname = soname };

	dl_iterate_phdr(find_loaded_cb, &f);
	return f.count;
}

/* The dynamic section's pointers are absolute once glibc relocated them,
 * relative to the load address otherwise. */
static uintptr_t dyn_ptr(const struct link_map *lm, ElfW(Addr) p)
{
	return p < lm->l_addr ? lm->l_addr + p : p;
}

/* The function the PLT slot of sym in lm's object is bound to (its GOT
 * entry; BoringSSL is linked BIND_NOW, so every slot is filled at load), or
 * NULL when the object has no PLT relocation for sym. */
static const void *plt_target(const struct link_map *lm, const char *sym)
{
	const ElfW(Sym) *symtab = NULL;
	const ElfW(Rela) *rel = NULL;
	const char *strtab = NULL;
	size_t relsz = 0;

	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			symtab = (const void *)dyn_ptr(lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			strtab = (const void *)dyn_ptr(lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_JMPREL)
			rel = (const void *)dyn_ptr(lm, d->d_un.d_ptr);
		else if (d->d_tag == DT_PLTRELSZ)
			relsz = d->d_un.d_val;
	}
	if (!symtab || !strtab || !rel)
		return NULL;
	for (size_t i = 0; i < relsz / sizeof(*rel); i++) {
		if (ELF64_R_TYPE(rel[i].r_info) != PLT_RELOC ||
		    strcmp(strtab + symtab[ELF64_R_SYM(rel[i].r_info)].st_name, sym) != 0)
			continue;
		return *(void *const *)(lm->l_addr + rel[i].r_offset);
	}
	return NULL;
}

/* ---- premise: without deep binding the clash happens here ---- */

/* In a child (the parent must not load BoringSSL this way): an ordinary
 * RTLD_LOCAL load. Exit 0 when its own calls went to OpenSSL. */
static int control_child(const char *boringssl)
{
	struct link_map *lm = NULL;
	void *h = dlopen(boringssl, RTLD_NOW | RTLD_LOCAL);
	const void *c, *m;

	if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0) {
		fprintf(stderr, "control: cannot load %s: %s\n", boringssl, dlerror());
		return 2;
	}
	c = plt_target(lm, "OPENSSL_cleanse");
	m = plt_target(lm, "CRYPTO_memcmp");
	printf("control: an ordinary load of BoringSSL binds its OPENSSL_cleanse to %s, "
	       "CRYPTO_memcmp to %s\n", object_of(c), object_of(m));
	fflush(stdout);
	return in_object(c, "libcrypto.so.3") && in_object(m, "libcrypto.so.3") ? 0 : 1;
}

/* Runs before the backend loads BoringSSL (a child forked afterwards would
 * find it loaded already, deep-bound). */
static void check_premise(void)
{
	const char *boringssl = BORINGSSL_RUNTIME;
	pid_t pid;
	int status = -1;

	EXPECT("premise: OpenSSL's libcrypto.so.3 is loaded (libcurl -> libssh2)",
	       loaded_count("libcrypto.so.3") == 1);
	EXPECT("premise: the global OPENSSL_cleanse is OpenSSL's",
	       in_object(dlsym(RTLD_DEFAULT, "OPENSSL_cleanse"), "libcrypto.so.3"));
	EXPECT("premise: BoringSSL is not loaded yet", loaded_count("libcrypto.so.0") == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(control_child(boringssl));
	if (pid > 0)
		waitpid(pid, &status, 0);
	EXPECT("premise: without deep binding, BoringSSL's own calls bind into OpenSSL",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- the backend: BoringSSL, kept to itself ---- */

static void check_backend(void)
{
	static const char *const entry[] = { "EVP_aead_chacha20_poly1305", "EVP_AEAD_CTX_init",
					     "EVP_AEAD_CTX_seal", "EVP_AEAD_CTX_open",
					     "EVP_AEAD_CTX_cleanup" };
	struct link_map *lm = NULL;
	Dl_info info;
	bool all = true;
	const void *c = NULL, *m = NULL;
	unsigned char *(*sha256)(const unsigned char *, size_t, unsigned char *);
	const char *(*ossl_version)(int);
	int (*ssh2_init)(int);
	void (*ssh2_exit)(void);
	uint8_t a[32], b[32];

	EXPECT("backend: the data path's AEAD is BoringSSL",
	       !strcmp(wg_aead_backend_name(), "boringssl"));
	for (size_t i = 0; i < sizeof(entry) / sizeof(entry[0]); i++) {
		const void *p = wg_aead_backend_symbol(entry[i]);
		if (!in_object(p, "libcrypto.so.0")) {
			printf("  %s lies in %s\n", entry[i], object_of(p));
			all = false;
		}
	}
	EXPECT("backend: its EVP_AEAD entry points lie in BoringSSL's libcrypto.so.0", all);
	EXPECT("backend: BoringSSL is loaded once",
	       loaded_count("libcrypto.so.0") == 1);
	if (dladdr1(wg_aead_backend_symbol("EVP_AEAD_CTX_seal"), &info, (void **)&lm,
		    RTLD_DL_LINKMAP) && lm) {
		c = plt_target(lm, "OPENSSL_cleanse");
		m = plt_target(lm, "CRYPTO_memcmp");
	}
	printf("backend: BoringSSL's OPENSSL_cleanse is bound to %s, CRYPTO_memcmp to %s\n",
	       object_of(c), object_of(m));
	EXPECT("backend: deep binding: BoringSSL's own calls stay in BoringSSL",
	       in_object(c, "libcrypto.so.0") && in_object(m, "libcrypto.so.0"));
	EXPECT("backend: none of BoringSSL's names entered the global scope",
	       dlsym(RTLD_DEFAULT, "EVP_aead_chacha20_poly1305") == NULL &&
	       dlsym(RTLD_DEFAULT, "EVP_AEAD_CTX_seal") == NULL);
	EXPECT("backend: the global OPENSSL_cleanse and SHA256 are still OpenSSL's",
	       in_object(dlsym(RTLD_DEFAULT, "OPENSSL_cleanse"), "libcrypto.so.3") &&
	       in_object(dlsym(RTLD_DEFAULT, "SHA256"), "libcrypto.so.3"));
	/* OpenSSL itself, reached by name as libssh2 reaches it, still works. */
	sha256 = (__typeof__(sha256))dlsym(RTLD_DEFAULT, "SHA256");
	ossl_version = (__typeof__(ossl_version))dlsym(RTLD_DEFAULT, "OpenSSL_version");
	crypto_hash_sha256(b, (const uint8_t *)"constella", 9);
	EXPECT("backend: OpenSSL's SHA256 (by global name) equals libsodium's",
	       sha256 && sha256((const unsigned char *)"constella", 9, a) == a &&
	       memcmp(a, b, 32) == 0);
	EXPECT("backend: OpenSSL_version says OpenSSL 3",
	       ossl_version && !strncmp(ossl_version(0), "OpenSSL 3", 9));
	ssh2_init = (__typeof__(ssh2_init))dlsym(RTLD_DEFAULT, "libssh2_init");
	ssh2_exit = (__typeof__(ssh2_exit))dlsym(RTLD_DEFAULT, "libssh2_exit");
	EXPECT("backend: libssh2 starts its OpenSSL crypto", ssh2_init && ssh2_init(0) == 0);
	if (ssh2_exit)
		ssh2_exit();
}

static bool unhex(const char *hex, uint8_t *out, size_t cap, size_t want)
{
	size_t n = 0;

	return sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL) == 0 && n == want;
}

/* A forged message on a thread of its own: BoringSSL records the failure in
 * its per-thread error queue, which it allocates with its own (libc's)
 * malloc and frees from a thread-exit destructor with its own free; under
 * ASan that must pass without a report. */
static void *forged_open(void *arg)
{
	const struct wg_aead_ctx *ctx = arg;
	uint8_t nonce[12] = { 1 }, msg[64] = { 0 }, out[64];

	return (void *)(intptr_t)wg_aead_ctx_open(ctx, out, nonce, msg, sizeof(msg), NULL, 0);
}

static void check_rfc8439(void)
{
	uint8_t key[32], nonce[12], ad[12], want[200], got[200];
	size_t len = strlen(rfc8439_plain);
	struct wg_aead_ctx ctx = { 0 }; /* cleanup of a never-initialised one is a no-op */
	bool ok;

	ok = unhex(rfc8439_key, key, sizeof(key), 32) && unhex(rfc8439_nonce, nonce, 12, 12) &&
	     unhex(rfc8439_ad, ad, 12, 12) && unhex(rfc8439_cipher, want, sizeof(want), len + 16) &&
	     wg_aead_ctx_init(&ctx, key) == 0;
	ok = ok && wg_aead_ctx_seal(&ctx, got, nonce, (const uint8_t *)rfc8439_plain, len, ad,
				    sizeof(ad)) == 0 &&
	     memcmp(got, want, len + 16) == 0;
	ok = ok && wg_aead_ctx_open(&ctx, got, nonce, want, len + 16, ad, sizeof(ad)) == 0 &&
	     memcmp(got, rfc8439_plain, len) == 0;
	EXPECT("aead: RFC 8439 2.8.2 through the BoringSSL backend (seal and open)", ok);
	{
		pthread_t t;
		void *r = NULL;

		ok = pthread_create(&t, NULL, forged_open, &ctx) == 0 && pthread_join(t, &r) == 0 &&
		     (intptr_t)r == -EBADMSG;
		EXPECT("aead: a forged message is refused on a thread that then exits", ok);
	}
	wg_aead_ctx_cleanup(&ctx);
}

/* ---- HTTPS through libcurl (GnuTLS) ---- */

struct body {
	crypto_hash_sha256_state h;
	size_t n;
};

static size_t body_write(char *p, size_t size, size_t nmemb, void *user)
{
	struct body *b = user;

	crypto_hash_sha256_update(&b->h, (const uint8_t *)p, size * nmemb);
	b->n += size * nmemb;
	return size * nmemb;
}

static void check_https(const char *url, const char *ca, const char *want_hex, const char *when)
{
	struct body b = { .n = 0 };
	uint8_t sum[32];
	char hex[65], what[128];
	long code = 0;
	CURLcode rc;
	CURL *c = curl_easy_init();

	crypto_hash_sha256_init(&b.h);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	crypto_hash_sha256_final(&b.h, sum);
	sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
	printf("https %s: %s, HTTP %ld, %zu bytes, sha256 %s\n", when, curl_easy_strerror(rc), code,
	       b.n, hex);
	snprintf(what, sizeof(what), "https (%s): TLS-verified GET, body checked by SHA-256", when);
	EXPECT(what, rc == CURLE_OK && code == 200 && !strcmp(hex, want_hex));
}

/* ---- the tunnel ---- */

static int read_key(const char *path, uint8_t key[WG_KEY_LEN])
{
	char b64[128] = { 0 };
	size_t len = 0;
	FILE *f = fopen(path, "r");
	int ok = 0;

	if (f) {
		ok = fgets(b64, sizeof(b64), f) != NULL;
		fclose(f);
	}
	b64[strcspn(b64, "\r\n")] = 0;
	ok = ok && sodium_base642bin(key, WG_KEY_LEN, b64, strlen(b64), NULL, &len, NULL,
				     sodium_base64_VARIANT_ORIGINAL) == 0 && len == WG_KEY_LEN;
	sodium_memzero(b64, sizeof(b64));
	return ok ? 0 : -EINVAL;
}

static int device_up(struct wg_device **out, char **argv)
{
	struct wg_device_config cfg = { .ifname = argv[4], .uapi_optional = true };
	struct wg_uapi_allowed_ip aip, addr;
	struct wg_uapi_peer peer = { .allowed_ips = &aip, .n_allowed_ips = 1, .has_endpoint = true };
	struct wg_uapi_set set = { .has_private_key = true, .has_listen_port = true,
				   .listen_port = 51820, .peers = &peer, .n_peers = 1 };
	size_t len = 0;
	int ret;

	wg_timer_config_default(&cfg.timers);
	if (read_key(argv[5], set.private_key) < 0 ||
	    sodium_base642bin(peer.public_key, WG_KEY_LEN, argv[6], strlen(argv[6]), NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || len != WG_KEY_LEN ||
	    wg_uapi_parse_endpoint(argv[7], strlen(argv[7]), &peer.endpoint,
				   &peer.endpoint_len) < 0 ||
	    wg_uapi_parse_allowed_ip(argv[8], strlen(argv[8]), &addr) < 0)
		return -EINVAL;
	aip = addr; /* the tunnel's prefix: the peer's address is inside it */
	ret = wg_device_new(&cfg, out);
	if (ret == 0)
		ret = wg_device_set(*out, &set);
	sodium_memzero(set.private_key, sizeof(set.private_key));
	if (ret == 0)
		ret = tun_addr_add(wg_device_ifindex(*out), addr.family, addr.addr, addr.cidr);
	if (ret == 0)
		ret = tun_set_up(wg_device_ifindex(*out), 1);
	return ret;
}

/* Sends mb megabytes (deterministic pseudo-random) to the echo server at
 * ip:port, half-closes, reads the echo back; both hashed. */
static int transfer(const char *ip, int port, size_t mb, char sent_hex[65], char back_hex[65],
		    size_t *sent_out, size_t *back_out)
{
	static const uint8_t seed[randombytes_SEEDBYTES] = "constella crypto clash test....";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	crypto_hash_sha256_state hs, hb;
	uint8_t *buf = malloc(1 << 20), sum[32];
	size_t total = mb << 20, sent = 0, back = 0;
	int fd = -1, ret = -EIO;

	if (!buf || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		goto out;
	/* the peer's server may still be starting: bounded retries */
	for (int i = 0; i < 100; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		usleep(100000);
	}
	if (fd < 0)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 30 },
		   sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 30 },
		   sizeof(struct timeval));
	crypto_hash_sha256_init(&hs);
	crypto_hash_sha256_init(&hb);
	randombytes_buf_deterministic(buf, 1 << 20, seed);
	while (sent < total) {
		ssize_t n = send(fd, buf, 1 << 20, MSG_NOSIGNAL);
		if (n <= 0)
			goto out;
		crypto_hash_sha256_update(&hs, buf, (size_t)n);
		sent += (size_t)n;
		buf[sent % 4096] ^= (uint8_t)sent; /* not one block repeated */
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = recv(fd, buf, 1 << 20, 0);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		crypto_hash_sha256_update(&hb, buf, (size_t)n);
		back += (size_t)n;
	}
	crypto_hash_sha256_final(&hs, sum);
	sodium_bin2hex(sent_hex, 65, sum, sizeof(sum));
	crypto_hash_sha256_final(&hb, sum);
	sodium_bin2hex(back_hex, 65, sum, sizeof(sum));
	*sent_out = sent;
	*back_out = back;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static void check_tunnel(char **argv)
{
	struct wg_device *dev = NULL;
	struct wg_device_info info;
	char sent_hex[65] = "", back_hex[65] = "";
	size_t sent = 0, back = 0;
	int ret;

	ret = device_up(&dev, argv);
	EXPECT("tunnel: embedded device up (wg_device_new, wg_device_set, rtnetlink)", ret == 0);
	if (ret != 0) {
		printf("  %s\n", strerror(-ret));
		wg_device_free(dev);
		return;
	}
	ret = transfer(argv[9], atoi(argv[10]), (size_t)atoi(argv[11]), sent_hex, back_hex, &sent,
		       &back);
	printf("sent %zu %s\n", sent, sent_hex);
	printf("echoed %zu %s\n", back, back_hex);
	EXPECT("tunnel: TCP through the tunnel and back, SHA-256 equal both ways",
	       ret == 0 && sent == back && sent > 0 && !strcmp(sent_hex, back_hex));
	if (wg_device_get_info(dev, &info) == 0) {
		EXPECT("tunnel: the session's counters moved",
		       info.n_peers == 1 && info.peers[0].last_handshake_wall_ns > 0 &&
		       info.peers[0].rx_bytes > sent && info.peers[0].tx_bytes > sent);
		wg_device_info_free(&info);
	}
	wg_device_free(dev);
}

int main(int argc, char **argv)
{
	if (argc != 12) {
		fprintf(stderr, "usage: crypto_clash URL CA BODY_SHA256 IFNAME KEYFILE PEER_PUB "
				"PEER_ENDPOINT ADDR/PREFIX PEER_IP PORT MB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	cst_log_init(argv[4], CST_LOG_INFO);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	printf("libcurl: %s\n", curl_version());
	check_premise();
	if (wg_crypto_init() < 0) /* loads BoringSSL */
		return 1;
	check_backend();
	check_rfc8439();
	check_https(argv[1], argv[2], argv[3], "before the tunnel");
	check_tunnel(argv);
	check_https(argv[1], argv[2], argv[3], "after the tunnel");
	curl_global_cleanup();
	printf("%s\n", failures ? "FAILED" : "all held");
	return failures ? 1 : 0;
}
