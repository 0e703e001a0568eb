/* The hub's overlay address allocation and its reservations (ipam.h). */
#include "ipam.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovlfile.h"
#include "wgkey.h"

const char *node_ipam_result_str(enum node_ipam_result r)
{
	switch (r) {
	case NODE_IPAM_OK: return "ok";
	case NODE_IPAM_EXHAUSTED: return "overlay address pool exhausted";
	case NODE_IPAM_PUBKEY_IN_USE: return "this WireGuard public key is already used by a member";
	case NODE_IPAM_MEMBER:
		return "a member with this name or node_id is already in the overlay (or joining)";
	case NODE_IPAM_KEY_MISMATCH: return "this node_id was reserved with another public key";
	case NODE_IPAM_NOMEM: return "out of memory";
	}
	return "invalid";
}

void node_ipam_clear(struct node_ipam *ip)
{
	free(ip->v);
	memset(ip, 0, sizeof(*ip));
}

static int node_ipam_push(struct node_ipam *ip, const struct node_ipam_resv *r)
{
	if (ip->n == ip->cap) {
		size_t cap = ip->cap ? 2 * ip->cap : 8;
		struct node_ipam_resv *v = realloc(ip->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ip->v = v;
		ip->cap = cap;
	}
	ip->v[ip->n++] = *r;
	return 0;
}

static int node_ipam_str(const cJSON *o, const char *k, char *dst, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
		return -EINVAL;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

int node_ipam_from_json(struct node_ipam *ip, const char *text, size_t len, char *err,
			size_t errlen)
{
	struct node_ipam tmp = { 0 };
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *arr, *x;
	size_t i = 0;
	int r = -EINVAL;

	arr = cJSON_GetObjectItemCaseSensitive(root, "reservations");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(arr)) {
		snprintf(err, errlen, "want {\"reservations\": [...]}");
		goto out;
	}
	if (cJSON_GetArraySize(arr) > NODE_IPAM_MAX) {
		snprintf(err, errlen, "more than %d reservations", NODE_IPAM_MAX);
		goto out;
	}
	cJSON_ArrayForEach(x, arr) {
		struct node_ipam_resv rv = { 0 };
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(x, "expires");
		char a[NODE_IP4_STRLEN + 1];

		if (!cJSON_IsObject(x) || node_ipam_str(x, "node_id", rv.node_id, sizeof(rv.node_id)) ||
		    !node_state_is_hex(rv.node_id, NODE_ID_HEX) ||
		    node_ipam_str(x, "name", rv.name, sizeof(rv.name)) || !rv.name[0] ||
		    node_ipam_str(x, "addr", a, sizeof(a)) || node_ip4_parse(a, &rv.addr) ||
		    node_ipam_str(x, "wg_pubkey", rv.wg_pubkey, sizeof(rv.wg_pubkey)) ||
		    !node_wgkey_valid_b64(rv.wg_pubkey) || !cJSON_IsNumber(e) ||
		    e->valuedouble < 0 || e->valuedouble > (double)(INT64_C(1) << 40)) {
			snprintf(err, errlen, "reservations[%zu]: want node_id, name, addr (IPv4), "
				 "wg_pubkey (base64) and expires (unix s)", i);
			goto out;
		}
		rv.expires = (int64_t)e->valuedouble;
		for (size_t j = 0; j < tmp.n; j++)
			if (!strcmp(tmp.v[j].node_id, rv.node_id) || tmp.v[j].addr == rv.addr) {
				snprintf(err, errlen, "reservations[%zu]: node_id or address reserved twice", i);
				goto out;
			}
		if ((r = node_ipam_push(&tmp, &rv)))
			goto out;
		r = -EINVAL;
		i++;
	}
	node_ipam_clear(ip);
	*ip = tmp;
	memset(&tmp, 0, sizeof(tmp));
	r = 0;
out:
	node_ipam_clear(&tmp);
	cJSON_Delete(root);
	return r;
}

int node_ipam_to_json(const struct node_ipam *ip, char **out)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	int r = -ENOMEM;

	*out = NULL;
	if (!root || !(arr = cJSON_AddArrayToObject(root, "reservations")))
		goto out;
	for (size_t i = 0; i < ip->n; i++) {
		const struct node_ipam_resv *rv = &ip->v[i];
		cJSON *o = cJSON_CreateObject();
		char a[NODE_IP4_STRLEN];

		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		node_ip4_str(rv->addr, a);
		if (!cJSON_AddStringToObject(o, "node_id", rv->node_id) ||
		    !cJSON_AddStringToObject(o, "name", rv->name) ||
		    !cJSON_AddStringToObject(o, "addr", a) ||
		    !cJSON_AddStringToObject(o, "wg_pubkey", rv->wg_pubkey) ||
		    !cJSON_AddNumberToObject(o, "expires", (double)rv->expires))
			goto out;
	}
	*out = cJSON_Print(root);
	r = *out ? 0 : -ENOMEM;
out:
	cJSON_Delete(root);
	return r;
}

