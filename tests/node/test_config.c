#include <errno.h>
#include <sodium.h>

#include "config.h"
#include "test.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *fake_env(void *ctx, const char *name)
{
	const char **kv = ctx;
	for (; kv && kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static int load(const char *dotenv, const char **env, struct node_config *c, char *err)
{
	return node_config_load(c, dotenv, dotenv ? strlen(dotenv) : 0, fake_env, (void *)env, err,
				200);
}

static void test_config_defaults_match_the_original(void)
{
	struct node_config c;
	char err[200];
	CHECK_EQ_INT(load(NULL, NULL, &c, err), 0);
	CHECK_STR(c.state_dir, "state");
	CHECK_STR(c.listen_addr, "0.0.0.0:4747");
	CHECK(strncmp(c.server_name, "node-", 5) == 0 && strlen(c.server_name) == 11);
	CHECK_EQ_INT(c.vpn_mode, NODE_VPN_NONE);
	/* unset: the overlay takes them from vpn.json (wg0, 51820 by default) */
	CHECK_STR(c.vpn_interface, "");
	CHECK_STR(c.vpn_cidr, "10.42.0.0/24");
	CHECK_EQ_INT(c.vpn_listen_port, 0);
	CHECK_STR(c.vpn_tun_path, "");
	CHECK_STR(c.vpn_uapi_dir, "");
	CHECK(c.heartbeat_interval == 2.0);
	CHECK_EQ_INT(c.down_after_misses, 3);
	CHECK(c.rpc_timeout == 3.0);
	CHECK(c.speedtest_rpc_timeout == 45);
	CHECK_EQ_INT(c.clock_skew, 15);
	CHECK(c.leader_grace_sec == 8.0); /* 3 x 2.0 + 2 */
	CHECK(c.bot_lease_ttl == 4);
	CHECK_EQ_INT(c.sample_every_sec, 10); /* the original's 300: see docs/configuration.md */
	CHECK_EQ_INT(c.metrics_window_h, 6);
	CHECK_EQ_INT(c.metrics_summary_points, 12);
	CHECK_EQ_INT(c.enable_bg_speedtest, 1);
}

static void test_config_dotenv_syntax_and_env_precedence(void)
{
	const char *dotenv = "# comment\n\nSERVER_NAME=alpha\nexport OWNER_USERNAME = \"@owner\" # me\n"
			     "PUBLIC_ADDR='203.0.113.7:4747'\nBOT_TOKEN=\"12:a\\\"b\"\r\n"
			     "HEARTBEAT_INTERVAL=1.5 # faster\nVPN_MODE=hub\nSERVER_NAME=beta\n";
	const char *env[] = { "HEARTBEAT_INTERVAL", "0.5", NULL };
	struct node_config c;
	char err[200];
	CHECK_EQ_INT(load(dotenv, env, &c, err), 0);
	CHECK_STR(c.server_name, "beta"); /* last one in the file wins */
	CHECK_STR(c.owner_username, "@owner");
	CHECK_STR(c.public_addr, "203.0.113.7:4747");
	CHECK_STR(c.bot_token, "12:a\"b");
	CHECK(c.heartbeat_interval == 0.5); /* the environment wins over .env */
	CHECK_EQ_INT(c.vpn_mode, NODE_VPN_HUB);
	{
		const char *env2[] = { "VPN_INTERFACE_NAME", "wgx1", "VPN_LISTEN_PORT", "51999", NULL };
		struct node_config c2;

		CHECK_EQ_INT(load(NULL, env2, &c2, err), 0);
		CHECK_STR(c2.vpn_interface, "wgx1");
		CHECK_EQ_INT(c2.vpn_listen_port, 51999);
	}
	CHECK(c.leader_grace_sec == 3 * 0.5 + 2);
	node_config_clear(&c);
	CHECK(sodium_is_zero((uint8_t *)&c, sizeof(c)));
}

static void test_config_dotenv_errors_name_the_line(void)
{
	static const struct { const char *text; const char *want; } bad[] = {
		{ "A=1\nnot a line\n", ".env line 2: expected KEY=VALUE" },
		{ "A=1\nB=2\n1BAD=3\n", ".env line 3: bad variable name" },
		{ "A=\"open\n", ".env line 1: unterminated quote" },
		{ "A='x' y\n", ".env line 1: text after closing quote" },
		{ "A=x\"y\n", ".env line 1: quote inside an unquoted value" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct node_config c;
		char err[200];
		CHECK_EQ_INT(load(bad[i].text, NULL, &c, err), -EINVAL);
		CHECK_STR(err, bad[i].want);
	}
}

static void test_config_bad_values_name_the_variable(void)
{
	static const struct { const char *k, *v, *prefix; } bad[] = {
		{ "HEARTBEAT_INTERVAL", "fast", "HEARTBEAT_INTERVAL: must be a number" },
		{ "HEARTBEAT_INTERVAL", "0", "HEARTBEAT_INTERVAL: must be a number" },
		{ "DOWN_AFTER_MISSES", "2.5", "DOWN_AFTER_MISSES: must be a whole number" },
		{ "VPN_MODE", "mesh", "VPN_MODE: want none, hub or client" },
		{ "LISTEN_ADDR", "4747", "LISTEN_ADDR: want ip:port" },
		{ "LISTEN_ADDR", "example.com:4747", "LISTEN_ADDR: want ip:port" },
		{ "PUBLIC_ADDR", "host:99999", "PUBLIC_ADDR: bad port" },
		{ "VPN_LISTEN_PORT", "0", "VPN_LISTEN_PORT: must be a number" },
		{ "VPN_INTERFACE_NAME", "wg/0", "VPN_INTERFACE_NAME: want an interface name" },
		{ "VPN_INTERFACE_NAME", "a-very-long-interface", "VPN_INTERFACE_NAME: longer than 15" },
		{ "ENABLE_BG_SPEEDTEST", "yes", "ENABLE_BG_SPEEDTEST: must be a number" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *env[] = { bad[i].k, bad[i].v, NULL };
		struct node_config c;
		char err[200];
		CHECK_EQ_INT(load(NULL, env, &c, err), -EINVAL);
		if (strncmp(err, bad[i].prefix, strlen(bad[i].prefix)) != 0)
			fprintf(stderr, "got \"%s\" for %s=%s\n", err, bad[i].k, bad[i].v);
		CHECK(strncmp(err, bad[i].prefix, strlen(bad[i].prefix)) == 0);
	}
}

/* telemetry, speed tests, reboot (node/telemetry/, issue 10) */
static void test_config_telemetry_variables(void)
{
	static const struct {
		const char *name, *value, *says, *name2, *value2;
	} bad[] = {
		{ "METRICS_LISTEN", "127.0.0.1", "METRICS_LISTEN", NULL, NULL },
		{ "METRICS_LISTEN", "127.0.0.1:0", "METRICS_LISTEN", NULL, NULL },
		{ "SPEEDTEST_URL", "ftp://x/y", "SPEEDTEST_URL", NULL, NULL },
		{ "SPEEDTEST_URL", "http://x/a b", "SPEEDTEST_URL", NULL, NULL },
		{ "SPEEDTEST_UPLOAD_URL", "file:///etc/passwd", "SPEEDTEST_UPLOAD_URL", NULL, NULL },
		{ "SPEEDTEST_MAX_MB", "0", "SPEEDTEST_MAX_MB", NULL, NULL },
		{ "SPEEDTEST_PORT", "65536", "SPEEDTEST_PORT", NULL, NULL },
		{ "CONSTELLA_ALLOW_REBOOT", "yes", "CONSTELLA_ALLOW_REBOOT", NULL, NULL },
		{ "SAMPLE_EVERY_SEC", "1", "65536 points", "METRICS_WINDOW_H", "24" },
	};
	const char *ok[] = { "METRICS_LISTEN", "overlay:9477", "SPEEDTEST_URL", "https://s.example/10MB",
			     "SPEEDTEST_MAX_MB", "50", "REBOOT_CMD", "/sbin/reboot -f",
			     "CONSTELLA_ALLOW_REBOOT", "1", "CONSTELLA_REBOOT_DRY_RUN", "/tmp/r.log", NULL };
	struct node_config c;
	char err[200];

	CHECK_EQ_INT(load(NULL, NULL, &c, err), 0);
	CHECK_STR(c.metrics_listen, "");
	CHECK_STR(c.speedtest_url, "");
	CHECK_EQ_INT(c.speedtest_max_mb, 200);
	CHECK_EQ_INT(c.speedtest_port, 0);
	CHECK_EQ_INT(c.allow_reboot, 0);
	CHECK_EQ_INT(load(NULL, ok, &c, err), 0);
	CHECK_STR(c.metrics_listen, "overlay:9477");
	CHECK_STR(c.speedtest_url, "https://s.example/10MB");
	CHECK_EQ_INT(c.speedtest_max_mb, 50);
	CHECK_STR(c.reboot_cmd, "/sbin/reboot -f");
	CHECK_EQ_INT(c.allow_reboot, 1);
	CHECK_STR(c.reboot_dry_run, "/tmp/r.log");
	CHECK_EQ_INT(load("CONSTELLA_ALLOW_REBOOT=1\n", NULL, &c, err), 0); /* .env works too */
	CHECK_EQ_INT(c.allow_reboot, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *env[] = { bad[i].name, bad[i].value, bad[i].name2, bad[i].value2, NULL };

		err[0] = 0;
		CHECK_EQ_INT(load(NULL, env, &c, err), -EINVAL);
		if (!strstr(err, bad[i].says))
			fprintf(stderr, "  %s=%s: \"%s\"\n", bad[i].name, bad[i].value, err);
		CHECK(strstr(err, bad[i].says) != NULL);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	RUN_TEST(test_config_defaults_match_the_original);
	RUN_TEST(test_config_dotenv_syntax_and_env_precedence);
	RUN_TEST(test_config_dotenv_errors_name_the_line);
	RUN_TEST(test_config_bad_values_name_the_variable);
	RUN_TEST(test_config_telemetry_variables);
	return TEST_DONE();
}
