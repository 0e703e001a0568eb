/* network_state.json and node_id: parse, serialise, atomic save. */
#include "state.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cidr.h"
#include "file.h"
#include "rpc.h"
#include "wgkey.h"

#define STATE_FILE "network_state.json"
#define STATE_MAX (4u << 20)

int node_state_dir_ensure(const char *dir)
{
	struct stat sb;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(dir, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	return 0;
}

void node_random_hex(char *out, size_t n)
{
	unsigned char buf[64];

	if (n > sizeof(buf))
		n = sizeof(buf);
	randombytes_buf(buf, n);
	sodium_bin2hex(out, 2 * n + 1, buf, n);
	sodium_memzero(buf, sizeof(buf));
}

int node_state_is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Copies a string member into dst; absent is allowed when !required. */
static int get_str(const cJSON *obj, const char *key, char *dst, size_t cap, int required,
		   char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v || cJSON_IsNull(v)) {
		if (required) {
			snprintf(err, errlen, "missing \"%s\"", key);
			return -EINVAL;
		}
		dst[0] = '\0';
		return 0;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) {
		snprintf(err, errlen, "\"%s\" must be a string shorter than %zu", key, cap);
		return -EINVAL;
	}
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int get_int(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
		   char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v || cJSON_IsNull(v)) {
		*out = 0;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
		snprintf(err, errlen, "\"%s\" must be a number in [%lld, %lld]", key,
			 (long long)lo, (long long)hi);
		return -EINVAL;
	}
	*out = (int64_t)v->valuedouble;
	return 0;
}

const char *node_vpn_role_str(enum node_vpn_role r)
{
	return r == NODE_VPN_ROLE_HUB ? "hub" : r == NODE_VPN_ROLE_CLIENT ? "client" : "";
}

/* The overlay fields of a record: each empty or well formed. */
static int node_peer_vpn_check(struct node_peer *out, const char *role, char *err, size_t errlen)
{
	uint32_t a;

	if (out->wg_pubkey[0] && !node_wgkey_valid_b64(out->wg_pubkey)) {
		snprintf(err, errlen, "peer \"%s\": wg_pubkey must be a base64 key of 32 bytes",
			 out->name);
		return -EINVAL;
	}
	if (out->overlay_addr[0] && node_ip4_parse(out->overlay_addr, &a)) {
		snprintf(err, errlen, "peer \"%s\": overlay_addr must be an IPv4 address", out->name);
		return -EINVAL;
	}
	if (out->wg_endpoint[0] && rpc_check_host_port(out->wg_endpoint)) {
		snprintf(err, errlen, "peer \"%s\": wg_endpoint must be HOST:PORT", out->name);
		return -EINVAL;
	}
	if (!role[0])
		out->vpn_role = NODE_VPN_ROLE_NONE;
	else if (!strcmp(role, "hub"))
		out->vpn_role = NODE_VPN_ROLE_HUB;
	else if (!strcmp(role, "client"))
		out->vpn_role = NODE_VPN_ROLE_CLIENT;
	else {
		snprintf(err, errlen, "peer \"%s\": vpn_role must be hub, client or empty", out->name);
		return -EINVAL;
	}
	return 0;
}

int node_peer_from_json(const cJSON *p, struct node_peer *out, char *err, size_t errlen)
{
	char status[16], role[16];
	int64_t v;
	int r;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(p)) {
		snprintf(err, errlen, "peer must be an object");
		return -EINVAL;
	}
	if ((r = get_str(p, "name", out->name, sizeof(out->name), 1, err, errlen)) ||
	    (r = get_str(p, "addr", out->addr, sizeof(out->addr), 1, err, errlen)) ||
	    (r = get_str(p, "node_id", out->node_id, sizeof(out->node_id), 1, err, errlen)) ||
	    (r = get_str(p, "status", status, sizeof(status), 0, err, errlen)) ||
	    (r = get_str(p, "wg_pubkey", out->wg_pubkey, sizeof(out->wg_pubkey), 0, err, errlen)) ||
	    (r = get_str(p, "overlay_addr", out->overlay_addr, sizeof(out->overlay_addr), 0, err,
			 errlen)) ||
	    (r = get_str(p, "wg_endpoint", out->wg_endpoint, sizeof(out->wg_endpoint), 0, err,
			 errlen)) ||
	    (r = get_str(p, "vpn_role", role, sizeof(role), 0, err, errlen)))
		return r;
	if (!node_state_is_hex(out->node_id, NODE_ID_HEX) || !out->name[0]) {
		snprintf(err, errlen, "peer \"%s\": bad name or node_id", out->name);
		return -EINVAL;
	}
	if (!status[0] || !strcmp(status, "alive"))
		out->status = NODE_PEER_ALIVE;
	else if (!strcmp(status, "down"))
		out->status = NODE_PEER_DOWN;
	else {
		snprintf(err, errlen, "peer \"%s\": status must be alive or down", out->name);
		return -EINVAL;
	}
	if ((r = node_peer_vpn_check(out, role, err, errlen)))
		return r;
	if ((r = get_int(p, "last_seen", 0, INT64_C(1) << 40, &out->last_seen, err, errlen)))
		return r;
	if ((r = get_int(p, "priority", -1000000, 1000000, &v, err, errlen)))
		return r;
	out->priority = (int)v;
	if ((r = get_int(p, "ver", 0, INT64_C(1) << 53, &v, err, errlen)))
		return r;
	out->ver = (uint64_t)v;
	return 0;
}

