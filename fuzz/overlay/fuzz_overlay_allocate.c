/* libFuzzer target for Overlay.Allocate (allocate.h): the hub's parser of a
 * seed's parameters accepts only complete, well-formed requests, which
 * survive a round trip; the seed's parser of the answer accepts only an
 * IPv4 address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocate.h"
#include "cidr.h"
#include "rpc.h"
#include "wgkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root = cJSON_ParseWithLength((const char *)data, size), *back;
	struct node_ovl_alloc_req r, r2;
	char err[200], a[64];
	uint32_t ip;

	if (!root)
		return 0;
	memset(&r, 0x5a, sizeof(r));
	if (node_ovl_alloc_req_parse(root, &r, err, sizeof(err)) == 0) {
		if (!node_state_is_hex(r.node_id, NODE_ID_HEX) || !r.name[0] ||
		    !node_wgkey_valid_b64(r.wg_pubkey) || rpc_check_host_port(r.addr))
			abort();
		back = node_ovl_alloc_req_json(&r);
		if (!back || node_ovl_alloc_req_parse(back, &r2, err, sizeof(err)) ||
		    memcmp(&r, &r2, sizeof(r)))
			abort();
		cJSON_Delete(back);
	} else {
		for (size_t i = 0; i < sizeof(r); i++)
			if (((uint8_t *)&r)[i] != 0x5a)
				abort();
	}
	if (node_ovl_alloc_reply_parse(root, a, sizeof(a)) == 0 && node_ip4_parse(a, &ip))
		abort();
	cJSON_Delete(root);
	return 0;
}
