#include <errno.h>
#include <sodium.h>

#include "test.h"
#include "wg_fixture.h"

#define T0 (1000ULL * WG_NSEC_PER_SEC)

static int recv_loaded(struct side *to, struct side *from, const void *m, size_t len, uint64_t now,
		       struct wg_proto_result *r)
{
	return wg_proto_receive(&to->proto, m, len, (const struct sockaddr *)&from->addr,
				sizeof(from->addr), true, now, now, NULL, 0, r);
}

static void test_cookie_under_load_answers_cookie_then_accepts_mac2(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_msg_cookie_reply reply;
	struct wg_proto_result r;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	CHECK(sodium_is_zero(init.macs.mac2, 16));
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0, &r), 0);
	CHECK_EQ_INT(r.event, WG_PROTO_SEND_COOKIE);
	CHECK_EQ_INT(b.peer->handshake.state, WG_HANDSHAKE_ZEROED); /* nothing consumed */
	/* a consumes the cookie; its next initiation carries a valid mac2 */
	reply = r.cookie_reply;
	CHECK_EQ_INT(side_receive(&a, &b, &reply, sizeof(reply), T0, NULL, 0, &r), 0);
	CHECK_EQ_INT(r.event, WG_PROTO_COOKIE);
	CHECK(a.peer->cookie.cookie_valid);
	/* a replay of the same cookie reply is refused */
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0 + 1000000000ULL), 0);
	CHECK(!sodium_is_zero(init.macs.mac2, 16));
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0, &r), 0);
	CHECK_EQ_INT(r.event, WG_PROTO_INITIATION);
	wg_proto_result_release(&r);
	pair_free(&a, &b);
}

/* A cookie reply that is short, long, of the wrong type, with reserved bytes
 * set, for an unknown index or with a bad AEAD changes nothing: the peer's
 * whole cookie state is compared byte for byte. */
static void test_cookie_reply_malformed_rejected_without_state_change(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_msg_cookie_reply reply;
	struct wg_proto_result r;
	struct wg_cookie_maker before;
	uint8_t m[sizeof(reply) + 1];

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0, &r), 0);
	CHECK_EQ_INT(r.event, WG_PROTO_SEND_COOKIE);
	reply = r.cookie_reply;
	memcpy(&before, &a.peer->cookie, sizeof(before));
#define UNCHANGED() CHECK(memcmp(&a.peer->cookie, &before, sizeof(before)) == 0)
	memcpy(m, &reply, sizeof(reply));
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply) - 1, T0, NULL, 0, &r), -EINVAL);
	UNCHANGED();
	m[sizeof(reply)] = 0;
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply) + 1, T0, NULL, 0, &r), -EINVAL);
	UNCHANGED();
	m[0] = 9;
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply), T0, NULL, 0, &r), -EINVAL);
	UNCHANGED();
	memcpy(m, &reply, sizeof(reply));
	m[3] = 1;
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply), T0, NULL, 0, &r), -EINVAL);
	UNCHANGED();
	memcpy(m, &reply, sizeof(reply));
	m[4] ^= 1; /* receiver index */
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply), T0, NULL, 0, &r), -ENOENT);
	UNCHANGED();
	memcpy(m, &reply, sizeof(reply));
	m[10] ^= 1; /* nonce */
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply), T0, NULL, 0, &r), -EBADMSG);
	UNCHANGED();
	memcpy(m, &reply, sizeof(reply));
	m[sizeof(reply) - 1] ^= 1; /* tag */
	CHECK_EQ_INT(side_receive(&a, &b, m, sizeof(reply), T0, NULL, 0, &r), -EBADMSG);
	UNCHANGED();
#undef UNCHANGED
	CHECK(!a.peer->cookie.cookie_valid);
	/* The genuine reply is still taken afterwards. */
	CHECK_EQ_INT(side_receive(&a, &b, &reply, sizeof(reply), T0, NULL, 0, &r), 0);
	CHECK(a.peer->cookie.cookie_valid);
	pair_free(&a, &b);
}

static void test_cookie_secret_rotates_after_two_minutes(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_proto_result r;
	uint8_t secret[32];
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0, &r), 0);
	memcpy(secret, b.proto.cookie_checker.secret, 32);
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0 + 119 * WG_NSEC_PER_SEC, &r), 0);
	CHECK_MEM(secret, b.proto.cookie_checker.secret, 32);
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0 + 120 * WG_NSEC_PER_SEC, &r), 0);
	CHECK(memcmp(secret, b.proto.cookie_checker.secret, 32) != 0);
	pair_free(&a, &b);
}

static void test_cookie_mac2_stops_after_cookie_ages(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_msg_cookie_reply reply;
	struct wg_proto_result r;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	CHECK_EQ_INT(recv_loaded(&b, &a, &init, sizeof(init), T0, &r), 0);
	reply = r.cookie_reply;
	CHECK_EQ_INT(side_receive(&a, &b, &reply, sizeof(reply), T0, NULL, 0, &r), 0);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0 + 114 * WG_NSEC_PER_SEC, T0 + 1), 0);
	CHECK(!sodium_is_zero(init.macs.mac2, 16));
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0 + 115 * WG_NSEC_PER_SEC, T0 + 2), 0);
	CHECK(sodium_is_zero(init.macs.mac2, 16));
	pair_free(&a, &b);
}

static void test_cookie_ratelimiter_allows_burst_then_20_per_second(void)
{
	struct wg_ratelimiter rl;
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(1) };
	int allowed = 0;
	s.sin_addr.s_addr = htonl(0x0a000001);
	wg_ratelimiter_init(&rl);
	for (int i = 0; i < 10; i++)
		allowed += wg_ratelimiter_allow(&rl, (struct sockaddr *)&s, T0);
	CHECK_EQ_INT(allowed, 5);
	/* 100 ms later: two more tokens */
	allowed = 0;
	for (int i = 0; i < 10; i++)
		allowed += wg_ratelimiter_allow(&rl, (struct sockaddr *)&s, T0 + 100 * WG_NSEC_PER_MSEC);
	CHECK_EQ_INT(allowed, 2);
	/* another source port is the same source */
	s.sin_port = htons(2);
	CHECK(!wg_ratelimiter_allow(&rl, (struct sockaddr *)&s, T0 + 100 * WG_NSEC_PER_MSEC));
	wg_ratelimiter_deinit(&rl);
}

int main(void)
{
	RUN_TEST(test_cookie_under_load_answers_cookie_then_accepts_mac2);
	RUN_TEST(test_cookie_reply_malformed_rejected_without_state_change);
	RUN_TEST(test_cookie_secret_rotates_after_two_minutes);
	RUN_TEST(test_cookie_mac2_stops_after_cookie_ages);
	RUN_TEST(test_cookie_ratelimiter_allows_burst_then_20_per_second);
	return TEST_DONE();
}
