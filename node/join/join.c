/* The join protocol: token-derived keys, sealed request and reply, and the
 * seed's checks (see join.h). */
#include "join.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64V sodium_base64_VARIANT_ORIGINAL
#define JOIN_MAX_PLAIN (1u << 20)

void node_join_derive(const uint8_t token[NODE_TOKEN_LEN], struct node_join_keys *k)
{
	static const char key_label[] = "constella join key";

	node_invite_token_id(token, k->token_id);
	crypto_generichash(k->key, sizeof(k->key), (const unsigned char *)key_label,
			   sizeof(key_label) - 1, token, NODE_TOKEN_LEN);
}

void node_join_keys_clear(struct node_join_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

int node_join_seal(const struct node_join_keys *k, const char *network_id, const cJSON *doc,
		   cJSON *obj)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	char nb64[sodium_base64_ENCODED_LEN(sizeof(nonce), B64V)];
	char *plain = cJSON_PrintUnformatted(doc), *b64 = NULL;
	uint8_t *ct = NULL;
	unsigned long long ctlen = 0;
	size_t plen, b64len;
	int r = -ENOMEM;

	if (!plain)
		return -ENOMEM;
	plen = strlen(plain);
	ct = malloc(plen + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (!ct)
		goto out;
	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ctlen, (const uint8_t *)plain, plen,
						   (const uint8_t *)network_id, strlen(network_id),
						   NULL, nonce, k->key);
	b64len = sodium_base64_ENCODED_LEN(ctlen, B64V);
	if (!(b64 = malloc(b64len)))
		goto out;
	sodium_bin2base64(b64, b64len, ct, ctlen, B64V);
	sodium_bin2base64(nb64, sizeof(nb64), nonce, sizeof(nonce), B64V);
	if (!cJSON_AddStringToObject(obj, "nonce", nb64) || !cJSON_AddStringToObject(obj, "box", b64))
		goto out;
	r = 0;
out:
	sodium_memzero(plain, plen);
	free(plain);
	free(ct);
	free(b64);
	return r;
}

cJSON *node_join_open(const struct node_join_keys *k, const char *network_id, const cJSON *obj)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "nonce");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "box");
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t *ct = NULL, *plain = NULL;
	unsigned long long plen = 0;
	size_t nl = 0, cl = 0, cap;
	cJSON *doc = NULL;

	if (!cJSON_IsString(n) || !cJSON_IsString(b) || strlen(b->valuestring) > 2 * JOIN_MAX_PLAIN)
		return NULL;
	if (sodium_base642bin(nonce, sizeof(nonce), n->valuestring, strlen(n->valuestring), NULL,
			      &nl, NULL, B64V) || nl != sizeof(nonce))
		return NULL;
	cap = strlen(b->valuestring) / 4 * 3 + 3;
	ct = malloc(cap);
	plain = malloc(cap + 1);
	if (!ct || !plain)
		goto out;
	if (sodium_base642bin(ct, cap, b->valuestring, strlen(b->valuestring), NULL, &cl, NULL,
			      B64V) || cl < crypto_aead_xchacha20poly1305_ietf_ABYTES)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, ct, cl,
						       (const uint8_t *)network_id,
						       strlen(network_id), nonce, k->key))
		goto out;
	doc = cJSON_ParseWithLength((const char *)plain, (size_t)plen);
	sodium_memzero(plain, (size_t)plen);
out:
	free(ct);
	free(plain);
	return doc;
}

int node_join_request_build(const struct node_joinlink *l, const struct node_peer *self,
			    char **body)
{
	struct node_join_keys k;
	char idhex[2 * NODE_TOKEN_ID_LEN + 1];
	cJSON *req = cJSON_CreateObject(), *info = cJSON_CreateObject();
	int r = -ENOMEM;

	*body = NULL;
	node_join_derive(l->token, &k);
	sodium_bin2hex(idhex, sizeof(idhex), k.token_id, sizeof(k.token_id));
	if (!req || !info || !cJSON_AddStringToObject(info, "name", self->name) ||
	    !cJSON_AddStringToObject(info, "public_addr", self->addr) ||
	    !cJSON_AddStringToObject(info, "node_id", self->node_id) ||
	    !cJSON_AddStringToObject(info, "wg_pubkey", self->wg_pubkey) ||
	    !cJSON_AddNumberToObject(info, "priority", self->priority) ||
	    !cJSON_AddStringToObject(req, "network_id", l->network_id) ||
	    !cJSON_AddStringToObject(req, "token_id", idhex))
		goto out;
	if ((r = node_join_seal(&k, l->network_id, info, req)))
		goto out;
	*body = cJSON_PrintUnformatted(req);
	r = *body ? 0 : -ENOMEM;
out:
	node_join_keys_clear(&k);
	cJSON_Delete(req);
	cJSON_Delete(info);
	return r;
}

