/* The overlay's small JSON files in the state directory (vpn.json,
 * vpn_reservations.json, vpn_endpoints.json): one way to read them (bounded,
 * parsed by the file's own strict parser, errors naming the path) and one
 * way to write them (atomic, 0600). */
#ifndef NODE_OVLFILE_H
#define NODE_OVLFILE_H

#include <stddef.h>

/* A file's parser: 0, or -EINVAL with the reason in err and obj unchanged. */
typedef int (*node_ovl_parse_fn)(void *obj, const char *text, size_t len, char *err,
				 size_t errlen);

/* Reads dir/name (at most max bytes) and parses it into obj. -ENOENT when
 * absent (err says so), else 0 or -errno with "PATH: reason" in err. */
int node_ovl_file_load(const char *dir, const char *name, size_t max, node_ovl_parse_fn parse,
		       void *obj, char *err, size_t errlen);
/* Writes text to dir/name atomically (cst_file_write_atomic), mode 0600. */
int node_ovl_file_save(const char *dir, const char *name, const char *text);

#endif
