/* Bot settings and cursor: values, wire formats, sealing (botwire.h). */
#include "botwire.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"

#define B64V sodium_base64_VARIANT_ORIGINAL
#define BW_MAX_PLAIN 512

int node_botwire_newer(uint64_t va, const char *oa, uint64_t vb, const char *ob)
{
	if (va != vb)
		return va > vb;
	if (!va)
		return 0;
	/* same version from two origins: the smaller id wins */
	return strcmp(oa, ob) < 0;
}

int node_botwire_token_ok(const char *t)
{
	size_t n = strnlen(t, NODE_BOT_TOKEN_MAX + 1);

	if (!n || n > NODE_BOT_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != ':' && t[i] != '_' && t[i] != '-')
			return 0;
	return 1;
}

int node_botwire_username_ok(const char *u)
{
	size_t n;

	if (*u == '@')
		u++;
	n = strnlen(u, 33);
	if (!n || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)u[i]) && u[i] != '_')
			return 0;
	return 1;
}

int node_botwire_username_eq(const char *a, const char *b)
{
	if (*a == '@')
		a++;
	if (*b == '@')
		b++;
	return *a && !strcasecmp(a, b);
}

void node_botwire_key(const char *secret_hex, uint8_t key[NODE_BOT_SETTINGS_KEY])
{
	static const char label[] = "constella settings key";
	uint8_t secret[NODE_SECRET_HEX / 2];
	size_t bl = 0;

	memset(secret, 0, sizeof(secret));
	sodium_hex2bin(secret, sizeof(secret), secret_hex, strlen(secret_hex), NULL, &bl, NULL);
	crypto_generichash(key, NODE_BOT_SETTINGS_KEY, (const unsigned char *)label,
			   sizeof(label) - 1, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
}

static cJSON *bw_version(uint64_t ver, const char *origin)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "ver", (double)ver);
	cJSON_AddStringToObject(o, "origin", origin);
	return o;
}

/* {ver, origin}: ver 0 with origin "" (nothing set) or ver >= 1 with an id. */
static int bw_parse_version(const cJSON *o, uint64_t *ver, char *origin)
{
	const cJSON *or = cJSON_GetObjectItemCaseSensitive(o, "origin");

	if (!cJSON_IsObject(o) || node_gossip_get_u64(o, "ver", ver) || !cJSON_IsString(or))
		return -EINVAL;
	if (*ver == 0) {
		if (or->valuestring[0])
			return -EINVAL;
		origin[0] = 0;
		return 0;
	}
	if (!node_gossip_is_id(or->valuestring))
		return -EINVAL;
	memcpy(origin, or->valuestring, NODE_ID_HEX + 1);
	return 0;
}

cJSON *node_botwire_digest(const struct node_bot_settings *s)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddItemToObject(d, "token", bw_version(s->token_ver, s->token_origin));
	cJSON_AddItemToObject(d, "owner", bw_version(s->owner_ver, s->owner_origin));
	return d;
}

int node_botwire_parse_digest(const cJSON *d, struct node_bot_settings *out)
{
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(d) ||
	    bw_parse_version(cJSON_GetObjectItemCaseSensitive(d, "token"), &out->token_ver,
			     out->token_origin) ||
	    bw_parse_version(cJSON_GetObjectItemCaseSensitive(d, "owner"), &out->owner_ver,
			     out->owner_origin)) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return 0;
}

static void bw_ad(char *ad, size_t cap, const char *name, uint64_t ver, const char *origin,
		  const char *network_id)
{
	snprintf(ad, cap, "%s|%llu|%s|%s", name, (unsigned long long)ver, origin, network_id);
}

/* The owner binding's value: {"username", "user_id"}. */
static char *bw_owner_value(const struct node_bot_settings *s)
{
	cJSON *o = cJSON_CreateObject();
	char *t;

	cJSON_AddStringToObject(o, "username", s->owner_username);
	cJSON_AddNumberToObject(o, "user_id", (double)s->owner_id);
	t = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return t;
}

static int bw_parse_owner_value(const cJSON *o, struct node_bot_settings *out)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "username");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "user_id");

	if (!cJSON_IsObject(o) || !cJSON_IsString(u) || !node_botwire_username_ok(u->valuestring) ||
	    strlen(u->valuestring) >= sizeof(out->owner_username) || !cJSON_IsNumber(id) ||
	    id->valuedouble < 1 || id->valuedouble > 9007199254740992.0 ||
	    id->valuedouble != floor(id->valuedouble))
		return -EINVAL;
	snprintf(out->owner_username, sizeof(out->owner_username), "%s", u->valuestring);
	out->owner_id = (int64_t)id->valuedouble;
	return 0;
}

