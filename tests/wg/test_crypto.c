/* Known-answer tests for the primitives, from the RFCs. */
#include <errno.h>
#include <blake2.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>

#include "aead.h"
#include "crypto.h"
#include "rfc8439.h"
#include "test.h"

static void test_blake2s_rfc7693_abc(void)
{
	uint8_t out[32], want[32];
	test_unhex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", want, 32);
	wg_hash(out, "abc", 3);
	CHECK_MEM(out, want, 32);
}

/* RFC 7693 Appendix E: the Fibonacci-style byte sequence its self-test
 * feeds as inputs and keys. */
static void rfc7693_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BADu * seed, b = 1, t;
	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

/* RFC 7693 Appendix E: the hash of 48 unkeyed and keyed BLAKE2s outputs of
 * 16, 20, 28 and 32 bytes. Where our wrappers have that shape they produce
 * the output themselves: the unkeyed 32-byte ones come from wg_hash3 (input
 * split in two parts) and the keyed 16-byte ones from wg_mac, the MAC of
 * mac1 and mac2, so the vector covers both. */
static void test_blake2s_rfc7693_appendix_e_keyed_and_unkeyed(void)
{
	static const size_t md_len[4] = { 16, 20, 28, 32 };
	static const size_t in_len[6] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], key[32], md[32], want[32];
	blake2s_state grand;

	test_unhex("6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe", want, 32);
	CHECK_EQ_INT(blake2s_init(&grand, 32), 0);
	for (int i = 0; i < 4; i++) {
		size_t outlen = md_len[i];
		for (int j = 0; j < 6; j++) {
			size_t inlen = in_len[j], half = inlen / 2;
			rfc7693_seq(in, inlen, (uint32_t)inlen);
			if (outlen == WG_HASH_LEN)
				wg_hash3(md, in, half, in + half, inlen - half, NULL, 0);
			else
				CHECK_EQ_INT(blake2s(md, in, NULL, outlen, inlen, 0), 0);
			blake2s_update(&grand, md, outlen);
			rfc7693_seq(key, outlen, (uint32_t)outlen);
			if (outlen == WG_COOKIE_LEN)
				wg_mac(md, key, outlen, in, inlen);
			else
				CHECK_EQ_INT(blake2s(md, in, key, outlen, inlen, outlen), 0);
			blake2s_update(&grand, md, outlen);
		}
	}
	CHECK_EQ_INT(blake2s_final(&grand, md, 32), 0);
	CHECK_MEM(md, want, 32);
}

static void test_blake2s_parts_equal_whole(void)
{
	uint8_t a[32], b[32];
	wg_hash3(a, "ab", 2, "c", 1, NULL, 0);
	wg_hash(b, "abc", 3);
	CHECK_MEM(a, b, 32);
}

static void test_hmac_blake2s_matches_definition(void)
{
	/* HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) for a short key. */
	uint8_t key[32], out[32], inner[32], want[32], pad[64];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	wg_hmac(out, key, 32, "message", 7);
	memset(pad, 0x36, 64);
	for (int i = 0; i < 32; i++)
		pad[i] ^= key[i];
	wg_hash3(inner, pad, 64, "message", 7, NULL, 0);
	memset(pad, 0x5c, 64);
	for (int i = 0; i < 32; i++)
		pad[i] ^= key[i];
	wg_hash3(want, pad, 64, inner, 32, NULL, 0);
	CHECK_MEM(out, want, 32);
}

static void test_kdf_chain_follows_whitepaper(void)
{
	uint8_t key[32] = { 1 }, t0[32], t1[32], t2[32], t3[32], o1[32], o2[32], o3[32];
	uint8_t buf[33];
	wg_kdf(o1, o2, o3, key, "in", 2);
	wg_hmac(t0, key, 32, "in", 2);
	buf[0] = 1;
	wg_hmac(t1, t0, 32, buf, 1);
	memcpy(buf, t1, 32);
	buf[32] = 2;
	wg_hmac(t2, t0, 32, buf, 33);
	memcpy(buf, t2, 32);
	buf[32] = 3;
	wg_hmac(t3, t0, 32, buf, 33);
	CHECK_MEM(o1, t1, 32);
	CHECK_MEM(o2, t2, 32);
	CHECK_MEM(o3, t3, 32);
}

/* The backend the data path uses: BoringSSL from where the build found it,
 * libsodium when CONSTELLA_WG_BORINGSSL is "off" or names something that is
 * not BoringSSL (the test runs three times: ctest wg_crypto*). */
