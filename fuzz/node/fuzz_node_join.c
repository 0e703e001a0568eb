/* libFuzzer target for the seed's parse of a join request (POST /join, from
 * anyone on the network): node_join_examine. The first byte picks what the
 * rest is:
 *   0: the request body as it arrives (outer JSON, token id, box);
 *   1: the sealed document (name, public_addr, node_id, wg_pubkey, priority,
 *      public_ips, probe), sealed under the fuzzer's own valid invite, so
 *      the inner parser is reached;
 *   2: a reachability proof line (node_join_probe_check).
 * Examining never writes; an accepted request's fields are within limits. */
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "join.h"

static char dir[64];
static struct node_state st;
static struct node_joinlink link_;
static const int64_t now = 1700000000;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

static void cleanup(void)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	struct node_peer p = { 0 };

	if (sodium_init() < 0)
		abort();
	snprintf(dir, sizeof(dir), "/tmp/fuzz_node_join.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	memset(st.network_id, 'a', NODE_ID_HEX);
	memset(st.network_secret, '7', NODE_SECRET_HEX);
	strcpy(p.name, "alpha");
	strcpy(p.addr, "127.0.0.1:4747");
	memset(p.node_id, '1', NODE_ID_HEX);
	node_state_upsert_peer(&st, &p);
	if (node_invites_create(&inv, now, 900, &iv) || node_invites_save(dir, &inv))
		abort();
	memcpy(link_.token, iv->token, NODE_TOKEN_LEN);
	memcpy(link_.network_id, st.network_id, sizeof(st.network_id));
	node_invites_clear(&inv);
}

static void examine(const char *body, size_t len)
{
	struct node_join_pending p;
	char ip[64];
	unsigned port;

	if (node_join_examine(dir, &st, body, len, now, "10.1.2.3:40000", &p) == NODE_JOIN_OK) {
		if (!p.joiner.name[0] || !p.joiner.addr[0] || strlen(p.joiner.node_id) != NODE_ID_HEX)
			abort();
		if (node_join_pending_probe_target(&p, ip, sizeof(ip), &port) ||
		    strcmp(ip, "10.1.2.3") || !port || port > 65535)
			abort();
	}
	node_join_pending_clear(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN] = { 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab };
	struct node_join_keys k;
	cJSON *req, *doc;
	char *body;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	switch (data[0]) {
	case 0:
		examine((const char *)data + 1, size - 1);
		break;
	case 1:
		if (!(doc = cJSON_ParseWithLength((const char *)data + 1, size - 1)))
			break;
		req = cJSON_CreateObject();
		node_join_derive(link_.token, &k);
		cJSON_AddStringToObject(req, "network_id", st.network_id);
		{
			char idhex[2 * NODE_TOKEN_ID_LEN + 1];

			sodium_bin2hex(idhex, sizeof(idhex), k.token_id, sizeof(k.token_id));
			cJSON_AddStringToObject(req, "token_id", idhex);
		}
		if (!node_join_seal(&k, st.network_id, doc, req) &&
		    (body = cJSON_PrintUnformatted(req))) {
			examine(body, strlen(body));
			free(body);
		}
		node_join_keys_clear(&k);
		cJSON_Delete(req);
		cJSON_Delete(doc);
		break;
	case 2:
		if (node_join_probe_check((const char *)data + 1, size - 1, nonce) == 0 &&
		    (size - 1 != 50 || memcmp(data + 1, "CONSTELLA-PROBE1 ", 17)))
			abort();
		break;
	}
	return 0;
}