static cJSON *bw_seal_one(const char *name, uint64_t ver, const char *origin, const char *plain,
			  const uint8_t *key, const char *network_id)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t ct[BW_MAX_PLAIN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	char nb64[sodium_base64_ENCODED_LEN(sizeof(nonce), B64V)];
	char cb64[sodium_base64_ENCODED_LEN(sizeof(ct), B64V)];
	char ad[200];
	unsigned long long clen = 0;
	size_t plen = strlen(plain);
	cJSON *o;

	if (plen > BW_MAX_PLAIN)
		return NULL;
	bw_ad(ad, sizeof(ad), name, ver, origin, network_id);
	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, (const uint8_t *)plain, plen,
						   (const uint8_t *)ad, strlen(ad), NULL, nonce, key);
	sodium_bin2base64(nb64, sizeof(nb64), nonce, sizeof(nonce), B64V);
	sodium_bin2base64(cb64, sizeof(cb64), ct, (size_t)clen, B64V);
	o = bw_version(ver, origin);
	cJSON_AddStringToObject(o, "nonce", nb64);
	cJSON_AddStringToObject(o, "box", cb64);
	return o;
}

/* Opens {ver, origin, nonce, box} into plain (NUL-terminated). */
static int bw_open_one(const cJSON *o, const char *name, const uint8_t *key,
		       const char *network_id, uint64_t *ver, char *origin, char *plain,
		       size_t plain_cap)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "nonce");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "box");
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t ct[BW_MAX_PLAIN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	unsigned long long plen = 0;
	size_t nl = 0, cl = 0;
	char ad[200];

	if (bw_parse_version(o, ver, origin) || !*ver || !cJSON_IsString(n) || !cJSON_IsString(b) ||
	    sodium_base642bin(nonce, sizeof(nonce), n->valuestring, strlen(n->valuestring), NULL,
			      &nl, NULL, B64V) || nl != sizeof(nonce) ||
	    sodium_base642bin(ct, sizeof(ct), b->valuestring, strlen(b->valuestring), NULL, &cl,
			      NULL, B64V) || cl < crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    cl - crypto_aead_xchacha20poly1305_ietf_ABYTES >= plain_cap)
		return -EINVAL;
	bw_ad(ad, sizeof(ad), name, *ver, origin, network_id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)plain, &plen, NULL, ct, cl,
						       (const uint8_t *)ad, strlen(ad), nonce, key))
		return -EINVAL;
	plain[plen] = 0;
	if (strlen(plain) != plen) {
		sodium_memzero(plain, plain_cap);
		return -EINVAL;
	}
	return 0;
}

cJSON *node_botwire_seal(const struct node_bot_settings *s, const uint8_t key[NODE_BOT_SETTINGS_KEY],
			 const char *network_id)
{
	cJSON *doc = cJSON_CreateObject();
	char *ov;

	if (!doc)
		return NULL;
	if (s->token_ver && s->token[0])
		cJSON_AddItemToObject(doc, "token", bw_seal_one("token", s->token_ver,
								 s->token_origin, s->token, key,
								 network_id));
	if (s->owner_ver && (ov = bw_owner_value(s))) {
		cJSON_AddItemToObject(doc, "owner", bw_seal_one("owner", s->owner_ver,
								 s->owner_origin, ov, key,
								 network_id));
		free(ov);
	}
	return doc;
}

int node_botwire_open(const cJSON *doc, const uint8_t key[NODE_BOT_SETTINGS_KEY],
		      const char *network_id, struct node_bot_settings *out, unsigned *have)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "token");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "owner");
	char plain[BW_MAX_PLAIN + 1];
	cJSON *ov;
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	*have = 0;
	if (!cJSON_IsObject(doc))
		return -EINVAL;
	if (t) {
		if (bw_open_one(t, "token", key, network_id, &out->token_ver, out->token_origin,
				plain, sizeof(plain)) ||
		    !node_botwire_token_ok(plain))
			goto fail;
		memcpy(out->token, plain, strlen(plain) + 1);
		*have |= NODE_BOT_HAVE_TOKEN;
	}
	if (o) {
		if (bw_open_one(o, "owner", key, network_id, &out->owner_ver, out->owner_origin,
				plain, sizeof(plain)))
			goto fail;
		ov = cJSON_Parse(plain);
		r = bw_parse_owner_value(ov, out);
		cJSON_Delete(ov);
		if (r)
			goto fail;
		*have |= NODE_BOT_HAVE_OWNER;
	}
	sodium_memzero(plain, sizeof(plain));
	return 0;
fail:
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(out, sizeof(*out));
	*have = 0;
	return -EINVAL;
}

cJSON *node_botwire_plain(const struct node_bot_settings *s)
{
	cJSON *doc = cJSON_CreateObject(), *o;

	if (!doc)
		return NULL;
	if (s->token_ver && s->token[0]) {
		o = bw_version(s->token_ver, s->token_origin);
		cJSON_AddStringToObject(o, "value", s->token);
		cJSON_AddItemToObject(doc, "token", o);
	}
	if (s->owner_ver) {
		o = bw_version(s->owner_ver, s->owner_origin);
		cJSON_AddStringToObject(o, "username", s->owner_username);
		cJSON_AddNumberToObject(o, "user_id", (double)s->owner_id);
		cJSON_AddItemToObject(doc, "owner", o);
	}
	return doc;
}

