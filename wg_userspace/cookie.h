/* mac1/mac2 and cookie replies (whitepaper §5.4.4, §5.4.7), and the
 * per-source rate limiter used under load. The device decides whether it is
 * under load; this module only answers what that decision implies. */
#ifndef WG_COOKIE_H
#define WG_COOKIE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "messages.h"
#include "wg_constants.h"

/* The cookie secret is renewed every 2 minutes; a received cookie is used
 * for mac2 only while younger than that minus a latency margin. */
#define WG_COOKIE_SECRET_MAX_AGE_NS WG_COOKIE_REFRESH_TIME_NS
#define WG_COOKIE_SECRET_LATENCY_NS (5ULL * WG_NSEC_PER_SEC)

/* Device side: validates macs of incoming handshake messages, makes cookies. */
struct wg_cookie_checker {
	pthread_mutex_t lock; /* guards secret rotation */
	uint8_t secret[WG_HASH_LEN];
	uint64_t secret_birth_ns;
	bool secret_valid;
	bool has_key;
	uint8_t mac1_key[WG_HASH_LEN];   /* HASH(LABEL_MAC1 ‖ our public key) */
	uint8_t cookie_key[WG_HASH_LEN]; /* HASH(LABEL_COOKIE ‖ our public key) */
};

/* Peer side: adds macs to our handshake messages, keeps the cookie we got. */
struct wg_cookie_maker {
	uint8_t mac1_key[WG_HASH_LEN];
	uint8_t cookie_key[WG_HASH_LEN];
	uint8_t cookie[WG_COOKIE_LEN];
	uint64_t cookie_birth_ns;
	bool cookie_valid;
	uint8_t last_mac1_sent[WG_COOKIE_LEN];
	bool have_sent_mac1;
};

enum wg_cookie_mac_state {
	WG_COOKIE_INVALID_MAC = 0,
	WG_COOKIE_VALID_MAC_NO_COOKIE,
	WG_COOKIE_VALID_MAC_WITH_COOKIE,
};

void wg_cookie_checker_init(struct wg_cookie_checker *c);
void wg_cookie_checker_deinit(struct wg_cookie_checker *c);
/* (Re)derives the mac1/cookie keys from our public key (NULL: no key; every
 * message then fails mac1). */
void wg_cookie_checker_set_key(struct wg_cookie_checker *c, const uint8_t *public_key);

/* Checks mac1 of an initiation or response (constant time); when
 * check_cookie (we are under load) also mac2 against the cookie of src.
 * Never changes state except for a due cookie secret rotation. */
enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const uint8_t *msg,
					    size_t len, const struct sockaddr *src,
					    bool check_cookie, uint64_t now_ns);

/* Builds the cookie reply to msg (an initiation or response of len bytes
 * whose mac1 was valid) for source src. */
int wg_cookie_create_reply(struct wg_cookie_checker *c, struct wg_msg_cookie_reply *reply,
			   const uint8_t *msg, size_t len, const struct sockaddr *src,
			   uint64_t now_ns);

void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t remote_public[WG_KEY_LEN]);
/* Fills mac1 and mac2 at the end of msg (len = whole message). */
void wg_cookie_add_macs(struct wg_cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns);
/* Decrypts a cookie reply answering our last message. -EINVAL when we sent
 * nothing it could answer, -EBADMSG when it does not authenticate; the
 * maker changes only on success. */
int wg_cookie_consume_reply(struct wg_cookie_maker *m, const struct wg_msg_cookie_reply *reply,
			    uint64_t now_ns);

/* Token bucket per source IP (20 packets/s, burst 5), as the Linux module
 * applies to handshake messages under load. Fixed memory: a hashed table
 * whose colliding entries share a bucket, erring on the side of limiting. */
#define WG_RATELIMIT_SLOTS 4096
struct wg_ratelimiter {
	pthread_mutex_t lock;
	uint8_t key[16];
	struct {
		uint64_t last_ns;
		uint64_t tokens;
	} slots[WG_RATELIMIT_SLOTS];
};
void wg_ratelimiter_init(struct wg_ratelimiter *r);
void wg_ratelimiter_deinit(struct wg_ratelimiter *r);
bool wg_ratelimiter_allow(struct wg_ratelimiter *r, const struct sockaddr *src, uint64_t now_ns);

#endif
