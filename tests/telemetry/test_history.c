/* The time series: rings, summaries, buckets, the bounded memory, the
 * telemetry.bin file (round trip, every kind of damage refused with the
 * history unchanged, the window and capacity applied on load), GetTS's
 * parameters and shape, and the small helpers of the room (REBOOT_CMD
 * words, member addresses, the speed test's hello). */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "member.h"
#include "reboot.h"
#include "ring.h"
#include "st_proto.h"
#include "tel_json.h"
#include "test.h"

static char err[512];

/* ---- rings ---- */

static void test_ring_drops_oldest_when_full(void)
{
	struct tel_ring r;

	CHECK_EQ_INT(tel_ring_init(&r, 4), 0);
	for (uint32_t i = 1; i <= 6; i++)
		tel_ring_push(&r, 100 + i, (float)i);
	CHECK_EQ_INT(r.n, 4);
	CHECK_EQ_INT(tel_ring_at(&r, 0)->ts, 103);
	CHECK(tel_ring_at(&r, 3)->v == 6.0f);
	tel_ring_deinit(&r);
	CHECK_EQ_INT(tel_ring_init(&r, 0), -EINVAL);
	CHECK_EQ_INT(tel_ring_init(&r, TEL_RING_MAX + 1), -EINVAL);
}

static void test_ring_time_never_goes_back(void)
{
	struct tel_ring r;

	tel_ring_init(&r, 8);
	tel_ring_push(&r, 200, 1);
	tel_ring_push(&r, 150, 2); /* the wall clock was stepped back */
	CHECK_EQ_INT(tel_ring_at(&r, 1)->ts, 200);
	tel_ring_deinit(&r);
}

static void test_ring_summary_and_window(void)
{
	struct tel_ring r;
	struct tel_summary s;

	tel_ring_init(&r, 100);
	for (uint32_t i = 0; i < 10; i++)
		tel_ring_push(&r, 1000 + 10 * i, (float)(i + 1)); /* 1..10 */
	tel_ring_summary(&r, 0, &s);
	CHECK_EQ_INT(s.count, 10);
	CHECK(s.avg == 5.5 && s.max == 10 && s.min == 1 && s.last == 10);
	CHECK_EQ_INT(s.last_ts, 1090);
	tel_ring_summary(&r, 1050, &s); /* 6..10 */
	CHECK_EQ_INT(s.count, 5);
	CHECK(s.avg == 8 && s.min == 6);
	CHECK_EQ_INT(tel_ring_first_since(&r, 1051), 6);
	CHECK_EQ_INT(tel_ring_first_since(&r, 5000), 10);
	tel_ring_summary(&r, 5000, &s);
	CHECK_EQ_INT(s.count, 0);
	tel_ring_deinit(&r);
}

static void test_ring_buckets_average_equal_times(void)
{
	struct tel_ring r;
	struct tel_point b[4];
	uint32_t n;

	tel_ring_init(&r, 100);
	for (uint32_t i = 0; i < 8; i++)
		tel_ring_push(&r, 1000 + i, (float)i);
	n = tel_ring_buckets(&r, 1000, 1007, 4, b); /* {0,1} {2,3} {4,5} {6,7} */
	CHECK_EQ_INT(n, 4);
	CHECK(b[0].v == 0.5f && b[3].v == 6.5f);
	CHECK_EQ_INT(b[0].ts, 1001);
	CHECK_EQ_INT(b[3].ts, 1007);
	n = tel_ring_buckets(&r, 1000, 1007, 1, b);
	CHECK_EQ_INT(n, 1);
	CHECK(b[0].v == 3.5f);
	CHECK_EQ_INT(tel_ring_buckets(&r, 2000, 3000, 4, b), 0);
	tel_ring_deinit(&r);
}

/* ---- the history and its memory ---- */

static void test_history_capacity_and_bytes(void)
{
	struct tel_history h;
	uint32_t cap;

	CHECK_EQ_INT(tel_history_capacity(10, 6, &cap), 0);
	CHECK_EQ_INT(cap, 2160);
	CHECK_EQ_INT(tel_history_capacity(300, 6, &cap), 0);
	CHECK_EQ_INT(cap, 72);
	CHECK_EQ_INT(tel_history_capacity(1, 24, &cap), -E2BIG);
	CHECK_EQ_INT(tel_history_init(&h, 10, 6), 0);
	/* 8 bytes a point: 12 sampled kinds x 2160 + 6 speed-test kinds x 512 */
	CHECK_EQ_INT(tel_history_bytes(&h), 8 * (12 * 2160 + 6 * TEL_EVENT_CAP));
	tel_history_deinit(&h);
}