int node_botwire_parse_plain(const cJSON *doc, struct node_bot_settings *out, unsigned *have)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "token");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "owner");
	const cJSON *v;

	memset(out, 0, sizeof(*out));
	*have = 0;
	if (!cJSON_IsObject(doc))
		return -EINVAL;
	if (t) {
		v = cJSON_GetObjectItemCaseSensitive(t, "value");
		if (bw_parse_version(t, &out->token_ver, out->token_origin) || !out->token_ver ||
		    !cJSON_IsString(v) || !node_botwire_token_ok(v->valuestring))
			goto fail;
		memcpy(out->token, v->valuestring, strlen(v->valuestring) + 1);
		*have |= NODE_BOT_HAVE_TOKEN;
	}
	if (o) {
		if (bw_parse_version(o, &out->owner_ver, out->owner_origin) || !out->owner_ver ||
		    bw_parse_owner_value(o, out))
			goto fail;
		*have |= NODE_BOT_HAVE_OWNER;
	}
	return 0;
fail:
	sodium_memzero(out, sizeof(*out));
	*have = 0;
	return -EINVAL;
}

cJSON *node_botwire_cursor_json(const struct node_bot_cursor *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "token_ver", (double)c->token_ver);
	cJSON_AddNumberToObject(o, "update_id", (double)c->update_id);
	cJSON_AddNumberToObject(o, "answered", (double)c->answered);
	cJSON_AddNumberToObject(o, "epoch", (double)c->epoch);
	return o;
}

int node_botwire_parse_cursor(const cJSON *o, struct node_bot_cursor *out)
{
	uint64_t tv, u, a, e;

	if (!cJSON_IsObject(o) || node_gossip_get_u64(o, "token_ver", &tv) ||
	    node_gossip_get_u64(o, "update_id", &u) || node_gossip_get_u64(o, "answered", &a) ||
	    node_gossip_get_u64(o, "epoch", &e) || a > u)
		return -EINVAL;
	out->token_ver = tv;
	out->update_id = (int64_t)u;
	out->answered = (int64_t)a;
	out->epoch = e;
	return 0;
}

int node_botwire_cursor_merge(struct node_bot_cursor *into, const struct node_bot_cursor *in)
{
	struct node_bot_cursor old = *into;

	if (in->token_ver < into->token_ver)
		return 0;
	if (in->token_ver > into->token_ver) {
		*into = *in;
	} else {
		if (in->update_id > into->update_id)
			into->update_id = in->update_id;
		if (in->answered > into->answered)
			into->answered = in->answered;
		if (in->epoch > into->epoch)
			into->epoch = in->epoch;
	}
	return memcmp(&old, into, sizeof(old)) != 0;
}

char *node_botwire_file_json(const struct node_bot_settings *s)
{
	cJSON *doc = cJSON_CreateObject(), *o;
	char *t;

	if (!doc)
		return NULL;
	cJSON_AddItemToObject(doc, "token", bw_version(s->token_ver, s->token_origin));
	o = bw_version(s->owner_ver, s->owner_origin);
	cJSON_AddStringToObject(o, "username", s->owner_username);
	cJSON_AddNumberToObject(o, "user_id", (double)s->owner_id);
	cJSON_AddItemToObject(doc, "owner", o);
	cJSON_AddItemToObject(doc, "cursor", node_botwire_cursor_json(&s->cursor));
	t = cJSON_Print(doc);
	cJSON_Delete(doc);
	return t;
}

int node_botwire_file_parse(const char *text, size_t len, struct node_bot_settings *out, char *err,
			    size_t errlen)
{
	struct node_bot_settings tmp;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	const cJSON *o;
	int r = -EINVAL;

	memset(&tmp, 0, sizeof(tmp));
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (bw_parse_version(cJSON_GetObjectItemCaseSensitive(doc, "token"), &tmp.token_ver,
			     tmp.token_origin)) {
		snprintf(err, errlen, "\"token\" must be {ver, origin}");
		goto out;
	}
	o = cJSON_GetObjectItemCaseSensitive(doc, "owner");
	if (bw_parse_version(o, &tmp.owner_ver, tmp.owner_origin) ||
	    (tmp.owner_ver && bw_parse_owner_value(o, &tmp))) {
		snprintf(err, errlen, "\"owner\" must be {ver, origin, username, user_id}");
		goto out;
	}
	if (node_botwire_parse_cursor(cJSON_GetObjectItemCaseSensitive(doc, "cursor"),
				      &tmp.cursor)) {
		snprintf(err, errlen, "\"cursor\" must be {token_ver, update_id, answered, epoch}");
		goto out;
	}
	*out = tmp;
	r = 0;
out:
	cJSON_Delete(doc);
	return r;
}
