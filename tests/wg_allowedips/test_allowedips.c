#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "allowedips.h"
#include "test.h"

static int P1, P2, P3; /* peers are opaque: any distinct addresses */

static void *lk4(struct wg_allowedips *t, const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return wg_allowedips_lookup(t, AF_INET, &a);
}

static void *lk6(struct wg_allowedips *t, const char *s)
{
	struct in6_addr a;
	inet_pton(AF_INET6, s, &a);
	return wg_allowedips_lookup(t, AF_INET6, &a);
}

static int ins(struct wg_allowedips *t, const char *s, int cidr, void *p)
{
	uint8_t a[16];
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;
	inet_pton(fam, s, a);
	return wg_allowedips_insert(t, fam, a, (uint8_t)cidr, p);
}

static int rm(struct wg_allowedips *t, const char *s, int cidr, void *p)
{
	uint8_t a[16];
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;
	inet_pton(fam, s, a);
	return wg_allowedips_remove(t, fam, a, (uint8_t)cidr, p);
}

static void test_allowedips_longest_prefix_wins(void)
{
	struct wg_allowedips t;
	wg_allowedips_init(&t);
	CHECK_EQ_INT(ins(&t, "0.0.0.0", 0, &P1), 0);
	CHECK_EQ_INT(ins(&t, "10.0.0.0", 8, &P2), 0);
	CHECK_EQ_INT(ins(&t, "10.1.2.3", 32, &P3), 0);
	CHECK(lk4(&t, "8.8.8.8") == &P1);
	CHECK(lk4(&t, "10.200.0.1") == &P2);
	CHECK(lk4(&t, "10.1.2.3") == &P3);
	CHECK(lk4(&t, "10.1.2.4") == &P2);
	CHECK_EQ_INT(wg_allowedips_count(&t), 3);
	wg_allowedips_deinit(&t);
}

static void test_allowedips_ipv6_default_and_host(void)
{
	struct wg_allowedips t;
	wg_allowedips_init(&t);
	CHECK(lk6(&t, "::1") == NULL);
	CHECK_EQ_INT(ins(&t, "::", 0, &P1), 0);
	CHECK_EQ_INT(ins(&t, "fd00::", 64, &P2), 0);
	CHECK_EQ_INT(ins(&t, "fd00::5", 128, &P3), 0);
	CHECK(lk6(&t, "2001:db8::1") == &P1);
	CHECK(lk6(&t, "fd00::6") == &P2);
	CHECK(lk6(&t, "fd00::5") == &P3);
	CHECK(lk6(&t, "fd00:0:0:1::5") == &P1);
	CHECK(lk4(&t, "1.2.3.4") == NULL); /* families are separate */
	wg_allowedips_deinit(&t);
}

static void test_allowedips_host_bits_masked_and_reinsert_moves(void)
{
	struct wg_allowedips t;
	wg_allowedips_init(&t);
	CHECK_EQ_INT(ins(&t, "192.168.1.77", 24, &P1), 0);
	CHECK(lk4(&t, "192.168.1.1") == &P1);
	CHECK_EQ_INT(ins(&t, "192.168.1.0", 24, &P2), 0);
	CHECK(lk4(&t, "192.168.1.1") == &P2);
	CHECK_EQ_INT(wg_allowedips_count(&t), 1);
	CHECK_EQ_INT(rm(&t, "192.168.1.0", 24, &P1), -ENOENT);
	CHECK_EQ_INT(rm(&t, "192.168.1.9", 24, &P2), 0);
	CHECK(lk4(&t, "192.168.1.1") == NULL);
	wg_allowedips_deinit(&t);
}

static void test_allowedips_rejects_bad_cidr(void)
{
	struct wg_allowedips t;
	wg_allowedips_init(&t);
	CHECK_EQ_INT(ins(&t, "1.2.3.4", 33, &P1), -EINVAL);
	CHECK_EQ_INT(ins(&t, "::1", 129, &P1), -EINVAL);
	CHECK_EQ_INT(wg_allowedips_insert(&t, AF_UNIX, "x", 1, &P1), -EINVAL);
	CHECK_EQ_INT(wg_allowedips_count(&t), 0);
	wg_allowedips_deinit(&t);
}

