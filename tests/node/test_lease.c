/* The bot lease and the membership rules on simulated time: scenario tests
 * of each rule, then a simulated 4-node network with lossy, delayed
 * messages, kills and restarts, checked at every step for two runners. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "lease.h"
#include "membership.h"
#include "test.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccc"

static const char *const none[1];

static void test_lease_single_node_takes_it_after_grace(void)
{
	struct node_lease l;

	node_lease_init(&l, A, 4, 8, 100);
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 101), 0); /* grace */
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 108),
		     NODE_LEASE_SEND_CLAIM | NODE_LEASE_START);
	CHECK(l.epoch == 1 && l.running && !strcmp(l.holder, A));
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 108.5), 0);
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 109), NODE_LEASE_SEND_CLAIM); /* renew */
	node_lease_deinit(&l);
}

static void test_lease_runner_starts_only_after_every_alive_peer_acked(void)
{
	struct node_lease l;
	const char *alive[] = { B, C };

	node_lease_init(&l, A, 4, 0, 0);
	CHECK_EQ_INT(node_lease_step(&l, 1, alive, 2, 1), NODE_LEASE_SEND_CLAIM);
	node_lease_on_ack(&l, B, 1, 1);
	CHECK_EQ_INT(node_lease_step(&l, 1, alive, 2, 1.1), 0);
	node_lease_on_ack(&l, C, 0, 1); /* wrong epoch: ignored */
	CHECK_EQ_INT(node_lease_step(&l, 1, alive, 2, 1.2), 0);
	node_lease_on_ack(&l, C, 1, 1);
	CHECK_EQ_INT(node_lease_step(&l, 1, alive, 2, 1.3), NODE_LEASE_START);
	CHECK_EQ_INT(l.role, NODE_LEASE_HOLDING);
	node_lease_deinit(&l);
}

static void test_lease_holder_stops_before_a_silent_peer_can_take_over(void)
{
	struct node_lease h, p;
	const char *alive_h[] = { B }, *alive_p[] = { A };
	unsigned acts;
	double t, stop_at = -1, take_at = -1;

	node_lease_init(&h, A, 4, 0, 0);
	node_lease_init(&p, B, 4, 0, 0);
	CHECK(node_lease_step(&h, 1, alive_h, 1, 0) & NODE_LEASE_SEND_CLAIM);
	CHECK_EQ_INT(node_lease_on_claim(&p, A, 1, 0.01, &acts), NODE_LEASE_ACCEPT);
	node_lease_on_ack(&h, B, 1, 0);
	CHECK(node_lease_step(&h, 1, alive_h, 1, 0.1) & NODE_LEASE_START);
	/* From now on nothing gets through, both ways. */
	for (t = 0.2; t < 20; t += 0.1) {
		acts = node_lease_step(&h, 1, alive_h, 1, t);
		if ((acts & NODE_LEASE_STOP) && stop_at < 0)
			stop_at = t;
		/* B leads on its side once the lease expired */
		acts = node_lease_step(&p, node_lease_expired(&p, t), alive_p, 0, t);
		if ((acts & NODE_LEASE_START) && take_at < 0)
			take_at = t;
	}
	CHECK(stop_at > 0 && take_at > 0);
	CHECK(stop_at <= 4.0);
	CHECK(take_at >= 4.5);
	CHECK(stop_at < take_at);
	node_lease_deinit(&h);
	node_lease_deinit(&p);
}

static void test_lease_expiry_is_judged_from_the_last_renewal_heard(void)
{
	struct node_lease l;
	unsigned acts;

	node_lease_init(&l, B, 4, 0, 0);
	node_lease_on_claim(&l, A, 3, 10, &acts);
	CHECK(!node_lease_expired(&l, 14.4));
	CHECK(node_lease_expired(&l, 14.6));
	node_lease_on_claim(&l, A, 3, 14.4, &acts); /* renewed */
	CHECK(!node_lease_expired(&l, 14.6));
	CHECK(!node_lease_free(&l, 18.8));
	CHECK(node_lease_free(&l, 18.95));
	node_lease_deinit(&l);
}

static void test_lease_lesser_claim_is_refused_and_greater_one_fences_the_holder(void)
{
	struct node_lease l;
	unsigned acts;

	node_lease_init(&l, B, 4, 0, 0);
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 0), NODE_LEASE_SEND_CLAIM | NODE_LEASE_START);
	CHECK_EQ_INT(node_lease_on_claim(&l, A, 0, 1, &acts), NODE_LEASE_CONFLICT);
	CHECK_EQ_INT(node_lease_on_claim(&l, C, 1, 1, &acts), NODE_LEASE_CONFLICT); /* tie: b < c */
	CHECK(l.running);
	CHECK_EQ_INT(node_lease_on_claim(&l, A, 1, 1, &acts), NODE_LEASE_ACCEPT); /* tie: a < b */
	CHECK_EQ_INT(acts, NODE_LEASE_STOP);
	CHECK(!l.running && !strcmp(l.holder, A) && l.epoch == 1);
	/* a conflict answer with a greater lease also fences */
	node_lease_deinit(&l);
	node_lease_init(&l, B, 4, 0, 0);
	node_lease_step(&l, 1, none, 0, 0);
	CHECK_EQ_INT(node_lease_on_conflict(&l, C, 7, 0, 1), NODE_LEASE_STOP);
	CHECK(l.epoch == 7 && !strcmp(l.holder, C));
	/* ...and the next claim goes above it */
	CHECK(node_lease_step(&l, 1, none, 0, 20) & NODE_LEASE_START);
	CHECK(l.epoch == 8);
	node_lease_deinit(&l);
}

