/* The join protocol: token-derived keys, sealed request and reply, and the
 * seed's checks (see join.h). */
#include "join.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "wgkey.h"

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
			    const char *const *public_ips, size_t n_public_ips, char **body)
{
	return node_join_request_build_probe(l, self, public_ips, n_public_ips, NULL, body);
}

int node_join_request_build_probe(const struct node_joinlink *l, const struct node_peer *self,
				  const char *const *public_ips, size_t n_public_ips,
				  const uint8_t *probe_nonce, char **body)
{
	char phex[2 * NODE_JOIN_PROBE_NONCE_LEN + 1];
	struct node_join_keys k;
	char idhex[2 * NODE_TOKEN_ID_LEN + 1];
	cJSON *req = cJSON_CreateObject(), *info = cJSON_CreateObject(), *ips;
	int r = -ENOMEM;

	*body = NULL;
	node_join_derive(l->token, &k);
	sodium_bin2hex(idhex, sizeof(idhex), k.token_id, sizeof(k.token_id));
	if (!req || !info || !cJSON_AddStringToObject(info, "name", self->name) ||
	    !cJSON_AddStringToObject(info, "public_addr", self->addr) ||
	    !cJSON_AddStringToObject(info, "node_id", self->node_id) ||
	    !cJSON_AddStringToObject(info, "wg_pubkey", self->wg_pubkey) ||
	    !cJSON_AddNumberToObject(info, "priority", self->priority) ||
	    !(ips = cJSON_AddArrayToObject(info, "public_ips")) ||
	    !cJSON_AddStringToObject(req, "network_id", l->network_id) ||
	    !cJSON_AddStringToObject(req, "token_id", idhex))
		goto out;
	for (size_t i = 0; i < n_public_ips; i++)
		cJSON_AddItemToArray(ips, cJSON_CreateString(public_ips[i]));
	if (probe_nonce) {
		sodium_bin2hex(phex, sizeof(phex), probe_nonce, NODE_JOIN_PROBE_NONCE_LEN);
		if (!cJSON_AddStringToObject(info, "probe", phex))
			goto out;
	}
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
	case NODE_JOIN_NAT_NO_HUB:
		return "behind NAT: the seed does not see this join coming from the given public "
		       "address, and this network has no overlay hub to carry a node behind NAT";
	case NODE_JOIN_NEED_WG_KEY:
		return "this network has an overlay hub: the join request must carry a WireGuard "
		       "public key (upgrade constella)";
	case NODE_JOIN_OVERLAY: return "the overlay hub could not admit this node";
	}
	return "invalid";
}

unsigned node_join_result_http(enum node_join_result r)
{
	switch (r) {
	case NODE_JOIN_INTERNAL: return 500;
	case NODE_JOIN_MALFORMED: case NODE_JOIN_NEED_WG_KEY: return 400;
	case NODE_JOIN_DUPLICATE: return 409;
	case NODE_JOIN_OVERLAY: return 503;
	default: return 403;
	}
}

