#include <errno.h>

#include "test.h"
#include "wg_fixture.h"

#define T0 (1000ULL * WG_NSEC_PER_SEC)

static uint8_t buf[2048], plain[2048];

static ssize_t send_data(struct side *from, const char *text, uint64_t now)
{
	return wg_proto_seal(&from->proto, from->peer, buf, sizeof(buf), (const uint8_t *)text,
			     strlen(text), 1420, now);
}

static void do_handshake_and_data(const uint8_t *psk)
{
	struct side a, b;
	struct wg_proto_result r;
	ssize_t n;

	pair_init(&a, &b, psk);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	/* The responder waits for key confirmation before sending. */
	CHECK_EQ_INT(send_data(&b, "early", T0), -ENOKEY);
	n = send_data(&a, "hello from a", T0);
	CHECK_EQ_INT(n, 16 + 16 + 16); /* 12 bytes padded to 16 */
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	CHECK_EQ_INT(r.event, WG_PROTO_DATA);
	CHECK_EQ_INT(r.plain_len, 16);
	CHECK_MEM(plain, "hello from a", 12);
	CHECK(r.keypair_confirmed);
	wg_proto_result_release(&r);
	n = send_data(&b, "hello from b", T0);
	CHECK(n > 0);
	CHECK_EQ_INT(side_receive(&a, &b, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	CHECK_MEM(plain, "hello from b", 12);
	CHECK(!r.keypair_confirmed);
	wg_proto_result_release(&r);
	CHECK(atomic_load(&a.peer->last_handshake_wall_ns) != 0);
	pair_free(&a, &b);
}

static void test_noise_handshake_and_transport_both_ways(void) { do_handshake_and_data(NULL); }

static void test_noise_handshake_with_preshared_key(void)
{
	uint8_t psk[32];
	memset(psk, 0x42, 32);
	do_handshake_and_data(psk);
}

static void test_noise_mismatched_psk_fails_response(void)
{
	struct side a, b;
	uint8_t psk[32] = { 1 };
	pair_init(&a, &b, NULL);
	wg_proto_set_psk(&a.proto, a.peer, psk);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), -EINVAL);
	CHECK(wg_peer_current_keypair(a.peer) == NULL);
	pair_free(&a, &b);
}

static void test_noise_responder_role_reversed(void)
{
	struct side a, b;
	struct wg_proto_result r;
	ssize_t n;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&b, &a, T0), 0);
	n = send_data(&b, "ping", T0);
	CHECK(n > 0);
	CHECK_EQ_INT(side_receive(&a, &b, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	CHECK_MEM(plain, "ping", 4);
	wg_proto_result_release(&r);
	pair_free(&a, &b);
}

static void test_noise_transport_replay_rejected(void)
{
	struct side a, b;
	struct wg_proto_result r;
	ssize_t n;
	uint8_t copy[2048];
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	n = send_data(&a, "x", T0);
	memcpy(copy, buf, (size_t)n);
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	wg_proto_result_release(&r);
	CHECK_EQ_INT(side_receive(&b, &a, copy, (size_t)n, T0, plain, sizeof(plain), &r), -EALREADY);
	pair_free(&a, &b);
}

static void test_noise_rekey_rotates_slots_and_old_session_still_decrypts(void)
{
	struct side a, b;
	struct wg_proto_result r;
	uint8_t old[2048];
	ssize_t n, oldn;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	/* Confirm the first session on b, then keep one packet in flight. */
	n = send_data(&a, "confirm", T0);
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	wg_proto_result_release(&r);
	oldn = send_data(&a, "old", T0);
	memcpy(old, buf, (size_t)oldn);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0 + 121 * WG_NSEC_PER_SEC), 0);
	CHECK(a.peer->keypair_previous != NULL);
	CHECK(b.peer->keypair_next != NULL);
	n = send_data(&a, "new", T0 + 121 * WG_NSEC_PER_SEC);
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0 + 121 * WG_NSEC_PER_SEC, plain,
				  sizeof(plain), &r), 0);
	CHECK(r.keypair_confirmed);
	wg_proto_result_release(&r);
	CHECK(b.peer->keypair_next == NULL);
	/* In-flight packet of the previous session is still accepted. */
	CHECK_EQ_INT(side_receive(&b, &a, old, (size_t)oldn, T0 + 121 * WG_NSEC_PER_SEC, plain,
				  sizeof(plain), &r), 0);
	CHECK_MEM(plain, "old", 3);
	wg_proto_result_release(&r);
	pair_free(&a, &b);
}

