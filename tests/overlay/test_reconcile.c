/* The reconcile diff (reconcile.h) against hand-built device snapshots:
 * add, remove, update of allowed IPs and keepalive, the endpoint rules
 * (desired endpoint applied once, roaming kept, a changed desired endpoint
 * applied, hints only fill a missing endpoint), the listen port, never
 * replace_peers; and a real device round trip: the plan applied with
 * wg_device_set leaves nothing more to do. */
#include <arpa/inet.h>
#include <sched.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "epcache.h"
#include "reconcile.h"
#include "test.h"

static struct node_ovl_peer mk_want(uint8_t tag, const char *allowed, uint8_t prefix,
				    const char *ep, const char *hint, uint16_t ka)
{
	struct node_ovl_peer w;

	memset(&w, 0, sizeof(w));
	memset(w.pub, tag, 32);
	snprintf(w.name, sizeof(w.name), "p%u", tag);
	node_ip4_parse(allowed, &w.allowed);
	w.allowed_prefix = prefix;
	if (ep)
		w.has_endpoint = !node_sockaddr_parse(ep, &w.endpoint);
	if (hint)
		w.has_hint = !node_sockaddr_parse(hint, &w.hint);
	w.keepalive = ka;
	return w;
}

static void mk_dev(struct wg_device_peer_info *d, uint8_t tag, const char *allowed, uint8_t prefix,
		   const char *ep, uint16_t ka)
{
	uint32_t a;

	memset(d, 0, sizeof(*d));
	memset(d->public_key, tag, 32);
	if (allowed) {
		d->allowed_ips = calloc(1, sizeof(*d->allowed_ips));
		d->n_allowed_ips = 1;
		d->allowed_ips[0].family = AF_INET;
		node_ip4_parse(allowed, &a);
		a = htonl(a);
		memcpy(d->allowed_ips[0].addr, &a, 4);
		d->allowed_ips[0].cidr = prefix;
	}
	if (ep)
		d->has_endpoint = !node_sockaddr_parse(ep, &d->endpoint);
	d->persistent_keepalive = ka;
}

static const struct wg_uapi_peer *plan_find(const struct wg_uapi_set *s, uint8_t tag)
{
	uint8_t k[32];

	memset(k, tag, 32);
	for (size_t i = 0; i < s->n_peers; i++)
		if (!memcmp(s->peers[i].public_key, k, 32))
			return &s->peers[i];
	return NULL;
}

static void free_info(struct wg_device_info *info)
{
	for (size_t i = 0; i < info->n_peers; i++)
		free(info->peers[i].allowed_ips);
}

static void test_plan_adds_removes_and_never_replaces(void)
{
	struct node_ovl_peer wp[2];
	struct node_ovl_desired want = { .peers = wp, .n_peers = 2, .listen_port = 51820 };
	struct wg_device_peer_info dp[2];
	struct wg_device_info info = { .peers = dp, .n_peers = 2, .listen_port = 40000 };
	struct node_ovl_plan_summary sum;
	struct wg_uapi_set set;
	const struct wg_uapi_peer *p;

	wp[0] = mk_want(1, "10.42.0.2", 32, NULL, "192.0.2.2:1000", 0);   /* present */
	wp[1] = mk_want(3, "10.42.0.3", 32, "192.0.2.3:51820", NULL, 25); /* missing */
	mk_dev(&dp[0], 1, "10.42.0.2", 32, "192.0.2.99:5", 0);
	mk_dev(&dp[1], 2, "10.42.0.9", 32, NULL, 0);                      /* not desired */
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, NULL, &set, &sum), 0);
	CHECK(!set.replace_peers);
	CHECK(set.has_listen_port && set.listen_port == 51820);
	CHECK_EQ_INT((int)set.n_peers, 2);
	CHECK_EQ_INT(sum.added, 1);
	CHECK_EQ_INT(sum.removed, 1);
	CHECK_EQ_INT(sum.updated, 0); /* peer 1 is as desired; its roamed endpoint stays */
	CHECK((p = plan_find(&set, 2)) && p->remove);
	p = plan_find(&set, 3);
	CHECK(p && !p->remove && !p->update_only && p->replace_allowed_ips && p->n_allowed_ips == 1);
	if (p) {
		struct sockaddr_storage ss;

		CHECK_EQ_INT(p->allowed_ips[0].cidr, 32);
		CHECK_MEM(p->allowed_ips[0].addr, "\x0a\x2a\x00\x03", 4);
		CHECK(p->has_endpoint);
		node_sockaddr_parse("192.0.2.3:51820", &ss);
		CHECK(node_sockaddr_equal(&p->endpoint, &ss));
		CHECK_EQ_INT(p->endpoint_len, sizeof(struct sockaddr_in));
		CHECK(p->has_keepalive && p->keepalive == 25);
	}
	CHECK(plan_find(&set, 1) == NULL);
	wg_uapi_set_free(&set);
	free_info(&info);
}

