/* The join protocol's overlay fields: the joiner's key and public IPs in the
 * request, the seed's two steps (examine, then finish after the hub's
 * allocation), the rule for the member's RPC address, the NAT refusal in a
 * network without a hub, and the reply's "join" member and "vpn". */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "join.h"
#include "test.h"
#include "wgkey.h"

static char dir[64];

static void make_state(struct node_state *st, int with_hub)
{
	struct node_peer p = { 0 };

	memset(st, 0, sizeof(*st));
	memset(st->network_id, 'a', NODE_ID_HEX);
	memset(st->network_secret, '7', NODE_SECRET_HEX);
	strcpy(st->owner_username, "@bob");
	strcpy(p.name, "hub");
	strcpy(p.addr, "198.51.100.1:4747");
	memset(p.node_id, '1', NODE_ID_HEX);
	if (with_hub) {
		uint8_t priv[32], pub[32];

		node_wgkey_generate(priv, pub);
		node_wgkey_to_b64(pub, p.wg_pubkey);
		strcpy(p.overlay_addr, "10.42.0.1");
		strcpy(p.wg_endpoint, "198.51.100.1:51820");
		p.vpn_role = NODE_VPN_ROLE_HUB;
		strcpy(st->vpn_cidr, "10.42.0.0/24");
		memcpy(st->vpn_hub, p.node_id, NODE_ID_HEX + 1);
	}
	node_state_upsert_peer(st, &p);
}

static void link_for(const struct node_state *st, struct node_joinlink *l)
{
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	char err[128];

	CHECK_EQ_INT(node_invites_load(dir, &inv, err, sizeof(err)), 0);
	CHECK_EQ_INT(node_invites_create(&inv, 1700000000, 900, &iv), 0);
	memset(l, 0, sizeof(*l));
	memcpy(l->token, iv->token, NODE_TOKEN_LEN);
	strcpy(l->network_id, st->network_id);
	CHECK_EQ_INT(node_invites_save(dir, &inv), 0);
	node_invites_clear(&inv);
}

/* Builds a request from name with the given announced address and IPs. */
static char *request(const struct node_joinlink *l, const char *name, const char *addr,
		     const char *const *ips, size_t n, int with_key, struct node_peer *self)
{
	char *body = NULL;

	memset(self, 0, sizeof(*self));
	snprintf(self->name, sizeof(self->name), "%s", name);
	snprintf(self->addr, sizeof(self->addr), "%s", addr);
	node_random_hex(self->node_id, NODE_ID_HEX / 2);
	if (with_key) {
		uint8_t priv[32], pub[32];

		node_wgkey_generate(priv, pub);
		node_wgkey_to_b64(pub, self->wg_pubkey);
	}
	CHECK_EQ_INT(node_join_request_build(l, self, ips, n, &body), 0);
	return body;
}

static void test_hub_network_public_joiner_keeps_its_address(void)
{
	struct node_state st, got = { 0 };
	struct node_joinlink l;
	struct node_join_pending p;
	struct node_join_outcome jo;
	struct node_peer self, j;
	const char *ips[] = { "203.0.113.9" };
	cJSON *reply = NULL;
	char *body, err[200];
	int64_t now = 1700000100;

	make_state(&st, 1);
	link_for(&st, &l);
	body = request(&l, "usa-01", "203.0.113.9:4747", ips, 1, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "203.0.113.9:51000", &p),
		     NODE_JOIN_OK);
	CHECK(p.needs_overlay);
	CHECK(p.public_given && p.public_seen);
	CHECK_STR(p.joiner.wg_pubkey, self.wg_pubkey);
	CHECK_STR(p.observed, "203.0.113.9");
	CHECK_EQ_INT((int)st.n_peers, 1); /* examining changes nothing */
	CHECK_EQ_INT(node_join_finish(dir, &st, &p, now, "10.42.0.2", &reply, &j), NODE_JOIN_OK);
	CHECK_STR(j.addr, "203.0.113.9:4747");
	CHECK_STR(j.overlay_addr, "10.42.0.2");
	CHECK_EQ_INT(j.vpn_role, NODE_VPN_ROLE_CLIENT);
	CHECK_EQ_INT((int)st.n_peers, 2);
	CHECK_EQ_INT(node_join_reply_open(&l, reply, &got, &jo, err, sizeof(err)), 0);
	CHECK_STR(jo.addr, "203.0.113.9:4747");
	CHECK_STR(jo.overlay_addr, "10.42.0.2");
	CHECK_STR(jo.addr_reason, "");
	CHECK_STR(got.vpn_cidr, "10.42.0.0/24");
	CHECK(node_state_vpn_hub(&got) && !strcmp(node_state_vpn_hub(&got)->wg_endpoint,
						   "198.51.100.1:51820"));
	CHECK(node_state_find_peer(&got, self.node_id) &&
	      !strcmp(node_state_find_peer(&got, self.node_id)->wg_pubkey, self.wg_pubkey));
	/* the same request again: the token is spent now */
	node_join_pending_clear(&p);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "203.0.113.9:51000", &p),
		     NODE_JOIN_USED);
	cJSON_Delete(reply);
	free(body);
	node_state_clear(&got);
	node_state_clear(&st);
}

