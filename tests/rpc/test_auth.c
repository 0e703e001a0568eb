#include <sodium.h>

#include "auth.h"
#include "test.h"

static const uint8_t secret[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
#define NOW 1800000000ULL
#define BODY "{\"method\":\"Reboot\",\"params\":{}}"

static enum rpc_auth_result verify(const struct rpc_auth_headers *h, const char *method,
				   const char *body, uint64_t now, struct rpc_replay_cache *c)
{
	return rpc_auth_verify(secret, sizeof(secret), method, "/rpc", body, strlen(body),
			       h->timestamp, h->nonce, h->signature, now, 15, c);
}

static void test_rpc_auth_signature_matches_independent_hmac(void)
{
	struct rpc_auth_headers h;
	uint8_t bh[32], mac[32];
	char bhex[65], canon[512], want[65];
	CHECK_EQ_INT(rpc_auth_sign(secret, sizeof(secret), "POST", "/rpc", BODY, strlen(BODY), NOW, &h), 0);
	CHECK_STR(h.timestamp, "1800000000");
	crypto_hash_sha256(bh, (const uint8_t *)BODY, strlen(BODY));
	sodium_bin2hex(bhex, sizeof(bhex), bh, 32);
	snprintf(canon, sizeof(canon), "constella-rpc-v1\nPOST\n/rpc\n%s\n%s\n%s", h.timestamp, h.nonce, bhex);
	crypto_auth_hmacsha256(mac, (const uint8_t *)canon, strlen(canon), secret);
	sodium_bin2hex(want, sizeof(want), mac, 32);
	CHECK_STR(h.signature, want);
}

static void test_rpc_auth_accepts_once_and_rejects_replay(void)
{
	struct rpc_replay_cache *c;
	struct rpc_auth_headers h;
	CHECK_EQ_INT(rpc_replay_cache_new(64, &c), 0);
	rpc_auth_sign(secret, sizeof(secret), "POST", "/rpc", BODY, strlen(BODY), NOW, &h);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW + 1, c), RPC_AUTH_OK);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW + 2, c), RPC_AUTH_REPLAY); /* a replayed Reboot */
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW + 15, c), RPC_AUTH_REPLAY);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW + 16, c), RPC_AUTH_STALE); /* and later: stale */
	rpc_replay_cache_free(c);
}

static void test_rpc_auth_rejects_stale_future_forged_and_tampered(void)
{
	struct rpc_replay_cache *c;
	struct rpc_auth_headers h, bad;
	uint8_t other[32] = { 9 };
	CHECK_EQ_INT(rpc_replay_cache_new(64, &c), 0);
	rpc_auth_sign(secret, sizeof(secret), "POST", "/rpc", BODY, strlen(BODY), NOW, &h);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW + 16, c), RPC_AUTH_STALE);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW - 16, c), RPC_AUTH_STALE);
	CHECK_EQ_INT(verify(&h, "GET", BODY, NOW, c), RPC_AUTH_BAD_SIGNATURE);
	CHECK_EQ_INT(verify(&h, "POST", "{\"method\":\"GetPeers\"}", NOW, c), RPC_AUTH_BAD_SIGNATURE);
	bad = h;
	bad.timestamp[9] = bad.timestamp[9] == '1' ? '2' : '1';
	CHECK_EQ_INT(verify(&bad, "POST", BODY, NOW, c), RPC_AUTH_BAD_SIGNATURE);
	rpc_auth_sign(other, sizeof(other), "POST", "/rpc", BODY, strlen(BODY), NOW, &bad);
	CHECK_EQ_INT(verify(&bad, "POST", BODY, NOW, c), RPC_AUTH_BAD_SIGNATURE);
	/* the failures recorded nothing: the genuine request still passes once */
	CHECK_EQ_INT(rpc_replay_cache_count(c, NOW), 0);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW, c), RPC_AUTH_OK);
	rpc_replay_cache_free(c);
}

static void test_rpc_auth_rejects_missing_and_malformed_headers(void)
{
	struct rpc_replay_cache *c;
	struct rpc_auth_headers h;
	CHECK_EQ_INT(rpc_replay_cache_new(64, &c), 0);
	rpc_auth_sign(secret, sizeof(secret), "POST", "/rpc", BODY, strlen(BODY), NOW, &h);
	CHECK_EQ_INT(rpc_auth_verify(secret, 32, "POST", "/rpc", BODY, strlen(BODY), NULL, h.nonce,
				     h.signature, NOW, 15, c), RPC_AUTH_MISSING);
	CHECK_EQ_INT(rpc_auth_verify(secret, 32, "POST", "/rpc", BODY, strlen(BODY), "12x", h.nonce,
				     h.signature, NOW, 15, c), RPC_AUTH_MALFORMED);
	CHECK_EQ_INT(rpc_auth_verify(secret, 32, "POST", "/rpc", BODY, strlen(BODY), h.timestamp,
				     "abcd", h.signature, NOW, 15, c), RPC_AUTH_MALFORMED);
	{
		char zts[32];
		snprintf(zts, sizeof(zts), "0%s", h.timestamp); /* one spelling per time */
		CHECK_EQ_INT(rpc_auth_verify(secret, 32, "POST", "/rpc", BODY, strlen(BODY), zts,
					     h.nonce, h.signature, NOW, 15, c), RPC_AUTH_MALFORMED);
	}
	CHECK_EQ_INT(rpc_auth_verify(secret, 32, "POST", "/rpc", BODY, strlen(BODY), h.timestamp,
				     h.nonce, "ZZ", NOW, 15, c), RPC_AUTH_MALFORMED);
	CHECK_EQ_INT(rpc_auth_verify(secret, 8, "POST", "/rpc", BODY, strlen(BODY), h.timestamp,
				     h.nonce, h.signature, NOW, 15, c), RPC_AUTH_BAD_SIGNATURE);
	CHECK_STR(rpc_auth_result_str(RPC_AUTH_REPLAY), "replayed request");
	rpc_replay_cache_free(c);
}

static void test_rpc_auth_cache_full_refuses_instead_of_forgetting(void)
{
	struct rpc_replay_cache *c;
	struct rpc_auth_headers h;
	int ok = 0, busy = 0;
	CHECK_EQ_INT(rpc_replay_cache_new(16, &c), 0);
	for (int i = 0; i < 20; i++) {
		rpc_auth_sign(secret, sizeof(secret), "POST", "/rpc", BODY, strlen(BODY), NOW, &h);
		enum rpc_auth_result r = verify(&h, "POST", BODY, NOW, c);
		ok += r == RPC_AUTH_OK;
		busy += r == RPC_AUTH_BUSY;
	}
	CHECK_EQ_INT(ok, 16);
	CHECK_EQ_INT(busy, 4);
	/* once the window has passed, slots are reusable */
	rpc_auth_sign(secret, sizeof(secret), "POST", "/rpc", BODY, strlen(BODY), NOW + 40, &h);
	CHECK_EQ_INT(verify(&h, "POST", BODY, NOW + 40, c), RPC_AUTH_OK);
	rpc_replay_cache_free(c);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN_TEST(test_rpc_auth_signature_matches_independent_hmac);
	RUN_TEST(test_rpc_auth_accepts_once_and_rejects_replay);
	RUN_TEST(test_rpc_auth_rejects_stale_future_forged_and_tampered);
	RUN_TEST(test_rpc_auth_rejects_missing_and_malformed_headers);
	RUN_TEST(test_rpc_auth_cache_full_refuses_instead_of_forgetting);
	return TEST_DONE();
}
