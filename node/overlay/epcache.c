/* The hub's endpoint cache and the socket-address text helpers (epcache.h). */
#include "epcache.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovlfile.h"
#include "wgkey.h"

void node_sockaddr_normalize(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)in;

	if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		in_port_t port = s6->sin6_port;
		uint8_t a[4];

		memcpy(a, &s6->sin6_addr.s6_addr[12], 4);
		memset(out, 0, sizeof(*out));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		memcpy(&s4->sin_addr, a, 4);
		return;
	}
	if (in != out)
		*out = *in;
}

int node_sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage x, y;

	node_sockaddr_normalize(a, &x);
	node_sockaddr_normalize(b, &y);
	if (x.ss_family != y.ss_family)
		return 0;
	if (x.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const struct sockaddr_in *)&x;
		const struct sockaddr_in *q = (const struct sockaddr_in *)&y;

		return p->sin_port == q->sin_port && p->sin_addr.s_addr == q->sin_addr.s_addr;
	}
	if (x.ss_family == AF_INET6) {
		const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&x;
		const struct sockaddr_in6 *q = (const struct sockaddr_in6 *)&y;

		return p->sin6_port == q->sin6_port &&
		       !memcmp(&p->sin6_addr, &q->sin6_addr, sizeof(p->sin6_addr));
	}
	return 0;
}

int node_sockaddr_parse(const char *s, struct sockaddr_storage *out)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char host[INET6_ADDRSTRLEN + 2], *end;
	size_t hl;
	long port;

	if (!colon || !colon[1] || colon[1] == '0' || strlen(colon + 1) > 5)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(out, 0, sizeof(*out));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		if (hl < 3 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		node_sockaddr_normalize(out, out);
		return 0;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	}
	return 0;
}

void node_sockaddr_str(const struct sockaddr_storage *in, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN];

	node_sockaddr_normalize(in, &ss);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

void node_epcache_clear(struct node_epcache *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static struct node_epcache_entry *node_epcache_find(const struct node_epcache *c,
						    const uint8_t pub[32])
{
	for (size_t i = 0; i < c->n; i++)
		if (!memcmp(c->v[i].pub, pub, 32))
			return &c->v[i];
	return NULL;
}

const struct sockaddr_storage *node_epcache_get(const struct node_epcache *c,
						const uint8_t pub[32])
{
	struct node_epcache_entry *e = node_epcache_find(c, pub);

	return e ? &e->ep : NULL;
}

int node_epcache_put(struct node_epcache *c, const uint8_t pub[32],
		     const struct sockaddr_storage *ep)
{
	struct node_epcache_entry *e = node_epcache_find(c, pub);

	if (e) {
		if (node_sockaddr_equal(&e->ep, ep))
			return 0;
		node_sockaddr_normalize(ep, &e->ep);
		return 1;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct node_epcache_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	e = &c->v[c->n++];
	memcpy(e->pub, pub, 32);
	node_sockaddr_normalize(ep, &e->ep);
	return 1;
}

size_t node_epcache_retain(struct node_epcache *c, int (*keep)(void *ctx, const uint8_t pub[32]),
			   void *ctx)
{
	size_t gone = 0;

	for (size_t i = 0; i < c->n;) {
		if (keep(ctx, c->v[i].pub)) {
			i++;
			continue;
		}
		c->v[i] = c->v[--c->n];
		gone++;
	}
	return gone;
}

int node_epcache_from_json(struct node_epcache *c, const char *text, size_t len, char *err,
			   size_t errlen)
{
	struct node_epcache tmp = { 0 };
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "endpoints"), *x;
	size_t i = 0;
	int r = -EINVAL;

	if (!cJSON_IsObject(root) || !cJSON_IsArray(arr) ||
	    cJSON_GetArraySize(arr) > NODE_EPCACHE_MAX) {
		snprintf(err, errlen, "want {\"endpoints\": [{\"wg_pubkey\", \"endpoint\"}]}");
		goto out;
	}
	cJSON_ArrayForEach(x, arr) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(x, "wg_pubkey");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(x, "endpoint");
		struct sockaddr_storage ep;
		uint8_t pub[32];

		if (!cJSON_IsString(k) || !cJSON_IsString(e) ||
		    node_wgkey_from_b64(k->valuestring, pub) ||
		    node_sockaddr_parse(e->valuestring, &ep)) {
			snprintf(err, errlen, "endpoints[%zu]: want a base64 wg_pubkey and a numeric "
				 "IP:PORT endpoint", i);
			goto out;
		}
		if ((r = node_epcache_put(&tmp, pub, &ep)) < 0)
			goto out;
		r = -EINVAL;
		i++;
	}
	node_epcache_clear(c);
	*c = tmp;
	memset(&tmp, 0, sizeof(tmp));
	r = 0;
out:
	node_epcache_clear(&tmp);
	cJSON_Delete(root);
	return r;
}

int node_epcache_to_json(const struct node_epcache *c, char **out)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	int r = -ENOMEM;

	*out = NULL;
	if (!root || !(arr = cJSON_AddArrayToObject(root, "endpoints")))
		goto out;
	for (size_t i = 0; i < c->n; i++) {
		cJSON *o = cJSON_CreateObject();
		char k[NODE_WGKEY_B64], e[80];

		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		node_wgkey_to_b64(c->v[i].pub, k);
		node_sockaddr_str(&c->v[i].ep, e, sizeof(e));
		if (!cJSON_AddStringToObject(o, "wg_pubkey", k) ||
		    !cJSON_AddStringToObject(o, "endpoint", e))
			goto out;
	}
	*out = cJSON_Print(root);
	r = *out ? 0 : -ENOMEM;
out:
	cJSON_Delete(root);
	return r;
}

static int node_epcache_parse(void *obj, const char *t, size_t n, char *err, size_t errlen)
{
	return node_epcache_from_json(obj, t, n, err, errlen);
}

int node_epcache_load(const char *dir, struct node_epcache *c, char *err, size_t errlen)
{
	int r = node_ovl_file_load(dir, NODE_EPCACHE_FILE, 16u << 20, node_epcache_parse, c, err,
				   errlen);

	if (r == -ENOENT) {
		node_epcache_clear(c);
		return 0;
	}
	return r;
}

int node_epcache_save(const char *dir, const struct node_epcache *c)
{
	char *text = NULL;
	int r;

	if ((r = node_epcache_to_json(c, &text)))
		return r;
	r = node_ovl_file_save(dir, NODE_EPCACHE_FILE, text);
	free(text);
	return r;
}
