/* State JSON round trip and rejection; invites; the join seal: the seed's
 * checks in node_join_handle with exact outcomes, and an observer without the
 * token cannot open either box. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "join.h"
#include "test.h"

static char dir[64];

static void make_state(struct node_state *st)
{
	struct node_peer p = { 0 };

	memset(st, 0, sizeof(*st));
	memset(st->network_id, 'a', NODE_ID_HEX);
	memset(st->network_secret, '7', NODE_SECRET_HEX);
	strcpy(st->owner_username, "@bob");
	strcpy(p.name, "alpha");
	strcpy(p.addr, "127.0.0.1:4747");
	memset(p.node_id, '1', NODE_ID_HEX);
	p.priority = 3;
	node_state_upsert_peer(st, &p);
}

static void test_state_json(void)
{
	struct node_state st, back = { 0 };
	char *text, err[128];

	make_state(&st);
	CHECK_EQ_INT(node_state_to_json(&st, &text), 0);
	CHECK_EQ_INT(node_state_from_json(&back, text, strlen(text), err, sizeof(err)), 0);
	CHECK_EQ_INT((int)back.n_peers, 1);
	CHECK_STR(back.peers[0].name, "alpha");
	CHECK_EQ_INT(back.peers[0].priority, 3);
	CHECK_STR(back.network_secret, st.network_secret);
	free(text);
	static const char *bad[] = {
		"", "[]", "{\"network_id\":\"xyz\"}",
		"{\"network_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"{\"network_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"network_secret\":\"12\"}",
		"{\"network_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"network_secret\":"
		"\"7777777777777777777777777777777777777777777777777777777777777777\",\"peers\":{}}",
		"{\"network_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"network_secret\":"
		"\"7777777777777777777777777777777777777777777777777777777777777777\",\"peers\":"
		"[{\"name\":\"a\",\"addr\":\"x:1\",\"node_id\":\"11111111111111111111111111111111\",\"status\":\"zombie\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(node_state_from_json(&back, bad[i], strlen(bad[i]), err, sizeof(err)), -EINVAL);
		/* a rejected parse changes nothing */
		CHECK_EQ_INT((int)back.n_peers, 1);
	}
	node_state_clear(&back);
	node_state_clear(&st);
}

static enum node_join_result try_join(struct node_state *st, const struct node_joinlink *l,
				      const char *name, int64_t now)
{
	struct node_peer self = { 0 }, joiner;
	cJSON *reply = NULL;
	char *body;
	enum node_join_result r;

	strcpy(self.name, name);
	strcpy(self.addr, "0.0.0.0:5000");
	node_random_hex(self.node_id, NODE_ID_HEX / 2);
	CHECK_EQ_INT(node_join_request_build(l, &self, NULL, 0, &body), 0);
	r = node_join_handle(dir, st, body, strlen(body), now, "10.1.2.3:40000", &reply, &joiner);
	if (r == NODE_JOIN_OK) {
		struct node_state got = { 0 };
		struct node_joinlink wrong = *l;
		char err[128];

		CHECK_STR(joiner.name, name);
		CHECK_STR(joiner.addr, "10.1.2.3:5000"); /* wildcard host filled in */
		CHECK_EQ_INT(node_join_reply_open(l, reply, &got, NULL, err, sizeof(err)), 0);
		CHECK_STR(got.network_secret, st->network_secret);
		CHECK(node_state_find_peer_by_name(&got, name) != NULL);
		/* an observer with another token learns nothing */
		wrong.token[0] ^= 1;
		CHECK_EQ_INT(node_join_reply_open(&wrong, reply, &got, NULL, err, sizeof(err)), -EBADMSG);
		{
			char *wire = cJSON_PrintUnformatted(reply);

			CHECK(wire && strstr(wire, st->network_secret) == NULL);
			free(wire);
		}
		node_state_clear(&got);
	} else {
		CHECK(reply == NULL);
	}
	cJSON_Delete(reply);
	free(body);
	return r;
}

static void test_join(void)
{
	struct node_state st;
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	struct node_joinlink l = { 0 };
	char err[128];
	int64_t now = 1700000000;

	make_state(&st);
	CHECK_EQ_INT(node_invites_create(&inv, now, 900, &iv), 0);
	memcpy(l.token, iv->token, NODE_TOKEN_LEN);
	strcpy(l.network_id, st.network_id);
	CHECK_EQ_INT(node_invites_save(dir, &inv), 0);

	CHECK_EQ_INT(try_join(&st, &l, "late", now + 900), NODE_JOIN_EXPIRED);
	CHECK_EQ_INT(try_join(&st, &l, "alpha", now), NODE_JOIN_DUPLICATE);
	l.network_id[0] = 'b';
	CHECK_EQ_INT(try_join(&st, &l, "beta", now), NODE_JOIN_WRONG_NETWORK);
	l.network_id[0] = 'a';
	l.token[5] ^= 0x80;
	CHECK_EQ_INT(try_join(&st, &l, "beta", now), NODE_JOIN_UNKNOWN_TOKEN);
	l.token[5] ^= 0x80;
	CHECK_EQ_INT(try_join(&st, &l, "beta", now + 899), NODE_JOIN_OK);
	CHECK_EQ_INT((int)st.n_peers, 2);
	CHECK_EQ_INT(try_join(&st, &l, "gamma", now), NODE_JOIN_USED);
	/* the use was persisted */
	CHECK_EQ_INT(node_invites_load(dir, &inv, err, sizeof(err)), 0);
	CHECK_EQ_INT((int)inv.n, 1);
	CHECK(inv.v[0].used_by[0] != '\0');
	/* revocation */
	CHECK_EQ_INT(node_invites_create(&inv, now, 60, &iv), 0);
	memcpy(l.token, iv->token, NODE_TOKEN_LEN);
	CHECK_EQ_INT(node_invites_revoke(&inv, iv->id), 0);
	CHECK_EQ_INT(node_invites_revoke(&inv, iv->id), -EALREADY);
	CHECK_EQ_INT(node_invites_save(dir, &inv), 0);
	CHECK_EQ_INT(try_join(&st, &l, "delta", now), NODE_JOIN_REVOKED);
	CHECK_EQ_INT(try_join(&st, &l, "delta", now), NODE_JOIN_REVOKED);
	/* a box sealed under the right token id but garbage content */
	{
		struct node_peer j;
		cJSON *reply = NULL;
		const char *junk = "{\"network_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"token_id\":\"zz\"}";

		CHECK_EQ_INT(node_join_handle(dir, &st, junk, strlen(junk), now, NULL, &reply, &j),
			     NODE_JOIN_MALFORMED);
	}
	node_joinlink_clear(&l);
	node_invites_clear(&inv);
	node_state_clear(&st);
}