static void test_plan_updates_only_what_differs(void)
{
	struct node_ovl_peer wp[2];
	struct node_ovl_desired want = { .peers = wp, .n_peers = 2 };
	struct wg_device_peer_info dp[2];
	struct wg_device_info info = { .peers = dp, .n_peers = 2 };
	struct node_ovl_plan_summary sum;
	struct wg_uapi_set set;
	const struct wg_uapi_peer *p;

	/* a manual `wg set` widened peer 1's allowed IPs and dropped peer 2's
	 * keepalive: both come back, nothing else moves */
	wp[0] = mk_want(1, "10.42.0.2", 32, NULL, NULL, 0);
	wp[1] = mk_want(2, "10.42.0.0", 24, NULL, NULL, 25);
	mk_dev(&dp[0], 1, "10.42.0.0", 24, "192.0.2.9:9", 0);
	mk_dev(&dp[1], 2, "10.42.0.0", 24, "192.0.2.8:8", 0);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, NULL, &set, &sum), 0);
	CHECK_EQ_INT(sum.updated, 2);
	CHECK(!set.has_listen_port);
	p = plan_find(&set, 1);
	CHECK(p && p->update_only && p->replace_allowed_ips && !p->has_keepalive && !p->has_endpoint);
	p = plan_find(&set, 2);
	CHECK(p && p->update_only && !p->replace_allowed_ips && p->has_keepalive &&
	      p->keepalive == 25 && !p->has_endpoint);
	wg_uapi_set_free(&set);
	/* a /24 given with host bits (as `wg` may show it) is the same set */
	free(dp[1].allowed_ips);
	mk_dev(&dp[1], 2, "10.42.0.0", 24, "192.0.2.8:8", 25);
	free(dp[0].allowed_ips);
	mk_dev(&dp[0], 1, "10.42.0.2", 32, "192.0.2.9:9", 0);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, NULL, &set, &sum), 0);
	CHECK_EQ_INT((int)set.n_peers, 0);
	wg_uapi_set_free(&set);
	/* two allowed IPs where one is desired: replaced */
	{
		struct wg_uapi_allowed_ip *two = realloc(dp[0].allowed_ips, 2 * sizeof(*two));

		CHECK(two != NULL);
		dp[0].allowed_ips = two;
		two[1] = two[0];
		two[1].addr[3] = 7;
		dp[0].n_allowed_ips = 2;
		CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, NULL, &set, &sum), 0);
		CHECK((p = plan_find(&set, 1)) && p->replace_allowed_ips);
		wg_uapi_set_free(&set);
	}
	free_info(&info);
}

static void test_plan_endpoint_rules(void)
{
	struct node_ovl_peer wp[1];
	struct node_ovl_desired want = { .peers = wp, .n_peers = 1 };
	struct wg_device_peer_info dp[1];
	struct wg_device_info info = { .peers = dp, .n_peers = 1 };
	struct node_ovl_applied applied = { 0 };
	struct node_ovl_plan_summary sum;
	struct wg_uapi_set set;
	const struct wg_uapi_peer *p;
	struct sockaddr_storage ss;

	/* the hub's endpoint, never applied by us yet (device has another): set */
	wp[0] = mk_want(1, "10.42.0.0", 24, "198.51.100.1:51820", NULL, 25);
	mk_dev(&dp[0], 1, "10.42.0.0", 24, "198.51.100.7:4444", 25);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	CHECK((p = plan_find(&set, 1)) && p->has_endpoint);
	wg_uapi_set_free(&set);
	CHECK_EQ_INT(node_ovl_applied_update(&applied, &want), 0);
	/* applied; the device then roams elsewhere: kept */
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	CHECK_EQ_INT((int)set.n_peers, 0);
	wg_uapi_set_free(&set);
	/* the same endpoint written v4-mapped by the device: no change either */
	node_sockaddr_parse("198.51.100.1:51820", &ss);
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&dp[0].endpoint;

		memset(&dp[0].endpoint, 0, sizeof(dp[0].endpoint));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(51820);
		inet_pton(AF_INET6, "::ffff:198.51.100.1", &s6->sin6_addr);
	}
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	CHECK_EQ_INT((int)set.n_peers, 0);
	wg_uapi_set_free(&set);
	/* the desired endpoint itself changed (the hub moved): applied */
	wp[0] = mk_want(1, "10.42.0.0", 24, "198.51.100.2:51820", NULL, 25);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	p = plan_find(&set, 1);
	CHECK(p && p->has_endpoint && !p->replace_allowed_ips && !p->has_keepalive);
	node_sockaddr_parse("198.51.100.2:51820", &ss);
	CHECK(p && node_sockaddr_equal(&p->endpoint, &ss));
	wg_uapi_set_free(&set);
	/* a hint fills a missing endpoint only */
	wp[0] = mk_want(1, "10.42.0.5", 32, NULL, "192.0.2.50:33333", 0);
	free(dp[0].allowed_ips);
	mk_dev(&dp[0], 1, "10.42.0.5", 32, NULL, 0);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	CHECK((p = plan_find(&set, 1)) && p->has_endpoint);
	wg_uapi_set_free(&set);
	free(dp[0].allowed_ips);
	mk_dev(&dp[0], 1, "10.42.0.5", 32, "192.0.2.51:1", 0);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	CHECK_EQ_INT((int)set.n_peers, 0);
	wg_uapi_set_free(&set);
	/* a peer that is no longer desired is forgotten by applied_update */
	want.n_peers = 0;
	CHECK_EQ_INT(node_ovl_applied_update(&applied, &want), 0);
	CHECK_EQ_INT((int)applied.n, 0);
	node_ovl_applied_clear(&applied);
	free_info(&info);
}

