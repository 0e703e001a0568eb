/* GetStats: /proc/stat, /proc/meminfo, /proc/uptime, statvfs("/"). */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

int node_stats_sample(struct node_stats *s)
{
	char line[512];
	FILE *f = fopen("/proc/stat", "re");
	unsigned n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < NODE_STATS_MAX_CPUS) {
		unsigned long long v[8] = { 0 };
		unsigned cpu;
		uint64_t busy, total;

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5)
			continue;
		/* idle + iowait are not busy */
		total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		busy = total - v[3] - v[4];
		if (total > s->prev_total[n] && busy >= s->prev_busy[n])
			s->cpu_pct[n] = 100.0 * (double)(busy - s->prev_busy[n]) /
					(double)(total - s->prev_total[n]);
		s->prev_busy[n] = busy;
		s->prev_total[n] = total;
		n++;
	}
	fclose(f);
	s->n_cpus = n;
	return n ? 0 : -EIO;
}

static long long meminfo(const char *key)
{
	char line[256];
	long long v = -1;
	size_t kl = strlen(key);
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			sscanf(line + kl + 1, "%lld", &v);
			break;
		}
	fclose(f);
	return v;
}

cJSON *node_stats_json(const struct node_stats *s)
{
	cJSON *o = cJSON_CreateObject(), *cpus;
	struct statvfs vfs;
	double up = -1;
	FILE *f;

	if (!o || !(cpus = cJSON_AddArrayToObject(o, "cpu_pct")))
		goto fail;
	for (unsigned i = 0; i < s->n_cpus; i++)
		cJSON_AddItemToArray(cpus, cJSON_CreateNumber(s->cpu_pct[i]));
	cJSON_AddNumberToObject(o, "mem_total_kb", (double)meminfo("MemTotal"));
	cJSON_AddNumberToObject(o, "mem_available_kb", (double)meminfo("MemAvailable"));
	if (statvfs("/", &vfs) == 0) {
		cJSON_AddNumberToObject(o, "disk_total_b", (double)vfs.f_blocks * vfs.f_frsize);
		cJSON_AddNumberToObject(o, "disk_free_b", (double)vfs.f_bavail * vfs.f_frsize);
	}
	if ((f = fopen("/proc/uptime", "re"))) {
		if (fscanf(f, "%lf", &up) != 1)
			up = -1;
		fclose(f);
	}
	cJSON_AddNumberToObject(o, "uptime_s", up);
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