static void test_aead_backend_is_the_one_asked_for(void)
{
	const char *env = getenv("CONSTELLA_WG_BORINGSSL");
	bool off = env && *env;

	CHECK_STR(wg_aead_backend_name(), off ? "libsodium" : "boringssl");
	CHECK(off ? wg_aead_backend_path() == NULL : wg_aead_backend_path() != NULL);
	CHECK(off ? wg_aead_backend_symbol("EVP_AEAD_CTX_seal") == NULL :
		    wg_aead_backend_symbol("EVP_AEAD_CTX_seal") != NULL);
}

static void test_aead_rfc8439_2_8_2_libsodium_and_backend(void)
{
	uint8_t key[32], nonce[12], ad[12], want[200], got[200], back[200];
	size_t len = strlen(rfc8439_plain);
	unsigned long long clen = 0;
	struct wg_aead_ctx ctx;

	test_unhex(rfc8439_key, key, 32);
	test_unhex(rfc8439_nonce, nonce, 12);
	test_unhex(rfc8439_ad, ad, 12);
	CHECK_EQ_INT(test_unhex(rfc8439_cipher, want, sizeof(want)), (int)len + 16);
	crypto_aead_chacha20poly1305_ietf_encrypt(got, &clen, (const uint8_t *)rfc8439_plain, len,
						  ad, 12, NULL, nonce, key);
	CHECK_EQ_INT(clen, len + 16);
	CHECK_MEM(got, want, len + 16);
	/* The data path's AEAD must produce the same bytes, and open them. */
	CHECK_EQ_INT(wg_aead_ctx_init(&ctx, key), 0);
	memset(got, 0, sizeof(got));
	CHECK_EQ_INT(wg_aead_ctx_seal(&ctx, got, nonce, (const uint8_t *)rfc8439_plain, len, ad, 12),
		     0);
	CHECK_MEM(got, want, len + 16);
	CHECK_EQ_INT(wg_aead_ctx_open(&ctx, back, nonce, got, len + 16, ad, 12), 0);
	CHECK_MEM(back, rfc8439_plain, len);
	/* in place, both ways */
	memcpy(back, rfc8439_plain, len);
	CHECK_EQ_INT(wg_aead_ctx_seal(&ctx, back, nonce, back, len, ad, 12), 0);
	CHECK_MEM(back, want, len + 16);
	CHECK_EQ_INT(wg_aead_ctx_open(&ctx, back, nonce, back, len + 16, ad, 12), 0);
	CHECK_MEM(back, rfc8439_plain, len);
	/* a flipped bit of the tag, of the data, of the ad; too short */
	got[len + 3] ^= 1;
	CHECK_EQ_INT(wg_aead_ctx_open(&ctx, back, nonce, got, len + 16, ad, 12), -EBADMSG);
	got[len + 3] ^= 1;
	got[5] ^= 0x80;
	CHECK_EQ_INT(wg_aead_ctx_open(&ctx, back, nonce, got, len + 16, ad, 12), -EBADMSG);
	got[5] ^= 0x80;
	ad[0] ^= 1;
	CHECK_EQ_INT(wg_aead_ctx_open(&ctx, back, nonce, got, len + 16, ad, 12), -EBADMSG);
	CHECK_EQ_INT(wg_aead_ctx_open(&ctx, back, nonce, got, 15, NULL, 0), -EBADMSG);
	wg_aead_ctx_cleanup(&ctx);
	CHECK(sodium_is_zero(ctx.opaque, sizeof(ctx.opaque)));
}

static void test_aead_wireguard_nonce_is_zero_prefix_le_counter(void)
{
	uint8_t key[32] = { 7 }, nonce[12] = { 0 }, a[64], b[64];
	uint64_t counter = 0x0102030405060708ULL;
	wg_aead_seal(a, (const uint8_t *)"hello", 5, NULL, 0, counter, key);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
	crypto_aead_chacha20poly1305_ietf_encrypt(b, NULL, (const uint8_t *)"hello", 5, NULL, 0,
						  NULL, nonce, key);
	CHECK_MEM(a, b, 21);
	CHECK_EQ_INT(wg_aead_open(b, a, 21, NULL, 0, counter, key), 0);
	CHECK_MEM(b, "hello", 5);
	a[0] ^= 1;
	CHECK_EQ_INT(wg_aead_open(b, a, 21, NULL, 0, counter, key), -EBADMSG);
}

static void test_xaead_round_trip_and_tamper(void)
{
	uint8_t key[32] = { 9 }, nonce[24] = { 3 }, c[32], p[16];
	wg_xaead_seal(c, (const uint8_t *)"0123456789abcdef", 16, (const uint8_t *)"ad", 2, nonce, key);
	CHECK_EQ_INT(wg_xaead_open(p, c, 32, (const uint8_t *)"ad", 2, nonce, key), 0);
	CHECK_MEM(p, "0123456789abcdef", 16);
	CHECK_EQ_INT(wg_xaead_open(p, c, 32, (const uint8_t *)"aD", 2, nonce, key), -EBADMSG);
}

