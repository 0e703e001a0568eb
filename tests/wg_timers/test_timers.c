/* Timers on simulated time: nothing here sleeps. */
#include "test.h"
#include "timers.h"

#define S WG_NSEC_PER_SEC
#define MS WG_NSEC_PER_MSEC
#define T0 (500 * S)

static void test_timers_retransmit_with_jitter_then_give_up_at_90s(void)
{
	struct wg_timers t;
	uint64_t now = T0, first = T0;
	int sends = 0;
	unsigned a = 0;

	wg_timers_init(&t, NULL, 42);
	CHECK(wg_timers_may_send_initiation(&t, false, now));
	wg_timers_handshake_initiated(&t, now);
	CHECK(!wg_timers_may_send_initiation(&t, false, now + 4999 * MS));
	for (int i = 0; i < 100; i++) {
		uint64_t next = wg_timers_next_deadline(&t), gap = next - now;
		CHECK(gap >= 5 * S && gap < 5 * S + 334 * MS);
		now = next;
		a = wg_timers_tick(&t, now);
		if (a & WG_TIMER_GIVE_UP)
			break;
		CHECK_EQ_INT(a, WG_TIMER_SEND_INITIATION);
		sends++;
		wg_timers_handshake_initiated(&t, now);
	}
	CHECK(a & WG_TIMER_GIVE_UP);
	CHECK_EQ_INT(sends, 18);
	/* give-up happens once REKEY_ATTEMPT_TIME has passed, not much later */
	CHECK(now - first >= 90 * S && now - first < 90 * S + 19 * 334 * MS + 5 * S + 334 * MS);
	/* and keys are scheduled to die 3 x REJECT_AFTER_TIME later */
	CHECK_EQ_INT(t.zero_keys_at, now + 540 * S);
}

static void test_timers_handshake_complete_stops_retransmission(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	wg_timers_handshake_initiated(&t, T0);
	wg_timers_handshake_complete(&t, T0 + S);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 10 * S), 0);
	CHECK(wg_timers_next_deadline(&t) == UINT64_MAX);
}

static void test_timers_passive_keepalive_exactly_10s_after_receive(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	wg_timers_data_received(&t, T0);
	CHECK_EQ_INT(wg_timers_next_deadline(&t), T0 + 10 * S);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 10 * S - 1), 0);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 10 * S), WG_TIMER_SEND_KEEPALIVE);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 30 * S), 0);
}

static void test_timers_sending_cancels_pending_keepalive(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	wg_timers_data_received(&t, T0);
	wg_timers_any_authenticated_packet_sent(&t, T0 + 3 * S);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 20 * S), 0);
}

static void test_timers_second_receive_rearms_keepalive_once(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	wg_timers_data_received(&t, T0);
	wg_timers_data_received(&t, T0 + S);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 10 * S), WG_TIMER_SEND_KEEPALIVE);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 20 * S), WG_TIMER_SEND_KEEPALIVE);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 40 * S), 0);
}

static void test_timers_new_handshake_15s_after_unanswered_data(void)
{
	struct wg_timers t;
	uint64_t d;
	wg_timers_init(&t, NULL, 7);
	wg_timers_data_sent(&t, T0);
	d = wg_timers_next_deadline(&t);
	CHECK(d >= T0 + 15 * S && d < T0 + 15 * S + 334 * MS);
	wg_timers_data_sent(&t, T0 + S); /* does not push it back */
	CHECK_EQ_INT(wg_timers_next_deadline(&t), d);
	CHECK_EQ_INT(wg_timers_tick(&t, d), WG_TIMER_NEW_HANDSHAKE);
}

static void test_timers_received_packet_cancels_new_handshake(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 7);
	wg_timers_data_sent(&t, T0);
	wg_timers_any_authenticated_packet_received(&t, T0 + 2 * S);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 60 * S), 0);
}

static void test_timers_persistent_keepalive_every_n_seconds(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	/* turning it on sends one at once (a NAT mapping before the first interval) */
	CHECK_EQ_INT(wg_timers_set_persistent_keepalive(&t, 25, T0),
		     WG_TIMER_SEND_PERSISTENT_KEEPALIVE);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 25 * S - 1), 0);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 25 * S), WG_TIMER_SEND_PERSISTENT_KEEPALIVE);
	/* the device sends the keepalive: a traversal re-arms it */
	wg_timers_any_authenticated_packet_traversal(&t, T0 + 25 * S);
	CHECK_EQ_INT(wg_timers_next_deadline(&t), T0 + 50 * S);
	/* changing a running interval does not send an extra one */
	CHECK_EQ_INT(wg_timers_set_persistent_keepalive(&t, 30, T0 + 25 * S), 0);
	CHECK_EQ_INT(wg_timers_next_deadline(&t), T0 + 55 * S);
	CHECK_EQ_INT(wg_timers_set_persistent_keepalive(&t, 0, T0 + 26 * S), 0);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 60 * S), 0);
}

static void test_timers_zero_keys_540s_after_session(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	wg_timers_session_derived(&t, T0);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 540 * S - 1), 0);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 540 * S), WG_TIMER_ZERO_KEYS);
	/* a new session pushes it back */
	wg_timers_session_derived(&t, T0 + 600 * S);
	wg_timers_session_derived(&t, T0 + 700 * S);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 1140 * S), 0);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 1240 * S), WG_TIMER_ZERO_KEYS);
}

