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

/* One decimal number 0..2^53 at *p, ending at stop (':' or the end): one
 * spelling per value (no sign, no leading zero). Advances *p past stop. */
static int gossip_num(const char **p, char stop, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 16)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	if (!n || (n > 1 && s[0] == '0') || s[n] != stop || v > (1ull << 53))
		return -EINVAL;
	*out = v;
	*p = s + n + (stop ? 1 : 0);
	return 0;
}

static int gossip_parse_entry(const char *s, struct node_gossip_digest_entry *d)
{
	uint64_t age_ms;

	if (strlen(s) < NODE_ID_HEX + 1 || s[NODE_ID_HEX] != ':')
		return -EINVAL;
	memcpy(d->id, s, NODE_ID_HEX);
	d->id[NODE_ID_HEX] = 0;
	if (!node_gossip_is_id(d->id))
		return -EINVAL;
	s += NODE_ID_HEX + 1;
	if (gossip_num(&s, ':', &d->gen) || gossip_num(&s, ':', &d->hb) ||
	    gossip_num(&s, ':', &age_ms) || gossip_num(&s, ':', &d->ver) ||
	    gossip_num(&s, 0, &d->ack_ms))
		return -EINVAL;
	d->age = fmin((double)age_ms / 1000.0, 86400);
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
		if (!cJSON_IsString(x) || gossip_parse_entry(x->valuestring, &(*out)[i++]))
			goto bad;
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
	char e[NODE_ID_HEX + 5 * 21];

	snprintf(e, sizeof(e), "%.32s:%llu:%llu:%llu:%llu:%llu", id, (unsigned long long)gen,
		 (unsigned long long)hb,
		 (unsigned long long)floor(fmin(fmax(age, 0), 86400) * 1000),
		 (unsigned long long)ver, (unsigned long long)ack_ms);
	return cJSON_AddItemToArray(arr, cJSON_CreateString(e)) ? 0 : -ENOMEM;
}

const struct node_gossip_digest_entry *node_gossip_digest_find(
	const struct node_gossip_digest_entry *d, size_t n, const char *id)
{
	struct node_gossip_digest_entry key;

	snprintf(key.id, sizeof(key.id), "%s", id);
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