static void test_lease_holder_that_no_longer_leads_releases_and_leader_takes_it_at_once(void)
{
	struct node_lease h, n;
	const char *alive_h[] = { A }, *alive_n[] = { B };
	unsigned acts;

	node_lease_init(&h, B, 4, 0, 0);
	node_lease_init(&n, A, 4, 0, 0);
	node_lease_step(&h, 1, none, 0, 0);
	CHECK(h.running);
	CHECK_EQ_INT(node_lease_on_claim(&n, B, 1, 0.5, &acts), NODE_LEASE_ACCEPT);
	CHECK_EQ_INT(node_lease_step(&n, 1, alive_n, 1, 0.6), 0); /* B's lease is live */
	CHECK_EQ_INT(node_lease_step(&h, 0, alive_h, 1, 0.6),
		     NODE_LEASE_STOP | NODE_LEASE_SEND_RELEASE);
	node_lease_on_release(&n, B, 1, 0.61);
	CHECK(node_lease_free(&n, 0.61));
	CHECK_EQ_INT(node_lease_step(&n, 1, alive_n, 1, 0.62), NODE_LEASE_SEND_CLAIM);
	CHECK(n.epoch == 2);
	/* a late renewal of the released epoch does not revive it */
	CHECK_EQ_INT(node_lease_on_claim(&h, A, 2, 0.63, &acts), NODE_LEASE_ACCEPT);
	node_lease_deinit(&h);
	node_lease_deinit(&n);
}

/* A member that comes alive while the runner runs gets ttl to acknowledge:
 * the runner does not stop the moment it appears. */
static void test_lease_member_coming_alive_gets_ttl_to_acknowledge(void)
{
	struct node_lease l;
	const char *one[] = { B }, *two[] = { B, C };

	node_lease_init(&l, A, 4, 0, 0);
	node_lease_step(&l, 1, one, 1, 0);
	node_lease_on_ack(&l, B, 1, 0);
	CHECK(node_lease_step(&l, 1, one, 1, 0.1) & NODE_LEASE_START);
	node_lease_on_ack(&l, B, 1, 1);
	CHECK_EQ_INT(node_lease_step(&l, 1, two, 2, 1.5) & NODE_LEASE_STOP, 0); /* C appears */
	node_lease_on_ack(&l, B, 1, 2);
	node_lease_on_ack(&l, B, 1, 3);
	node_lease_on_ack(&l, B, 1, 4);
	CHECK_EQ_INT(node_lease_step(&l, 1, two, 2, 5.0) & NODE_LEASE_STOP, 0);
	/* C never acknowledged: stopped before 1.5 + ttl */
	CHECK(node_lease_step(&l, 1, two, 2, 5.3) & NODE_LEASE_STOP);
	node_lease_deinit(&l);
}

static void test_lease_restart_waits_for_grace_unless_it_hears_the_lease(void)
{
	struct node_lease l;
	unsigned acts;

	node_lease_init(&l, A, 4, 8, 0);
	node_lease_restore(&l, A, 5, 0);
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 1), 0);
	node_lease_on_claim(&l, B, 6, 1.5, &acts);
	CHECK(l.settled && l.epoch == 6);
	CHECK_EQ_INT(node_lease_step(&l, 1, none, 0, 2), 0); /* B's is live */
	node_lease_on_release(&l, B, 6, 2.5);
	CHECK(node_lease_step(&l, 1, none, 0, 2.6) & NODE_LEASE_START);
	CHECK(l.epoch == 7);
	node_lease_deinit(&l);
}

static void test_mship_down_after_silence_and_suspicion_until_direct_word(void)
{
	struct node_mship m;

	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	/* never heard: unknown, and it stays so (no evidence it ever ran) */
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 1), NODE_MSHIP_UNKNOWN);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 100), NODE_MSHIP_UNKNOWN);
	CHECK_EQ_INT(node_mship_observe(&m, B, 5, 1, 0, 1, 7), 1);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 7), NODE_MSHIP_ALIVE);
	CHECK_EQ_INT(node_mship_observe(&m, B, 5, 1, 0, 0, 9), 0); /* no advance */
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 13), NODE_MSHIP_ALIVE);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 13.1), NODE_MSHIP_DOWN);
	CHECK_EQ_INT(node_mship_observe(&m, B, 4, 99, 0, 0, 14), 0); /* older generation */
	CHECK_EQ_INT(node_mship_observe(&m, B, 6, 0, 0, 0, 14), 1);  /* restarted */
	node_mship_suspect(&m, B, NODE_MSHIP_LEASE_LAPSED);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 14), NODE_MSHIP_DOWN);
	node_mship_observe(&m, B, 6, 1, 0, 0, 15); /* relayed: still suspect */
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 15), NODE_MSHIP_DOWN);
	node_mship_observe(&m, B, 6, 2, 0, 1, 16);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 16), NODE_MSHIP_ALIVE);
	node_mship_deinit(&m);
}

