/* libFuzzer target for the request verifier. The input is
 * timestamp NUL nonce NUL signature NUL body. A random request must never
 * verify and the cache records nothing on failure. When the signature part is
 * "SIGN" the harness signs the request itself (HMAC computed here with
 * libsodium over the documented canonical string), reaching the accept path:
 * then it must verify exactly when the timestamp is in the window and the
 * nonce well formed, and a second presentation must be a replay. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define NOW 1800000000ULL
#define SKEW 15

static const uint8_t secret[32] = { 7 };

static void sign(const char *ts, const char *nonce, const char *body, char out[65])
{
	crypto_auth_hmacsha256_state st;
	uint8_t bh[32], mac[32];
	char bhex[65];

	crypto_hash_sha256(bh, (const uint8_t *)body, strlen(body));
	sodium_bin2hex(bhex, sizeof(bhex), bh, sizeof(bh));
	crypto_auth_hmacsha256_init(&st, secret, sizeof(secret));
#define PART(s) crypto_auth_hmacsha256_update(&st, (const uint8_t *)(s), strlen(s))
	PART("constella-rpc-v1\nPOST\n/rpc\n");
	PART(ts);
	PART("\n");
	PART(nonce);
	PART("\n");
	PART(bhex);
#undef PART
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

/* What the verifier should think of the timestamp and nonce. */
static int well_formed(const char *ts, const char *nonce)
{
	uint64_t t = 0;
	size_t n = strlen(ts);

	if (n == 0 || n > 19 || (n > 1 && ts[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return 0;
		t = t * 10 + (uint64_t)(ts[i] - '0');
	}
	if (strlen(nonce) != 2 * RPC_NONCE_LEN)
		return 0;
	for (size_t i = 0; nonce[i]; i++)
		if (!((nonce[i] >= '0' && nonce[i] <= '9') || (nonce[i] >= 'a' && nonce[i] <= 'f')))
			return 0;
	return t + SKEW >= NOW && t <= NOW + SKEW;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_replay_cache *c;
	char *copy, *parts[4] = { 0 }, sig[65];
	size_t n = 0, start = 0;
	enum rpc_auth_result r;
	const char *body;

	if (sodium_init() < 0 || rpc_replay_cache_new(16, &c) < 0)
		return 0;
	copy = malloc(size + 1);
	if (!copy) {
		rpc_replay_cache_free(c);
		return 0;
	}
	memcpy(copy, data, size);
	copy[size] = 0;
	for (size_t i = 0; i <= size && n < 4; i++) {
		if (copy[i] == 0) {
			parts[n++] = copy + start;
			start = i + 1;
		}
	}
	body = parts[3] ? parts[3] : "";
	if (parts[0] && parts[1] && parts[2] && strcmp(parts[2], "SIGN") == 0) {
		int expect = well_formed(parts[0], parts[1]);
		sign(parts[0], parts[1], body, sig);
		r = rpc_auth_verify(secret, sizeof(secret), "POST", "/rpc", body, strlen(body),
				    parts[0], parts[1], sig, NOW, SKEW, c);
		if ((r == RPC_AUTH_OK) != expect) {
			fprintf(stderr, "verdict %s disagrees with the model (%d)\n",
				rpc_auth_result_str(r), expect);
			abort();
		}
		if (r == RPC_AUTH_OK &&
		    rpc_auth_verify(secret, sizeof(secret), "POST", "/rpc", body, strlen(body),
				    parts[0], parts[1], sig, NOW, SKEW, c) != RPC_AUTH_REPLAY) {
			fprintf(stderr, "replay accepted\n");
			abort();
		}
		goto out;
	}
	r = rpc_auth_verify(secret, sizeof(secret), "POST", "/rpc", body, strlen(body), parts[0],
			    parts[1], parts[2], NOW, SKEW, c);
	if (r == RPC_AUTH_OK || rpc_replay_cache_count(c, NOW) != 0) {
		fprintf(stderr, "forged request accepted or recorded\n");
		abort();
	}
out:
	free(copy);
	rpc_replay_cache_free(c);
	return 0;
}
