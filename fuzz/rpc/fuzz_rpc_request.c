/* libFuzzer target for the POST /rpc body parser: any bytes; nothing may
 * crash or leak; a rejection gives a reason and no document; an accepted
 * body has a 1..64 character method and an object params, and re-parses to
 * the same method once printed. The same bytes, as a string, go through the
 * client's address check: an accepted address never carries a character a
 * URL would read as something else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cJSON *params = NULL, *params2 = NULL;
	cJSON *doc = NULL, *doc2 = NULL;
	const char *method = NULL, *method2 = NULL;
	char err[160] = "", err2[160];
	char *text = NULL;

	{
		char *a = malloc(size + 1);

		if (a) {
			memcpy(a, data, size);
			a[size] = 0;
			if (rpc_check_host_port(a) == 0 && strpbrk(a, "@/?#% \t\r\n\\")) {
				fprintf(stderr, "accepted an address a URL would misread\n");
				abort();
			}
			free(a);
		}
	}
	if (rpc_parse_request((const char *)data, size, &doc, &method, &params, err,
			      sizeof(err)) < 0) {
		if (doc || method || params || !err[0]) {
			fprintf(stderr, "rejection without reason or with a document\n");
			abort();
		}
		return 0;
	}
	if (!doc || !method || !method[0] || strlen(method) > 64 || !cJSON_IsObject(params)) {
		fprintf(stderr, "accepted an invalid request\n");
		abort();
	}
	text = cJSON_PrintUnformatted(doc);
	if (text && rpc_parse_request(text, strlen(text), &doc2, &method2, &params2, err2,
				      sizeof(err2)) == 0) {
		if (strcmp(method, method2) != 0) {
			fprintf(stderr, "method changed in a round trip\n");
			abort();
		}
	} else if (text) {
		fprintf(stderr, "printed request no longer parses: %s\n", err2);
		abort();
	}
	cJSON_free(text);
	cJSON_Delete(doc2);
	cJSON_Delete(doc);
	return 0;
}
