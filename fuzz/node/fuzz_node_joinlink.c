/* libFuzzer target for the join-link parser: parse, and for accepted links
 * check that formatting and parsing again gives the same link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joinlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_joinlink a, b;
	char *s = malloc(size + 1), buf[600];
	const char *err;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (node_joinlink_parse(s, &a, &err) == 0) {
		if (node_joinlink_format(&a, buf, sizeof(buf)) != 0 ||
		    node_joinlink_parse(buf, &b, &err) != 0 || memcmp(&a, &b, sizeof(a)) != 0) {
			fprintf(stderr, "join link does not round-trip\n");
			abort();
		}
	}
	free(s);
	return 0;
}