void node_join_pending_clear(struct node_join_pending *p)
{
	sodium_memzero(p, sizeof(*p));
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

static int is_wildcard(const char *addr)
{
	return !strncmp(addr, "0.0.0.0:", 8) || !strncmp(addr, "[::]:", 5);
}

/* The port of "host:port" / "[v6]:port" (the join checked the form). */
static const char *addr_port(const char *addr)
{
	const char *c = strrchr(addr, ':');

	return c ? c + 1 : "4747";
}

/* An IP in text to 16 bytes, IPv4 as v4-mapped, so both spellings of an
 * IPv4 source ("1.2.3.4", "::ffff:1.2.3.4") compare equal. */
static int ip_bytes(const char *s, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

/* observed "ip:port" -> "ip" (v4-mapped shown as IPv4). */
static void observed_ip(const char *observed, char *out, size_t cap)
{
	const char *c = observed ? strrchr(observed, ':') : NULL;

	out[0] = '\0';
	if (!c)
		return;
	snprintf(out, cap, "%.*s", (int)(c - observed), observed);
	if (!strncmp(out, "::ffff:", 7) && strchr(out + 7, '.'))
		memmove(out, out + 7, strlen(out + 7) + 1);
}

/* 1 when ip is one of the joiner's public IPs. A bad list counts as none. */
static int ip_listed(const char *ip, const cJSON *ips)
{
	uint8_t a[16], b[16];
	const cJSON *x;

	if (ip_bytes(ip, a))
		return 0;
	cJSON_ArrayForEach(x, ips)
		if (cJSON_IsString(x) && !ip_bytes(x->valuestring, b) && !memcmp(a, b, 16))
			return 1;
	return 0;
}

/* Under the invites lock: loads invites.json and finds the token. OK with
 * *iv, or why not (INTERNAL when the file cannot be read). */
static enum node_join_result join_find_token(const char *state_dir, struct node_invites *inv,
					     const uint8_t tid[NODE_TOKEN_ID_LEN], int64_t now,
					     struct node_invite **iv)
{
	char err[256];

	if (node_invites_load(state_dir, inv, err, sizeof(err)))
		return NODE_JOIN_INTERNAL;
	*iv = node_invites_find_by_token_id(inv, tid);
	switch (node_invite_check(*iv, now)) {
	case NODE_INVITE_UNKNOWN: return NODE_JOIN_UNKNOWN_TOKEN;
	case NODE_INVITE_EXPIRED: return NODE_JOIN_EXPIRED;
	case NODE_INVITE_USED: return NODE_JOIN_USED;
	case NODE_INVITE_REVOKED: return NODE_JOIN_REVOKED;
	case NODE_INVITE_OK: break;
	}
	return NODE_JOIN_OK;
}

enum node_join_result node_join_examine(const char *state_dir, const struct node_state *st,
					const char *body, size_t len, int64_t now,
					const char *observed, struct node_join_pending *p)
{
	enum node_join_result res = NODE_JOIN_MALFORMED;
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	uint8_t tid[NODE_TOKEN_ID_LEN];
	const cJSON *net, *tok, *pr, *ips, *pn;
	cJSON *req = NULL, *info = NULL;
	struct node_peer *j = &p->joiner;
	size_t tl = 0, pl = 0;
	int lock = -1;

	memset(p, 0, sizeof(*p));
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
	    (res = join_find_token(state_dir, &inv, tid, now, &iv)) != NODE_JOIN_OK)
		goto out;
	node_join_derive(iv->token, &p->k);
	if (!(info = node_join_open(&p->k, st->network_id, req))) {
		res = NODE_JOIN_BAD_BOX;
		goto out;
	}
	res = NODE_JOIN_MALFORMED;
	ips = cJSON_GetObjectItemCaseSensitive(info, "public_ips");
	if (info_str(info, "name", j->name, sizeof(j->name), 1) ||
	    info_str(info, "public_addr", j->addr, sizeof(j->addr), 1) ||
	    info_str(info, "node_id", j->node_id, sizeof(j->node_id), 1) ||
	    info_str(info, "wg_pubkey", j->wg_pubkey, sizeof(j->wg_pubkey), 0) ||
	    !node_state_is_hex(j->node_id, NODE_ID_HEX) || !j->name[0] || !j->addr[0] ||
	    rpc_check_host_port(j->addr) || (ips && !cJSON_IsArray(ips)) ||
	    (j->wg_pubkey[0] && !node_wgkey_valid_b64(j->wg_pubkey)))
		goto out;
	/* the probe nonce: absent from older joiners, else exactly 32 hex */
	pn = cJSON_GetObjectItemCaseSensitive(info, "probe");
	if (pn && (!cJSON_IsString(pn) ||
		   strlen(pn->valuestring) != 2 * NODE_JOIN_PROBE_NONCE_LEN ||
		   sodium_hex2bin(p->probe_nonce, sizeof(p->probe_nonce), pn->valuestring,
				  strlen(pn->valuestring), NULL, &pl, NULL) ||
		   pl != sizeof(p->probe_nonce)))
		goto out;
	p->probe_given = pn != NULL;
	pr = cJSON_GetObjectItemCaseSensitive(info, "priority");
	if (cJSON_IsNumber(pr) && pr->valuedouble >= -1e6 && pr->valuedouble <= 1e6)
		j->priority = (int)pr->valuedouble;
	j->status = NODE_PEER_ALIVE;
	j->last_seen = now;
	/* A joiner must not replace a member (e.g. claim the seed's node_id);
	 * the token stays unspent so the joiner can retry with another name. */
	if (node_state_find_peer((struct node_state *)st, j->node_id) ||
	    node_state_is_removed(st, j->node_id) ||
	    node_state_find_peer_by_name((struct node_state *)st, j->name)) {
		res = NODE_JOIN_DUPLICATE;
		goto out;
	}
	observed_ip(observed, p->observed, sizeof(p->observed));
	p->public_given = !is_wildcard(j->addr);
	/* An old joiner sends no list: it is taken at its word, as before. */
	p->public_seen = p->public_given && (!ips || ip_listed(p->observed, ips));
	p->needs_overlay = st->vpn_cidr[0] != '\0';
	if (p->needs_overlay && !j->wg_pubkey[0]) {
		res = NODE_JOIN_NEED_WG_KEY;
		goto out;
	}
	if (!p->needs_overlay && p->public_given && !p->public_seen) {
		/* Behind NAT with no hub: admitting it would make a member that
		 * nobody can call back (the original's split network). */
		snprintf(p->message, sizeof(p->message),
			 "behind NAT: the seed sees this join coming from %s, not from %.80s, and this "
			 "network has no overlay hub to carry a node behind NAT (give the public "
			 "address the others can reach, or create the network with "
			 "`constella init --vpn-mode hub`)", p->observed[0] ? p->observed : "?",
			 j->addr);
		res = NODE_JOIN_NAT_NO_HUB;
		goto out;
	}
	res = NODE_JOIN_OK;
out:
	if (res != NODE_JOIN_OK) {
		char keep[sizeof(p->message)];

		memcpy(keep, p->message, sizeof(keep));
		node_join_pending_clear(p);
		memcpy(p->message, keep, sizeof(keep));
	}
	cJSON_Delete(info);
	cJSON_Delete(req);
	node_invites_unlock(lock);
	node_invites_clear(&inv);
	return res;
}

int node_join_pending_probe_target(const struct node_join_pending *p, char *ip, size_t cap,
				   unsigned *port)
{
	char *end;
	unsigned long v = strtoul(addr_port(p->joiner.addr), &end, 10);

	if (!p->observed[0] || *end || !v || v > 65535 ||
	    (size_t)snprintf(ip, cap, "%s", p->observed) >= cap)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

/* The joiner's RPC address: docs/overlay.md, "the join rule for addr". */
static void decide_addr(const struct node_join_pending *p, struct node_peer *j,
			const char *overlay_addr, char *reason, size_t cap)
{
	const char *port = addr_port(p->joiner.addr);

	reason[0] = '\0';
	if (!overlay_addr) {
		/* no overlay: the wildcard host becomes the address seen */
		if (!p->public_given && p->observed[0])
			snprintf(j->addr, sizeof(j->addr), strchr(p->observed, ':') ? "[%s]:%s" : "%s:%s",
				 p->observed, port);
		return;
	}
	if (p->public_given && p->public_seen && !p->public_unreachable)
		return;
	snprintf(j->addr, sizeof(j->addr), "%.64s:%.8s", overlay_addr, port);
	if (p->public_given && p->public_seen)
		snprintf(reason, cap, "unreachable: nothing answers the seed at %.64s (%.60s); "
			 "members reach this node over the overlay", p->joiner.addr,
			 p->unreachable_why);
	else if (p->public_given)
		snprintf(reason, cap, "behind NAT: the seed saw this join come from %s, not from %.80s; "
			 "members reach this node over the overlay", p->observed, p->joiner.addr);
	else
		snprintf(reason, cap, "no --public-addr given (the seed saw this join from %s); "
			 "members reach this node over the overlay", p->observed);
}

enum node_join_result node_join_finish(const char *state_dir, struct node_state *st,
				       struct node_join_pending *p, int64_t now,
				       const char *overlay_addr, cJSON **reply,
				       struct node_peer *joiner)
{
	enum node_join_result res = NODE_JOIN_INTERNAL;
	struct node_invites inv = { 0 };
	struct node_invite *iv;
	cJSON *inner = NULL, *out = NULL, *ji;
	char reason[256], *sj = NULL;
	int lock = -1;

	*reply = NULL;
	*joiner = p->joiner;
	if ((lock = node_invites_lock(state_dir)) < 0 ||
	    (res = join_find_token(state_dir, &inv, p->k.token_id, now, &iv)) != NODE_JOIN_OK)
		goto out;
	res = NODE_JOIN_INTERNAL;
	/* the table may have changed while the hub was asked */
	if (node_state_find_peer(st, joiner->node_id) || node_state_is_removed(st, joiner->node_id) ||
	    node_state_find_peer_by_name(st, joiner->name)) {
		res = NODE_JOIN_DUPLICATE;
		goto out;
	}
	decide_addr(p, joiner, overlay_addr, reason, sizeof(reason));
	if (overlay_addr) {
		snprintf(joiner->overlay_addr, sizeof(joiner->overlay_addr), "%s", overlay_addr);
		joiner->vpn_role = NODE_VPN_ROLE_CLIENT;
	} else {
		joiner->wg_pubkey[0] = '\0'; /* no overlay: the key is not used */
	}
	/* Spend the token on disk before anything leaves: a crash after this
	 * point costs an invite, never lets one be used twice. */
	snprintf(iv->used_by, sizeof(iv->used_by), "%s", joiner->node_id);
	if (node_invites_save(state_dir, &inv))
		goto out;
	if (node_state_upsert_peer(st, joiner) || node_state_save(state_dir, st))
		goto out;
	if (node_state_to_json(st, &sj) || !(inner = cJSON_Parse(sj)) ||
	    !(ji = cJSON_AddObjectToObject(inner, "join")) ||
	    !cJSON_AddStringToObject(ji, "addr", joiner->addr) ||
	    !cJSON_AddStringToObject(ji, "overlay_addr", joiner->overlay_addr) ||
	    !cJSON_AddStringToObject(ji, "observed", p->observed) ||
	    !cJSON_AddStringToObject(ji, "addr_reason", reason) ||
	    !(out = cJSON_CreateObject()) || !cJSON_AddBoolToObject(out, "ok", 1))
		goto out;
	for (const cJSON *x = p->extra ? p->extra->child : NULL; x; x = x->next)
		if (x->string)
			cJSON_AddItemToObject(inner, x->string, cJSON_Duplicate(x, 1));
	if (node_join_seal(&p->k, st->network_id, inner, out))
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
	node_invites_unlock(lock);
	node_invites_clear(&inv);
	return res;
}

enum node_join_result node_join_handle(const char *state_dir, struct node_state *st,
				       const char *body, size_t len, int64_t now,
				       const char *observed, cJSON **reply,
				       struct node_peer *joiner)
{
	struct node_join_pending p;
	enum node_join_result r;

	*reply = NULL;
	memset(joiner, 0, sizeof(*joiner));
	r = node_join_examine(state_dir, st, body, len, now, observed, &p);
	if (r == NODE_JOIN_OK && p.needs_overlay)
		r = NODE_JOIN_OVERLAY; /* the daemon's seed path asks the hub first */
	if (r == NODE_JOIN_OK)
		r = node_join_finish(state_dir, st, &p, now, NULL, reply, joiner);
	node_join_pending_clear(&p);
	return r;
}

int node_join_reply_open(const struct node_joinlink *l, const cJSON *reply,
			 struct node_state *st, struct node_join_outcome *out, char *err,
			 size_t errlen)
{
	struct node_join_keys k;
	const cJSON *ji;
	cJSON *inner;
	char *text;
	int r;

	node_join_derive(l->token, &k);
	inner = node_join_open(&k, l->network_id, reply);
	node_join_keys_clear(&k);
	if (!inner) {
		snprintf(err, errlen, "the seed's reply does not decrypt under the invite token");
		return -EBADMSG;
	}
	if (out) {
		memset(out, 0, sizeof(*out));
		ji = cJSON_GetObjectItemCaseSensitive(inner, "join");
		if (ji && (info_str(ji, "addr", out->addr, sizeof(out->addr), 1) ||
			   info_str(ji, "overlay_addr", out->overlay_addr, sizeof(out->overlay_addr), 0) ||
			   info_str(ji, "observed", out->observed, sizeof(out->observed), 0) ||
			   info_str(ji, "addr_reason", out->addr_reason, sizeof(out->addr_reason), 0))) {
			cJSON_Delete(inner);
			snprintf(err, errlen, "the seed's reply has a malformed \"join\" member");
			return -EINVAL;
		}
		if (cJSON_GetObjectItemCaseSensitive(inner, "bot"))
			out->bot = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(inner, "bot"), 1);
	}
	text = cJSON_PrintUnformatted(inner);
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
