/* invites.json: one-time join tokens with expiry, use and revocation. */
#include "invite.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "file.h"

#define INVITES_FILE "invites.json"
#define TOKEN_B64 sodium_base64_ENCODED_LEN(NODE_TOKEN_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING)

void node_invite_token_id(const uint8_t token[NODE_TOKEN_LEN], uint8_t id[NODE_TOKEN_ID_LEN])
{
	static const char label[] = "constella join id";

	crypto_generichash(id, NODE_TOKEN_ID_LEN, (const unsigned char *)label,
			   sizeof(label) - 1, token, NODE_TOKEN_LEN);
}

void node_invite_short_id(const uint8_t token[NODE_TOKEN_LEN], char out[NODE_INVITE_SHORT_ID + 1])
{
	uint8_t id[NODE_TOKEN_ID_LEN];

	node_invite_token_id(token, id);
	sodium_bin2hex(out, NODE_INVITE_SHORT_ID + 1, id, NODE_INVITE_SHORT_ID / 2);
}

static int push(struct node_invites *inv, struct node_invite **out)
{
	if (inv->n == inv->cap) {
		size_t cap = inv->cap ? 2 * inv->cap : 8;
		struct node_invite *nv = realloc(inv->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		inv->v = nv;
		inv->cap = cap;
	}
	*out = &inv->v[inv->n++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static int num(const cJSON *o, const char *k, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)(INT64_C(1) << 40))
		return -EINVAL;
	*out = (int64_t)v->valuedouble;
	return 0;
}

int node_invites_load(const char *dir, struct node_invites *inv, char *err, size_t errlen)
{
	struct node_invites tmp = { 0 };
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	const cJSON *toks, *t;
	cJSON *root = NULL;
	int r, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, INVITES_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	r = cst_file_read_all(path, 1u << 20, &text, &len);
	if (r == -ENOENT) {
		node_invites_clear(inv);
		return 0;
	}
	if (r) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = -EINVAL;
	root = cJSON_ParseWithLength(text, len);
	toks = root ? cJSON_GetObjectItemCaseSensitive(root, "tokens") : NULL;
	if (!cJSON_IsArray(toks)) {
		snprintf(err, errlen, "%s: want {\"tokens\": [...]}", path);
		goto out;
	}
	cJSON_ArrayForEach(t, toks) {
		const cJSON *tok = cJSON_GetObjectItemCaseSensitive(t, "token");
		const cJSON *ub = cJSON_GetObjectItemCaseSensitive(t, "used_by");
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(t, "revoked");
		struct node_invite *iv;
		size_t bl = 0;

		if ((r = push(&tmp, &iv)))
			goto out;
		r = -EINVAL;
		if (!cJSON_IsString(tok) ||
		    sodium_base642bin(iv->token, sizeof(iv->token), tok->valuestring,
				      strlen(tok->valuestring), NULL, &bl, NULL,
				      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		    bl != NODE_TOKEN_LEN || num(t, "exp_ts", &iv->exp_ts) ||
		    num(t, "created_ts", &iv->created_ts) ||
		    (ub && !cJSON_IsNull(ub) &&
		     (!cJSON_IsString(ub) || strlen(ub->valuestring) >= sizeof(iv->used_by))) ||
		    (rv && !cJSON_IsBool(rv))) {
			snprintf(err, errlen, "%s: token entry %zu is malformed", path, tmp.n);
			goto out;
		}
		if (cJSON_IsString(ub))
			memcpy(iv->used_by, ub->valuestring, strlen(ub->valuestring) + 1);
		iv->revoked = cJSON_IsTrue(rv);
		node_invite_short_id(iv->token, iv->id);
	}
	node_invites_clear(inv);
	*inv = tmp;
	memset(&tmp, 0, sizeof(tmp));
	r = 0;
out:
	node_invites_clear(&tmp);
	cJSON_Delete(root);
	sodium_memzero(text, len);
	free(text);
	return r;
}

int node_invites_save(const char *dir, const struct node_invites *inv)
{
	char path[PATH_MAX], b64[TOKEN_B64];
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text = NULL;
	int r = -ENOMEM, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, INVITES_FILE);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (!root || !(arr = cJSON_AddArrayToObject(root, "tokens")))
		goto out;
	for (size_t i = 0; i < inv->n; i++) {
		const struct node_invite *iv = &inv->v[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		sodium_bin2base64(b64, sizeof(b64), iv->token, NODE_TOKEN_LEN,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (!cJSON_AddStringToObject(o, "token", b64) ||
		    !cJSON_AddStringToObject(o, "id", iv->id) ||
		    !cJSON_AddNumberToObject(o, "created_ts", (double)iv->created_ts) ||
		    !cJSON_AddNumberToObject(o, "exp_ts", (double)iv->exp_ts) ||
		    !(iv->used_by[0] ? cJSON_AddStringToObject(o, "used_by", iv->used_by)
				     : cJSON_AddNullToObject(o, "used_by")) ||
		    !cJSON_AddBoolToObject(o, "revoked", iv->revoked))
			goto out;
	}
	if (!(text = cJSON_Print(root)))
		goto out;
	r = cst_file_write_atomic(path, text, strlen(text), 0600);
out:
	sodium_memzero(b64, sizeof(b64));
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	cJSON_Delete(root);
	return r;
}

int node_invites_create(struct node_invites *inv, int64_t now, uint64_t ttl_s,
			struct node_invite **out)
{
	struct node_invite *iv;
	int r;

	if ((r = push(inv, &iv)))
		return r;
	randombytes_buf(iv->token, sizeof(iv->token));
	node_invite_short_id(iv->token, iv->id);
	iv->created_ts = now;
	iv->exp_ts = now + (int64_t)ttl_s;
	*out = iv;
	return 0;
}

struct node_invite *node_invites_find_by_token_id(struct node_invites *inv,
						  const uint8_t id[NODE_TOKEN_ID_LEN])
{
	struct node_invite *found = NULL;
	uint8_t cur[NODE_TOKEN_ID_LEN];

	for (size_t i = 0; i < inv->n; i++) {
		node_invite_token_id(inv->v[i].token, cur);
		if (!sodium_memcmp(cur, id, NODE_TOKEN_ID_LEN))
			found = &inv->v[i];
	}
	sodium_memzero(cur, sizeof(cur));
	return found;
}

int node_invites_revoke(struct node_invites *inv, const char *what)
{
	struct node_joinlink l;
	uint8_t tok[NODE_TOKEN_LEN];
	char sid[NODE_INVITE_SHORT_ID + 1];
	const char *e;
	size_t bl = 0;
	int have_tok = 0, r = -ENOENT;

	if (!strncmp(what, "join://", 7)) {
		if (node_joinlink_parse(what, &l, &e) == 0) {
			memcpy(tok, l.token, sizeof(tok));
			have_tok = 1;
			node_joinlink_clear(&l);
		}
	} else if (strlen(what) != NODE_INVITE_SHORT_ID &&
		   sodium_base642bin(tok, sizeof(tok), what, strlen(what), NULL, &bl, NULL,
				     sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
		   bl == NODE_TOKEN_LEN) {
		have_tok = 1;
	}
	if (have_tok)
		node_invite_short_id(tok, sid);
	else if (strlen(what) == NODE_INVITE_SHORT_ID)
		memcpy(sid, what, sizeof(sid));
	else
		goto out;
	for (size_t i = 0; i < inv->n; i++) {
		if (strcmp(inv->v[i].id, sid))
			continue;
		if (inv->v[i].revoked) {
			r = -EALREADY;
			goto out;
		}
		inv->v[i].revoked = 1;
		r = 0;
		goto out;
	}
out:
	sodium_memzero(tok, sizeof(tok));
	return r;
}

enum node_invite_check node_invite_check(const struct node_invite *iv, int64_t now)
{
	if (!iv)
		return NODE_INVITE_UNKNOWN;
	if (iv->revoked)
		return NODE_INVITE_REVOKED;
	if (iv->used_by[0])
		return NODE_INVITE_USED;
	if (now >= iv->exp_ts)
		return NODE_INVITE_EXPIRED;
	return NODE_INVITE_OK;
}

const char *node_invite_check_str(enum node_invite_check c)
{
	switch (c) {
	case NODE_INVITE_OK: return "ok";
	case NODE_INVITE_UNKNOWN: return "unknown invite token";
	case NODE_INVITE_EXPIRED: return "invite token expired";
	case NODE_INVITE_USED: return "invite token already used";
	case NODE_INVITE_REVOKED: return "invite token revoked";
	}
	return "invalid";
}

void node_invites_clear(struct node_invites *inv)
{
	if (inv->v) {
		sodium_memzero(inv->v, inv->cap * sizeof(*inv->v));
		free(inv->v);
	}
	memset(inv, 0, sizeof(*inv));
}

int node_invites_lock(const char *dir)
{
	char path[PATH_MAX];
	int fd, n = snprintf(path, sizeof(path), "%s/invites.lock", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

void node_invites_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int node_invite_issue(const char *dir, const struct node_state *st, const char *self_id,
		      int64_t now, uint64_t ttl_s, char *link, size_t cap,
		      char id[NODE_INVITE_SHORT_ID + 1])
{
	const struct node_peer *self = node_state_find_peer((struct node_state *)st, self_id);
	struct node_invites inv = { 0 };
	struct node_joinlink l = { 0 };
	struct node_invite *iv;
	const char *colon;
	char err[256];
	int lock, r;

	if (!self || !(colon = strrchr(self->addr, ':')))
		return -ENOENT;
	/* The link's host:port is this node's public address; IPv6 brackets
	 * are stripped (the formatter adds them back). */
	snprintf(l.host, sizeof(l.host), "%.*s", (int)(colon - self->addr), self->addr);
	if (l.host[0] == '[') {
		size_t n = strlen(l.host);

		memmove(l.host, l.host + 1, n);
		if (n >= 2 && l.host[n - 2] == ']')
			l.host[n - 2] = '\0';
	}
	l.port = (uint16_t)atoi(colon + 1);
	snprintf(l.network_id, sizeof(l.network_id), "%s", st->network_id);
	if ((lock = node_invites_lock(dir)) < 0)
		return lock;
	if ((r = node_invites_load(dir, &inv, err, sizeof(err))) ||
	    (r = node_invites_create(&inv, now, ttl_s, &iv)) || (r = node_invites_save(dir, &inv)))
		goto out;
	memcpy(l.token, iv->token, NODE_TOKEN_LEN);
	memcpy(id, iv->id, NODE_INVITE_SHORT_ID + 1);
	l.ttl_s = ttl_s;
	r = node_joinlink_format(&l, link, cap) ? -EINVAL : 0;
out:
	node_joinlink_clear(&l);
	node_invites_unlock(lock);
	node_invites_clear(&inv);
	return r;
}
