/* Microbenchmarks of the protocol core: responder handshakes per second and
 * transport seal/open throughput, next to the raw AEADs (libsodium and
 * BoringSSL) on the same machine in the same run, so the overhead of our
 * framing shows as a ratio. Prints a Markdown table. "Raw BoringSSL" calls
 * the entry points of the library the AEAD backend loaded (aead.h): nothing
 * links BoringSSL, the benchmark included. */
#include <arpa/inet.h>
#include <openssl/aead.h> /* types only */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aead.h"
#include "crypto.h"
#include "proto.h"

/* BoringSSL's entry points, from the backend (main fills them). */
static __typeof__(EVP_aead_chacha20_poly1305) *b_aead;
static __typeof__(EVP_AEAD_CTX_init) *b_init;
static __typeof__(EVP_AEAD_CTX_cleanup) *b_cleanup;
static __typeof__(EVP_AEAD_CTX_seal) *b_seal;
static __typeof__(EVP_AEAD_CTX_open) *b_open;

/* The measuring thread's CPU time, not the wall clock: on a shared machine
 * the time other work holds the core is not ours (wall-clock runs of this
 * benchmark at a load average of 5 varied by 2x; CPU-time runs by 2-3 %). */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct side {
	struct wg_proto proto;
	struct wg_peer *peer;
	struct sockaddr_in addr;
};

static void pair(struct side *a, struct side *b)
{
	uint8_t k[32];
	struct wg_identity ia, ib;
	struct side *s[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		memset(s[i], 0, sizeof(*s[i]));
		wg_proto_init(&s[i]->proto);
		wg_key_generate_private(k);
		wg_proto_set_private_key(&s[i]->proto, k);
		s[i]->addr.sin_family = AF_INET;
		s[i]->addr.sin_port = htons((uint16_t)(1000 + i));
	}
	wg_proto_get_identity(&a->proto, &ia);
	wg_proto_get_identity(&b->proto, &ib);
	wg_proto_add_peer(&a->proto, ib.public_key, NULL, &a->peer);
	wg_proto_add_peer(&b->proto, ia.public_key, NULL, &b->peer);
}

/* Responder cost: consume an initiation (mac1, 2 DH + precomputed, 2 AEAD)
 * and create the response (2 DH, AEAD). Initiations are prepared first so
 * only the responder's work is timed. */
static double bench_handshakes(void)
{
	enum { N = 2000 };
	static struct wg_msg_initiation inits[N];
	struct side a, b;
	struct wg_msg_response resp;
	struct wg_proto_result r;
	uint64_t wall = 1700000000ULL * WG_NSEC_PER_SEC, mono = 1000ULL * WG_NSEC_PER_SEC;
	double t0, elapsed;
	long n = 0;

	pair(&a, &b);
	for (int i = 0; i < N; i++) {
		wall += WG_NSEC_PER_SEC; /* each newer than the last */
		wg_proto_create_initiation(&a.proto, a.peer, &inits[i], mono, wall);
	}
	t0 = now_s();
	for (int i = 0; i < N; i++) {
		mono += WG_NSEC_PER_SEC; /* stay under the 50/s flood limit */
		if (wg_proto_receive(&b.proto, (uint8_t *)&inits[i], sizeof(inits[i]),
				     (struct sockaddr *)&a.addr, sizeof(a.addr), false, mono, wall,
				     NULL, 0, &r) == 0) {
			wg_proto_create_response(&b.proto, r.peer, &resp, mono, wall);
			wg_proto_result_release(&r);
			n++;
		}
	}
	elapsed = now_s() - t0;
	if (n != N) {
		fprintf(stderr, "wg_micro: only %ld of %d handshakes succeeded\n", n, N);
		exit(1);
	}
	wg_peer_put(a.peer);
	wg_peer_put(b.peer);
	wg_proto_deinit(&a.proto);
	wg_proto_deinit(&b.proto);
	return n / elapsed;
}

struct tput { double seal_mbs, open_mbs, seal_mpps, open_mpps; };