static void test_allowedips_remove_by_peer_leaves_others(void)
{
	struct wg_allowedips t;
	wg_allowedips_init(&t);
	ins(&t, "10.0.0.0", 8, &P1);
	ins(&t, "10.1.0.0", 16, &P2);
	ins(&t, "10.1.1.0", 24, &P1);
	ins(&t, "fd00::", 8, &P1);
	CHECK_EQ_INT(wg_allowedips_remove_by_peer(&t, &P1), 3);
	CHECK(lk4(&t, "10.1.1.1") == &P2);
	CHECK(lk4(&t, "10.2.0.1") == NULL);
	CHECK(lk6(&t, "fd00::1") == NULL);
	CHECK_EQ_INT(wg_allowedips_count(&t), 1);
	wg_allowedips_deinit(&t);
}

struct walk_ctx { int n; char seen[4][64]; };
static void walk_fn(void *ctx, int fam, const uint8_t *addr, uint8_t cidr)
{
	struct walk_ctx *w = ctx;
	char s[INET6_ADDRSTRLEN];
	inet_ntop(fam, addr, s, sizeof(s));
	if (w->n < 4)
		snprintf(w->seen[w->n], 64, "%s/%u", s, cidr);
	w->n++;
}

static void test_allowedips_null_peer_matches_nothing(void)
{
	struct wg_allowedips t;
	struct walk_ctx w = { 0 };
	wg_allowedips_init(&t);
	/* two diverging prefixes force an internal (peer-less) branch node */
	ins(&t, "10.0.0.0", 24, &P1);
	ins(&t, "10.0.1.0", 24, &P2);
	CHECK_EQ_INT(wg_allowedips_remove_by_peer(&t, NULL), 0);
	CHECK_EQ_INT(rm(&t, "10.0.0.0", 23, NULL), -EINVAL);
	wg_allowedips_walk_by_peer(&t, NULL, walk_fn, &w);
	CHECK_EQ_INT(w.n, 0);
	CHECK_EQ_INT(wg_allowedips_count(&t), 2);
	CHECK(lk4(&t, "10.0.1.9") == &P2);
	wg_allowedips_deinit(&t);
}

static void test_allowedips_walk_after_removals(void)
{
	struct wg_allowedips t;
	struct walk_ctx w = { 0 };
	wg_allowedips_init(&t);
	ins(&t, "10.0.0.0", 8, &P1);
	ins(&t, "10.0.0.0", 16, &P1);
	ins(&t, "10.0.0.7", 32, &P1);
	ins(&t, "10.128.0.0", 9, &P2);
	ins(&t, "::", 0, &P1);
	CHECK_EQ_INT(rm(&t, "10.0.0.0", 16, &P1), 0);
	wg_allowedips_walk_by_peer(&t, &P1, walk_fn, &w);
	CHECK_EQ_INT(w.n, 3);
	CHECK_STR(w.seen[0], "10.0.0.0/8");
	CHECK_STR(w.seen[1], "10.0.0.7/32");
	CHECK_STR(w.seen[2], "::/0");
	CHECK(lk4(&t, "10.0.1.1") == &P1);
	CHECK(lk4(&t, "10.200.1.1") == &P2);
	wg_allowedips_deinit(&t);
}

static void test_allowedips_walk_lists_a_peers_prefixes(void)
{
	struct wg_allowedips t;
	struct walk_ctx w = { 0 };
	wg_allowedips_init(&t);
	ins(&t, "10.0.0.0", 8, &P1);
	ins(&t, "10.1.0.0", 16, &P2);
	ins(&t, "fd00::", 16, &P1);
	wg_allowedips_walk_by_peer(&t, &P1, walk_fn, &w);
	CHECK_EQ_INT(w.n, 2);
	CHECK_STR(w.seen[0], "10.0.0.0/8");
	CHECK_STR(w.seen[1], "fd00::/16");
	wg_allowedips_deinit(&t);
}

/* Reference: a plain list scanned for the longest match. */
struct naive { uint8_t a[16]; int cidr; void *peer; int live; };