static void test_mship_relayed_counter_counts_from_when_it_was_fresh(void)
{
	struct node_mship m;

	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	/* relayed, 5 s old: alive for one more second only */
	CHECK_EQ_INT(node_mship_observe(&m, B, 9, 3, 5, 0, 20), 1);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 21), NODE_MSHIP_ALIVE);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 21.1), NODE_MSHIP_DOWN);
	/* a dead node's last counter, relayed late, is down at once */
	CHECK_EQ_INT(node_mship_observe(&m, C, 9, 3, 30, 0, 20), 1);
	CHECK_EQ_INT(node_mship_status(&m, C, 3, 20), NODE_MSHIP_DOWN);
	node_mship_deinit(&m);
}

static void test_mship_record_without_counter_is_no_evidence(void)
{
	struct node_mship m;

	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	/* a digest entry for a member whose daemon never ran: gen 0 */
	CHECK_EQ_INT(node_mship_observe(&m, B, 0, 0, 0, 0, 20), 0);
	CHECK_EQ_INT(node_mship_observe(&m, B, 0, 7, 0, 0, 20), 0);
	CHECK_EQ_INT(node_mship_status(&m, B, 3, 20), NODE_MSHIP_UNKNOWN);
	node_mship_deinit(&m);
}

static void test_mship_fail_timeout_grows_with_log_of_members(void)
{
	struct node_mship m;

	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	CHECK(node_mship_fail_after(&m, 4) == 6);
	CHECK(node_mship_fail_after(&m, 16) == 6);
	CHECK(node_mship_fail_after(&m, 17) == 7);
	CHECK(node_mship_fail_after(&m, 100) == 9);
	CHECK(node_mship_fail_after(&m, 1000) == 12);
	node_mship_deinit(&m);
}

static void add_peer(struct node_state *st, const char *name, const char *id, int prio)
{
	struct node_peer p = { 0 };

	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.node_id, sizeof(p.node_id), "%s", id);
	p.priority = prio;
	node_state_upsert_peer(st, &p);
}

static void test_mship_leader_is_smallest_priority_then_id_among_alive(void)
{
	struct node_state st = { 0 };
	struct node_mship m;

	add_peer(&st, "a", A, 5);
	add_peer(&st, "b", B, 1);
	add_peer(&st, "c", C, 1);
	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	/* b and c joined after a started: they bring their counters once
	 * they run */
	CHECK_EQ_INT(node_mship_leader(&m, &st, 1), 0);
	/* starting, and b a member at start not heard yet: a does not lead
	 * over it, and the lease waits for it */
	node_mship_known_at_start(&m, B);
	CHECK_EQ_INT(node_mship_leader(&m, &st, 1), -2);
	CHECK(node_mship_lease_waits_for(&m, B, 3, 1) && !node_mship_lease_waits_for(&m, C, 3, 1));
	CHECK(!node_mship_lease_waits_for(&m, B, 3, 9));
	/* after the startup window they are no evidence: a leads */
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 9)].name, "a");
	node_mship_observe(&m, C, 1, 1, 0, 1, 9);
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 9)].name, "c");
	node_mship_observe(&m, B, 1, 1, 0, 1, 9);
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 9)].name, "b");
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 15.1)].name, "a"); /* both down */
	node_mship_deinit(&m);
	node_state_clear(&st);
}

/* The ghost: three nodes run, a fourth joins with the best
 * priority but never starts. Its record (and digests naming it without a
 * counter) reach everyone: the leader stays. */
static void test_mship_ghost_member_never_leads(void)
{
	struct node_state st = { 0 };
	struct node_mship m;

	add_peer(&st, "a", A, 5);
	add_peer(&st, "b", B, 5);
	add_peer(&st, "g", "00000000000000000000000000000001", 0);
	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	node_mship_observe(&m, B, 1, 1, 0, 1, 20);
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 20)].name, "a");
	node_mship_observe(&m, "00000000000000000000000000000001", 0, 0, 0, 0, 20);
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 20)].name, "a");
	CHECK_EQ_INT(node_mship_status(&m, "00000000000000000000000000000001", 3, 20),
		     NODE_MSHIP_UNKNOWN);
	node_mship_deinit(&m);
	node_state_clear(&st);
}

/* The ghost again, seen by a node that restarts: it was a member at the
 * start, so the node first waits to hear it (it may be the leader), but a
 * member that has run a while and never heard it either ends the wait at
 * once instead of after the whole startup grace. */