/* A request whose sealed document is info (to send what a joiner's code
 * would not). */
static char *sealed_request(const struct node_joinlink *l, const char *info_json)
{
	struct node_join_keys k;
	char idhex[2 * NODE_TOKEN_ID_LEN + 1], *body;
	cJSON *req = cJSON_CreateObject(), *info = cJSON_Parse(info_json);

	node_join_derive(l->token, &k);
	sodium_bin2hex(idhex, sizeof(idhex), k.token_id, sizeof(k.token_id));
	cJSON_AddStringToObject(req, "network_id", l->network_id);
	cJSON_AddStringToObject(req, "token_id", idhex);
	CHECK_EQ_INT(node_join_seal(&k, l->network_id, info, req), 0);
	body = cJSON_PrintUnformatted(req);
	node_join_keys_clear(&k);
	cJSON_Delete(req);
	cJSON_Delete(info);
	return body;
}

/* The probe nonce travels sealed; the seed probes <source seen>:<port>; a
 * malformed nonce is refused; an older joiner (no nonce) is not probed. */
static void test_probe_field(void)
{
	struct node_state st;
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	struct node_joinlink l = { 0 };
	struct node_join_pending p;
	struct node_peer self = { 0 };
	uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN];
	char *body, ip[64];
	unsigned port = 0;
	int64_t now = 1700000000;
	static const char *bad[] = { "\"xyz\"", "7", "\"0011223344556677889900aabbccddeeff\"",
				     "\"0011223344556677889900aabbccdd\"",
				     "\"0011223344556677889900aabbccddzz\"" };

	make_state(&st);
	CHECK_EQ_INT(node_invites_create(&inv, now, 900, &iv), 0);
	memcpy(l.token, iv->token, NODE_TOKEN_LEN);
	strcpy(l.network_id, st.network_id);
	CHECK_EQ_INT(node_invites_save(dir, &inv), 0);
	strcpy(self.name, "pi");
	strcpy(self.addr, "0.0.0.0:5001");
	node_random_hex(self.node_id, NODE_ID_HEX / 2);
	randombytes_buf(nonce, sizeof(nonce));
	CHECK_EQ_INT(node_join_request_build_probe(&l, &self, NULL, 0, nonce, &body), 0);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "::ffff:10.1.2.3:40000", &p),
		     NODE_JOIN_OK);
	CHECK_EQ_INT(p.probe_given, 1);
	CHECK_MEM(p.probe_nonce, nonce, sizeof(nonce));
	CHECK_EQ_INT(node_join_pending_probe_target(&p, ip, sizeof(ip), &port), 0);
	CHECK_STR(ip, "10.1.2.3");
	CHECK_EQ_INT(port, 5001);
	node_join_pending_clear(&p);
	free(body);
	CHECK_EQ_INT(node_join_request_build(&l, &self, NULL, 0, &body), 0);
	CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "10.1.2.3:1", &p),
		     NODE_JOIN_OK);
	CHECK_EQ_INT(p.probe_given, 0);
	node_join_pending_clear(&p);
	free(body);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char info[400];

		snprintf(info, sizeof(info), "{\"name\":\"pi\",\"public_addr\":\"0.0.0.0:5001\","
			 "\"node_id\":\"%s\",\"probe\":%s}", self.node_id, bad[i]);
		body = sealed_request(&l, info);
		CHECK_EQ_INT(node_join_examine(dir, &st, body, strlen(body), now, "10.1.2.3:1", &p),
			     NODE_JOIN_MALFORMED);
		CHECK_EQ_INT(p.probe_given, 0);
		free(body);
	}
	node_joinlink_clear(&l);
	node_invites_clear(&inv);
	node_state_clear(&st);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/test_node_join.%d", (int)getpid());
	CHECK_EQ_INT(node_state_dir_ensure(dir), 0);
	RUN_TEST(test_state_json);
	RUN_TEST(test_join);
	RUN_TEST(test_probe_field);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK_EQ_INT(system(cmd), 0);
	}
	return TEST_DONE();
}
