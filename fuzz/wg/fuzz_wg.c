/* libFuzzer harness for the WireGuard message consumers. One source, four
 * targets (FUZZ_WG_TARGET): initiation, response, cookie reply, transport.
 * Input byte 0 holds flags; the rest is the message. With flag 1 the harness
 * repairs what a blind fuzzer cannot forge (mac1, the receiver index) so the
 * DH and AEAD paths behind them are exercised too; flag 2 means "under
 * load". Every iteration builds fresh devices: no state leaks between runs.
 * Properties checked: no crash/leak, and a rejected message changes nothing
 * observable (handshake state, keypair slots, endpoint).
 * Determinism: wg_userspace draws all randomness (ephemeral keys, indices,
 * cookie secrets, nonces) from libsodium's randombytes, so the harness
 * installs a seeded generator and reseeds it for every input: the same
 * input always takes the same path. */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "proto.h"

/* Always on (FUZZ_CHECK() vanishes under NDEBUG): a violated property aborts. */
#define FUZZ_CHECK(c) do { if (!(c)) { fprintf(stderr, "property failed: %s\n", #c); abort(); } } while (0)

#define NOW (1000ULL * WG_NSEC_PER_SEC)
#define WALL (1700000000ULL * WG_NSEC_PER_SEC)

/* libsodium's randombytes hooks take no context, so the generator state is
 * file-scope; it is reset at the start of every input. splitmix64: fast,
 * and quality does not matter here, reproducibility does. */
static uint64_t fuzz_rng_state;

static uint64_t fuzz_rng_next(void)
{
	uint64_t z = (fuzz_rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *fuzz_rng_name(void) { return "fuzz-deterministic"; }
static uint32_t fuzz_rng_random(void) { return (uint32_t)fuzz_rng_next(); }

static void fuzz_rng_buf(void *const buf, const size_t size)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < size; i += 8) {
		uint64_t v = fuzz_rng_next();
		memcpy(p + i, &v, size - i < 8 ? size - i : 8);
	}
}

static randombytes_implementation fuzz_rng = {
	.implementation_name = fuzz_rng_name,
	.random = fuzz_rng_random,
	.buf = fuzz_rng_buf,
};

/* Must run before the first sodium_init() (inside wg_proto_init). */
static void fuzz_rng_reset(void)
{
	static bool installed;
	if (!installed) {
		randombytes_set_implementation(&fuzz_rng);
		/* sodium_init() draws a canary once; do it here, before the
		 * reset, so the first input sees the same stream as the rest */
		if (sodium_init() < 0)
			abort();
		installed = true;
	}
	fuzz_rng_state = 0x436f6e7374656c6cULL;
}

struct side {
	struct wg_proto proto;
	struct wg_peer *peer;
	struct sockaddr_in addr;
};

static void side_init(struct side *s, uint8_t seed)
{
	uint8_t priv[32];
	memset(s, 0, sizeof(*s));
	wg_proto_init(&s->proto);
	memset(priv, seed, sizeof(priv));
	wg_proto_set_private_key(&s->proto, priv);
	s->addr.sin_family = AF_INET;
	s->addr.sin_port = htons(51820);
	s->addr.sin_addr.s_addr = htonl(0x0a000000u + seed);
}

static void pair_init(struct side *a, struct side *b)
{
	struct wg_identity ia, ib;
	side_init(a, 1);
	side_init(b, 2);
	wg_proto_get_identity(&a->proto, &ia);
	wg_proto_get_identity(&b->proto, &ib);
	wg_proto_add_peer(&a->proto, ib.public_key, NULL, &a->peer);
	wg_proto_add_peer(&b->proto, ia.public_key, NULL, &b->peer);
}

static void pair_free(struct side *a, struct side *b)
{
	wg_peer_put(a->peer);
	wg_peer_put(b->peer);
	wg_proto_deinit(&a->proto);
	wg_proto_deinit(&b->proto);
}

static int deliver(struct side *to, struct side *from, const uint8_t *m, size_t len, bool load,
		   struct wg_proto_result *r)
{
	static uint8_t plain[4096];
	return wg_proto_receive(&to->proto, m, len, (struct sockaddr *)&from->addr,
				sizeof(from->addr), load, NOW, WALL, plain, sizeof(plain), r);
}

struct snap {
	enum wg_handshake_state st;
	void *prev, *cur, *next;
	uint64_t rx;
};