static int node_ipam_parse(void *obj, const char *t, size_t n, char *err, size_t errlen)
{
	return node_ipam_from_json(obj, t, n, err, errlen);
}

int node_ipam_load(const char *dir, struct node_ipam *ip, char *err, size_t errlen)
{
	int r = node_ovl_file_load(dir, NODE_IPAM_FILE, 16u << 20, node_ipam_parse, ip, err, errlen);

	if (r == -ENOENT) {
		node_ipam_clear(ip);
		return 0;
	}
	return r;
}

int node_ipam_save(const char *dir, const struct node_ipam *ip)
{
	char *text = NULL;
	int r;

	if ((r = node_ipam_to_json(ip, &text)))
		return r;
	r = node_ovl_file_save(dir, NODE_IPAM_FILE, text);
	free(text);
	return r;
}

static int node_ipam_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

enum node_ipam_result node_ipam_allocate(struct node_ipam *ip, const struct node_state *st,
					 const struct node_cidr *cidr, const char *node_id,
					 const char *name, const char *wg_pubkey, int64_t now,
					 uint32_t *addr, int *changed)
{
	struct node_ipam_resv rv = { 0 };
	uint32_t *used, cand;
	size_t n = 0;

	*changed = 0;
	for (size_t i = 0; i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i];

		if (!strcmp(p->node_id, node_id) || !strcmp(p->name, name))
			return NODE_IPAM_MEMBER;
		if (p->wg_pubkey[0] && !strcmp(p->wg_pubkey, wg_pubkey))
			return NODE_IPAM_PUBKEY_IN_USE;
	}
	for (size_t i = 0; i < ip->n; i++) {
		struct node_ipam_resv *r = &ip->v[i];

		if (r->expires <= now)
			continue;
		if (!strcmp(r->node_id, node_id)) {
			if (strcmp(r->wg_pubkey, wg_pubkey))
				return NODE_IPAM_KEY_MISMATCH;
			/* the same request again (a retried call): same answer */
			r->expires = now + NODE_IPAM_RESV_TTL;
			*addr = r->addr;
			*changed = 1;
			return NODE_IPAM_OK;
		}
		if (!strcmp(r->wg_pubkey, wg_pubkey))
			return NODE_IPAM_PUBKEY_IN_USE;
		/* two joins racing with one name through two seeds: only one */
		if (!strcmp(r->name, name))
			return NODE_IPAM_MEMBER;
	}
	if (!(used = malloc((st->n_peers + ip->n + 1) * sizeof(*used))))
		return NODE_IPAM_NOMEM;
	for (size_t i = 0; i < st->n_peers; i++)
		if (!node_ip4_parse(st->peers[i].overlay_addr, &used[n]))
			n++;
	for (size_t i = 0; i < ip->n; i++)
		if (ip->v[i].expires > now)
			used[n++] = ip->v[i].addr;
	qsort(used, n, sizeof(*used), node_ipam_cmp);
	/* lowest free: walk the sorted used list alongside the candidates */
	cand = node_cidr_first_host(cidr);
	for (size_t i = 0; i < n && cand <= node_cidr_last_host(cidr); i++) {
		if (used[i] < cand)
			continue;
		if (used[i] > cand)
			break;
		cand++;
	}
	free(used);
	if (cand > node_cidr_last_host(cidr))
		return NODE_IPAM_EXHAUSTED;
	/* an expired reservation of the same node or address is replaced */
	for (size_t i = 0; i < ip->n;) {
		if (ip->v[i].expires <= now &&
		    (!strcmp(ip->v[i].node_id, node_id) || ip->v[i].addr == cand))
			ip->v[i] = ip->v[--ip->n];
		else
			i++;
	}
	snprintf(rv.node_id, sizeof(rv.node_id), "%s", node_id);
	snprintf(rv.name, sizeof(rv.name), "%s", name);
	snprintf(rv.wg_pubkey, sizeof(rv.wg_pubkey), "%s", wg_pubkey);
	rv.addr = cand;
	rv.expires = now + NODE_IPAM_RESV_TTL;
	if (node_ipam_push(ip, &rv))
		return NODE_IPAM_NOMEM;
	*addr = cand;
	*changed = 1;
	return NODE_IPAM_OK;
}

size_t node_ipam_prune(struct node_ipam *ip, const struct node_state *st, int64_t now)
{
	size_t dropped = 0;

	for (size_t i = 0; i < ip->n;) {
		const struct node_ipam_resv *r = &ip->v[i];

		if (r->expires <= now || node_state_is_removed(st, r->node_id) ||
		    node_state_find_peer((struct node_state *)st, r->node_id)) {
			memmove(&ip->v[i], &ip->v[i + 1], (ip->n - i - 1) * sizeof(*r));
			ip->n--;
			dropped++;
		} else {
			i++;
		}
	}
	return dropped;
}