static void test_mship_starting_node_stops_waiting_for_a_member_nobody_heard(void)
{
	struct node_state st = { 0 };
	struct node_mship m;

	add_peer(&st, "a", A, 5);
	add_peer(&st, "b", B, 5);
	add_peer(&st, "g", C, 0);
	node_mship_init(&m, A, 1, 6, 1, 8, 0);
	node_mship_known_at_start(&m, B);
	node_mship_known_at_start(&m, C);
	node_mship_observe(&m, B, 1, 1, 0, 1, 0.1);
	CHECK_EQ_INT(node_mship_leader(&m, &st, 0.1), -2);
	CHECK(node_mship_lease_waits_for(&m, C, 3, 0.1));
	/* a member with a counter is not "unheard", whoever says so */
	CHECK_EQ_INT(node_mship_unheard(&m, B), 0);
	CHECK(node_mship_lease_waits_for(&m, B, 3, 0.1));
	CHECK_EQ_INT(node_mship_unheard(&m, C), 1);
	CHECK_EQ_INT(node_mship_unheard(&m, C), 0);
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 0.2)].name, "a");
	CHECK(!node_mship_lease_waits_for(&m, C, 3, 0.2));
	CHECK_EQ_INT(node_mship_status(&m, C, 3, 0.2), NODE_MSHIP_UNKNOWN);
	/* when it does run, it leads */
	node_mship_observe(&m, C, 1, 1, 0, 1, 0.3);
	CHECK_STR(st.peers[node_mship_leader(&m, &st, 0.3)].name, "g");
	node_mship_deinit(&m);
	node_state_clear(&st);
}

static void test_mship_pick_draws_alive_members_and_sometimes_others(void)
{
	struct node_state st = { 0 };
	struct node_mship m;
	size_t out[3], n, hits[8] = { 0 }, others = 0;
	char id[NODE_ID_HEX + 1];

	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "%032x", i + 1);
		add_peer(&st, id, id, 0);
	}
	node_mship_init(&m, st.peers[0].node_id, 1, 6, 1, 8, 0);
	node_mship_seed(&m, 42);
	/* nobody heard yet: anyone */
	CHECK_EQ_INT(node_mship_pick(&m, &st, 2, 100, out), 2);
	for (int i = 1; i < 6; i++)
		node_mship_observe(&m, st.peers[i].node_id, 1, 1, 0, 1, 100);
	for (int r = 0; r < 6000; r++) {
		n = node_mship_pick(&m, &st, 2, 100, out);
		CHECK(n == 2 || n == 3);
		CHECK(out[0] != out[1] && out[0] != 0 && out[1] != 0);
		for (size_t j = 0; j < n; j++) {
			hits[out[j]]++;
			others += out[j] >= 6;
		}
	}
	/* alive 1..5 about 6000 * 2 / 5 each; the 2 others, with probability
	 * 2 / 6 per round, about 2000 draws */
	for (int i = 1; i < 6; i++)
		CHECK(hits[i] > 2100 && hits[i] < 2700);
	CHECK(others > 1800 && others < 2200);
	node_mship_deinit(&m);
	node_state_clear(&st);
}

/* A digest entry is one string: it round-trips, and anything but the one
 * spelling of each number is refused (the whole digest with it). */
static void test_gossip_digest_entries_round_trip_and_refuse_odd_spellings(void)
{
	static const char *const bad[] = {
		"0123456789abcdef0123456789abcdef:01:2:3:4:5", /* leading zero */
		"0123456789abcdef0123456789abcdeF:1:2:3:4:5",  /* upper case id */
		"0123456789abcdef0123456789abcdef:1:2:3:4",    /* a field short */
		"0123456789abcdef0123456789abcdef:1:2:3:4:5:6",
		"0123456789abcdef0123456789abcdef:9007199254740993:2:3:4:5", /* > 2^53 */
		"0123456789abcdef0123456789abcdef:+1:2:3:4:5",
		"0123456789abcdef0123456789abcdef:1:2:3:4:5 ",
		"0123456789abcdef0123456789abcde:1:2:3:4:5",
	};
	struct node_gossip_digest_entry *d;
	cJSON *a = cJSON_CreateArray();
	size_t n;

	node_gossip_digest_add(a, B, 7, 9, 1.2345, 3, 42);
	node_gossip_digest_add(a, A, 0, 0, 0, 1, 0);
	CHECK_EQ_INT(node_gossip_parse_digest(a, &d, &n), 0);
	CHECK_EQ_INT((int)n, 2);
	CHECK_STR(d[0].id, A); /* sorted */
	CHECK(d[1].gen == 7 && d[1].hb == 9 && d[1].ver == 3 && d[1].ack_ms == 42 &&
	      fabs(d[1].age - 1.234) < 1e-9);
	CHECK(node_gossip_digest_find(d, n, B) == &d[1] && !node_gossip_digest_find(d, n, C));
	free(d);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *b = cJSON_Duplicate(a, 1);

		cJSON_AddItemToArray(b, cJSON_CreateString(bad[i]));
		CHECK_EQ_INT(node_gossip_parse_digest(b, &d, &n), -EINVAL);
		CHECK(d == NULL && n == 0);
		cJSON_Delete(b);
	}
	cJSON_Delete(a);
}