static void test_noise_expired_keypair_rejects_send_and_receive(void)
{
	struct side a, b;
	struct wg_proto_result r;
	ssize_t n;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	n = send_data(&a, "late", T0);
	CHECK_EQ_INT(send_data(&a, "x", T0 + WG_REJECT_AFTER_TIME_NS), -EKEYEXPIRED);
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0 + WG_REJECT_AFTER_TIME_NS, plain,
				  sizeof(plain), &r), -EKEYEXPIRED);
	pair_free(&a, &b);
}

/* Everything a rejected message must leave untouched. */
struct snap {
	struct wg_handshake hs;
	struct wg_cookie_maker cookie;
	struct wg_keypair *prev, *cur, *next;
	unsigned index_count;
	uint64_t rx;
	struct sockaddr_storage ep;
};

static void take(struct side *s, struct snap *out)
{
	memset(out, 0, sizeof(*out));
	out->hs = s->peer->handshake;
	out->cookie = s->peer->cookie;
	out->prev = s->peer->keypair_previous;
	out->cur = s->peer->keypair_current;
	out->next = s->peer->keypair_next;
	out->index_count = s->proto.index.count;
	out->rx = atomic_load(&s->peer->rx_bytes);
	out->ep = s->peer->endpoint;
}

static int same(struct side *s, const struct snap *before)
{
	struct snap now;
	take(s, &now);
	return memcmp(&now, before, sizeof(now)) == 0;
}

static void reject_all_variants(struct side *to, struct side *from, const uint8_t *msg, size_t len,
				size_t idx_off)
{
	uint8_t m[2048];
	struct wg_proto_result r;
	struct snap s;

	take(to, &s);
	/* short */
	memcpy(m, msg, len);
	CHECK_EQ_INT(side_receive(to, from, m, len - 1, T0, plain, sizeof(plain), &r), -EINVAL);
	CHECK(same(to, &s));
	/* long: handshake messages have exact sizes */
	memcpy(m, msg, len);
	m[len] = 0;
	CHECK_EQ_INT(side_receive(to, from, m, len + 1, T0, plain, sizeof(plain), &r), -EINVAL);
	CHECK(same(to, &s));
	/* wrong type and non-zero reserved bytes */
	memcpy(m, msg, len);
	m[0] = 9;
	CHECK_EQ_INT(side_receive(to, from, m, len, T0, plain, sizeof(plain), &r), -EINVAL);
	memcpy(m, msg, len);
	m[2] = 1;
	CHECK_EQ_INT(side_receive(to, from, m, len, T0, plain, sizeof(plain), &r), -EINVAL);
	CHECK(same(to, &s));
	/* wrong index */
	if (idx_off) {
		memcpy(m, msg, len);
		m[idx_off] ^= 0xff;
		int ret = side_receive(to, from, m, len, T0, plain, sizeof(plain), &r);
		CHECK(ret == -ENOENT || ret == -EBADMSG);
		CHECK(same(to, &s));
	}
}

