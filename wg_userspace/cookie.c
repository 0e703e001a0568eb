#include "cookie.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "crypto.h"

static const char wg_label_mac1[8] = { 'm', 'a', 'c', '1', '-', '-', '-', '-' };
static const char wg_label_cookie[8] = { 'c', 'o', 'o', 'k', 'i', 'e', '-', '-' };

/* Offsets of mac1 and mac2: the two macs are the last 32 bytes. */
#define WG_MAC1_OFF(len) ((len) - 2 * WG_COOKIE_LEN)
#define WG_MAC2_OFF(len) ((len) - WG_COOKIE_LEN)

static bool wg_cookie_msg_len_ok(size_t len)
{
	return len == WG_MSG_INITIATION_LEN || len == WG_MSG_RESPONSE_LEN;
}

/* Source address bytes ‖ port, the input of a cookie. */
static size_t wg_cookie_src_bytes(const struct sockaddr *src, uint8_t out[18])
{
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;
		memcpy(out, &s4->sin_addr, 4);
		memcpy(out + 4, &s4->sin_port, 2);
		return 6;
	}
	if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;
		memcpy(out, &s6->sin6_addr, 16);
		memcpy(out + 16, &s6->sin6_port, 2);
		return 18;
	}
	return 0;
}

void wg_cookie_checker_init(struct wg_cookie_checker *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void wg_cookie_checker_deinit(struct wg_cookie_checker *c)
{
	pthread_mutex_destroy(&c->lock);
	sodium_memzero(c, sizeof(*c));
}

void wg_cookie_checker_set_key(struct wg_cookie_checker *c, const uint8_t *public_key)
{
	pthread_mutex_lock(&c->lock);
	if (public_key) {
		wg_hash3(c->mac1_key, wg_label_mac1, 8, public_key, WG_KEY_LEN, NULL, 0);
		wg_hash3(c->cookie_key, wg_label_cookie, 8, public_key, WG_KEY_LEN, NULL, 0);
		c->has_key = true;
	} else {
		sodium_memzero(c->mac1_key, sizeof(c->mac1_key));
		sodium_memzero(c->cookie_key, sizeof(c->cookie_key));
		c->has_key = false;
	}
	pthread_mutex_unlock(&c->lock);
}

/* cookie = MAC(R, src), R renewed every two minutes. Called with the lock. */
static void wg_cookie_compute(struct wg_cookie_checker *c, uint8_t cookie[WG_COOKIE_LEN],
			      const struct sockaddr *src, uint64_t now_ns)
{
	uint8_t sb[18];
	size_t n = wg_cookie_src_bytes(src, sb);

	if (!c->secret_valid || now_ns - c->secret_birth_ns >= WG_COOKIE_SECRET_MAX_AGE_NS) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth_ns = now_ns;
		c->secret_valid = true;
	}
	wg_mac(cookie, c->secret, sizeof(c->secret), sb, n);
}

enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const uint8_t *msg,
					    size_t len, const struct sockaddr *src,
					    bool check_cookie, uint64_t now_ns)
{
	uint8_t mac[WG_COOKIE_LEN], cookie[WG_COOKIE_LEN];
	enum wg_cookie_mac_state ret = WG_COOKIE_INVALID_MAC;

	if (!wg_cookie_msg_len_ok(len))
		return WG_COOKIE_INVALID_MAC;
	pthread_mutex_lock(&c->lock);
	if (!c->has_key)
		goto out;
	/* mac1 first: a flood of unauthenticated messages costs one BLAKE2s. */
	wg_mac(mac, c->mac1_key, WG_HASH_LEN, msg, WG_MAC1_OFF(len));
	if (sodium_memcmp(mac, msg + WG_MAC1_OFF(len), WG_COOKIE_LEN) != 0)
		goto out;
	ret = WG_COOKIE_VALID_MAC_NO_COOKIE;
	if (!check_cookie)
		goto out;
	wg_cookie_compute(c, cookie, src, now_ns);
	wg_mac(mac, cookie, WG_COOKIE_LEN, msg, WG_MAC2_OFF(len));
	if (sodium_memcmp(mac, msg + WG_MAC2_OFF(len), WG_COOKIE_LEN) == 0)
		ret = WG_COOKIE_VALID_MAC_WITH_COOKIE;
out:
	pthread_mutex_unlock(&c->lock);
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

int wg_cookie_create_reply(struct wg_cookie_checker *c, struct wg_msg_cookie_reply *reply,
			   const uint8_t *msg, size_t len, const struct sockaddr *src,
			   uint64_t now_ns)
{
	uint8_t cookie[WG_COOKIE_LEN];
	uint32_t sender;

	if (!wg_cookie_msg_len_ok(len))
		return -EINVAL;
	memcpy(&sender, msg + 4, 4); /* sender_index of initiation and response */
	reply->type = wg_le32(WG_MSG_COOKIE_REPLY);
	reply->receiver_index = sender;
	randombytes_buf(reply->nonce, sizeof(reply->nonce));
	pthread_mutex_lock(&c->lock);
	wg_cookie_compute(c, cookie, src, now_ns);
	wg_xaead_seal(reply->enc_cookie, cookie, WG_COOKIE_LEN, msg + WG_MAC1_OFF(len),
		      WG_COOKIE_LEN, reply->nonce, c->cookie_key);
	pthread_mutex_unlock(&c->lock);
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t remote_public[WG_KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	wg_hash3(m->mac1_key, wg_label_mac1, 8, remote_public, WG_KEY_LEN, NULL, 0);
	wg_hash3(m->cookie_key, wg_label_cookie, 8, remote_public, WG_KEY_LEN, NULL, 0);
}

void wg_cookie_add_macs(struct wg_cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns)
{
	wg_mac(msg + WG_MAC1_OFF(len), m->mac1_key, WG_HASH_LEN, msg, WG_MAC1_OFF(len));
	memcpy(m->last_mac1_sent, msg + WG_MAC1_OFF(len), WG_COOKIE_LEN);
	m->have_sent_mac1 = true;
	if (m->cookie_valid &&
	    now_ns - m->cookie_birth_ns < WG_COOKIE_SECRET_MAX_AGE_NS - WG_COOKIE_SECRET_LATENCY_NS)
		wg_mac(msg + WG_MAC2_OFF(len), m->cookie, WG_COOKIE_LEN, msg, WG_MAC2_OFF(len));
	else
		memset(msg + WG_MAC2_OFF(len), 0, WG_COOKIE_LEN);
}

int wg_cookie_consume_reply(struct wg_cookie_maker *m, const struct wg_msg_cookie_reply *reply,
			    uint64_t now_ns)
{
	uint8_t cookie[WG_COOKIE_LEN];
	int ret;

	if (!m->have_sent_mac1)
		return -EINVAL;
	ret = wg_xaead_open(cookie, reply->enc_cookie, sizeof(reply->enc_cookie),
			    m->last_mac1_sent, WG_COOKIE_LEN, reply->nonce, m->cookie_key);
	if (ret < 0)
		goto out;
	memcpy(m->cookie, cookie, WG_COOKIE_LEN);
	m->cookie_birth_ns = now_ns;
	m->cookie_valid = true;
	/* One reply per message we sent: a second copy is not accepted. */
	m->have_sent_mac1 = false;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

#define WG_RATELIMIT_PER_SECOND 20
#define WG_RATELIMIT_BURST 5
#define WG_RATELIMIT_COST_NS (WG_NSEC_PER_SEC / WG_RATELIMIT_PER_SECOND)

void wg_ratelimiter_init(struct wg_ratelimiter *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	randombytes_buf(r->key, sizeof(r->key));
}

void wg_ratelimiter_deinit(struct wg_ratelimiter *r)
{
	pthread_mutex_destroy(&r->lock);
}

bool wg_ratelimiter_allow(struct wg_ratelimiter *r, const struct sockaddr *src, uint64_t now_ns)
{
	uint8_t ip[18], h[crypto_shorthash_BYTES];
	size_t n = wg_cookie_src_bytes(src, ip);
	uint64_t slot;
	bool ok;

	if (n < 2)
		return false;
	/* Keyed hash of the address alone (not the port): an attacker cannot
	 * aim many sources at one slot, nor dodge the limit by changing port. */
	crypto_shorthash(h, ip, n - 2, r->key);
	memcpy(&slot, h, sizeof(slot));
	slot %= WG_RATELIMIT_SLOTS;
	pthread_mutex_lock(&r->lock);
	if (r->slots[slot].last_ns == 0) {
		r->slots[slot].tokens = WG_RATELIMIT_BURST * WG_RATELIMIT_COST_NS;
	} else {
		uint64_t t = r->slots[slot].tokens + (now_ns - r->slots[slot].last_ns);
		r->slots[slot].tokens = t > WG_RATELIMIT_BURST * WG_RATELIMIT_COST_NS
						? WG_RATELIMIT_BURST * WG_RATELIMIT_COST_NS : t;
	}
	r->slots[slot].last_ns = now_ns ? now_ns : 1;
	ok = r->slots[slot].tokens >= WG_RATELIMIT_COST_NS;
	if (ok)
		r->slots[slot].tokens -= WG_RATELIMIT_COST_NS;
	pthread_mutex_unlock(&r->lock);
	return ok;
}