/* ---- a simulated network ---- */

#define SIM_N 4
#define SIM_Q 4096

struct sim_msg {
	double at;
	int kind; /* 0 heartbeat, 1 claim, 2 ack, 3 conflict, 4 release, 5 ask, 6 info */
	double age;
	int released;
	int from, to;
	uint64_t gen, hb, epoch;
	char holder[NODE_ID_HEX + 1];
	double sent_at;
};

struct sim_node {
	char id[NODE_ID_HEX + 1];
	int up;
	uint64_t gen;
	struct node_mship m;
	struct node_lease l;
	double next_hb, asked;
};

static struct sim_node sn[SIM_N];
static struct sim_msg q[SIM_Q];
static size_t nq;
static unsigned rng = 1;
static int sim_overlaps, sim_msgs_dropped, sim_failovers;

static double rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return (double)((rng >> 8) & 0xffff) / 65536.0;
}

static int sim_partitioned; /* {n0, n1} | {n2, n3} */

static void sim_send(struct sim_msg m, double now, double loss)
{
	if (nq == SIM_Q || rnd() < loss || (sim_partitioned && (m.from < 2) != (m.to < 2))) {
		sim_msgs_dropped++;
		return;
	}
	m.at = now + 0.001 + 0.05 * rnd();
	q[nq++] = m;
}

static void sim_boot(int i, double now)
{
	snprintf(sn[i].id, sizeof(sn[i].id), "%032x", i + 1);
	sn[i].up = 1;
	sn[i].gen++;
	node_mship_init(&sn[i].m, sn[i].id, sn[i].gen, 6, 1, 8, now);
	for (int j = 0; j < SIM_N; j++) {
		char id[NODE_ID_HEX + 1];

		snprintf(id, sizeof(id), "%032x", j + 1);
		node_mship_known_at_start(&sn[i].m, id);
	}
	node_lease_init(&sn[i].l, sn[i].id, 4, 8, now);
	sn[i].next_hb = now + 2 * rnd();
	sn[i].asked = -1e9;
}

static void sim_kill(int i)
{
	sn[i].up = 0;
	node_mship_deinit(&sn[i].m);
	node_lease_deinit(&sn[i].l);
}

static void sim_deliver(double now, double loss)
{
	for (size_t k = 0; k < nq;) {
		struct sim_msg m = q[k];
		struct sim_node *d = &sn[m.to];
		unsigned acts = 0;

		if (m.at > now) {
			k++;
			continue;
		}
		q[k] = q[--nq];
		if (!d->up) {
			/* connection refused: no process, no lease clock to fear */
			if (m.kind == 1)
				sim_send((struct sim_msg){ .kind = 2, .from = m.to, .to = m.from,
							   .epoch = m.epoch, .sent_at = m.sent_at },
					 now, 0);
			continue;
		}
		switch (m.kind) {
		case 0:
			node_mship_observe(&d->m, sn[m.from].id, m.gen, m.hb, 0, 1, now);
			break;
		case 1:
			if (node_lease_on_claim(&d->l, m.holder, m.epoch, now, &acts) ==
			    NODE_LEASE_ACCEPT) {
				node_mship_unsuspect(&d->m, m.holder, now);
				sim_send((struct sim_msg){ .kind = 2, .from = m.to, .to = m.from,
							   .epoch = m.epoch, .sent_at = m.sent_at },
					 now, loss);
			} else {
				struct sim_msg r = { .kind = 3, .from = m.to, .to = m.from,
						     .epoch = d->l.epoch,
						     .age = node_lease_age(&d->l, now) };

				memcpy(r.holder, d->l.holder, sizeof(r.holder));
				sim_send(r, now, loss);
			}
			break;
		case 2:
			node_lease_on_ack(&d->l, sn[m.from].id, m.epoch, m.sent_at);
			break;
		case 3:
			acts = node_lease_on_conflict(&d->l, m.holder, m.epoch, m.age, now);
			break;
		case 5: {
			struct sim_msg r = { .kind = 6, .from = m.to, .to = m.from,
					     .epoch = d->l.epoch, .age = node_lease_age(&d->l, now),
					     .released = d->l.released };

			memcpy(r.holder, d->l.holder, sizeof(r.holder));
			sim_send(r, now, loss);
			break;
		}
		case 6:
			acts = node_lease_on_info(&d->l, m.holder, m.epoch, m.age, m.released, now);
			break;
		case 4:
			acts = node_lease_on_release(&d->l, m.holder, m.epoch, now);
			break;
		}
		(void)acts; /* the runner is d->l.running */
	}
}

