/* libFuzzer target for the .env parser and the configuration loader:
 * arbitrary text either loads or is rejected with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *no_env(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_config c;
	char err[200];

	if (node_config_load(&c, (const char *)data, size, no_env, NULL, err, sizeof(err)) < 0 &&
	    err[0] == 0) {
		fprintf(stderr, "rejected without a message\n");
		abort();
	}
	node_config_clear(&c);
	return 0;
}