/* "vpn": absent or null = no overlay; else {"cidr", "hub"}, both valid. */
static int node_state_vpn_from_json(struct node_state *st, const cJSON *vpn, char *err,
				    size_t errlen)
{
	struct node_cidr cidr;
	char why[128];
	int r;

	if (!vpn || cJSON_IsNull(vpn))
		return 0;
	if (!cJSON_IsObject(vpn)) {
		snprintf(err, errlen, "\"vpn\" must be an object");
		return -EINVAL;
	}
	if ((r = get_str(vpn, "cidr", st->vpn_cidr, sizeof(st->vpn_cidr), 1, err, errlen)) ||
	    (r = get_str(vpn, "hub", st->vpn_hub, sizeof(st->vpn_hub), 1, err, errlen)))
		return r;
	if (node_cidr_parse(st->vpn_cidr, &cidr, why, sizeof(why))) {
		snprintf(err, errlen, "vpn.cidr: %s", why);
		return -EINVAL;
	}
	if (!node_state_is_hex(st->vpn_hub, NODE_ID_HEX)) {
		snprintf(err, errlen, "vpn.hub must be a node_id");
		return -EINVAL;
	}
	return 0;
}

int node_state_from_json(struct node_state *st, const char *text, size_t len, char *err,
			 size_t errlen)
{
	struct node_state tmp;
	const cJSON *peers, *p, *lease;
	const char *end = NULL;
	cJSON *root = NULL;
	int64_t v;
	int r = -EINVAL;

	memset(&tmp, 0, sizeof(tmp));
	if (!len) {
		snprintf(err, errlen, "empty (truncated?)");
		goto out;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
		size_t last = len;

		while (last && (text[last - 1] == ' ' || text[last - 1] == '\n' ||
				text[last - 1] == '\r' || text[last - 1] == '\t'))
			last--;
		snprintf(err, errlen, "not valid JSON (%s at byte %zu of %zu)",
			 !last || text[last - 1] != '}' ? "truncated" : "corrupt", at, len);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if ((r = get_str(root, "network_id", tmp.network_id, sizeof(tmp.network_id), 1, err,
			 errlen)) ||
	    (r = get_str(root, "owner_username", tmp.owner_username,
			 sizeof(tmp.owner_username), 0, err, errlen)) ||
	    (r = get_str(root, "network_secret", tmp.network_secret,
			 sizeof(tmp.network_secret), 1, err, errlen)))
		goto out;
	r = -EINVAL;
	if (!node_state_is_hex(tmp.network_id, NODE_ID_HEX)) {
		snprintf(err, errlen, "network_id must be %d hex digits", NODE_ID_HEX);
		goto out;
	}
	if (!node_state_is_hex(tmp.network_secret, NODE_SECRET_HEX)) {
		snprintf(err, errlen, "network_secret must be %d hex digits", NODE_SECRET_HEX);
		goto out;
	}
	peers = cJSON_GetObjectItemCaseSensitive(root, "peers");
	if (peers && !cJSON_IsArray(peers)) {
		snprintf(err, errlen, "\"peers\" must be an array");
		goto out;
	}
	cJSON_ArrayForEach(p, peers) {
		struct node_peer np;

		if ((r = node_peer_from_json(p, &np, err, errlen)))
			goto out;
		if (node_state_find_peer(&tmp, np.node_id)) {
			snprintf(err, errlen, "duplicate peer node_id %s", np.node_id);
			r = -EINVAL;
			goto out;
		}
		if ((r = node_state_upsert_peer(&tmp, &np)))
			goto out;
	}
	{
		const cJSON *rm = cJSON_GetObjectItemCaseSensitive(root, "removed"), *x;

		if (rm && !cJSON_IsArray(rm)) {
			snprintf(err, errlen, "\"removed\" must be an array");
			r = -EINVAL;
			goto out;
		}
		cJSON_ArrayForEach(x, rm) {
			if (!cJSON_IsString(x) || !node_state_is_hex(x->valuestring, NODE_ID_HEX)) {
				snprintf(err, errlen, "\"removed\" entries must be node_ids");
				r = -EINVAL;
				goto out;
			}
			if ((r = node_state_add_removed(&tmp, x->valuestring)))
				goto out;
		}
	}
	lease = cJSON_GetObjectItemCaseSensitive(root, "bot_lease");
	if (lease && !cJSON_IsNull(lease)) {
		r = -EINVAL;
		if (!cJSON_IsObject(lease)) {
			snprintf(err, errlen, "\"bot_lease\" must be an object");
			goto out;
		}
		if ((r = get_str(lease, "owner", tmp.lease_owner, sizeof(tmp.lease_owner), 0, err,
				 errlen)) ||
		    (r = get_int(lease, "until", 0, INT64_C(1) << 40, &tmp.lease_until, err,
				 errlen)) ||
		    (r = get_int(lease, "epoch", 0, INT64_C(1) << 53, &v, err, errlen)))
			goto out;
		tmp.lease_epoch = (uint64_t)v;
	}
	if ((r = get_int(root, "generation", 0, INT64_C(1) << 53, &v, err, errlen)))
		goto out;
	tmp.generation = (uint64_t)v;
	if ((r = node_state_vpn_from_json(&tmp, cJSON_GetObjectItemCaseSensitive(root, "vpn"), err,
					  errlen)))
		goto out;
	node_state_clear(st);
	*st = tmp;
	memset(&tmp, 0, sizeof(tmp));
	r = 0;
out:
	node_state_clear(&tmp);
	cJSON_Delete(root);
	return r;
}

cJSON *node_peer_to_json(const struct node_peer *p)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "name", p->name) ||
	    !cJSON_AddStringToObject(o, "addr", p->addr) ||
	    !cJSON_AddStringToObject(o, "node_id", p->node_id) ||
	    !cJSON_AddStringToObject(o, "status", p->status == NODE_PEER_DOWN ? "down" : "alive") ||
	    !cJSON_AddNumberToObject(o, "last_seen", (double)p->last_seen) ||
	    !cJSON_AddNumberToObject(o, "priority", p->priority) ||
	    !cJSON_AddStringToObject(o, "wg_pubkey", p->wg_pubkey) ||
	    !cJSON_AddStringToObject(o, "overlay_addr", p->overlay_addr) ||
	    !cJSON_AddStringToObject(o, "wg_endpoint", p->wg_endpoint) ||
	    !cJSON_AddStringToObject(o, "vpn_role", node_vpn_role_str(p->vpn_role)) ||
	    !cJSON_AddNumberToObject(o, "ver", (double)p->ver)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int node_state_to_json(const struct node_state *st, char **out)
{
	cJSON *root = cJSON_CreateObject(), *peers, *lease;
	int r = -ENOMEM;

	*out = NULL;
	if (!root || !cJSON_AddStringToObject(root, "network_id", st->network_id) ||
	    !cJSON_AddStringToObject(root, "owner_username", st->owner_username) ||
	    !cJSON_AddStringToObject(root, "network_secret", st->network_secret) ||
	    !(peers = cJSON_AddArrayToObject(root, "peers")))
		goto out;
	for (size_t i = 0; i < st->n_peers; i++) {
		cJSON *o = node_peer_to_json(&st->peers[i]);

		if (!o)
			goto out;
		cJSON_AddItemToArray(peers, o);
	}
	{
		cJSON *rm = cJSON_AddArrayToObject(root, "removed");

		if (!rm)
			goto out;
		for (size_t i = 0; i < st->n_removed; i++)
			cJSON_AddItemToArray(rm, cJSON_CreateString(st->removed[i]));
	}
	if (!(lease = cJSON_AddObjectToObject(root, "bot_lease")) ||
	    !cJSON_AddStringToObject(lease, "owner", st->lease_owner) ||
	    !cJSON_AddNumberToObject(lease, "until", (double)st->lease_until) ||
	    !cJSON_AddNumberToObject(lease, "epoch", (double)st->lease_epoch) ||
	    !cJSON_AddNumberToObject(root, "generation", (double)st->generation))
		goto out;
	if (st->vpn_cidr[0]) {
		cJSON *vpn = cJSON_AddObjectToObject(root, "vpn");

		if (!vpn || !cJSON_AddStringToObject(vpn, "cidr", st->vpn_cidr) ||
		    !cJSON_AddStringToObject(vpn, "hub", st->vpn_hub))
			goto out;
	}
	*out = cJSON_Print(root);
	r = *out ? 0 : -ENOMEM;
out:
	cJSON_Delete(root);
	return r;
}