static void sim_tick(int i, const struct node_state *st, double now, double loss)
{
	struct sim_node *s = &sn[i];
	const char *alive[SIM_N];
	size_t na = 0;
	unsigned acts;
	int li;

	if (node_lease_expired(&s->l, now))
		node_mship_suspect(&s->m, s->l.holder, NODE_MSHIP_LEASE_LAPSED);
	if (!s->l.settled && now - s->asked >= 1) {
		s->asked = now;
		for (int j = 0; j < SIM_N; j++)
			if (j != i)
				sim_send((struct sim_msg){ .kind = 5, .from = i, .to = j }, now, loss);
	}
	if (now >= s->next_hb) {
		node_mship_beat(&s->m);
		s->next_hb += 2;
		for (int j = 0; j < SIM_N; j++)
			if (j != i)
				sim_send((struct sim_msg){ .kind = 0, .from = i, .to = j,
							   .gen = s->m.gen, .hb = s->m.hb },
					 now, loss);
	}
	li = node_mship_leader(&s->m, st, now);
	for (int j = 0; j < SIM_N; j++)
		if (j != i && node_mship_lease_waits_for(&s->m, sn[j].id, SIM_N, now))
			alive[na++] = sn[j].id;
	acts = node_lease_step(&s->l, li == i, alive, na, now);
	if (acts & (NODE_LEASE_SEND_CLAIM | NODE_LEASE_SEND_RELEASE)) {
		for (int j = 0; j < SIM_N; j++) {
			struct sim_msg m = { .kind = (acts & NODE_LEASE_SEND_RELEASE) ? 4 : 1,
					     .from = i, .to = j, .epoch = s->l.epoch,
					     .sent_at = now };

			if (j == i)
				continue;
			memcpy(m.holder, s->id, sizeof(m.holder));
			sim_send(m, now, loss);
		}
	}
}

/* Boots SIM_N nodes at time 0 and lists them in st; preferred gets the
 * smallest priority, so it leads whenever it is up. */
static void sim_setup(unsigned seed, int preferred, struct node_state *st)
{
	rng = seed;
	nq = 0;
	sim_partitioned = 0;
	memset(sn, 0, sizeof(sn));
	for (int i = 0; i < SIM_N; i++) {
		struct node_peer p = { 0 };

		sim_boot(i, 0);
		snprintf(p.name, sizeof(p.name), "n%d", i);
		memcpy(p.node_id, sn[i].id, sizeof(p.node_id));
		p.priority = i == preferred ? 0 : 1;
		node_state_upsert_peer(st, &p);
	}
}

/* One run: returns the number of bot-less seconds after the first start. */
static double sim_run(unsigned seed, double loss, double *max_failover)
{
	struct node_state st = { 0 };
	double now, last_kill = -1, gap = 0, started = -1;
	int victim = -1, runner_killed = 0;

	sim_setup(seed, 2, &st); /* n2 leads */
	for (now = 0; now < 120; now += 0.1) {
		int running = 0;

		if (now > 20 && victim < 0 && rnd() < 0.02) {
			/* kill the runner if there is one, else anyone */
			victim = (int)(rnd() * SIM_N);
			for (int i = 0; i < SIM_N; i++)
				if (sn[i].up && sn[i].l.running)
					victim = i;
			if (sn[victim].up) {
				runner_killed = sn[victim].l.running;
				sim_kill(victim);
				last_kill = now;
			} else {
				victim = -1;
			}
		} else if (victim >= 0 && now - last_kill > 15) {
			sim_boot(victim, now);
			victim = -1;
		}
		sim_deliver(now, loss);
		for (int i = 0; i < SIM_N; i++)
			if (sn[i].up)
				sim_tick(i, &st, now, loss);
		for (int i = 0; i < SIM_N; i++)
			running += sn[i].up && sn[i].l.running;
		if (running > 1)
			sim_overlaps++;
		if (getenv("SIM_TRACE") && (unsigned)atoi(getenv("SIM_TRACE")) == seed) {
			printf("%6.1f", now);
			for (int i = 0; i < SIM_N; i++)
				printf("  n%d:%s%s e%llu %.6s%s", i, sn[i].up ? "" : "X",
				       sn[i].l.running ? "RUN" : sn[i].l.role ? "PRE" : "-",
				       (unsigned long long)sn[i].l.epoch, sn[i].l.holder + 26,
				       sn[i].up && node_mship_leader(&sn[i].m, &st, now) == i ? "L" : "");
			printf("\n");
		}
		if (running && started < 0)
			started = now;
		if (!running && started >= 0)
			gap += 0.1;
		if (running && runner_killed) {
			/* from the kill of the runner to the next start */
			runner_killed = 0;
			if (now - last_kill > 4.8 && getenv("SIM_SHOW"))
				printf("seed %u: failover %.1f s at %.1f\n", seed, now - last_kill, now);
			*max_failover = fmax(*max_failover, now - last_kill);
			sim_failovers++;
		}
	}
	for (int i = 0; i < SIM_N; i++)
		if (sn[i].up)
			sim_kill(i);
	node_state_clear(&st);
	return gap;
}

/* ---- gossip at 100 nodes: the detection bound of docs/cluster.md ---- */

#define GS_N 100

struct gs_node {
	struct node_mship m;
	double next;
	int up;
};

static struct gs_node gs[GS_N];
static struct node_state gs_st;

/* b learns everything a knows (a's own counter and every relayed one, with
 * its age), as a Gossip exchange carries it. */