/* A public address given and seen whose RPC port did not answer the seed's
 * probe (seed.c): the member is reached over the overlay, and told why. */
static void test_hub_network_unreachable_public_joiner_gets_its_overlay_address(void)
{
	struct node_state st, got = { 0 };
	struct node_joinlink l;
	struct node_join_pending p;
	struct node_join_outcome jo;
	struct node_peer self, j;
	const char *ips[] = { "203.0.113.10" };
	cJSON *reply = NULL;
	char *body, err[200];
	int64_t now = 1700000100;

	make_state(&st, 1);
	link_for(&st, &l);
	body = request(&l, "fw-01", "203.0.113.10:4747", ips, 1, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "203.0.113.10:51000", &p),
		     NODE_JOIN_OK);
	CHECK(p.public_given && p.public_seen && !p.public_unreachable);
	p.public_unreachable = 1;
	snprintf(p.unreachable_why, sizeof(p.unreachable_why), "connection timed out after 3 s");
	CHECK_EQ_INT(node_join_finish(dir, &st, &p, now, "10.42.0.5", &reply, &j), NODE_JOIN_OK);
	CHECK_STR(j.addr, "10.42.0.5:4747");
	CHECK_EQ_INT(node_join_reply_open(&l, reply, &got, &jo, err, sizeof(err)), 0);
	CHECK_STR(jo.addr, "10.42.0.5:4747");
	CHECK_STR(jo.addr_reason, "unreachable: nothing answers the seed at 203.0.113.10:4747 "
		  "(connection timed out after 3 s); members reach this node over the overlay");
	node_join_pending_clear(&p);
	cJSON_Delete(reply);
	free(body);
	node_state_clear(&got);
	node_state_clear(&st);
}

static void test_hub_network_nat_joiner_gets_its_overlay_address(void)
{
	struct node_state st, got = { 0 };
	struct node_joinlink l;
	struct node_join_pending p;
	struct node_join_outcome jo;
	struct node_peer self, j;
	const char *ips[] = { "192.168.1.20" };
	cJSON *reply = NULL;
	char *body, err[200];
	int64_t now = 1700000100;

	make_state(&st, 1);
	/* a public address given, but the join comes from the NAT router */
	link_for(&st, &l);
	body = request(&l, "home-01", "192.168.1.20:4747", ips, 1, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "198.51.100.77:3000", &p),
		     NODE_JOIN_OK);
	CHECK(p.public_given && !p.public_seen);
	CHECK_EQ_INT(node_join_finish(dir, &st, &p, now, "10.42.0.3", &reply, &j), NODE_JOIN_OK);
	CHECK_STR(j.addr, "10.42.0.3:4747");
	CHECK_EQ_INT(node_join_reply_open(&l, reply, &got, &jo, err, sizeof(err)), 0);
	CHECK_STR(jo.addr, "10.42.0.3:4747");
	CHECK_STR(jo.observed, "198.51.100.77");
	CHECK(strstr(jo.addr_reason, "behind NAT: the seed saw this join come from 198.51.100.77") != NULL);
	node_join_pending_clear(&p);
	cJSON_Delete(reply);
	free(body);
	node_state_clear(&got);

	/* no public address at all: the overlay address, with its port */
	link_for(&st, &l);
	body = request(&l, "home-02", "0.0.0.0:4800", NULL, 0, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "::ffff:198.51.100.77:3001",
				       &p), NODE_JOIN_OK);
	CHECK_STR(p.observed, "198.51.100.77");
	CHECK_EQ_INT(node_join_finish(dir, &st, &p, now, "10.42.0.4", &reply, &j), NODE_JOIN_OK);
	CHECK_STR(j.addr, "10.42.0.4:4800");
	CHECK_EQ_INT(node_join_reply_open(&l, reply, &got, &jo, err, sizeof(err)), 0);
	CHECK(strstr(jo.addr_reason, "no --public-addr given") != NULL);
	node_join_pending_clear(&p);
	cJSON_Delete(reply);
	free(body);
	node_state_clear(&got);

	/* a joiner without a key cannot join a network with a hub */
	link_for(&st, &l);
	body = request(&l, "old-cli", "203.0.113.5:4747", NULL, 0, 0, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "203.0.113.5:1", &p),
		     NODE_JOIN_NEED_WG_KEY);
	free(body);
	/* the synchronous path refuses what needs the hub */
	body = request(&l, "sync", "203.0.113.5:4747", NULL, 0, 1, &self);
	CHECK_EQ_INT(node_join_handle(dir, &st, body, strlen(body), now, "203.0.113.5:1", &reply, &j),
		     NODE_JOIN_OVERLAY);
	CHECK(reply == NULL);
	free(body);
	node_state_clear(&st);
}

