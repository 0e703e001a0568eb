#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rpc_auth_strs[] = {
	"ok", "missing authentication header", "malformed authentication header",
	"timestamp outside the accepted window", "bad signature", "replayed request",
	"too many requests in the replay window",
};

const char *rpc_auth_result_str(enum rpc_auth_result r)
{
	return (unsigned)r < sizeof(rpc_auth_strs) / sizeof(rpc_auth_strs[0]) ? rpc_auth_strs[r]
									    : "unknown";
}

static int rpc_auth_mac(const uint8_t *secret, size_t secret_len, const char *method,
			const char *path, const void *body, size_t body_len, const char *ts,
			const char *nonce, uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	uint8_t bh[crypto_hash_sha256_BYTES];
	char bhex[2 * crypto_hash_sha256_BYTES + 1];

	if (secret_len < RPC_SECRET_MIN || secret_len > RPC_SECRET_MAX)
		return -EINVAL;
	crypto_hash_sha256(bh, body, body_len);
	sodium_bin2hex(bhex, sizeof(bhex), bh, sizeof(bh));
	crypto_auth_hmacsha256_init(&st, secret, secret_len);
#define PART(s) crypto_auth_hmacsha256_update(&st, (const uint8_t *)(s), strlen(s))
	PART("constella-rpc-v1\n");
	PART(method);
	PART("\n");
	PART(path);
	PART("\n");
	PART(ts);
	PART("\n");
	PART(nonce);
	PART("\n");
	PART(bhex);
#undef PART
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	return 0;
}

int rpc_auth_sign(const uint8_t *secret, size_t secret_len, const char *method, const char *path,
		  const void *body, size_t body_len, uint64_t now_s, struct rpc_auth_headers *out)
{
	uint8_t nonce[RPC_NONCE_LEN], mac[crypto_auth_hmacsha256_BYTES];
	int ret;

	randombytes_buf(nonce, sizeof(nonce));
	snprintf(out->timestamp, sizeof(out->timestamp), "%" PRIu64, now_s);
	sodium_bin2hex(out->nonce, sizeof(out->nonce), nonce, sizeof(nonce));
	ret = rpc_auth_mac(secret, secret_len, method, path, body, body_len, out->timestamp,
			   out->nonce, mac);
	if (ret == 0)
		sodium_bin2hex(out->signature, sizeof(out->signature), mac, sizeof(mac));
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

/* Open addressing over nonces; a slot whose expiry has passed is free. */
struct rpc_replay_slot {
	uint8_t nonce[RPC_NONCE_LEN];
	uint64_t expires;
};

struct rpc_replay_cache {
	size_t mask;
	uint8_t key[crypto_shorthash_KEYBYTES];
	struct rpc_replay_slot *slots;
};

int rpc_replay_cache_new(size_t capacity, struct rpc_replay_cache **out)
{
	struct rpc_replay_cache *c;
	size_t n = 16;

	*out = NULL;
	if (capacity == 0 || capacity > (1u << 24))
		return -EINVAL;
	while (n < capacity)
		n <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->slots = calloc(n, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return -ENOMEM;
	}
	c->mask = n - 1;
	randombytes_buf(c->key, sizeof(c->key));
	*out = c;
	return 0;
}

void rpc_replay_cache_free(struct rpc_replay_cache *c)
{
	if (!c)
		return;
	free(c->slots);
	free(c);
}

size_t rpc_replay_cache_count(const struct rpc_replay_cache *c, uint64_t now_s)
{
	size_t n = 0;
	for (size_t i = 0; i <= c->mask; i++)
		n += c->slots[i].expires > now_s;
	return n;
}

/* Returns 0 when recorded, -EEXIST when live already, -ENOSPC when full. */
static int rpc_replay_cache_insert(struct rpc_replay_cache *c, const uint8_t *nonce,
				   uint64_t now_s, uint64_t expires)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t start;
	size_t free_slot = SIZE_MAX;

	/* Keyed hash: a peer cannot aim its nonces at one probe chain. */
	crypto_shorthash(h, nonce, RPC_NONCE_LEN, c->key);
	memcpy(&start, h, sizeof(start));
	for (size_t i = 0; i <= c->mask; i++) {
		struct rpc_replay_slot *s = &c->slots[(start + i) & c->mask];
		if (s->expires > now_s) {
			if (sodium_memcmp(s->nonce, nonce, RPC_NONCE_LEN) == 0)
				return -EEXIST;
		} else {
			if (free_slot == SIZE_MAX)
				free_slot = (start + i) & c->mask;
			if (s->expires == 0)
				break; /* never used: the chain ends here */
		}
	}
	if (free_slot == SIZE_MAX)
		return -ENOSPC;
	memcpy(c->slots[free_slot].nonce, nonce, RPC_NONCE_LEN);
	c->slots[free_slot].expires = expires;
	return 0;
}