static void test_noise_initiation_rejects_malformed_without_state_change(void)
{
	struct side a, b;
	struct wg_msg_initiation init, m;
	struct wg_proto_result r;
	struct snap s;

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	reject_all_variants(&b, &a, (uint8_t *)&init, sizeof(init), 0);
	take(&b, &s);
	/* bad mac1 */
	m = init;
	m.macs.mac1[0] ^= 1;
	CHECK_EQ_INT(side_receive(&b, &a, &m, sizeof(m), T0, NULL, 0, &r), -EBADMSG);
	CHECK(same(&b, &s));
	/* bad AEAD (static) with mac1 recomputed so only the AEAD fails */
	m = init;
	m.enc_static[0] ^= 1;
	wg_cookie_add_macs(&a.peer->cookie, (uint8_t *)&m, sizeof(m), T0);
	CHECK_EQ_INT(side_receive(&b, &a, &m, sizeof(m), T0, NULL, 0, &r), -EINVAL);
	CHECK(same(&b, &s));
	/* bad AEAD (timestamp) */
	m = init;
	m.enc_timestamp[3] ^= 1;
	wg_cookie_add_macs(&a.peer->cookie, (uint8_t *)&m, sizeof(m), T0);
	CHECK_EQ_INT(side_receive(&b, &a, &m, sizeof(m), T0, NULL, 0, &r), -EINVAL);
	CHECK(same(&b, &s));
	/* the genuine one still works afterwards */
	CHECK_EQ_INT(side_receive(&b, &a, &init, sizeof(init), T0, NULL, 0, &r), 0);
	wg_proto_result_release(&r);
	pair_free(&a, &b);
}

static void test_noise_response_rejects_malformed_without_state_change(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_msg_response resp, m;
	struct wg_proto_result r;
	struct snap s;

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	CHECK_EQ_INT(side_receive(&b, &a, &init, sizeof(init), T0, NULL, 0, &r), 0);
	CHECK_EQ_INT(wg_proto_create_response(&b.proto, r.peer, &resp, T0, T0), 0);
	wg_proto_result_release(&r);
	reject_all_variants(&a, &b, (uint8_t *)&resp, sizeof(resp), 8);
	take(&a, &s);
	m = resp;
	m.macs.mac1[5] ^= 1;
	CHECK_EQ_INT(side_receive(&a, &b, &m, sizeof(m), T0, NULL, 0, &r), -EBADMSG);
	CHECK(same(&a, &s));
	m = resp;
	m.enc_nothing[0] ^= 1;
	wg_cookie_add_macs(&b.peer->cookie, (uint8_t *)&m, sizeof(m), T0);
	CHECK_EQ_INT(side_receive(&a, &b, &m, sizeof(m), T0, NULL, 0, &r), -EINVAL);
	CHECK(same(&a, &s));
	CHECK_EQ_INT(a.peer->handshake.state, WG_HANDSHAKE_CREATED_INITIATION);
	CHECK_EQ_INT(side_receive(&a, &b, &resp, sizeof(resp), T0, NULL, 0, &r), 0);
	wg_proto_result_release(&r);
	/* A second copy of the response finds no handshake any more. */
	CHECK_EQ_INT(side_receive(&a, &b, &resp, sizeof(resp), T0, NULL, 0, &r), -ENOENT);
	pair_free(&a, &b);
}

static void test_noise_transport_rejects_malformed_without_state_change(void)
{
	struct side a, b;
	struct wg_proto_result r;
	struct snap s;
	uint8_t m[2048];
	ssize_t n;

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	n = send_data(&a, "payload", T0);
	memcpy(m, buf, (size_t)n);
	take(&b, &s);
	CHECK_EQ_INT(side_receive(&b, &a, m, 31, T0, plain, sizeof(plain), &r), -EINVAL);
	m[0] = 5;
	CHECK_EQ_INT(side_receive(&b, &a, m, (size_t)n, T0, plain, sizeof(plain), &r), -EINVAL);
	memcpy(m, buf, (size_t)n);
	m[4] ^= 0xff;
	CHECK_EQ_INT(side_receive(&b, &a, m, (size_t)n, T0, plain, sizeof(plain), &r), -ENOENT);
	memcpy(m, buf, (size_t)n);
	m[20] ^= 1; /* ciphertext */
	CHECK_EQ_INT(side_receive(&b, &a, m, (size_t)n, T0, plain, sizeof(plain), &r), -EBADMSG);
	memcpy(m, buf, (size_t)n);
	m[8] ^= 1; /* counter: the nonce no longer matches */
	CHECK_EQ_INT(side_receive(&b, &a, m, (size_t)n, T0, plain, sizeof(plain), &r), -EBADMSG);
	memcpy(m, buf, (size_t)n);
	CHECK_EQ_INT(side_receive(&b, &a, m, (size_t)n + 1, T0, plain, sizeof(plain), &r), -EBADMSG);
	CHECK(same(&b, &s));
	/* Unconfirmed keypair stays in "next" after all that garbage. */
	CHECK(b.peer->keypair_next != NULL && b.peer->keypair_current == NULL);
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	wg_proto_result_release(&r);
	pair_free(&a, &b);
}

