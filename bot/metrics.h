/* Node data for the screens: the answers of GetStats and GetTS (from the
 * member concerned, over the signed RPC) parsed strictly, and their text
 * forms. A member may run another version: missing fields are shown as
 * unknown, malformed answers are refused whole. Fuzzed with the update
 * parser (fuzz/bot/fuzz_bot_update.c). */
#ifndef BOT_METRICS_H
#define BOT_METRICS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

#define BOT_STATS_MAX_CPUS 256
#define BOT_SERIES_MAX_POINTS 20000
#define BOT_SERIES_MAX 8

struct bot_stats {
	unsigned n_cpus;
	double cpu_pct[BOT_STATS_MAX_CPUS];
	double mem_total_kb, mem_available_kb; /* < 0: unknown */
	double disk_total_b, disk_free_b;      /* < 0: unknown */
	double uptime_s;                       /* < 0: unknown */
	double load[3];                        /* load averages; < 0: unknown */
	double net_rx_bps, net_tx_bps;         /* bytes/s over every interface; < 0: unknown */
};

struct bot_series {
	char name[24];   /* "cpu", "mem", "down", "up", ... */
	double *t, *v;   /* unix s, value */
	size_t n;
	int has_summary; /* GetTS's summary over every raw point of the window */
	double s_avg, s_max;
};

/* GetStats' result. 0 or -EINVAL. */
int bot_stats_parse(const cJSON *o, struct bot_stats *out);
/* Lines for a card: CPU, memory, disk, uptime. */
void bot_stats_format(struct bot_text *t, const struct bot_stats *s);
/* CPU % averaged over cores; memory % used (-1 unknown). */
double bot_stats_cpu_avg(const struct bot_stats *s);
double bot_stats_mem_pct(const struct bot_stats *s);

/* GetTS' result: {"kind", "unit", "points": [[ts, v], ...], "summary":
 * {count, avg, max, ...}} (docs/cli.md; named default_name), or several
 * {"series": [{"name", "points"}]}; a point may also be {"t", "v"} or
 * {"ts", "value"}. Appends to out (at most BOT_SERIES_MAX in all, *n
 * counts). 0, -EINVAL, -ENOMEM. */
int bot_ts_parse(const cJSON *o, const char *default_name, struct bot_series *out, size_t *n);
void bot_series_free(struct bot_series *s, size_t n);
/* Multiplies every value (and the summary) by f: bytes/s to Mbit/s. */
void bot_series_scale(struct bot_series *s, double f);
/* Average and maximum of the points with t >= since. 0 or -ENOENT. */
int bot_series_summary(const struct bot_series *s, double since, double *avg, double *max);
/* The last k values as ▁▂▃▄▅▆▇█ scaled to [0, top] (UTF-8 into out). */
void bot_series_spark(const struct bot_series *s, size_t k, double top, char *out, size_t cap);

/* RunSpeedtest's result ({down_bytes_per_s, up_bytes_per_s, rtt_ms, peer}
 * of docs/cli.md, or {down_mbps, up_mbps, ping_ms}, or the original's
 * {download, upload, ping} in bit/s) as one HTML line; -EINVAL when
 * unrecognised. */
int bot_speedtest_format(const cJSON *o, char *out, size_t cap);

#endif