static int path_join(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int node_state_load(const char *dir, struct node_state *st, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = path_join(path, sizeof(path), dir, STATE_FILE)))
		return r;
	if ((r = cst_file_read_all(path, STATE_MAX, &text, &len))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	{
		char why[200];

		/* Never a silent new start: the file names the network, holds
		 * its secret, and a fresh one would be another network. */
		if ((r = node_state_from_json(st, text, len, why, sizeof(why))))
			snprintf(err, errlen, "%s: %s; nothing changed: restore it, or move %s "
				 "away and join again", path, why, dir);
	}
	sodium_memzero(text, len);
	free(text);
	return r;
}

int node_state_save(const char *dir, const struct node_state *st)
{
	char path[PATH_MAX];
	char *text = NULL;
	int r;

	if ((r = path_join(path, sizeof(path), dir, STATE_FILE)))
		return r;
	if ((r = node_state_to_json(st, &text)))
		return r;
	r = cst_file_write_atomic(path, text, strlen(text), 0600);
	sodium_memzero(text, strlen(text));
	free(text);
	return r;
}

int node_state_read_node_id(const char *dir, char out[NODE_ID_HEX + 1])
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = path_join(path, sizeof(path), dir, "node_id")))
		return r;
	if ((r = cst_file_read_all(path, 256, &text, &len)))
		return r;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	r = node_state_is_hex(text, NODE_ID_HEX) ? 0 : -EINVAL;
	if (!r)
		memcpy(out, text, NODE_ID_HEX + 1);
	free(text);
	return r;
}