static struct tput bench_transport(size_t size, double secs)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_proto_result r;
	static uint8_t plain[2048], sealed[4096], out[4096];
	uint64_t mono = 1000ULL * WG_NSEC_PER_SEC, wall = 1700000000ULL * WG_NSEC_PER_SEC;
	struct tput t;
	double t0, el;
	long n, total = 0;
	ssize_t len = 0;
	enum { BATCH = 256 };
	static uint8_t batch[BATCH][2048];
	static size_t blen[BATCH];

	pair(&a, &b);
	wg_proto_create_initiation(&a.proto, a.peer, &init, mono, wall);
	wg_proto_receive(&b.proto, (uint8_t *)&init, sizeof(init), (struct sockaddr *)&a.addr,
			 sizeof(a.addr), false, mono, wall, NULL, 0, &r);
	wg_proto_create_response(&b.proto, r.peer, &resp, mono, wall);
	wg_proto_result_release(&r);
	wg_proto_receive(&a.proto, (uint8_t *)&resp, sizeof(resp), (struct sockaddr *)&b.addr,
			 sizeof(b.addr), false, mono, wall, NULL, 0, &r);
	wg_proto_result_release(&r);
	memset(plain, 0xab, sizeof(plain));

	n = 0;
	t0 = now_s();
	do {
		for (int i = 0; i < 1024; i++)
			len = wg_proto_seal(&a.proto, a.peer, sealed, sizeof(sealed), plain, size, 1420,
					    mono);
		n += 1024;
	} while ((el = now_s() - t0) < secs);
	t.seal_mbs = (double)n * (double)size / el / 1e6;
	t.seal_mpps = (double)n / el / 1e6;
	if (len < (ssize_t)(32 + size)) { /* a failed seal must not pass for speed */
		fprintf(stderr, "wg_micro: seal failed (%zd)\n", len);
		exit(1);
	}

	/* open: a fresh in-order stream of sealed packets, opened in batches */
	n = 0;
	t0 = now_s();
	el = 0;
	do {
		for (int i = 0; i < BATCH; i++)
			blen[i] = (size_t)wg_proto_seal(&a.proto, a.peer, batch[i], sizeof(batch[i]),
						       plain, size, 1420, mono);
		double s = now_s();
		total += BATCH;
		for (int i = 0; i < BATCH; i++) {
			if (wg_proto_receive(&b.proto, batch[i], blen[i], (struct sockaddr *)&a.addr,
					     sizeof(a.addr), false, mono, wall, out, sizeof(out),
					     &r) == 0)
				n++;
			wg_proto_result_release(&r);
		}
		el += now_s() - s;
	} while (now_s() - t0 < secs * 2);
	if (n != total) {
		fprintf(stderr, "wg_micro: %ld of %ld packets failed to open\n", total - n, total);
		exit(1);
	}
	t.open_mbs = (double)n * (double)size / el / 1e6;
	t.open_mpps = (double)n / el / 1e6;
	wg_peer_put(a.peer);
	wg_peer_put(b.peer);
	wg_proto_deinit(&a.proto);
	wg_proto_deinit(&b.proto);
	return t;
}

static double bench_raw_sodium(size_t size, double secs)
{
	static uint8_t in[2048], out[2048 + 16];
	uint8_t key[32] = { 1 }, nonce[12] = { 0 };
	uint64_t c = 0;
	double t0 = now_s(), el;
	long n = 0;
	do {
		for (int i = 0; i < 1024; i++) {
			memcpy(nonce + 4, &c, 8);
			c++;
			crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, size, NULL, 0, NULL,
								  nonce, key);
		}
		n += 1024;
	} while ((el = now_s() - t0) < secs);
	return (double)n * (double)size / el / 1e6;
}

/* Raw open: the same ciphertext decrypted over and over (the AEAD does not
 * care about repetition; our open path would reject it as a replay). */
static double bench_raw_sodium_open(size_t size, double secs)
{
	static uint8_t in[2048], ct[2048 + 16], out[2048];
	uint8_t key[32] = { 1 }, nonce[12] = { 0 };
	unsigned long long ctlen;
	double t0, el;
	long n = 0;
	crypto_aead_chacha20poly1305_ietf_encrypt(ct, &ctlen, in, size, NULL, 0, NULL, nonce, key);
	t0 = now_s();
	do {
		for (int i = 0; i < 1024; i++)
			if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ctlen, NULL, 0,
								      nonce, key) != 0)
				exit(1);
		n += 1024;
	} while ((el = now_s() - t0) < secs);
	return (double)n * (double)size / el / 1e6;
}