/* With a real device (needs CAP_NET_ADMIN for the TUN; 77 without): the
 * plan applied leaves nothing to do, and a manual change is undone. */
static int test_plan_against_a_device(void)
{
	struct wg_device_config dc = { .ifname = NULL, .uapi_optional = true };
	struct wg_device *dev = NULL;
	struct node_ovl_peer wp[2];
	struct node_ovl_desired want = { .peers = wp, .n_peers = 2 };
	struct node_ovl_applied applied = { 0 };
	struct wg_device_info info;
	struct node_ovl_plan_summary sum;
	struct wg_uapi_set set;
	char name[16], dir[64];
	int r;

	/* a network namespace of our own: the interface never meets the host */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "cannot make a network namespace (%s): device round trip not run\n",
			strerror(errno));
		return 77;
	}
	snprintf(name, sizeof(name), "wgrc%d", (int)getpid() % 100000);
	snprintf(dir, sizeof(dir), "/tmp/test_reconcile.%d", (int)getpid());
	dc.ifname = name;
	dc.uapi_dir = dir;
	r = wg_device_new(&dc, &dev);
	if (r == -EPERM || r == -EACCES || r == -ENOENT) {
		fprintf(stderr, "no TUN here (%s): device round trip not run\n", strerror(-r));
		return 77;
	}
	CHECK_EQ_INT(r, 0);
	if (r)
		return 1;
	wp[0] = mk_want(1, "10.42.0.2", 32, "192.0.2.2:51820", NULL, 0);
	wp[1] = mk_want(2, "10.42.0.3", 32, NULL, "192.0.2.3:4000", 25);
	for (int round = 0; round < 3; round++) {
		CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
		CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
		if (round == 0)
			CHECK_EQ_INT(sum.added, 2);
		if (round == 1)
			CHECK_EQ_INT((int)set.n_peers, 0); /* converged */
		if (round == 2) /* after the manual change below */
			CHECK(sum.added == 1 && sum.removed == 1);
		CHECK_EQ_INT(wg_device_set(dev, &set), 0);
		node_ovl_applied_update(&applied, &want);
		wg_uapi_set_free(&set);
		wg_device_info_free(&info);
		if (round == 1) {
			/* `wg set` removes peer 1 and adds a stranger */
			struct wg_uapi_peer up[2];
			struct wg_uapi_set m = { .peers = up, .n_peers = 2 };

			memset(up, 0, sizeof(up));
			memset(up[0].public_key, 1, 32);
			up[0].remove = true;
			memset(up[1].public_key, 9, 32);
			CHECK_EQ_INT(wg_device_set(dev, &m), 0);
		}
	}
	CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
	CHECK_EQ_INT((int)info.n_peers, 2);
	CHECK_EQ_INT(node_ovl_reconcile_plan(&want, &info, &applied, &set, &sum), 0);
	CHECK_EQ_INT((int)set.n_peers, 0);
	wg_uapi_set_free(&set);
	wg_device_info_free(&info);
	node_ovl_applied_clear(&applied);
	wg_device_free(dev);
	rmdir(dir);
	return 0;
}

int main(void)
{
	int dev;

	if (sodium_init() < 0)
		return 1;
	RUN_TEST(test_plan_adds_removes_and_never_replaces);
	RUN_TEST(test_plan_updates_only_what_differs);
	RUN_TEST(test_plan_endpoint_rules);
	test_failures_in_current = 0;
	dev = test_plan_against_a_device();
	if (dev != 77) {
		if (test_failures_in_current)
			test_total_failed++;
		else
			test_total_passed++;
		fprintf(stderr, "%s test_plan_against_a_device\n", test_failures_in_current ? "FAIL" : "ok  ");
	}
	if (TEST_DONE())
		return 1;
	return dev == 77 ? 77 : 0;
}
