/* Crash-safe file writes: a reader (or a restarted daemon) sees either the
 * old content or the new one, never a torn mix. */
#ifndef CST_FILE_H
#define CST_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes data to a temp file beside path, fsyncs it, renames it over path and
 * fsyncs the directory. mode applies to the new file (0600 for secrets).
 * Returns 0 or -errno; on failure path is untouched. */
int cst_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a whole regular file of at most max bytes into a NUL-terminated
 * malloc'd buffer. Returns 0 or -errno (-EFBIG when larger than max). */
int cst_file_read_all(const char *path, size_t max, char **out, size_t *out_len);

#endif
