/* The overlay's provider hook, end to end in one process: telemetry runs on
 * a real loop with a real RPC server and client on loopback; once the
 * daemon-side hook is set (as the integrator wires the embedded WireGuard
 * device), GetStats over the signed RPC carries the overlay's per-peer
 * figures; a provider that fails gives "peers": null, not stale figures;
 * and without VPN_MODE the overlay is null. */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "rpc.h"
#include "state.h"
#include "telemetry.h"
#include "test.h"

struct fixture {
	struct ev_loop *loop;
	struct node_config cfg;
	struct node_state st;
	struct rpc_server *srv;
	struct rpc_client *cli;
	struct node_telemetry *tel;
	uint8_t secret[32];
	char dir[64], addr[64], self[NODE_ID_HEX + 1];
	cJSON *stats;
	int fail_provider, calls;
};

static int provider(void *ctx, struct node_telemetry_overlay_peer *p, size_t max)
{
	struct fixture *f = ctx;

	f->calls++;
	if (f->fail_provider)
		return -EIO;
	if (max < 2)
		return -ENOSPC;
	memset(p, 0, 2 * sizeof(*p));
	snprintf(p[0].name, sizeof(p[0].name), "beta");
	snprintf(p[0].public_key, sizeof(p[0].public_key), "%s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	p[0].rx_bytes = 5120;
	p[0].tx_bytes = 4608;
	p[0].latest_handshake = 1800000000;
	snprintf(p[1].public_key, sizeof(p[1].public_key), "%s",
		 "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=");
	return 2;
}

static const char *fake_env(void *ctx, const char *name)
{
	const char **kv = ctx;

	for (; kv && kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

static void on_stats(void *user, int err, const cJSON *result, const char *message)
{
	struct fixture *f = user;

	if (err)
		fprintf(stderr, "  GetStats: %s\n", message ? message : strerror(-err));
	else
		f->stats = cJSON_Duplicate(result, 1);
	ev_break(f->loop, EVBREAK_ALL);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fixture *f = w->data;

	(void)loop;
	(void)revents;
	if (rpc_client_call(f->cli, f->addr, "GetStats", NULL, 3.0, on_stats, f))
		ev_break(f->loop, EVBREAK_ALL);
}

/* Runs the loop for `secs`, then one GetStats; f->stats gets the answer. */
static void get_stats_after(struct fixture *f, double secs)
{
	ev_timer t;

	cJSON_Delete(f->stats);
	f->stats = NULL;
	ev_timer_init(&t, on_later, secs, 0);
	t.data = f;
	ev_timer_start(f->loop, &t);
	ev_run(f->loop, 0);
	ev_timer_stop(f->loop, &t);
}

static int setup(struct fixture *f, const char **env)
{
	struct rpc_server_config sc = { .listen_addr = "127.0.0.1:0" };
	struct node_peer me = { .name = "alpha", .addr = "127.0.0.1:1" };
	struct node_telemetry_env te;
	char err[300];
	int r;

	memset(f, 0, sizeof(*f));
	f->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tel_hook_XXXXXX");
	if (!mkdtemp(f->dir) || node_config_load(&f->cfg, NULL, 0, fake_env, env, err, sizeof(err))) {
		fprintf(stderr, "  setup: %s\n", err);
		return -1;
	}
	snprintf(f->cfg.state_dir, sizeof(f->cfg.state_dir), "%s", f->dir);
	randombytes_buf(f->secret, sizeof(f->secret));
	node_random_hex(f->self, 16);
	memcpy(me.node_id, f->self, sizeof(me.node_id));
	node_state_upsert_peer(&f->st, &me);
	sc.secret = f->secret;
	sc.secret_len = sizeof(f->secret);
	if ((r = rpc_server_new(f->loop, &sc, &f->srv)) ||
	    (r = rpc_client_new(f->loop, f->secret, sizeof(f->secret), &f->cli)))
		return r;
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", rpc_server_port(f->srv));
	te = (struct node_telemetry_env){ f->loop, &f->cfg, &f->st, f->self, f->srv, f->cli, NULL,
					  NULL };
	if ((r = node_telemetry_new(&te, &f->tel, err, sizeof(err))))
		fprintf(stderr, "  telemetry: %s\n", err);
	return r;
}

static void teardown(struct fixture *f)
{
	char path[128];

	node_telemetry_free(f->tel);
	rpc_client_free(f->cli);
	rpc_server_free(f->srv);
	cJSON_Delete(f->stats);
	node_state_clear(&f->st);
	snprintf(path, sizeof(path), "%s/telemetry.bin", f->dir);
	unlink(path);
	rmdir(f->dir);
	ev_loop_destroy(f->loop);
}

static const cJSON *jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void test_getstats_carries_the_overlay_peers(void)
{
	static const char *env[] = { "SAMPLE_EVERY_SEC", "1", "VPN_MODE", "hub",
				     "VPN_INTERFACE_NAME", "wgt0", NULL };
	struct fixture f;
	const cJSON *ov, *peers, *p;

	if (setup(&f, env)) {
		CHECK(0);
		teardown(&f);
		return;
	}
	node_telemetry_set_overlay(f.tel, provider, &f);
	get_stats_after(&f, 1.3); /* the sample at 1 s asks the provider */
	CHECK(f.stats != NULL);
	CHECK(f.calls >= 1);
	ov = jget(f.stats, "overlay");
	CHECK(cJSON_IsObject(ov));
	CHECK_STR(cJSON_GetStringValue(jget(ov, "iface")), "wgt0");
	CHECK(cJSON_IsFalse(jget(ov, "present")));
	peers = jget(ov, "peers");
	CHECK_EQ_INT(cJSON_GetArraySize(peers), 2);
	p = cJSON_GetArrayItem(peers, 0);
	CHECK_STR(cJSON_GetStringValue(jget(p, "name")), "beta");
	CHECK(cJSON_GetNumberValue(jget(p, "rx_bytes")) == 5120);
	CHECK(cJSON_GetNumberValue(jget(p, "tx_bytes")) == 4608);
	CHECK(cJSON_GetNumberValue(jget(p, "latest_handshake")) == 1800000000);
	CHECK(cJSON_GetNumberValue(jget(cJSON_GetArrayItem(peers, 1), "latest_handshake")) == 0);
	/* the provider fails: no figures rather than stale ones */
	f.fail_provider = 1;
	get_stats_after(&f, 1.1);
	CHECK(f.stats && cJSON_IsNull(jget(jget(f.stats, "overlay"), "peers")));
	teardown(&f);
}

static void test_no_vpn_no_overlay(void)
{
	static const char *env[] = { "SAMPLE_EVERY_SEC", "1", NULL };
	struct fixture f;

	if (setup(&f, env)) {
		CHECK(0);
		teardown(&f);
		return;
	}
	node_telemetry_set_overlay(f.tel, provider, &f);
	get_stats_after(&f, 0.2);
	CHECK(f.stats && cJSON_IsNull(jget(f.stats, "overlay")));
	CHECK(f.stats && cJSON_IsNumber(jget(f.stats, "procs")));
	CHECK_STR(cJSON_GetStringValue(jget(f.stats, "name")), "alpha");
	teardown(&f);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	cst_log_init("test", CST_LOG_WARN);
	RUN_TEST(test_getstats_carries_the_overlay_peers);
	RUN_TEST(test_no_vpn_no_overlay);
	return TEST_DONE();
}