static void test_timers_rekey_predicates_at_boundaries(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	CHECK(!wg_timers_should_rekey_on_send(&t, true, T0, 0, T0 + 120 * S - 1));
	CHECK(wg_timers_should_rekey_on_send(&t, true, T0, 0, T0 + 120 * S));
	CHECK(!wg_timers_should_rekey_on_send(&t, false, T0, 0, T0 + 170 * S));
	CHECK(!wg_timers_should_rekey_on_send(&t, false, T0, (1ULL << 60) - 1, T0));
	CHECK(wg_timers_should_rekey_on_send(&t, false, T0, 1ULL << 60, T0));
	CHECK(!wg_timers_should_rekey_on_receive(&t, true, T0, T0 + 165 * S - 1));
	CHECK(wg_timers_should_rekey_on_receive(&t, true, T0, T0 + 165 * S));
	CHECK(!wg_timers_should_rekey_on_receive(&t, false, T0, T0 + 179 * S));
}

static void test_timers_lastminute_rekey_on_receive_fires_once_per_handshake(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 1);
	CHECK(!wg_timers_rekey_on_receive_once(&t, true, T0, T0 + 165 * S - 1));
	CHECK(wg_timers_rekey_on_receive_once(&t, true, T0, T0 + 165 * S));
	CHECK(!wg_timers_rekey_on_receive_once(&t, true, T0, T0 + 166 * S));
	CHECK(!wg_timers_rekey_on_receive_once(&t, false, T0, T0 + 170 * S));
	/* a completed handshake re-arms it for the next keypair */
	wg_timers_handshake_complete(&t, T0 + 167 * S);
	CHECK(!wg_timers_rekey_on_receive_once(&t, true, T0 + 167 * S, T0 + 332 * S - 1));
	CHECK(wg_timers_rekey_on_receive_once(&t, true, T0 + 167 * S, T0 + 332 * S));
}

static void test_timers_stop_disarms_everything(void)
{
	struct wg_timers t;
	wg_timers_init(&t, NULL, 3);
	wg_timers_set_persistent_keepalive(&t, 25, T0);
	wg_timers_handshake_initiated(&t, T0);
	wg_timers_data_sent(&t, T0);
	wg_timers_data_received(&t, T0);
	wg_timers_session_derived(&t, T0);
	CHECK(wg_timers_next_deadline(&t) != UINT64_MAX);
	wg_timers_stop(&t);
	CHECK(wg_timers_next_deadline(&t) == UINT64_MAX);
	CHECK_EQ_INT(wg_timers_tick(&t, T0 + 10000 * S), 0);
}

static void test_timers_jitter_is_deterministic_per_seed(void)
{
	struct wg_timers a, b, c;
	wg_timers_init(&a, NULL, 99);
	wg_timers_init(&b, NULL, 99);
	wg_timers_init(&c, NULL, 100);
	wg_timers_handshake_initiated(&a, T0);
	wg_timers_handshake_initiated(&b, T0);
	wg_timers_handshake_initiated(&c, T0);
	CHECK_EQ_INT(wg_timers_next_deadline(&a), wg_timers_next_deadline(&b));
	CHECK(wg_timers_next_deadline(&a) != wg_timers_next_deadline(&c));
}

static void test_timers_shortened_config_for_tests(void)
{
	struct wg_timer_config c;
	struct wg_timers t;
	wg_timer_config_default(&c);
	CHECK_EQ_INT(c.rekey_after_time, 120 * S);
	c.rekey_after_time = 2 * S;
	c.keepalive_timeout = S;
	wg_timers_init(&t, &c, 1);
	CHECK(wg_timers_should_rekey_on_send(&t, true, T0, 0, T0 + 2 * S));
	wg_timers_data_received(&t, T0);
	CHECK_EQ_INT(wg_timers_next_deadline(&t), T0 + S);
}

int main(void)
{
	RUN_TEST(test_timers_retransmit_with_jitter_then_give_up_at_90s);
	RUN_TEST(test_timers_handshake_complete_stops_retransmission);
	RUN_TEST(test_timers_passive_keepalive_exactly_10s_after_receive);
	RUN_TEST(test_timers_sending_cancels_pending_keepalive);
	RUN_TEST(test_timers_second_receive_rearms_keepalive_once);
	RUN_TEST(test_timers_new_handshake_15s_after_unanswered_data);
	RUN_TEST(test_timers_received_packet_cancels_new_handshake);
	RUN_TEST(test_timers_persistent_keepalive_every_n_seconds);
	RUN_TEST(test_timers_zero_keys_540s_after_session);
	RUN_TEST(test_timers_rekey_predicates_at_boundaries);
	RUN_TEST(test_timers_lastminute_rekey_on_receive_fires_once_per_handshake);
	RUN_TEST(test_timers_stop_disarms_everything);
	RUN_TEST(test_timers_jitter_is_deterministic_per_seed);
	RUN_TEST(test_timers_shortened_config_for_tests);
	return TEST_DONE();
}
