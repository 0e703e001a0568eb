/* libFuzzer target for the overlay's address parsers (cidr.h, epcache.h):
 * an accepted CIDR or address prints back to exactly the text that was
 * parsed, host bits are zero, the prefix is in range; a rejected one leaves
 * the output untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "epcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], back[64], err[160];
	struct node_cidr c = { .net = 0x01020304, .prefix = 99 };
	struct sockaddr_storage ss, ss2;
	uint32_t a = 0xdeadbeef;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (node_cidr_parse(s, &c, err, sizeof(err)) == 0) {
		node_cidr_str(&c, back);
		if (strcmp(back, s) || c.prefix < NODE_CIDR_MIN_PREFIX ||
		    c.prefix > NODE_CIDR_MAX_PREFIX || !node_cidr_contains(&c, c.net) ||
		    node_cidr_first_host(&c) > node_cidr_last_host(&c))
			abort();
	} else if (c.net != 0x01020304 || c.prefix != 99 || !err[0]) {
		abort();
	}
	if (node_ip4_parse(s, &a) == 0) {
		node_ip4_str(a, back);
		if (strcmp(back, s))
			abort();
	} else if (a != 0xdeadbeef) {
		abort();
	}
	if (node_sockaddr_parse(s, &ss) == 0) {
		node_sockaddr_str(&ss, back, sizeof(back));
		if (node_sockaddr_parse(back, &ss2) || !node_sockaddr_equal(&ss, &ss2))
			abort();
	}
	return 0;
}