static __attribute__((unused)) void take(struct wg_peer *p, struct snap *s)
{
	memset(s, 0, sizeof(*s)); /* padding takes part in the memcmp */
	s->st = p->handshake.state;
	s->prev = p->keypair_previous;
	s->cur = p->keypair_current;
	s->next = p->keypair_next;
	s->rx = atomic_load(&p->rx_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side a, b;
	struct wg_proto_result r;
	struct snap before, after;
	(void)before; (void)after;
	uint8_t msg[4096];
	size_t len;
	uint8_t flags;
	int ret;

	if (size < 1 || size > sizeof(msg) + 1)
		return 0;
	flags = data[0];
	len = size - 1;
	memcpy(msg, data + 1, len);
	fuzz_rng_reset();
	pair_init(&a, &b);

#if FUZZ_WG_TARGET == 1 /* initiation consumed by b */
	if ((flags & 1) && len == WG_MSG_INITIATION_LEN) {
		memset(msg, 0, 4);
		msg[0] = WG_MSG_INITIATION;
		wg_cookie_add_macs(&a.peer->cookie, msg, len, NOW);
	}
	take(b.peer, &before);
	ret = deliver(&b, &a, msg, len, flags & 2, &r);
	if (ret < 0) {
		take(b.peer, &after);
		FUZZ_CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	}
	wg_proto_result_release(&r);
#elif FUZZ_WG_TARGET == 2 /* response consumed by a, which initiated */
	{
		struct wg_msg_initiation init;
		wg_proto_create_initiation(&a.proto, a.peer, &init, NOW, WALL);
		if ((flags & 1) && len == WG_MSG_RESPONSE_LEN) {
			memset(msg, 0, 4);
			msg[0] = WG_MSG_RESPONSE;
			memcpy(msg + 8, &init.sender_index, 4);
			wg_cookie_add_macs(&b.peer->cookie, msg, len, NOW);
		}
		take(a.peer, &before);
		ret = deliver(&a, &b, msg, len, flags & 2, &r);
		if (ret < 0) {
			take(a.peer, &after);
			FUZZ_CHECK(memcmp(&before, &after, sizeof(before)) == 0);
		}
		wg_proto_result_release(&r);
	}
#elif FUZZ_WG_TARGET == 3 /* cookie reply consumed by a */
	{
		struct wg_msg_initiation init;
		struct wg_cookie_maker cm;
		wg_proto_create_initiation(&a.proto, a.peer, &init, NOW, WALL);
		if ((flags & 1) && len == WG_MSG_COOKIE_REPLY_LEN) {
			memset(msg, 0, 4);
			msg[0] = WG_MSG_COOKIE_REPLY;
			memcpy(msg + 4, &init.sender_index, 4);
		}
		cm = a.peer->cookie;
		ret = deliver(&a, &b, msg, len, false, &r);
		if (ret < 0)
			FUZZ_CHECK(memcmp(&cm, &a.peer->cookie, sizeof(cm)) == 0);
		wg_proto_result_release(&r);
	}
#else /* transport: established session, b receives */
	{
		struct wg_msg_initiation init;
		struct wg_msg_response resp;
		if (wg_proto_create_initiation(&a.proto, a.peer, &init, NOW, WALL) == 0 &&
		    deliver(&b, &a, (uint8_t *)&init, sizeof(init), false, &r) == 0) {
			wg_proto_create_response(&b.proto, r.peer, &resp, NOW, WALL);
			wg_proto_result_release(&r);
			deliver(&a, &b, (uint8_t *)&resp, sizeof(resp), false, &r);
			wg_proto_result_release(&r);
		}
		if (flags & 4) {
			/* round trip: the input is a plaintext; open(seal(x)) == x */
			static uint8_t sealed[8192], plain[8192];
			ssize_t n = wg_proto_seal(&a.proto, a.peer, sealed, sizeof(sealed), msg, len,
						  flags & 8 ? 1420 : 0, NOW);
			if (n > 0) {
				ret = wg_proto_receive(&b.proto, sealed, (size_t)n,
						       (struct sockaddr *)&a.addr, sizeof(a.addr),
						       false, NOW, WALL, plain, sizeof(plain), &r);
				FUZZ_CHECK(ret == 0 && r.plain_len >= len && memcmp(plain, msg, len) == 0);
				wg_proto_result_release(&r);
			}
		} else {
			if ((flags & 1) && len >= WG_MSG_TRANSPORT_MIN_LEN && b.peer->keypair_next) {
				memset(msg, 0, 4);
				msg[0] = WG_MSG_TRANSPORT;
				memcpy(msg + 4, &b.peer->keypair_next->local_index, 4);
			}
			take(b.peer, &before);
			ret = deliver(&b, &a, msg, len, false, &r);
			if (ret < 0) {
				take(b.peer, &after);
				FUZZ_CHECK(memcmp(&before, &after, sizeof(before)) == 0);
			}
			wg_proto_result_release(&r);
		}
	}
#endif
	pair_free(&a, &b);
	return 0;
}

#ifdef FUZZ_WG_SEEDGEN
/* fuzz_wg_seedgen DIR: writes fully valid seed inputs for the four targets
 * into DIR/fuzz_wg_<target>/valid*. They are valid only because the
 * generator replays exactly the harness's deterministic setup (same RNG
 * reset, same keys, same clock), so the fuzzer starts past every check. */
static int write_seed(const char *dir, const char *target, const char *name, uint8_t flags,
		      const void *m, size_t len)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/fuzz_wg_%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f)
		return perror(path), -1;
	ok = fwrite(&flags, 1, 1, f) == 1 && fwrite(m, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Replays the harness prefix: a initiates, optionally b answers and a
 * completes the handshake. */
static void seed_setup(struct side *a, struct side *b, struct wg_msg_initiation *init,
		       struct wg_msg_response *resp, bool complete)
{
	struct wg_proto_result r;
	fuzz_rng_reset();
	pair_init(a, b);
	FUZZ_CHECK(wg_proto_create_initiation(&a->proto, a->peer, init, NOW, WALL) == 0);
	if (!resp)
		return;
	FUZZ_CHECK(deliver(b, a, (uint8_t *)init, sizeof(*init), false, &r) == 0);
	FUZZ_CHECK(wg_proto_create_response(&b->proto, r.peer, resp, NOW, WALL) == 0);
	wg_proto_result_release(&r);
	if (complete) {
		FUZZ_CHECK(deliver(a, b, (uint8_t *)resp, sizeof(*resp), false, &r) == 0);
		wg_proto_result_release(&r);
	}
}

int main(int argc, char **argv)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_proto_result r;
	static uint8_t sealed[2048], icmp[84];
	ssize_t n;
	int err = 0;

	if (argc != 2)
		return fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]), 2;

	seed_setup(&a, &b, &init, NULL, false);
	err |= write_seed(argv[1], "initiation", "valid0", 0, &init, sizeof(init));
	err |= write_seed(argv[1], "initiation", "valid_load", 2, &init, sizeof(init));
	pair_free(&a, &b);

	seed_setup(&a, &b, &init, &resp, false);
	err |= write_seed(argv[1], "response", "valid0", 0, &resp, sizeof(resp));
	pair_free(&a, &b);

	seed_setup(&a, &b, &init, NULL, false);
	FUZZ_CHECK(deliver(&b, &a, (uint8_t *)&init, sizeof(init), true, &r) == 0 &&
		   r.event == WG_PROTO_SEND_COOKIE);
	err |= write_seed(argv[1], "cookie_reply", "valid0", 0, &r.cookie_reply,
			  sizeof(r.cookie_reply));
	wg_proto_result_release(&r);
	pair_free(&a, &b);

	/* transport: a keepalive and a 84-byte IPv4 packet, both from the
	 * harness's established session (counters 0 and 0 of a fresh setup) */
	for (int i = 0; i < 2; i++) {
		seed_setup(&a, &b, &init, &resp, true);
		memset(icmp, 0, sizeof(icmp));
		icmp[0] = 0x45;
		icmp[3] = sizeof(icmp);
		icmp[9] = 1;
		n = wg_proto_seal(&a.proto, a.peer, sealed, sizeof(sealed), icmp, i ? sizeof(icmp) : 0,
				  1420, NOW);
		FUZZ_CHECK(n > 0);
		err |= write_seed(argv[1], "transport", i ? "valid_data" : "valid_keepalive", 0, sealed,
				  (size_t)n);
		pair_free(&a, &b);
	}
	return err ? 1 : 0;
}
#endif
