/* promcheck [--prefix P] [FILE]: checks a Prometheus text exposition (stdin
 * without FILE) with promcheck.h's strict rules; prints "ok: N samples" or
 * the first defect, exit 0 or 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promcheck.h"

int main(int argc, char **argv)
{
	const char *prefix = NULL, *path = NULL;
	char err[300], *buf = malloc(16u << 20);
	size_t len = 0, samples;
	FILE *f = stdin;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prefix") && i + 1 < argc)
			prefix = argv[++i];
		else
			path = argv[i];
	}
	if (!buf || (path && !(f = fopen(path, "r")))) {
		fprintf(stderr, "promcheck: cannot read %s\n", path ? path : "stdin");
		return 2;
	}
	len = fread(buf, 1, (16u << 20) - 1, f);
	if (promcheck(buf, len, prefix, &samples, err, sizeof(err))) {
		printf("promcheck: %s\n", err);
		return 1;
	}
	printf("ok: %zu samples\n", samples);
	free(buf);
	return 0;
}