static void gs_push(int a, int b, double now)
{
	struct node_mship *ma = &gs[a].m, *mb = &gs[b].m;

	node_mship_observe(mb, ma->self, ma->gen, ma->hb, 0, 1, now);
	for (size_t i = 0; i < ma->n; i++) {
		const struct node_mship_entry *e = &ma->e[i];

		if (e->gen)
			node_mship_observe(mb, e->node_id, e->gen, e->hb,
					   node_mship_age(ma, e, now), 0, now);
	}
}

/* Runs GS_N nodes gossiping (round 1 s, fan-out 2, T_fail(100) = 9 s) with
 * a fraction loss of the exchanges lost, kills node 0 at kill_at; returns
 * the worst staleness of a live member's counter seen anywhere, and in
 * *false_downs / *detect the false suspicions and the time until every node
 * counted node 0 down. */
static double gs_run(unsigned seed, double loss, double kill_at, int *false_downs,
		     double *detect)
{
	double worst = 0, dt = 0.01, fail;
	int all_down_at = -1;

	rng = seed;
	memset(gs, 0, sizeof(gs));
	*false_downs = 0;
	for (int i = 0; i < GS_N; i++) {
		node_mship_init(&gs[i].m, gs_st.peers[i].node_id, 1, 6, 1, 8, 0);
		node_mship_seed(&gs[i].m, seed * 1000 + (unsigned)i + 1);
		gs[i].next = rnd();
		gs[i].up = 1;
	}
	fail = node_mship_fail_after(&gs[0].m, GS_N);
	for (int step = 0; step * dt < kill_at + 12; step++) {
		double now = step * dt;
		int downs = 0;

		if (now >= kill_at)
			gs[0].up = 0;
		for (int i = 0; i < GS_N; i++) {
			size_t out[3], k;

			if (!gs[i].up || now < gs[i].next)
				continue;
			gs[i].next += 1;
			node_mship_beat(&gs[i].m);
			k = node_mship_pick(&gs[i].m, &gs_st, NODE_MSHIP_FANOUT, now, out);
			for (size_t j = 0; j < k; j++) {
				int b = (int)out[j];

				if (!gs[b].up || rnd() < loss)
					continue;
				gs_push(i, b, now);
				if (rnd() >= loss) /* the answer */
					gs_push(b, i, now);
			}
		}
		if (step % 10 || now < 15)
			continue;
		/* every 0.1 s: who counts the killed node down; every 0.5 s: how
		 * old each node's newest counter of each live member is */
		for (int i = 1; i < GS_N && !gs[0].up; i++)
			downs += node_mship_status(&gs[i].m, gs_st.peers[0].node_id, GS_N, now) ==
				 NODE_MSHIP_DOWN;
		for (int i = 0; i < GS_N && step % 50 == 0; i++) {
			if (!gs[i].up)
				continue;
			for (int x = 0; x < GS_N; x++) {
				const struct node_mship_entry *e;

				if (x == i || !gs[x].up)
					continue;
				e = node_mship_get(&gs[i].m, gs_st.peers[x].node_id);
				if (!e)
					continue;
				worst = fmax(worst, now - e->heard);
				*false_downs += node_mship_status(&gs[i].m, gs_st.peers[x].node_id,
								  GS_N, now) != NODE_MSHIP_ALIVE;
			}
		}
		if (!gs[0].up && downs == GS_N - 1 && all_down_at < 0)
			all_down_at = step;
	}
	*detect = all_down_at < 0 ? INFINITY : all_down_at * dt - kill_at;
	for (int i = 0; i < GS_N; i++)
		node_mship_deinit(&gs[i].m);
	(void)fail;
	return worst;
}

static void test_mship_simulated_100_nodes_no_false_down_and_bounded_detection(void)
{
	double worst_clean = 0, worst_lossy = 0, det = 0, d, bound;
	int fd, fds = 0;

	memset(&gs_st, 0, sizeof(gs_st));
	for (int i = 0; i < GS_N; i++) {
		char id[NODE_ID_HEX + 1];

		snprintf(id, sizeof(id), "%032x", i + 1);
		add_peer(&gs_st, id, id, 0);
	}
	for (unsigned seed = 1; seed <= 2; seed++) {
		worst_clean = fmax(worst_clean, gs_run(seed, 0, 50, &fd, &d));
		fds += fd;
		det = fmax(det, d);
		worst_lossy = fmax(worst_lossy, gs_run(seed + 10, 0.1, 50, &fd, &d));
		fds += fd;
		det = fmax(det, d);
	}
	{
		struct node_mship m;

		node_mship_init(&m, "x", 1, 6, 1, 8, 0);
		bound = node_mship_fail_after(&m, GS_N) + 1; /* + one round */
		node_mship_deinit(&m);
	}
	printf("gossip, 100 nodes: newest counter of a live member at most %.1f s old (%.1f s "
	       "with 10%% of exchanges lost), %d false downs, a killed node down everywhere "
	       "after %.1f s (bound %.1f s)\n", worst_clean, worst_lossy, fds, det, bound);
	CHECK_EQ_INT(fds, 0);
	CHECK(det <= bound + 0.05);
	node_state_clear(&gs_st);
}