const char *node_join_result_str(enum node_join_result r)
{
	switch (r) {
	case NODE_JOIN_OK: return "ok";
	case NODE_JOIN_MALFORMED: return "malformed join request";
	case NODE_JOIN_WRONG_NETWORK: return "wrong network: the seed is not in this network";
	case NODE_JOIN_UNKNOWN_TOKEN: return "unknown invite token";
	case NODE_JOIN_EXPIRED: return "invite token expired";
	case NODE_JOIN_USED: return "invite token already used";
	case NODE_JOIN_REVOKED: return "invite token revoked";
	case NODE_JOIN_BAD_BOX: return "join request does not decrypt under the invite token";
	case NODE_JOIN_INTERNAL: return "seed failed to record the join";
	case NODE_JOIN_DUPLICATE: return "a member with this name or node_id is already in the network";
	}
	return "invalid";
}

static int info_str(const cJSON *o, const char *k, char *dst, size_t cap, int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!v)
		return required ? -EINVAL : 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
		return -EINVAL;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

/* "0.0.0.0:P" / "[::]:P" + observed "ip:port" -> "ip:P". */
static void fill_wildcard(struct node_peer *j, const char *observed)
{
	const char *pc = strrchr(j->addr, ':'), *oc;
	char host[256], port[8];

	if (!observed || !pc || strlen(pc) >= sizeof(port) ||
	    (strncmp(j->addr, "0.0.0.0:", 8) && strncmp(j->addr, "[::]:", 5)))
		return;
	memcpy(port, pc, strlen(pc) + 1); /* j->addr is rewritten below */
	oc = strrchr(observed, ':');
	if (!oc || (size_t)(oc - observed) >= sizeof(host))
		return;
	snprintf(host, sizeof(host), "%.*s", (int)(oc - observed), observed);
	snprintf(j->addr, sizeof(j->addr), "%s%s", host, port);
}

enum node_join_result node_join_handle(const char *state_dir, struct node_state *st,
				       const char *body, size_t len, int64_t now,
				       const char *observed, cJSON **reply,
				       struct node_peer *joiner)
{
	return node_join_handle_ex(state_dir, st, body, len, now, observed, NULL, reply, joiner);
}