/* draft-irtf-cfrg-xchacha-03 §A.3.1: the cookie reply's AEAD. */
static void test_xaead_draft_xchacha_a_3_1(void)
{
	uint8_t key[32], nonce[24], ad[12], want[200], got[200], back[200];
	size_t len = strlen(rfc8439_plain);

	test_unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", key, 32);
	test_unhex("404142434445464748494a4b4c4d4e4f5051525354555657", nonce, 24);
	test_unhex("50515253c0c1c2c3c4c5c6c7", ad, 12);
	CHECK_EQ_INT(test_unhex("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
				"731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
				"2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
				"21f9664c97637da9768812f615c68b13b52e"
				"c0875924c1c7987947deafd8780acf49", want, sizeof(want)),
		     (int)len + 16);
	wg_xaead_seal(got, (const uint8_t *)rfc8439_plain, len, ad, 12, nonce, key);
	CHECK_MEM(got, want, len + 16);
	CHECK_EQ_INT(wg_xaead_open(back, want, len + 16, ad, 12, nonce, key), 0);
	CHECK_MEM(back, rfc8439_plain, len);
	want[len + 15] ^= 0x80;
	CHECK_EQ_INT(wg_xaead_open(back, want, len + 16, ad, 12, nonce, key), -EBADMSG);
}

static void test_x25519_rfc7748_5_2(void)
{
	static const char *v[2][3] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	for (int i = 0; i < 2; i++) {
		uint8_t k[32], u[32], want[32], out[32];
		test_unhex(v[i][0], k, 32);
		test_unhex(v[i][1], u, 32);
		test_unhex(v[i][2], want, 32);
		CHECK_EQ_INT(wg_dh(out, k, u), 0);
		CHECK_MEM(out, want, 32);
	}
}

static void test_x25519_rfc7748_6_1_alice_bob(void)
{
	uint8_t a[32], b[32], apub[32], bpub[32], want_a[32], want_b[32], want_k[32], k1[32], k2[32];
	test_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
	test_unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
	test_unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want_a, 32);
	test_unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want_b, 32);
	test_unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want_k, 32);
	CHECK_EQ_INT(wg_key_public_from_private(apub, a), 0);
	CHECK_EQ_INT(wg_key_public_from_private(bpub, b), 0);
	CHECK_MEM(apub, want_a, 32);
	CHECK_MEM(bpub, want_b, 32);
	CHECK_EQ_INT(wg_dh(k1, a, bpub), 0);
	CHECK_EQ_INT(wg_dh(k2, b, apub), 0);
	CHECK_MEM(k1, want_k, 32);
	CHECK_MEM(k2, want_k, 32);
}

static void test_x25519_rejects_all_zero_result(void)
{
	uint8_t priv[32], zero[32] = { 0 }, out[32];
	wg_key_generate_private(priv);
	CHECK_EQ_INT(wg_dh(out, priv, zero), -EINVAL);
	CHECK(wg_key_is_zero(out));
}

static void test_tai64n_whitens_nanoseconds(void)
{
	uint8_t a[12], b[12], want[12];
	/* 1 s + 0x1234567 ns → label 0x400000000000000b, nsec 0x01000000 */
	wg_tai64n(a, 1000000000ULL + 0x1234567ULL);
	test_unhex("400000000000000b01000000", want, 12);
	CHECK_MEM(a, want, 12);
	wg_tai64n(b, 1000000000ULL + 0x1000000ULL);
	CHECK_MEM(a, b, 12);
}

int main(void)
{
	if (wg_crypto_init() < 0)
		return 2;
	RUN_TEST(test_blake2s_rfc7693_abc);
	RUN_TEST(test_blake2s_rfc7693_appendix_e_keyed_and_unkeyed);
	RUN_TEST(test_blake2s_parts_equal_whole);
	RUN_TEST(test_hmac_blake2s_matches_definition);
	RUN_TEST(test_kdf_chain_follows_whitepaper);
	RUN_TEST(test_aead_backend_is_the_one_asked_for);
	RUN_TEST(test_aead_rfc8439_2_8_2_libsodium_and_backend);
	RUN_TEST(test_aead_wireguard_nonce_is_zero_prefix_le_counter);
	RUN_TEST(test_xaead_round_trip_and_tamper);
	RUN_TEST(test_xaead_draft_xchacha_a_3_1);
	RUN_TEST(test_x25519_rfc7748_5_2);
	RUN_TEST(test_x25519_rfc7748_6_1_alice_bob);
	RUN_TEST(test_x25519_rejects_all_zero_result);
	RUN_TEST(test_tai64n_whitens_nanoseconds);
	return TEST_DONE();
}
