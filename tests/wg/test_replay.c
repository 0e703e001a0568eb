#include "replay.h"
#include "test.h"

#define LIM WG_REJECT_AFTER_MESSAGES

static void test_replay_accepts_in_order_once(void)
{
	struct wg_replay r;
	wg_replay_init(&r);
	for (uint64_t i = 0; i < 200; i++)
		CHECK(wg_replay_check_and_update(&r, i, LIM));
	for (uint64_t i = 0; i < 200; i++)
		CHECK(!wg_replay_check_and_update(&r, i, LIM));
}

static void test_replay_rejects_counter_seen_twice(void)
{
	struct wg_replay r;
	wg_replay_init(&r);
	CHECK(wg_replay_check_and_update(&r, 5, LIM));
	CHECK(!wg_replay_would_accept(&r, 5, LIM));
	CHECK(!wg_replay_check_and_update(&r, 5, LIM));
}

static void test_replay_accepts_out_of_order_within_window(void)
{
	struct wg_replay r;
	wg_replay_init(&r);
	CHECK(wg_replay_check_and_update(&r, 10000, LIM));
	CHECK(wg_replay_check_and_update(&r, 10000 - WG_REPLAY_WINDOW, LIM));
	CHECK(wg_replay_check_and_update(&r, 9999, LIM));
	CHECK(!wg_replay_check_and_update(&r, 10000 - WG_REPLAY_WINDOW - 1, LIM));
}

static void test_replay_far_jump_forgets_history(void)
{
	struct wg_replay r;
	wg_replay_init(&r);
	CHECK(wg_replay_check_and_update(&r, 1, LIM));
	CHECK(wg_replay_check_and_update(&r, 1000000, LIM));
	CHECK(!wg_replay_check_and_update(&r, 1, LIM));
	CHECK(wg_replay_check_and_update(&r, 1000000 - 1, LIM));
	/* Bits of the recycled blocks were cleared: a counter in a block that
	 * was reused must not appear as already seen. */
	CHECK(wg_replay_check_and_update(&r, 1000000 - 100, LIM));
}

static void test_replay_rejects_at_limit(void)
{
	struct wg_replay r;
	wg_replay_init(&r);
	CHECK(!wg_replay_check_and_update(&r, LIM, LIM));
	CHECK(wg_replay_check_and_update(&r, LIM - 1, LIM));
	CHECK_EQ_INT(WG_REJECT_AFTER_MESSAGES, UINT64_MAX - 8192);
}

static void test_replay_window_edge_is_exactly_8128(void)
{
	struct wg_replay r;
	wg_replay_init(&r);
	CHECK_EQ_INT(WG_REPLAY_WINDOW, 8128);
	CHECK(wg_replay_check_and_update(&r, 20000, LIM));
	CHECK(wg_replay_would_accept(&r, 20000 - 8128, LIM));
	CHECK(!wg_replay_would_accept(&r, 20000 - 8129, LIM));
}

int main(void)
{
	RUN_TEST(test_replay_accepts_in_order_once);
	RUN_TEST(test_replay_rejects_counter_seen_twice);
	RUN_TEST(test_replay_accepts_out_of_order_within_window);
	RUN_TEST(test_replay_far_jump_forgets_history);
	RUN_TEST(test_replay_rejects_at_limit);
	RUN_TEST(test_replay_window_edge_is_exactly_8128);
	return TEST_DONE();
}