static void test_noise_replayed_initiation_rejected(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_proto_result r;
	struct snap s;

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, 1700000000ULL * WG_NSEC_PER_SEC), 0);
	CHECK_EQ_INT(side_receive(&b, &a, &init, sizeof(init), T0, NULL, 0, &r), 0);
	wg_proto_result_release(&r);
	take(&b, &s);
	CHECK_EQ_INT(side_receive(&b, &a, &init, sizeof(init), T0 + WG_NSEC_PER_SEC, NULL, 0, &r),
		     -EALREADY);
	CHECK(same(&b, &s));
	pair_free(&a, &b);
}

static void test_noise_older_timestamp_rejected(void)
{
	struct side a, b;
	struct wg_msg_initiation older, newer;
	struct wg_proto_result r;
	uint64_t wall = 1700000000ULL * WG_NSEC_PER_SEC;

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &older, T0, wall), 0);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &newer, T0, wall + WG_NSEC_PER_SEC), 0);
	CHECK_EQ_INT(side_receive(&b, &a, &newer, sizeof(newer), T0, NULL, 0, &r), 0);
	wg_proto_result_release(&r);
	CHECK_EQ_INT(side_receive(&b, &a, &older, sizeof(older), T0 + WG_NSEC_PER_SEC, NULL, 0, &r),
		     -EALREADY);
	pair_free(&a, &b);
}

static void test_noise_initiation_flood_rejected(void)
{
	struct side a, b;
	struct wg_msg_initiation i1, i2, i3;
	struct wg_proto_result r;
	uint64_t wall = 1700000000ULL * WG_NSEC_PER_SEC;

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &i1, T0, wall), 0);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &i2, T0, wall + WG_NSEC_PER_SEC), 0);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &i3, T0, wall + 2 * WG_NSEC_PER_SEC), 0);
	CHECK_EQ_INT(side_receive(&b, &a, &i1, sizeof(i1), T0, NULL, 0, &r), 0);
	wg_proto_result_release(&r);
	/* 19 ms later: more than 50/s */
	CHECK_EQ_INT(side_receive(&b, &a, &i2, sizeof(i2), T0 + 19 * WG_NSEC_PER_MSEC, NULL, 0, &r),
		     -EBUSY);
	CHECK_EQ_INT(side_receive(&b, &a, &i3, sizeof(i3), T0 + 20 * WG_NSEC_PER_MSEC, NULL, 0, &r), 0);
	wg_proto_result_release(&r);
	pair_free(&a, &b);
}

static void test_noise_all_zero_dh_rejected(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_proto_result r;
	struct wg_peer *bad = NULL;
	uint8_t zero[32] = { 0 }, low_order[32];

	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(wg_proto_add_peer(&a.proto, zero, NULL, &bad), -EINVAL);
	/* A point of small order: DH with it is all zeros. */
	test_unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", low_order, 32);
	CHECK_EQ_INT(wg_proto_add_peer(&a.proto, low_order, NULL, &bad), 0);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, bad, &init, T0, T0), -EINVAL);
	wg_peer_put(bad);
	/* An initiation whose ephemeral is low order is rejected by the responder. */
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	memcpy(init.ephemeral, low_order, 32);
	wg_cookie_add_macs(&a.peer->cookie, (uint8_t *)&init, sizeof(init), T0);
	CHECK_EQ_INT(side_receive(&b, &a, &init, sizeof(init), T0, NULL, 0, &r), -EINVAL);
	pair_free(&a, &b);
}

