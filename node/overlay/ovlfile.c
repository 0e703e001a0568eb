/* The overlay's state files: read-and-parse, atomic write (ovlfile.h). */
#include "ovlfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

static int ovl_path(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int node_ovl_file_load(const char *dir, const char *name, size_t max, node_ovl_parse_fn parse,
		       void *obj, char *err, size_t errlen)
{
	char path[PATH_MAX], why[200], *text = NULL;
	size_t len = 0;
	int r;

	if ((r = ovl_path(path, sizeof(path), dir, name)))
		return r;
	if ((r = cst_file_read_all(path, max, &text, &len))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if ((r = parse(obj, text, len, why, sizeof(why))))
		snprintf(err, errlen, "%s: %s", path, why);
	free(text);
	return r;
}

int node_ovl_file_save(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	int r;

	if ((r = ovl_path(path, sizeof(path), dir, name)))
		return r;
	return cst_file_write_atomic(path, text, strlen(text), 0600);
}
