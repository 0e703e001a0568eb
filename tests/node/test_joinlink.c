#include <errno.h>
#include <sodium.h>

#include "joinlink.h"
#include "test.h"

#define TOK "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static void test_joinlink_parses_ipv4_ipv6_and_names(void)
{
	struct node_joinlink l;
	const char *err;
	char buf[512];
	CHECK_EQ_INT(node_joinlink_parse("join://203.0.113.5:4747?net=abc123&token=" TOK "&ttl=15m", &l, &err), 0);
	CHECK_STR(l.host, "203.0.113.5");
	CHECK_EQ_INT(l.port, 4747);
	CHECK_STR(l.network_id, "abc123");
	CHECK_EQ_INT(l.token[0], 0);
	CHECK_EQ_INT(l.token[31], 31);
	CHECK_EQ_INT(l.ttl_s, 900);
	CHECK_EQ_INT(node_joinlink_format(&l, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "join://203.0.113.5:4747?net=abc123&token=" TOK "&ttl=900s");
	CHECK_EQ_INT(node_joinlink_parse("join://[2001:db8::1]:4747?token=" TOK "&net=n", &l, &err), 0);
	CHECK_STR(l.host, "2001:db8::1");
	CHECK_EQ_INT(node_joinlink_format(&l, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "join://[2001:db8::1]:4747?net=n&token=" TOK);
	CHECK_EQ_INT(node_joinlink_parse("join://seed.example.net:1?net=n&token=" TOK, &l, &err), 0);
	CHECK_STR(l.host, "seed.example.net");
}

static void test_joinlink_rejects_malformed_with_reasons(void)
{
	static const char *bad[] = {
		"http://1.2.3.4:4747?net=n&token=" TOK,
		"join://1.2.3.4:4747",
		"join://1.2.3.4?net=n&token=" TOK,
		"join://1.2.3.4:0?net=n&token=" TOK,
		"join://1.2.3.4:65536?net=n&token=" TOK,
		"join://[::1:4747?net=n&token=" TOK,
		"join://[zz::1]:4747?net=n&token=" TOK,
		"join://bad_host:4747?net=n&token=" TOK,
		"join://1.2.3.4:4747?net=n",
		"join://1.2.3.4:4747?token=" TOK,
		"join://1.2.3.4:4747?net=n&token=AAEC",
		"join://1.2.3.4:4747?net=n&token=" TOK "=",
		"join://1.2.3.4:4747?net=n&net=m&token=" TOK,
		"join://1.2.3.4:4747?net=n&token=" TOK "&x=1",
		"join://1.2.3.4:4747?net=n&token=" TOK "&",
		"join://1.2.3.4:4747?net=n/../x&token=" TOK,
		"join://1.2.3.4:4747?net=n&token=" TOK "&ttl=0s",
		"join://1.2.3.4:4747?net=n&token=" TOK "&ttl=99d",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct node_joinlink l;
		const char *err = NULL;
		CHECK_EQ_INT(node_joinlink_parse(bad[i], &l, &err), -EINVAL);
		CHECK(err != NULL && strlen(err) > 10);
		CHECK(sodium_is_zero((const uint8_t *)&l, sizeof(l)));
	}
}

static void test_duration_parse(void)
{
	uint64_t s;
	CHECK_EQ_INT(node_duration_parse("30s", &s), 0); CHECK_EQ_INT(s, 30);
	CHECK_EQ_INT(node_duration_parse("15m", &s), 0); CHECK_EQ_INT(s, 900);
	CHECK_EQ_INT(node_duration_parse("1h", &s), 0); CHECK_EQ_INT(s, 3600);
	CHECK_EQ_INT(node_duration_parse("2d", &s), 0); CHECK_EQ_INT(s, 172800);
	CHECK_EQ_INT(node_duration_parse("45", &s), 0); CHECK_EQ_INT(s, 45);
	CHECK_EQ_INT(node_duration_parse("", &s), -EINVAL);
	CHECK_EQ_INT(node_duration_parse("m", &s), -EINVAL);
	CHECK_EQ_INT(node_duration_parse("-5s", &s), -EINVAL);
	CHECK_EQ_INT(node_duration_parse("5x", &s), -EINVAL);
	CHECK_EQ_INT(node_duration_parse("31d", &s), -EINVAL);
	CHECK_EQ_INT(node_duration_parse("0m", &s), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN_TEST(test_joinlink_parses_ipv4_ipv6_and_names);
	RUN_TEST(test_joinlink_rejects_malformed_with_reasons);
	RUN_TEST(test_duration_parse);
	return TEST_DONE();
}