static void test_no_hub_network_refuses_a_nat_joiner(void)
{
	struct node_state st;
	struct node_joinlink l;
	struct node_join_pending p;
	struct node_peer self, j;
	const char *ips[] = { "192.168.1.20" };
	const char *pub_ips[] = { "203.0.113.9", "2001:db8::9" };
	cJSON *reply = NULL;
	char *body;
	int64_t now = 1700000100;

	make_state(&st, 0);
	link_for(&st, &l);
	body = request(&l, "home-01", "192.168.1.20:4747", ips, 1, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "198.51.100.77:3000", &p),
		     NODE_JOIN_NAT_NO_HUB);
	CHECK(strstr(p.message, "behind NAT: the seed sees this join coming from 198.51.100.77, "
			       "not from 192.168.1.20:4747") != NULL);
	CHECK(strstr(p.message, "no overlay hub") != NULL);
	CHECK_EQ_INT(node_join_result_http(NODE_JOIN_NAT_NO_HUB), 403);
	free(body);
	/* ... nothing admitted, the token still valid: a public joiner uses it */
	CHECK_EQ_INT((int)st.n_peers, 1);
	body = request(&l, "usa-01", "vps.example:4747", pub_ips, 2, 1, &self);
	CHECK_EQ_INT(node_join_handle(dir, &st, body, strlen(body), now, "2001:db8::9:3000", &reply,
				      &j), NODE_JOIN_OK);
	CHECK_STR(j.addr, "vps.example:4747");
	CHECK_STR(j.wg_pubkey, ""); /* no overlay: the key is not kept */
	CHECK_STR(j.overlay_addr, "");
	cJSON_Delete(reply);
	free(body);
	/* no public address: today's behaviour, the seed fills in what it sees */
	link_for(&st, &l);
	body = request(&l, "lan-01", "0.0.0.0:4749", NULL, 0, 1, &self);
	CHECK_EQ_INT(node_join_handle(dir, &st, body, strlen(body), now, "10.1.2.3:5000", &reply, &j),
		     NODE_JOIN_OK);
	CHECK_STR(j.addr, "10.1.2.3:4749");
	cJSON_Delete(reply);
	free(body);
	node_state_clear(&st);
}

static void test_finish_rechecks_the_token_and_the_name(void)
{
	struct node_state st;
	struct node_joinlink l;
	struct node_join_pending p1, p2;
	struct node_peer self, j;
	cJSON *reply = NULL;
	char *b1, *b2;
	int64_t now = 1700000100;

	make_state(&st, 1);
	link_for(&st, &l);
	/* two requests with one token both pass step 1 while the hub is asked */
	b1 = request(&l, "a1", "0.0.0.0:4747", NULL, 0, 1, &self);
	b2 = request(&l, "a2", "0.0.0.0:4747", NULL, 0, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, b1, strlen(b1), now, "1.1.1.1:1", &p1), NODE_JOIN_OK);
	CHECK_EQ_INT(node_join_examine(dir, &st, b2, strlen(b2), now, "1.1.1.2:1", &p2), NODE_JOIN_OK);
	CHECK_EQ_INT(node_join_finish(dir, &st, &p1, now, "10.42.0.2", &reply, &j), NODE_JOIN_OK);
	cJSON_Delete(reply);
	CHECK_EQ_INT(node_join_finish(dir, &st, &p2, now, "10.42.0.3", &reply, &j), NODE_JOIN_USED);
	CHECK(reply == NULL);
	CHECK_EQ_INT((int)st.n_peers, 2);
	node_join_pending_clear(&p1);
	node_join_pending_clear(&p2);
	free(b1);
	free(b2);
	/* one name through two tokens: the second finds it taken */
	link_for(&st, &l);
	b1 = request(&l, "same", "0.0.0.0:4747", NULL, 0, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, b1, strlen(b1), now, "1.1.1.1:1", &p1), NODE_JOIN_OK);
	link_for(&st, &l);
	b2 = request(&l, "same", "0.0.0.0:4747", NULL, 0, 1, &self);
	CHECK_EQ_INT(node_join_examine(dir, &st, b2, strlen(b2), now, "1.1.1.2:1", &p2), NODE_JOIN_OK);
	CHECK_EQ_INT(node_join_finish(dir, &st, &p1, now, "10.42.0.4", &reply, &j), NODE_JOIN_OK);
	cJSON_Delete(reply);
	CHECK_EQ_INT(node_join_finish(dir, &st, &p2, now, "10.42.0.5", &reply, &j),
		     NODE_JOIN_DUPLICATE);
	node_join_pending_clear(&p1);
	node_join_pending_clear(&p2);
	free(b1);
	free(b2);
	node_state_clear(&st);
}

int main(void)
{
	char cmd[128];

	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/test_overlay_join.%d", (int)getpid());
	CHECK_EQ_INT(node_state_dir_ensure(dir), 0);
	RUN_TEST(test_hub_network_public_joiner_keeps_its_address);
	RUN_TEST(test_hub_network_nat_joiner_gets_its_overlay_address);
	RUN_TEST(test_hub_network_unreachable_public_joiner_gets_its_overlay_address);
	RUN_TEST(test_no_hub_network_refuses_a_nat_joiner);
	RUN_TEST(test_finish_rechecks_the_token_and_the_name);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
	return TEST_DONE();
}