static int rpc_auth_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	/* One spelling per value (no leading zeros); 19 digits cannot overflow. */
	if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int rpc_auth_is_hex(const char *s, size_t want)
{
	if (strlen(s) != want)
		return 0;
	for (size_t i = 0; i < want; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

enum rpc_auth_result rpc_auth_verify(const uint8_t *secret, size_t secret_len,
				     const char *method, const char *path, const void *body,
				     size_t body_len, const char *timestamp, const char *nonce,
				     const char *signature, uint64_t now_s, uint64_t skew_s,
				     struct rpc_replay_cache *cache)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	uint8_t nbin[RPC_NONCE_LEN];
	enum rpc_auth_result r = RPC_AUTH_OK;
	uint64_t ts;

	if (!timestamp || !nonce || !signature)
		return RPC_AUTH_MISSING;
	if (rpc_auth_parse_u64(timestamp, &ts) < 0 || !rpc_auth_is_hex(nonce, 2 * RPC_NONCE_LEN) ||
	    !rpc_auth_is_hex(signature, 2 * sizeof(mac)))
		return RPC_AUTH_MALFORMED;
	if (ts + skew_s < now_s || ts > now_s + skew_s)
		return RPC_AUTH_STALE;
	if (rpc_auth_mac(secret, secret_len, method, path, body, body_len, timestamp, nonce, mac) < 0)
		return RPC_AUTH_BAD_SIGNATURE;
	sodium_hex2bin(got, sizeof(got), signature, strlen(signature), NULL, NULL, NULL);
	if (crypto_verify_32(mac, got) != 0) {
		r = RPC_AUTH_BAD_SIGNATURE;
		goto out;
	}
	sodium_hex2bin(nbin, sizeof(nbin), nonce, strlen(nonce), NULL, NULL, NULL);
	/* Remember it until its timestamp could no longer pass the window. */
	switch (rpc_replay_cache_insert(cache, nbin, now_s, ts + skew_s + 1)) {
	case 0:
		break;
	case -EEXIST:
		r = RPC_AUTH_REPLAY;
		break;
	default:
		r = RPC_AUTH_BUSY;
		break;
	}
out:
	sodium_memzero(mac, sizeof(mac));
	return r;
}

int rpc_auth_signature_ok(const uint8_t *secret, size_t secret_len, const char *method,
			  const char *path, const void *body, size_t body_len,
			  const char *timestamp, const char *nonce, const char *signature)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	uint64_t ts;
	int ok;

	if (!timestamp || !nonce || !signature || rpc_auth_parse_u64(timestamp, &ts) < 0 ||
	    !rpc_auth_is_hex(nonce, 2 * RPC_NONCE_LEN) ||
	    !rpc_auth_is_hex(signature, 2 * sizeof(mac)) ||
	    rpc_auth_mac(secret, secret_len, method, path, body, body_len, timestamp, nonce, mac) < 0)
		return 0;
	sodium_hex2bin(got, sizeof(got), signature, strlen(signature), NULL, NULL, NULL);
	ok = crypto_verify_32(mac, got) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}
