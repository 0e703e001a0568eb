/* Host statistics for GetStats, read from /proc and statvfs. CPU % is per
 * core, over the interval between two node_stats_sample() calls. */
#ifndef NODE_STATS_H
#define NODE_STATS_H

#include <cJSON.h>
#include <stdint.h>

#define NODE_STATS_MAX_CPUS 256

struct node_stats {
	unsigned n_cpus;
	uint64_t prev_busy[NODE_STATS_MAX_CPUS], prev_total[NODE_STATS_MAX_CPUS];
	double cpu_pct[NODE_STATS_MAX_CPUS];
};

/* Reads /proc/stat and updates cpu_pct from the previous sample. 0 or -errno. */
int node_stats_sample(struct node_stats *s);
/* {"cpu_pct": [..], "mem_total_kb", "mem_available_kb", "disk_total_b",
 *  "disk_free_b", "uptime_s"}; NULL on failure. */
cJSON *node_stats_json(const struct node_stats *s);

#endif