/* Partition {n0, n1} | {n2, n3} from 30 s to 60 s: each side runs its own
 * bot (a dead node and a cut one look alike), and a few heartbeats after the
 * heal there is one again, with the greatest epoch. */
static void test_lease_simulated_partition_and_heal(void)
{
	int both_sides = 0, single_after = 0, overlaps_after = 0, runs = 0;

	for (unsigned seed = 1; seed <= 50; seed++) {
		struct node_state st = { 0 };
		uint64_t max_epoch = 0;

		sim_setup(seed, (int)(seed % SIM_N), &st);
		for (double now = 0; now < 90; now += 0.1) {
			int side[2] = { 0, 0 };

			sim_partitioned = now >= 30 && now < 60;
			sim_deliver(now, 0);
			for (int i = 0; i < SIM_N; i++)
				sim_tick(i, &st, now, 0);
			for (int i = 0; i < SIM_N; i++) {
				side[i >= 2] += sn[i].l.running;
				if (now > 58 && now < 60)
					max_epoch = sn[i].l.epoch > max_epoch ? sn[i].l.epoch : max_epoch;
			}
			if (now > 58 && now < 58.05)
				both_sides += side[0] == 1 && side[1] == 1;
			if (now > 70 && side[0] + side[1] > 1)
				overlaps_after++;
			if (now > 89.9) {
				for (int i = 0; i < SIM_N; i++)
					if (sn[i].l.running && sn[i].l.epoch >= max_epoch)
						single_after += side[0] + side[1] == 1;
			}
		}
		runs++;
		for (int i = 0; i < SIM_N; i++)
			sim_kill(i);
		node_state_clear(&st);
	}
	sim_partitioned = 0;
	printf("partition: %d runs, both sides ran a bot in %d, one bot with the greatest epoch "
	       "after the heal in %d\n", runs, both_sides, single_after);
	CHECK_EQ_INT(both_sides, runs);
	CHECK_EQ_INT(single_after, runs);
	CHECK_EQ_INT(overlaps_after, 0);
}

static void test_lease_simulated_network_never_runs_two_bots(void)
{
	double gaps = 0, worst_clean = 0, worst_lossy = 0;

	sim_overlaps = 0;
	for (unsigned seed = 1; seed <= 200; seed++)
		gaps += sim_run(seed, seed % 2 ? 0.05 : 0, seed % 2 ? &worst_lossy : &worst_clean);
	printf("simulated: 200 runs x 120 s (half with 5%% loss), %d messages lost, %d runner "
	       "kills, no runner %.0f s in all, worst failover %.1f s clean, %.1f s lossy\n",
	       sim_msgs_dropped, sim_failovers, gaps, worst_clean, worst_lossy);
	CHECK(sim_failovers > 500);
	CHECK_EQ_INT(sim_overlaps, 0);
	/* kill at t: last renewal heard >= t - 1.1 (renew period on 0.1 s
	 * ticks), expiry 4 + 0.5 after it, a tick to notice, one to prepare */
	CHECK(worst_clean <= 5.0);
	/* lost acks cost a renew period each */
	CHECK(worst_lossy <= 8.0);
}

int main(void)
{
	RUN_TEST(test_lease_single_node_takes_it_after_grace);
	RUN_TEST(test_lease_runner_starts_only_after_every_alive_peer_acked);
	RUN_TEST(test_lease_holder_stops_before_a_silent_peer_can_take_over);
	RUN_TEST(test_lease_expiry_is_judged_from_the_last_renewal_heard);
	RUN_TEST(test_lease_lesser_claim_is_refused_and_greater_one_fences_the_holder);
	RUN_TEST(test_lease_holder_that_no_longer_leads_releases_and_leader_takes_it_at_once);
	RUN_TEST(test_lease_restart_waits_for_grace_unless_it_hears_the_lease);
	RUN_TEST(test_lease_member_coming_alive_gets_ttl_to_acknowledge);
	RUN_TEST(test_mship_down_after_silence_and_suspicion_until_direct_word);
	RUN_TEST(test_mship_relayed_counter_counts_from_when_it_was_fresh);
	RUN_TEST(test_mship_record_without_counter_is_no_evidence);
	RUN_TEST(test_mship_fail_timeout_grows_with_log_of_members);
	RUN_TEST(test_mship_leader_is_smallest_priority_then_id_among_alive);
	RUN_TEST(test_mship_ghost_member_never_leads);
	RUN_TEST(test_mship_starting_node_stops_waiting_for_a_member_nobody_heard);
	RUN_TEST(test_mship_pick_draws_alive_members_and_sometimes_others);
	RUN_TEST(test_mship_simulated_100_nodes_no_false_down_and_bounded_detection);
	RUN_TEST(test_gossip_digest_entries_round_trip_and_refuse_odd_spellings);
	RUN_TEST(test_lease_simulated_network_never_runs_two_bots);
	RUN_TEST(test_lease_simulated_partition_and_heal);
	return TEST_DONE();
}
