/* Parsers of the cluster engine's RPC parameters (gossip.h). */
#include "gossip.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int node_gossip_is_id(const char *s)
{
	return node_state_is_hex(s, NODE_ID_HEX);
}

int node_gossip_get_u64(const cJSON *o, const char *k, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0 ||
	    v->valuedouble != floor(v->valuedouble))
		return -EINVAL;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

int node_gossip_get_age(const cJSON *o, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "age_s");

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
		return -EINVAL;
	*out = fmin(v->valuedouble, 86400);
	return 0;
}

static int gossip_digest_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node_gossip_digest_entry *)a)->id,
		      ((const struct node_gossip_digest_entry *)b)->id);
}

/* A number 0..2^53 in an array slot. */
static int gossip_u64_at(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0 ||
	    v->valuedouble != floor(v->valuedouble))
		return -EINVAL;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

int node_gossip_parse_digest(const cJSON *arr, struct node_gossip_digest_entry **out, size_t *n)
{
	const cJSON *x;
	size_t cnt, i = 0;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr) ||
	    (cnt = (size_t)cJSON_GetArraySize(arr)) > NODE_GOSSIP_MAX_MEMBERS)
		return -EINVAL;
	if (!cnt)
		return 0;
	if (!(*out = calloc(cnt, sizeof(**out))))
		return -ENOMEM;
	cJSON_ArrayForEach(x, arr) {
		const cJSON *id = cJSON_GetArrayItem(x, 0);
		struct node_gossip_digest_entry *d = &(*out)[i++];
		uint64_t age_ms;

		if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 6 || !cJSON_IsString(id) ||
		    !node_gossip_is_id(id->valuestring) ||
		    gossip_u64_at(cJSON_GetArrayItem(x, 1), &d->gen) ||
		    gossip_u64_at(cJSON_GetArrayItem(x, 2), &d->hb) ||
		    gossip_u64_at(cJSON_GetArrayItem(x, 3), &age_ms) ||
		    gossip_u64_at(cJSON_GetArrayItem(x, 4), &d->ver) ||
		    gossip_u64_at(cJSON_GetArrayItem(x, 5), &d->ack_ms))
			goto bad;
		d->id = id->valuestring;
		d->age = fmin((double)age_ms / 1000.0, 86400);
	}
	qsort(*out, cnt, sizeof(**out), gossip_digest_cmp);
	for (i = 1; i < cnt; i++)
		if (!strcmp((*out)[i - 1].id, (*out)[i].id))
			goto bad;
	*n = cnt;
	return 0;
bad:
	free(*out);
	*out = NULL;
	return -EINVAL;
}

int node_gossip_digest_add(cJSON *arr, const char *id, uint64_t gen, uint64_t hb, double age,
			   uint64_t ver, uint64_t ack_ms)
{
	cJSON *e = cJSON_CreateArray();

	if (!e || !cJSON_AddItemToArray(arr, e))
		goto fail;
	if (!cJSON_AddItemToArray(e, cJSON_CreateString(id)) ||
	    !cJSON_AddItemToArray(e, cJSON_CreateNumber((double)gen)) ||
	    !cJSON_AddItemToArray(e, cJSON_CreateNumber((double)hb)) ||
	    !cJSON_AddItemToArray(e, cJSON_CreateNumber(floor(fmin(fmax(age, 0), 86400) * 1000))) ||
	    !cJSON_AddItemToArray(e, cJSON_CreateNumber((double)ver)) ||
	    !cJSON_AddItemToArray(e, cJSON_CreateNumber((double)ack_ms)))
		return -ENOMEM;
	return 0;
fail:
	cJSON_Delete(e);
	return -ENOMEM;
}

const struct node_gossip_digest_entry *node_gossip_digest_find(
	const struct node_gossip_digest_entry *d, size_t n, const char *id)
{
	struct node_gossip_digest_entry key = { .id = id };

	return n ? bsearch(&key, d, n, sizeof(*d), gossip_digest_cmp) : NULL;
}

int node_gossip_parse_records(const cJSON *arr, struct node_peer **out, size_t *n, char *err,
			      size_t errlen)
{
	const cJSON *x;
	size_t cnt = 0, i = 0;

	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr) ||
	    (cnt = (size_t)cJSON_GetArraySize(arr)) > NODE_GOSSIP_MAX_MEMBERS) {
		snprintf(err, errlen, "\"records\" must be an array of at most %d peers",
			 NODE_GOSSIP_MAX_MEMBERS);
		return -EINVAL;
	}
	if (!cnt)
		return 0;
	if (!(*out = calloc(cnt, sizeof(**out))))
		return -ENOMEM;
	cJSON_ArrayForEach(x, arr) {
		char why[128];

		if (node_peer_from_json(x, &(*out)[i], why, sizeof(why))) {
			snprintf(err, errlen, "records[%zu]: %s", i, why);
			free(*out);
			*out = NULL;
			return -EINVAL;
		}
		i++;
	}
	*n = cnt;
	return 0;
}

int node_gossip_check_ids(const cJSON *arr, char *err, size_t errlen)
{
	const cJSON *x;
	int n = 0;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "\"removed\" must be an array");
		return -EINVAL;
	}
	cJSON_ArrayForEach(x, arr) {
		if (!cJSON_IsString(x) || !node_gossip_is_id(x->valuestring) ||
		    ++n > NODE_GOSSIP_MAX_MEMBERS) {
			snprintf(err, errlen, "\"removed\" must hold at most %d node ids",
				 NODE_GOSSIP_MAX_MEMBERS);
			return -EINVAL;
		}
	}
	return 0;
}
