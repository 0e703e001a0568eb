/* What a sample means: percentages and rates derived from two readings of
 * the host's counters (host.h), the previous and the current. Pure: tests
 * feed two recorded snapshots. A figure that cannot be known (the first
 * reading, a part that failed, an offline core) is NAN, which the JSON and
 * Prometheus layers render as null or leave out. */
#ifndef TEL_SAMPLE_H
#define TEL_SAMPLE_H

#include <stdint.h>

#include "host.h"

struct tel_sample_iface {
	char name[TEL_IFNAME_MAX];
	uint64_t rx_bytes, tx_bytes;
	double rx_rate, tx_rate; /* bytes/s */
};

struct tel_sample_disk {
	char mount_point[TEL_PATH_MAX], device[TEL_PATH_MAX], fstype[32];
	int fs_ok;
	uint64_t total, free, avail;
	double used_pct;
	int io_ok;
	uint64_t read_bytes, written_bytes; /* counters since boot */
	double read_rate, write_rate;       /* bytes/s */
};

struct tel_sample {
	int valid;               /* at least one reading */
	int64_t ts;              /* unix seconds */
	double interval_s;       /* since the previous reading; 0 for the first */
	double uptime;           /* NAN unknown */
	double load[3];
	unsigned procs;
	int procs_ok;
	double cpu_pct;          /* all cores */
	double core_pct[TEL_MAX_CPUS];
	unsigned n_cores;
	struct tel_cpu_times cpu_total; /* raw ticks, for the Prometheus counters */
	int mem_ok;
	struct tel_mem mem;
	double mem_used_pct, swap_used_pct;
	struct tel_sample_iface ifaces[TEL_MAX_IFACES]; /* all but lo and the overlay */
	size_t n_ifaces;
	int overlay_present;     /* the overlay interface exists */
	struct tel_sample_iface overlay;
	struct tel_sample_disk disks[TEL_MAX_MOUNTS];
	size_t n_disks;
	int root_ok;
	uint64_t root_total, root_avail;
	double root_used_pct;    /* the filesystem of / */
	/* sums for the time series */
	double net_rx_rate, net_tx_rate, disk_read_rate, disk_write_rate;
};

/* The bytes a counter moved from prev to cur: a 32-bit counter that wrapped
 * (prev fits in 32 bits, cur < prev) moved cur + 2^32 - prev; any other step
 * back is a reset (interface re-created), and cur counts from it. */
uint64_t tel_counter_delta(uint64_t prev, uint64_t cur);

/* Fills *s from the current reading and the previous one (prev NULL or
 * !prev->ok: the first reading, rates NAN). overlay_if names the overlay
 * interface ("" = none): it is reported apart from the others. */
void tel_sample_derive(struct tel_sample *s, const struct tel_raw *prev, const struct tel_raw *cur,
		       const char *overlay_if);

#endif
