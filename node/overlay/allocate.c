/* Overlay.Allocate's parameters and answer (allocate.h). */
#include "allocate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "rpc.h"
#include "wgkey.h"

static int alloc_str(const cJSON *o, const char *k, char *dst, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= cap)
		return -EINVAL;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int alloc_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

int node_ovl_alloc_req_parse(const cJSON *params, struct node_ovl_alloc_req *out, char *err,
			     size_t errlen)
{
	struct node_ovl_alloc_req r;

	memset(&r, 0, sizeof(r));
	if (!cJSON_IsObject(params) || alloc_str(params, "node_id", r.node_id, sizeof(r.node_id)) ||
	    !node_state_is_hex(r.node_id, NODE_ID_HEX)) {
		snprintf(err, errlen, "Overlay.Allocate: node_id (32 hex digits) is required");
		return -EINVAL;
	}
	if (alloc_str(params, "name", r.name, sizeof(r.name)) || !alloc_name_ok(r.name)) {
		snprintf(err, errlen, "Overlay.Allocate: name (1-63 of [A-Za-z0-9._-]) is required");
		return -EINVAL;
	}
	if (alloc_str(params, "wg_pubkey", r.wg_pubkey, sizeof(r.wg_pubkey)) ||
	    !node_wgkey_valid_b64(r.wg_pubkey)) {
		snprintf(err, errlen, "Overlay.Allocate: wg_pubkey (base64, 32 bytes) is required");
		return -EINVAL;
	}
	if (alloc_str(params, "addr", r.addr, sizeof(r.addr)) || rpc_check_host_port(r.addr)) {
		snprintf(err, errlen, "Overlay.Allocate: addr (HOST:PORT) is required");
		return -EINVAL;
	}
	*out = r;
	return 0;
}

cJSON *node_ovl_alloc_req_json(const struct node_ovl_alloc_req *r)
{
	cJSON *o = cJSON_CreateObject();

	if (o && cJSON_AddStringToObject(o, "node_id", r->node_id) &&
	    cJSON_AddStringToObject(o, "name", r->name) &&
	    cJSON_AddStringToObject(o, "wg_pubkey", r->wg_pubkey) &&
	    cJSON_AddStringToObject(o, "addr", r->addr))
		return o;
	cJSON_Delete(o);
	return NULL;
}

int node_ovl_alloc_reply_parse(const cJSON *result, char *out, size_t cap)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(result, "overlay_addr");
	uint32_t ip;

	if (!cJSON_IsString(a) || node_ip4_parse(a->valuestring, &ip) ||
	    strlen(a->valuestring) >= cap)
		return -EPROTO;
	memcpy(out, a->valuestring, strlen(a->valuestring) + 1);
	return 0;
}
