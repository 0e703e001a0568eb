/* libFuzzer target for the request verifier: headers and body come from
 * the input (split on NUL bytes); nothing may crash or leak, a random
 * request must never verify, and the cache records nothing on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[32] = { 7 };
	struct rpc_replay_cache *c;
	char *copy, *parts[4] = { 0 };
	size_t n = 0, start = 0;
	enum rpc_auth_result r;

	if (rpc_replay_cache_new(16, &c) < 0)
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
	r = rpc_auth_verify(secret, sizeof(secret), "POST", "/rpc", parts[3] ? parts[3] : "",
			    parts[3] ? strlen(parts[3]) : 0, parts[0], parts[1], parts[2],
			    1800000000ULL, 15, c);
	if (r == RPC_AUTH_OK || rpc_replay_cache_count(c, 1800000000ULL) != 0) {
		fprintf(stderr, "forged request accepted or recorded\n");
		abort();
	}
	free(copy);
	rpc_replay_cache_free(c);
	return 0;
}