enum node_join_result node_join_handle_ex(const char *state_dir, struct node_state *st,
					  const char *body, size_t len, int64_t now,
					  const char *observed, const cJSON *extra,
					  cJSON **reply, struct node_peer *joiner)
{
	enum node_join_result res = NODE_JOIN_MALFORMED;
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	struct node_join_keys k = { 0 };
	uint8_t tid[NODE_TOKEN_ID_LEN];
	const cJSON *net, *tok, *pr;
	cJSON *req = NULL, *info = NULL, *inner = NULL, *out = NULL;
	char err[256], *sj = NULL;
	size_t tl = 0;
	int lock = -1;

	*reply = NULL;
	memset(joiner, 0, sizeof(*joiner));
	req = cJSON_ParseWithLength(body, len);
	net = cJSON_GetObjectItemCaseSensitive(req, "network_id");
	tok = cJSON_GetObjectItemCaseSensitive(req, "token_id");
	if (!cJSON_IsObject(req) || !cJSON_IsString(net) || !cJSON_IsString(tok) ||
	    sodium_hex2bin(tid, sizeof(tid), tok->valuestring, strlen(tok->valuestring), NULL, &tl,
			   NULL) || tl != sizeof(tid))
		goto out;
	if (strcmp(net->valuestring, st->network_id)) {
		res = NODE_JOIN_WRONG_NETWORK;
		goto out;
	}
	res = NODE_JOIN_INTERNAL;
	if ((lock = node_invites_lock(state_dir)) < 0 ||
	    node_invites_load(state_dir, &inv, err, sizeof(err)))
		goto out;
	iv = node_invites_find_by_token_id(&inv, tid);
	switch (node_invite_check(iv, now)) {
	case NODE_INVITE_UNKNOWN: res = NODE_JOIN_UNKNOWN_TOKEN; goto out;
	case NODE_INVITE_EXPIRED: res = NODE_JOIN_EXPIRED; goto out;
	case NODE_INVITE_USED: res = NODE_JOIN_USED; goto out;
	case NODE_INVITE_REVOKED: res = NODE_JOIN_REVOKED; goto out;
	case NODE_INVITE_OK: break;
	}
	node_join_derive(iv->token, &k);
	if (!(info = node_join_open(&k, st->network_id, req))) {
		res = NODE_JOIN_BAD_BOX;
		goto out;
	}
	res = NODE_JOIN_MALFORMED;
	if (info_str(info, "name", joiner->name, sizeof(joiner->name), 1) ||
	    info_str(info, "public_addr", joiner->addr, sizeof(joiner->addr), 1) ||
	    info_str(info, "node_id", joiner->node_id, sizeof(joiner->node_id), 1) ||
	    info_str(info, "wg_pubkey", joiner->wg_pubkey, sizeof(joiner->wg_pubkey), 0) ||
	    strlen(joiner->node_id) != NODE_ID_HEX || !joiner->name[0] || !joiner->addr[0])
		goto out;
	pr = cJSON_GetObjectItemCaseSensitive(info, "priority");
	if (cJSON_IsNumber(pr) && pr->valuedouble >= -1e6 && pr->valuedouble <= 1e6)
		joiner->priority = (int)pr->valuedouble;
	joiner->status = NODE_PEER_ALIVE;
	joiner->last_seen = now;
	fill_wildcard(joiner, observed);
	/* A joiner must not replace a member (e.g. claim the seed's node_id);
	 * the token stays unspent so the joiner can retry with another name. */
	if (node_state_find_peer(st, joiner->node_id) || node_state_is_removed(st, joiner->node_id) ||
	    node_state_find_peer_by_name(st, joiner->name)) {
		res = NODE_JOIN_DUPLICATE;
		goto out;
	}
	/* Spend the token on disk before anything leaves: a crash after this
	 * point costs an invite, never lets one be used twice. */
	res = NODE_JOIN_INTERNAL;
	snprintf(iv->used_by, sizeof(iv->used_by), "%s", joiner->node_id);
	if (node_invites_save(state_dir, &inv))
		goto out;
	if (node_state_upsert_peer(st, joiner) || node_state_save(state_dir, st))
		goto out;
	if (node_state_to_json(st, &sj) || !(inner = cJSON_Parse(sj)) ||
	    !(out = cJSON_CreateObject()) || !cJSON_AddBoolToObject(out, "ok", 1))
		goto out;
	for (const cJSON *x = extra ? extra->child : NULL; x; x = x->next)
		if (x->string)
			cJSON_AddItemToObject(inner, x->string, cJSON_Duplicate(x, 1));
	if (node_join_seal(&k, st->network_id, inner, out))
		goto out;
	*reply = out;
	out = NULL;
	res = NODE_JOIN_OK;
out:
	if (sj) {
		sodium_memzero(sj, strlen(sj));
		free(sj);
	}
	cJSON_Delete(inner); /* holds the secret as a string; freed, not wiped (cJSON) */
	cJSON_Delete(out);
	cJSON_Delete(info);
	cJSON_Delete(req);
	node_join_keys_clear(&k);
	node_invites_unlock(lock);
	node_invites_clear(&inv);
	return res;
}

int node_join_reply_open(const struct node_joinlink *l, const cJSON *reply,
			 struct node_state *st, char *err, size_t errlen)
{
	return node_join_reply_open_doc(l, reply, st, NULL, err, errlen);
}

int node_join_reply_open_doc(const struct node_joinlink *l, const cJSON *reply,
			     struct node_state *st, cJSON **doc, char *err, size_t errlen)
{
	struct node_join_keys k;
	cJSON *inner;
	char *text;
	int r;

	if (doc)
		*doc = NULL;
	node_join_derive(l->token, &k);
	inner = node_join_open(&k, l->network_id, reply);
	node_join_keys_clear(&k);
	if (!inner) {
		snprintf(err, errlen, "the seed's reply does not decrypt under the invite token");
		return -EBADMSG;
	}
	text = cJSON_PrintUnformatted(inner);
	if (doc)
		*doc = inner;
	else
		cJSON_Delete(inner);
	if (!text)
		return -ENOMEM;
	r = node_state_from_json(st, text, strlen(text), err, errlen);
	sodium_memzero(text, strlen(text));
	free(text);
	if (!r && strcmp(st->network_id, l->network_id)) {
		snprintf(err, errlen, "the seed answered for another network");
		r = -EINVAL;
	}
	return r;
}