static void test_history_kinds_have_names_and_units(void)
{
	for (int k = 0; k < TEL_K_N; k++) {
		CHECK(strcmp(tel_kind_name((enum tel_kind)k), "?"));
		CHECK(strcmp(tel_kind_unit((enum tel_kind)k), "?"));
		CHECK_EQ_INT(tel_kind_parse(tel_kind_name((enum tel_kind)k)), k);
	}
	CHECK_EQ_INT(tel_kind_parse("nope"), -1);
}

static void fill(struct tel_history *h, int64_t now, int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < TEL_K_N; k++)
			tel_history_add(h, (enum tel_kind)k, now - 10 * (n - 1 - i), k * 100 + i);
}

static void test_history_file_round_trip(void)
{
	struct tel_history a, b;
	uint8_t *buf;
	size_t len;
	int64_t now = 1800000000;

	tel_history_init(&a, 10, 6);
	tel_history_init(&b, 10, 6);
	fill(&a, now, 50);
	tel_history_add(&a, TEL_K_CPU, now, NAN); /* unknown figures are not stored */
	CHECK_EQ_INT(tel_history_encode(&a, &buf, &len), 0);
	CHECK_EQ_INT(tel_history_decode(&b, buf, len, now, err, sizeof(err)), 0);
	for (int k = 0; k < TEL_K_N; k++) {
		CHECK_EQ_INT(b.ring[k].n, 50);
		for (uint32_t i = 0; i < b.ring[k].n && i < a.ring[k].n; i++)
			CHECK(!memcmp(tel_ring_at(&a.ring[k], i), tel_ring_at(&b.ring[k], i),
				      sizeof(struct tel_point)));
	}
	free(buf);
	tel_history_deinit(&a);
	tel_history_deinit(&b);
}

static void test_history_load_applies_window_and_capacity(void)
{
	struct tel_history a, b;
	uint8_t *buf;
	size_t len;
	int64_t now = 1800000000;

	tel_history_init(&a, 10, 6);
	fill(&a, now, 2000); /* 20000 s: more than 1 h */
	tel_history_add(&a, TEL_K_MEM, now + 3600, 1); /* from the future */
	tel_history_encode(&a, &buf, &len);
	/* a 1 h window every 60 s: 60 points a sampled series */
	tel_history_init(&b, 60, 1);
	CHECK_EQ_INT(tel_history_decode(&b, buf, len, now, err, sizeof(err)), 0);
	CHECK_EQ_INT(b.ring[TEL_K_CPU].n, 60);              /* the newest ones */
	CHECK_EQ_INT(tel_ring_at(&b.ring[TEL_K_CPU], 59)->ts, now);
	CHECK(tel_ring_at(&b.ring[TEL_K_CPU], 0)->ts >= now - 3600);
	CHECK_EQ_INT(tel_ring_at(&b.ring[TEL_K_MEM], b.ring[TEL_K_MEM].n - 1)->ts, now);
	free(buf);
	tel_history_deinit(&a);
	tel_history_deinit(&b);
}

/* Recomputes the trailer after an edit, so only the edit is judged. */
static void reseal(uint8_t *buf, size_t len)
{
	crypto_generichash(buf + len - 16, 16, buf, len - 16, NULL, 0);
}

static void test_history_refuses_damage_and_keeps_what_it_had(void)
{
	struct tel_history a, b;
	uint8_t *buf, *c;
	size_t len;
	int64_t now = 1800000000;
	float nan_v = NAN;
	uint32_t nan_bits;

	tel_history_init(&a, 10, 6);
	tel_history_init(&b, 10, 6);
	fill(&a, now, 3);
	tel_history_add(&b, TEL_K_CPU, now, 42); /* what b had */
	tel_history_encode(&a, &buf, &len);
	c = malloc(len + 8);
#define REFUSED(MUTATE, LEN) do { memcpy(c, buf, len); MUTATE; err[0] = 0; \
	CHECK_EQ_INT(tel_history_decode(&b, c, (LEN), now, err, sizeof(err)), -EINVAL); \
	CHECK(err[0]); CHECK_EQ_INT(b.ring[TEL_K_CPU].n, 1); \
	CHECK(tel_ring_at(&b.ring[TEL_K_CPU], 0)->v == 42); } while (0)
	REFUSED((void)0, 10);                                   /* truncated */
	REFUSED((void)0, len - 1);                              /* torn */
	REFUSED(c[40] ^= 1, len);                               /* altered */
	REFUSED((c[0] = 'X', reseal(c, len)), len);             /* not ours */
	REFUSED((c[8] = 2, reseal(c, len)), len);               /* a newer version */
	REFUSED((c[12] = 0xff, reseal(c, len)), len);           /* too many series */
	REFUSED((c[20] = 1, reseal(c, len)), len);              /* reserved field */
	REFUSED((c[24 + 15] = 'x', reseal(c, len)), len);       /* name not terminated */
	REFUSED((c[24 + 5] = 'x', reseal(c, len)), len);        /* padding not zero */
	REFUSED((c[24 + 16] = 200, reseal(c, len)), len);       /* more points than bytes */
	/* the first series' second point goes back in time */
	REFUSED((c[24 + 20 + 8] = 0, c[24 + 20 + 9] = 0, reseal(c, len)), len);
	memcpy(&nan_bits, &nan_v, 4);
	REFUSED((memcpy(c + 24 + 20 + 4, &nan_bits, 4), reseal(c, len)), len); /* not a number */
	/* the first series renamed as the second: the same kind twice */
	REFUSED((memcpy(c + 24, "mem", 4), reseal(c, len)), len);
	/* bytes after the last series */
	REFUSED((memmove(c + len - 16 + 4, c + len - 16, 16), memset(c + len - 16, 0, 4),
		 reseal(c, len + 4)), len + 4);
