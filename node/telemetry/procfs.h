/* Parsers of the kernel's text files that telemetry reads: /proc/stat,
 * /proc/meminfo, /proc/loadavg, /proc/uptime, /proc/net/dev,
 * /proc/self/mountinfo and /sys/dev/block/MAJ:MIN/stat. They take the text
 * (not a path), so tests feed recorded snapshots and the fuzzer feeds
 * anything; the text need not be NUL-terminated. Each validates the whole
 * input: a malformed line is -EINVAL with the line number and reason in err,
 * and the outputs are then unspecified (the caller keeps its last good
 * sample). Nothing here allocates. */
#ifndef TEL_PROCFS_H
#define TEL_PROCFS_H

#include <stddef.h>
#include <stdint.h>

#define TEL_MAX_CPUS 1024   /* cores beyond this are ignored (counted in total) */
#define TEL_MAX_IFACES 64   /* interfaces beyond this are ignored */
#define TEL_MAX_MOUNTS 16   /* filesystems of interest kept */
#define TEL_IFNAME_MAX 16   /* IFNAMSIZ: 15 characters and the NUL */
#define TEL_PATH_MAX 256    /* mount points and sources longer than this: skipped */

/* One line of /proc/stat in USER_HZ ticks: user nice system idle iowait
 * irq softirq steal (guest time is already inside user and nice). */
enum { TEL_CPU_USER, TEL_CPU_NICE, TEL_CPU_SYSTEM, TEL_CPU_IDLE, TEL_CPU_IOWAIT, TEL_CPU_IRQ,
       TEL_CPU_SOFTIRQ, TEL_CPU_STEAL, TEL_CPU_NFIELDS };
struct tel_cpu_times {
	uint64_t t[TEL_CPU_NFIELDS];
	int present; /* the line was there (offline cores have none) */
};

/* cores[i] is "cpuI"; *n_cores is one past the highest index seen (at most
 * max_cores). The aggregate "cpu" line is required. */
int tel_parse_stat(const char *text, size_t len, struct tel_cpu_times *total,
		   struct tel_cpu_times *cores, unsigned max_cores, unsigned *n_cores, char *err,
		   size_t errlen);

/* Bytes. MemAvailable falls back to MemFree + Buffers + Cached on kernels
 * without it (before 3.14). MemTotal and MemFree are required. */
struct tel_mem {
	uint64_t total, available, swap_total, swap_free;
};
int tel_parse_meminfo(const char *text, size_t len, struct tel_mem *m, char *err, size_t errlen);

/* "0.34 0.28 0.14 1/130 25864" */
int tel_parse_loadavg(const char *text, size_t len, double load[3], char *err, size_t errlen);
/* "8123.45 16000.12": seconds since boot (the first number). */
int tel_parse_uptime(const char *text, size_t len, double *uptime, char *err, size_t errlen);

struct tel_iface {
	char name[TEL_IFNAME_MAX];
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};
/* /proc/net/dev: two header lines, then "NAME: 16 counters" per interface.
 * Names are 1-15 characters without ':' or blanks (the kernel's rule). */
int tel_parse_net_dev(const char *text, size_t len, struct tel_iface *out, size_t max,
		      size_t *n, char *err, size_t errlen);

/* A mounted filesystem of interest (see tel_mount_of_interest). */
struct tel_mount {
	unsigned major, minor;
	char mount_point[TEL_PATH_MAX]; /* octal escapes (\040...) decoded */
	char device[TEL_PATH_MAX];      /* the source without "/dev/" */
	char fstype[32];
};
/* 1 when a mount with this type and source is a disk worth reporting: the
 * source is a block device path (/dev/..., not a loop device) and the type
 * is not a pseudo or image filesystem. */
int tel_mount_of_interest(const char *fstype, const char *source);
/* /proc/self/mountinfo: every line is checked; mounts of interest are kept,
 * one per device (major:minor), the shortest mount point winning, at most
 * max. */
int tel_parse_mountinfo(const char *text, size_t len, struct tel_mount *out, size_t max,
			size_t *n, char *err, size_t errlen);

/* /sys/block/DEV/stat (also /sys/dev/block/MAJ:MIN/stat): at least 11
 * fields; sectors are 512 bytes whatever the device's block size. */
struct tel_blockstat {
	uint64_t sectors_read, sectors_written;
};
int tel_parse_blockstat(const char *text, size_t len, struct tel_blockstat *b, char *err,
			size_t errlen);

#endif