static int naive_match(const struct naive *e, const uint8_t *addr)
{
	for (int i = 0; i < e->cidr; i++)
		if (((e->a[i / 8] ^ addr[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

static void *naive_lookup(struct naive *list, int n, const uint8_t *addr)
{
	int best = -1;
	void *p = NULL;
	for (int i = 0; i < n; i++)
		if (list[i].live && list[i].cidr > best && naive_match(&list[i], addr)) {
			best = list[i].cidr;
			p = list[i].peer;
		}
	return p;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void randomized(int fam, int len, int nprefix, int nlookup)
{
	struct wg_allowedips t;
	struct naive *list = calloc((size_t)nprefix, sizeof(*list));
	int peers[8], mismatches = 0;
	wg_allowedips_init(&t);
	for (int i = 0; i < nprefix; i++) {
		/* Cluster the prefixes under a few top bytes so they overlap a lot. */
		for (int j = 0; j < len; j++)
			list[i].a[j] = (uint8_t)rnd();
		list[i].a[0] = (uint8_t)(rnd() % 4);
		list[i].cidr = (int)(rnd() % (unsigned)(len * 8 + 1));
		for (int b = list[i].cidr; b < len * 8; b++)
			list[i].a[b / 8] &= (uint8_t)~(1u << (7 - b % 8));
		list[i].peer = &peers[rnd() % 8];
		list[i].live = 1;
		/* a later identical prefix replaces an earlier one in both */
		for (int k = 0; k < i; k++)
			if (list[k].live && list[k].cidr == list[i].cidr &&
			    !memcmp(list[k].a, list[i].a, 16))
				list[k].live = 0;
		CHECK_EQ_INT(wg_allowedips_insert(&t, fam, list[i].a, (uint8_t)list[i].cidr,
						  list[i].peer), 0);
	}
	for (int phase = 0; phase < 2; phase++) {
		for (int i = 0; i < nlookup; i++) {
			uint8_t addr[16] = { 0 };
			for (int j = 0; j < len; j++)
				addr[j] = (uint8_t)rnd();
			addr[0] = (uint8_t)(rnd() % 4);
			if (i % 2) /* half the probes land inside a stored prefix */
				memcpy(addr, list[rnd() % (unsigned)nprefix].a, (size_t)len / 2);
			if (wg_allowedips_lookup(&t, fam, addr) != naive_lookup(list, nprefix, addr))
				mismatches++;
		}
		/* then remove a random half and compare again */
		for (int i = 0; i < nprefix && phase == 0; i++) {
			if (list[i].live && rnd() % 2) {
				CHECK_EQ_INT(wg_allowedips_remove(&t, fam, list[i].a,
								  (uint8_t)list[i].cidr,
								  list[i].peer), 0);
				list[i].live = 0;
			}
		}
	}
	CHECK_EQ_INT(mismatches, 0);
	{
		size_t live = 0, mine = 0;
		for (int i = 0; i < nprefix; i++) {
			live += (size_t)list[i].live;
			mine += (size_t)(list[i].live && list[i].peer == &peers[3]);
		}
		CHECK_EQ_INT(wg_allowedips_count(&t), live);
		/* then drop one peer entirely: the others must be untouched */
		CHECK_EQ_INT(wg_allowedips_remove_by_peer(&t, &peers[3]), mine);
		for (int i = 0; i < nprefix; i++)
			if (list[i].peer == &peers[3])
				list[i].live = 0;
		CHECK_EQ_INT(wg_allowedips_count(&t), live - mine);
		mismatches = 0;
		for (int i = 0; i < nlookup; i++) {
			uint8_t addr[16] = { 0 };
			memcpy(addr, list[rnd() % (unsigned)nprefix].a, (size_t)len);
			addr[len - 1] ^= (uint8_t)(rnd() % 4);
			if (wg_allowedips_lookup(&t, fam, addr) != naive_lookup(list, nprefix, addr))
				mismatches++;
		}
		CHECK_EQ_INT(mismatches, 0);
	}
	wg_allowedips_deinit(&t);
	free(list);
}

static void test_allowedips_randomized_ipv4_matches_naive_list(void) { randomized(AF_INET, 4, 4000, 20000); }
static void test_allowedips_randomized_ipv6_matches_naive_list(void) { randomized(AF_INET6, 16, 3000, 20000); }

int main(void)
{
	RUN_TEST(test_allowedips_longest_prefix_wins);
	RUN_TEST(test_allowedips_ipv6_default_and_host);
	RUN_TEST(test_allowedips_host_bits_masked_and_reinsert_moves);
	RUN_TEST(test_allowedips_rejects_bad_cidr);
	RUN_TEST(test_allowedips_remove_by_peer_leaves_others);
	RUN_TEST(test_allowedips_walk_lists_a_peers_prefixes);
	RUN_TEST(test_allowedips_walk_after_removals);
	RUN_TEST(test_allowedips_null_peer_matches_nothing);
	RUN_TEST(test_allowedips_randomized_ipv4_matches_naive_list);
	RUN_TEST(test_allowedips_randomized_ipv6_matches_naive_list);
	return TEST_DONE();
}