static double bench_raw_boringssl_open(size_t size, double secs)
{
	static uint8_t in[2048], ct[2048 + 16], out[2048];
	uint8_t key[32] = { 1 }, nonce[12] = { 0 };
	EVP_AEAD_CTX ctx;
	size_t ctlen, ol;
	double t0, el;
	long n = 0;
	b_init(&ctx, b_aead(), key, 32, 16, NULL);
	b_seal(&ctx, ct, &ctlen, sizeof(ct), nonce, 12, in, size, NULL, 0);
	t0 = now_s();
	do {
		for (int i = 0; i < 1024; i++)
			if (!b_open(&ctx, out, &ol, sizeof(out), nonce, 12, ct, ctlen, NULL, 0))
				exit(1);
		n += 1024;
	} while ((el = now_s() - t0) < secs);
	b_cleanup(&ctx);
	return (double)n * (double)size / el / 1e6;
}

static double bench_raw_boringssl(size_t size, double secs)
{
	static uint8_t in[2048], out[2048 + 16];
	uint8_t key[32] = { 1 }, nonce[12] = { 0 };
	EVP_AEAD_CTX ctx;
	size_t ol;
	uint64_t c = 0;
	double t0, el;
	long n = 0;
	b_init(&ctx, b_aead(), key, 32, 16, NULL);
	t0 = now_s();
	do {
		for (int i = 0; i < 1024; i++) {
			memcpy(nonce + 4, &c, 8);
			c++;
			b_seal(&ctx, out, &ol, sizeof(out), nonce, 12, in, size, NULL, 0);
		}
		n += 1024;
	} while ((el = now_s() - t0) < secs);
	b_cleanup(&ctx);
	return (double)n * (double)size / el / 1e6;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	size_t sizes[2] = { 1420, 64 };

	if (wg_crypto_init() < 0)
		return 1;
	if (strcmp(wg_aead_backend_name(), "boringssl") != 0) {
		fprintf(stderr, "wg_micro: the AEAD backend is %s, not BoringSSL\n",
			wg_aead_backend_name());
		return 1;
	}
	b_aead = (__typeof__(b_aead))wg_aead_backend_symbol("EVP_aead_chacha20_poly1305");
	b_init = (__typeof__(b_init))wg_aead_backend_symbol("EVP_AEAD_CTX_init");
	b_cleanup = (__typeof__(b_cleanup))wg_aead_backend_symbol("EVP_AEAD_CTX_cleanup");
	b_seal = (__typeof__(b_seal))wg_aead_backend_symbol("EVP_AEAD_CTX_seal");
	b_open = (__typeof__(b_open))wg_aead_backend_symbol("EVP_AEAD_CTX_open");
	printf("| measure | value |\n|---|---|\n");
	printf("| responder handshakes/s (consume initiation + create response, 1 core) | %.0f |\n",
	       bench_handshakes());
	for (int i = 0; i < 2; i++) {
		struct tput t = bench_transport(sizes[i], secs);
		double raw_s = bench_raw_sodium(sizes[i], secs);
		double raw_b = bench_raw_boringssl(sizes[i], secs);
		double raw_so = bench_raw_sodium_open(sizes[i], secs);
		double raw_bo = bench_raw_boringssl_open(sizes[i], secs);
		printf("| %zu B: raw libsodium AEAD seal | %.0f MB/s |\n", sizes[i], raw_s);
		printf("| %zu B: raw libsodium AEAD open | %.0f MB/s |\n", sizes[i], raw_so);
		printf("| %zu B: raw BoringSSL AEAD seal | %.0f MB/s |\n", sizes[i], raw_b);
		printf("| %zu B: raw BoringSSL AEAD open | %.0f MB/s |\n", sizes[i], raw_bo);
		printf("| %zu B: wg transport seal (framing + padding + counter) | %.0f MB/s, %.2f Mpps |\n",
		       sizes[i], t.seal_mbs, t.seal_mpps);
		printf("| %zu B: wg transport open (index lookup + decrypt + replay) | %.0f MB/s, %.2f Mpps |\n",
		       sizes[i], t.open_mbs, t.open_mpps);
		printf("| %zu B: seal / raw BoringSSL | %.2f |\n", sizes[i], t.seal_mbs / raw_b);
		printf("| %zu B: open / raw BoringSSL open | %.2f |\n", sizes[i], t.open_mbs / raw_bo);
		printf("| %zu B: seal / raw libsodium | %.2f |\n", sizes[i], t.seal_mbs / raw_s);
		printf("| %zu B: open / raw libsodium open | %.2f |\n", sizes[i], t.open_mbs / raw_so);
		printf("| %zu B: BoringSSL / libsodium | %.2f |\n", sizes[i], raw_b / raw_s);
	}
	return 0;
}
