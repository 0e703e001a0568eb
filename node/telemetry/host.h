/* One reading of the host's counters: the /proc and /sys files of procfs.h
 * and statvfs of the filesystems of interest, read directly (no shell-out),
 * into a struct tel_raw. The files are read under a root directory ("" for
 * the real ones), so tests point it at a recorded snapshot, and statvfs is a
 * replaceable function for the same reason. */
#ifndef TEL_HOST_H
#define TEL_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "procfs.h"

struct tel_fs {
	int ok;                   /* statvfs answered */
	uint64_t total, free, avail; /* bytes; avail = what unprivileged users may use */
	int io_ok;                /* the block device's stat file was read */
	struct tel_blockstat io;
};

/* Which parts of a reading succeeded (a failed part keeps its zeroes). */
enum {
	TEL_RAW_STAT = 1u << 0, TEL_RAW_MEM = 1u << 1, TEL_RAW_LOAD = 1u << 2,
	TEL_RAW_UPTIME = 1u << 3, TEL_RAW_NET = 1u << 4, TEL_RAW_MOUNTS = 1u << 5,
	TEL_RAW_PROCS = 1u << 6, TEL_RAW_ROOTFS = 1u << 7,
};

struct tel_raw {
	unsigned ok;              /* TEL_RAW_* bits */
	uint64_t mono_ns;         /* CLOCK_MONOTONIC when read */
	int64_t wall;             /* unix seconds when read */
	struct tel_cpu_times total;
	struct tel_cpu_times cores[TEL_MAX_CPUS];
	unsigned n_cores;
	struct tel_mem mem;
	double load[3], uptime;
	unsigned procs;
	struct tel_iface ifaces[TEL_MAX_IFACES];
	size_t n_ifaces;
	struct tel_mount mounts[TEL_MAX_MOUNTS];
	struct tel_fs fs[TEL_MAX_MOUNTS];
	size_t n_mounts;
	struct tel_fs root_fs;    /* statvfs("/"): disk_used and version 1's fields */
};

typedef int (*tel_statvfs_fn)(void *ctx, const char *path, struct tel_fs *out);

struct tel_host {
	char root[256];           /* prefix of every /proc and /sys path */
	tel_statvfs_fn statvfs_fn;
	void *statvfs_ctx;
	char *buf;                /* the file being parsed */
	size_t cap;
	unsigned warned;          /* TEL_RAW_* parts whose failure was logged */
};

/* root NULL or "" = the real files. */
int tel_host_init(struct tel_host *h, const char *root);
void tel_host_deinit(struct tel_host *h);
/* Reads everything into *raw (mono_ns and wall from the real clocks). A part
 * that fails is logged once (and again once it recovered and failed anew);
 * returns 0 when the CPU counters were read, else -errno. */
int tel_host_read(struct tel_host *h, struct tel_raw *raw);

#endif