int node_state_write_node_id(const char *dir, const char *node_id)
{
	char path[PATH_MAX], line[NODE_ID_HEX + 2];
	int r;

	if (!node_state_is_hex(node_id, NODE_ID_HEX))
		return -EINVAL;
	if ((r = path_join(path, sizeof(path), dir, "node_id")))
		return r;
	snprintf(line, sizeof(line), "%s\n", node_id);
	return cst_file_write_atomic(path, line, strlen(line), 0600);
}

struct node_peer *node_state_find_peer(struct node_state *st, const char *node_id)
{
	for (size_t i = 0; i < st->n_peers; i++)
		if (!strcmp(st->peers[i].node_id, node_id))
			return &st->peers[i];
	return NULL;
}

struct node_peer *node_state_find_peer_by_name(struct node_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_peers; i++)
		if (!strcmp(st->peers[i].name, name))
			return &st->peers[i];
	return NULL;
}

struct node_peer *node_state_vpn_hub(struct node_state *st)
{
	return st->vpn_cidr[0] ? node_state_find_peer(st, st->vpn_hub) : NULL;
}

int node_state_upsert_peer(struct node_state *st, const struct node_peer *p)
{
	struct node_peer *cur = node_state_find_peer(st, p->node_id);

	if (cur) {
		*cur = *p;
		return 0;
	}
	if (st->n_peers == st->cap_peers) {
		size_t cap = st->cap_peers ? 2 * st->cap_peers : 8;
		struct node_peer *np = realloc(st->peers, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		st->peers = np;
		st->cap_peers = cap;
	}
	st->peers[st->n_peers++] = *p;
	return 0;
}

int node_state_remove_peer(struct node_state *st, const char *node_id)
{
	struct node_peer *p = node_state_find_peer(st, node_id);
	size_t i;

	if (!p)
		return -ENOENT;
	i = (size_t)(p - st->peers);
	memmove(p, p + 1, (st->n_peers - i - 1) * sizeof(*p));
	st->n_peers--;
	return 0;
}

int node_state_is_removed(const struct node_state *st, const char *node_id)
{
	for (size_t i = 0; i < st->n_removed; i++)
		if (!strcmp(st->removed[i], node_id))
			return 1;
	return 0;
}

int node_state_add_removed(struct node_state *st, const char *node_id)
{
	char (*nr)[NODE_ID_HEX + 1];

	if (node_state_is_removed(st, node_id))
		return 0;
	if (strlen(node_id) != NODE_ID_HEX)
		return -EINVAL;
	nr = realloc(st->removed, (st->n_removed + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	st->removed = nr;
	memcpy(st->removed[st->n_removed++], node_id, NODE_ID_HEX + 1);
	return 0;
}

void node_state_clear(struct node_state *st)
{
	sodium_memzero(st->network_secret, sizeof(st->network_secret));
	free(st->peers);
	free(st->removed);
	memset(st, 0, sizeof(*st));
}