static void test_noise_unknown_peer_rejected(void)
{
	struct side a, b;
	struct wg_msg_initiation init;
	struct wg_proto_result r;
	pair_init(&a, &b, NULL);
	wg_proto_remove_peer(&b.proto, b.peer);
	CHECK_EQ_INT(wg_proto_create_initiation(&a.proto, a.peer, &init, T0, T0), 0);
	CHECK_EQ_INT(side_receive(&b, &a, &init, sizeof(init), T0, NULL, 0, &r), -ENOKEY);
	pair_free(&a, &b);
}

static void test_noise_roaming_follows_latest_authenticated_source(void)
{
	struct side a, b;
	struct wg_proto_result r;
	struct sockaddr_storage ep;
	ssize_t n;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	a.addr.sin_port = htons(40000);
	n = send_data(&a, "moved", T0);
	CHECK_EQ_INT(side_receive(&b, &a, buf, (size_t)n, T0, plain, sizeof(plain), &r), 0);
	wg_proto_result_release(&r);
	CHECK(wg_peer_get_endpoint(b.peer, &ep));
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&ep)->sin_port), 40000);
	/* A forged packet from elsewhere does not move it. */
	a.addr.sin_port = htons(40001);
	buf[20] ^= 1;
	CHECK(side_receive(&b, &a, buf, (size_t)n, T0, plain, sizeof(plain), &r) < 0);
	CHECK(wg_peer_get_endpoint(b.peer, &ep));
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&ep)->sin_port), 40000);
	pair_free(&a, &b);
}

static void test_noise_setting_the_same_private_key_keeps_sessions(void)
{
	struct side a, b;
	pair_init(&a, &b, NULL);
	CHECK_EQ_INT(pair_handshake(&a, &b, T0), 0);
	CHECK(a.peer->keypair_current != NULL);
	CHECK_EQ_INT(wg_proto_set_private_key(&a.proto, a.priv), 0);
	CHECK(a.peer->keypair_current != NULL); /* `wg syncconf` must not drop sessions */
	{
		uint8_t other[32];
		wg_key_generate_private(other);
		CHECK_EQ_INT(wg_proto_set_private_key(&a.proto, other), 0);
		CHECK(a.peer->keypair_current == NULL); /* a real change does */
	}
	pair_free(&a, &b);
}

int main(void)
{
	RUN_TEST(test_noise_handshake_and_transport_both_ways);
	RUN_TEST(test_noise_handshake_with_preshared_key);
	RUN_TEST(test_noise_mismatched_psk_fails_response);
	RUN_TEST(test_noise_responder_role_reversed);
	RUN_TEST(test_noise_transport_replay_rejected);
	RUN_TEST(test_noise_rekey_rotates_slots_and_old_session_still_decrypts);
	RUN_TEST(test_noise_expired_keypair_rejects_send_and_receive);
	RUN_TEST(test_noise_initiation_rejects_malformed_without_state_change);
	RUN_TEST(test_noise_response_rejects_malformed_without_state_change);
	RUN_TEST(test_noise_transport_rejects_malformed_without_state_change);
	RUN_TEST(test_noise_replayed_initiation_rejected);
	RUN_TEST(test_noise_older_timestamp_rejected);
	RUN_TEST(test_noise_initiation_flood_rejected);
	RUN_TEST(test_noise_all_zero_dh_rejected);
	RUN_TEST(test_noise_unknown_peer_rejected);
	RUN_TEST(test_noise_roaming_follows_latest_authenticated_source);
	RUN_TEST(test_noise_setting_the_same_private_key_keeps_sessions);
	return TEST_DONE();
}