#undef REFUSED
	free(c);
	free(buf);
	tel_history_deinit(&a);
	tel_history_deinit(&b);
}

static void test_history_save_and_load_files(void)
{
	struct tel_history a, b;
	char dir[] = "/tmp/tel_hist_XXXXXX", path[64];
	int64_t now = (int64_t)time(NULL);
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/telemetry.bin", dir);
	tel_history_init(&a, 10, 6);
	tel_history_init(&b, 10, 6);
	CHECK_EQ_INT(tel_history_load(&b, path, now, err, sizeof(err)), -ENOENT);
	fill(&a, now, 5);
	CHECK_EQ_INT(tel_history_save(&a, path), 0);
	CHECK_EQ_INT(tel_history_load(&b, path, now, err, sizeof(err)), 0);
	CHECK_EQ_INT(b.ring[TEL_K_NET_TX].n, 5);
	f = fopen(path, "r+");
	fseek(f, 30, SEEK_SET);
	fputc('!', f);
	fclose(f);
	CHECK_EQ_INT(tel_history_load(&b, path, now, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "checksum") != NULL);
	unlink(path);
	rmdir(dir);
	tel_history_deinit(&a);
	tel_history_deinit(&b);
}

/* ---- GetTS ---- */

static void test_getts_shape_and_parameters(void)
{
	struct tel_history h;
	int64_t now = 1800000000;
	cJSON *p, *o = NULL;
	const cJSON *pts, *sum;

	tel_history_init(&h, 10, 6);
	for (int i = 0; i < 100; i++)
		tel_history_add(&h, TEL_K_CPU, now - 10 * (99 - i), i);
	p = cJSON_Parse("{\"kind\":\"cpu\"}");
	CHECK_EQ_INT(tel_json_series(&h, p, now, &o, err, sizeof(err)), 0);
	CHECK_STR(cJSON_GetObjectItem(o, "kind")->valuestring, "cpu");
	CHECK_STR(cJSON_GetObjectItem(o, "unit")->valuestring, "percent");
	CHECK(cJSON_GetObjectItem(o, "hours")->valuedouble == 6);
	pts = cJSON_GetObjectItem(o, "points");
	CHECK_EQ_INT(cJSON_GetArraySize(pts), 100);
	CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(pts, 99), 0)->valuedouble == (double)now);
	sum = cJSON_GetObjectItem(o, "summary");
	CHECK(cJSON_GetObjectItem(sum, "count")->valuedouble == 100);
	CHECK(cJSON_GetObjectItem(sum, "avg")->valuedouble == 49.5);
	CHECK(cJSON_GetObjectItem(sum, "max")->valuedouble == 99);
	CHECK(cJSON_GetObjectItem(sum, "last")->valuedouble == 99);
	cJSON_Delete(o);
	cJSON_Delete(p);
	/* the last 0.1 h (360 s): 37 points; averaged into 4 */
	p = cJSON_Parse("{\"kind\":\"cpu\",\"hours\":0.1,\"points\":4}");
	CHECK_EQ_INT(tel_json_series(&h, p, now, &o, err, sizeof(err)), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "points")), 4);
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "summary"), "count")->valuedouble == 37);
	cJSON_Delete(o);
	cJSON_Delete(p);
	/* an empty series: nulls, not zeros */
	p = cJSON_Parse("{\"kind\":\"inet_down\"}");
	CHECK_EQ_INT(tel_json_series(&h, p, now, &o, err, sizeof(err)), 0);
	sum = cJSON_GetObjectItem(o, "summary");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(sum, "avg")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(sum, "last_ts")));
	cJSON_Delete(o);
	cJSON_Delete(p);
	{
		static const char *const bad[] = {
			"{}", "{\"kind\":3}", "{\"kind\":\"nope\"}", "{\"kind\":\"cpu\",\"hours\":0}",
			"{\"kind\":\"cpu\",\"hours\":7}", "{\"kind\":\"cpu\",\"hours\":\"1\"}",
			"{\"kind\":\"cpu\",\"points\":0}", "{\"kind\":\"cpu\",\"points\":1.5}",
			"{\"kind\":\"cpu\",\"points\":10001}",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			p = cJSON_Parse(bad[i]);
			o = NULL;
			CHECK_EQ_INT(tel_json_series(&h, p, now, &o, err, sizeof(err)), -EINVAL);
			CHECK(o == NULL);
			cJSON_Delete(p);
		}
		p = cJSON_Parse("{\"kind\":\"nope\"}");
		tel_json_series(&h, p, now, &o, err, sizeof(err));
		CHECK(strstr(err, "known: cpu, mem") != NULL && strstr(err, "inet_rtt") != NULL);
		cJSON_Delete(p);
	}
	tel_history_deinit(&h);
}

