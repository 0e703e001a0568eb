/* Reading the host's counters (host.h). Files are read with plain
 * open/read: /proc files report size 0, so we read until EOF into one
 * reused buffer. */
#include "host.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define TEL_FILE_MAX (4u << 20) /* mountinfo of a busy container host stays far below */

static int tel_real_statvfs(void *ctx, const char *path, struct tel_fs *out)
{
	struct statvfs v;

	(void)ctx;
	if (statvfs(path, &v) < 0)
		return -errno;
	out->total = (uint64_t)v.f_blocks * v.f_frsize;
	out->free = (uint64_t)v.f_bfree * v.f_frsize;
	out->avail = (uint64_t)v.f_bavail * v.f_frsize;
	out->ok = 1;
	return 0;
}

int tel_host_init(struct tel_host *h, const char *root)
{
	memset(h, 0, sizeof(*h));
	if (root && strlen(root) >= sizeof(h->root))
		return -ENAMETOOLONG;
	snprintf(h->root, sizeof(h->root), "%s", root ? root : "");
	h->statvfs_fn = tel_real_statvfs;
	h->cap = 64 * 1024;
	h->buf = malloc(h->cap);
	return h->buf ? 0 : -ENOMEM;
}

void tel_host_deinit(struct tel_host *h)
{
	free(h->buf);
	h->buf = NULL;
}

/* Reads root+path into h->buf; *len bytes (NUL-terminated). */
static int tel_host_slurp(struct tel_host *h, const char *path, size_t *len)
{
	char full[512];
	size_t n = 0;
	int fd, r = 0;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", h->root, path) >= sizeof(full))
		return -ENAMETOOLONG;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got;

		if (n + 1 >= h->cap) {
			char *b;

			if (h->cap >= TEL_FILE_MAX) {
				r = -EFBIG;
				break;
			}
			if (!(b = realloc(h->buf, h->cap * 2))) {
				r = -ENOMEM;
				break;
			}
			h->buf = b;
			h->cap *= 2;
		}
		got = read(fd, h->buf + n, h->cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	h->buf[n] = 0;
	*len = n;
	return r;
}

/* Logs a part's failure once, not at every sample. */
static void tel_host_part(struct tel_host *h, struct tel_raw *raw, unsigned part, const char *what,
			  int r, const char *why)
{
	if (r == 0) {
		raw->ok |= part;
		h->warned &= ~part;
		return;
	}
	if (!(h->warned & part))
		cst_warn("telemetry: cannot read %s: %s", what, why && *why ? why : strerror(-r));
	h->warned |= part;
}

static int tel_host_count_procs(struct tel_host *h, unsigned *n)
{
	char path[300];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/proc", h->root);
	if (!(d = opendir(path)))
		return -errno;
	*n = 0;
	while ((de = readdir(d))) {
		const char *c = de->d_name;

		if (!*c)
			continue;
		while (*c >= '0' && *c <= '9')
			c++;
		if (!*c)
			(*n)++;
	}
	closedir(d);
	return 0;
}

/* I/O counters of a mounted device: /sys/dev/block/MAJ:MIN/stat, else by
 * name (/sys/class/block/NAME/stat: btrfs reports an anonymous 0:N). */
static void tel_host_blockstat(struct tel_host *h, const struct tel_mount *m, struct tel_fs *fs)
{
	char path[TEL_PATH_MAX + 64], err[160];
	const char *base = strrchr(m->device, '/');
	size_t len;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat", m->major, m->minor);
	if (m->major == 0 || tel_host_slurp(h, path, &len)) {
		snprintf(path, sizeof(path), "/sys/class/block/%s/stat", base ? base + 1 : m->device);
		if (tel_host_slurp(h, path, &len))
			return;
	}
	fs->io_ok = !tel_parse_blockstat(h->buf, len, &fs->io, err, sizeof(err));
}

int tel_host_read(struct tel_host *h, struct tel_raw *raw)
{
	char err[200];
	size_t len;
	int r;

	memset(raw, 0, sizeof(*raw));
	raw->mono_ns = cst_clock_mono_ns();
	raw->wall = (int64_t)time(NULL);
	err[0] = 0;
	if (!(r = tel_host_slurp(h, "/proc/stat", &len)))
		r = tel_parse_stat(h->buf, len, &raw->total, raw->cores, TEL_MAX_CPUS,
				   &raw->n_cores, err, sizeof(err));
	tel_host_part(h, raw, TEL_RAW_STAT, "/proc/stat", r, err);
	err[0] = 0;
	if (!(r = tel_host_slurp(h, "/proc/meminfo", &len)))
		r = tel_parse_meminfo(h->buf, len, &raw->mem, err, sizeof(err));
	tel_host_part(h, raw, TEL_RAW_MEM, "/proc/meminfo", r, err);
	err[0] = 0;
	if (!(r = tel_host_slurp(h, "/proc/loadavg", &len)))
		r = tel_parse_loadavg(h->buf, len, raw->load, err, sizeof(err));
	tel_host_part(h, raw, TEL_RAW_LOAD, "/proc/loadavg", r, err);
	err[0] = 0;
	if (!(r = tel_host_slurp(h, "/proc/uptime", &len)))
		r = tel_parse_uptime(h->buf, len, &raw->uptime, err, sizeof(err));
	tel_host_part(h, raw, TEL_RAW_UPTIME, "/proc/uptime", r, err);
	err[0] = 0;
	if (!(r = tel_host_slurp(h, "/proc/net/dev", &len)))
		r = tel_parse_net_dev(h->buf, len, raw->ifaces, TEL_MAX_IFACES, &raw->n_ifaces, err,
				      sizeof(err));
	tel_host_part(h, raw, TEL_RAW_NET, "/proc/net/dev", r, err);
	err[0] = 0;
	if (!(r = tel_host_slurp(h, "/proc/self/mountinfo", &len)))
		r = tel_parse_mountinfo(h->buf, len, raw->mounts, TEL_MAX_MOUNTS, &raw->n_mounts,
					err, sizeof(err));
	tel_host_part(h, raw, TEL_RAW_MOUNTS, "/proc/self/mountinfo", r, err);
	for (size_t i = 0; i < raw->n_mounts; i++) {
		h->statvfs_fn(h->statvfs_ctx, raw->mounts[i].mount_point, &raw->fs[i]);
		tel_host_blockstat(h, &raw->mounts[i], &raw->fs[i]);
	}
	r = h->statvfs_fn(h->statvfs_ctx, "/", &raw->root_fs);
	tel_host_part(h, raw, TEL_RAW_ROOTFS, "statvfs(/)", r, NULL);
	r = tel_host_count_procs(h, &raw->procs);
	tel_host_part(h, raw, TEL_RAW_PROCS, "/proc", r, NULL);
	return raw->ok & TEL_RAW_STAT ? 0 : -EIO;
}