/* ---- helpers of the room ---- */

static void test_reboot_cmd_words(void)
{
	char buf[128], *argv[TEL_REBOOT_MAX_ARGS + 1];

	CHECK_EQ_INT(tel_reboot_split("nsenter -t 1 -m  /sbin/reboot", buf, sizeof(buf), argv,
				      TEL_REBOOT_MAX_ARGS, err, sizeof(err)), 0);
	CHECK_STR(argv[0], "nsenter");
	CHECK_STR(argv[4], "/sbin/reboot");
	CHECK(argv[5] == NULL);
	CHECK_EQ_INT(tel_reboot_split("", buf, sizeof(buf), argv, 4, err, sizeof(err)), 0);
	CHECK(argv[0] == NULL);
	CHECK_EQ_INT(tel_reboot_split("sh -c 'reboot'", buf, sizeof(buf), argv, 4, err,
				      sizeof(err)), -EINVAL);
	CHECK_EQ_INT(tel_reboot_split("a b c d e", buf, sizeof(buf), argv, 4, err, sizeof(err)),
		     -EINVAL);
}

static void test_member_address_host(void)
{
	char h[64];

	CHECK_EQ_INT(tel_addr_host("10.0.0.1:4747", h, sizeof(h)), 0);
	CHECK_STR(h, "10.0.0.1");
	CHECK_EQ_INT(tel_addr_host("[fd00::1]:4747", h, sizeof(h)), 0);
	CHECK_STR(h, "fd00::1");
	CHECK_EQ_INT(tel_addr_host("vps.example:4747", h, sizeof(h)), 0);
	CHECK_STR(h, "vps.example");
	CHECK_EQ_INT(tel_addr_host("nocolon", h, sizeof(h)), -EINVAL);
	CHECK_EQ_INT(tel_addr_host("[fd00::1]4747", h, sizeof(h)), -EINVAL);
	CHECK_EQ_INT(tel_addr_host(":4747", h, sizeof(h)), -EINVAL);
}

static void test_speedtest_hello_needs_the_token(void)
{
	uint8_t token[TEL_ST_TOKEN_LEN], hello[TEL_ST_HELLO_LEN];

	randombytes_buf(token, sizeof(token));
	memcpy(hello, "CSTSPD01", 8);
	memcpy(hello + 8, token, sizeof(token));
	CHECK_EQ_INT(tel_st_check_hello(hello, sizeof(hello), token), 0);
	CHECK_EQ_INT(tel_st_check_hello(hello, sizeof(hello) - 1, token), -EACCES);
	hello[39] ^= 1;
	CHECK_EQ_INT(tel_st_check_hello(hello, sizeof(hello), token), -EACCES);
	hello[39] ^= 1;
	hello[0] = 'X';
	CHECK_EQ_INT(tel_st_check_hello(hello, sizeof(hello), token), -EACCES);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN_TEST(test_ring_drops_oldest_when_full);
	RUN_TEST(test_ring_time_never_goes_back);
	RUN_TEST(test_ring_summary_and_window);
	RUN_TEST(test_ring_buckets_average_equal_times);
	RUN_TEST(test_history_capacity_and_bytes);
	RUN_TEST(test_history_kinds_have_names_and_units);
	RUN_TEST(test_history_file_round_trip);
	RUN_TEST(test_history_load_applies_window_and_capacity);
	RUN_TEST(test_history_refuses_damage_and_keeps_what_it_had);
	RUN_TEST(test_history_save_and_load_files);
	RUN_TEST(test_getts_shape_and_parameters);
	RUN_TEST(test_reboot_cmd_words);
	RUN_TEST(test_member_address_host);
	RUN_TEST(test_speedtest_hello_needs_the_token);
	return TEST_DONE();
}
