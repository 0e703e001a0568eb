/* telemetry_bench: the cost of one sampling round and the memory of the
 * history.
 *
 * Sampling: one round is what the daemon does every SAMPLE_EVERY_SEC:
 * read and parse /proc/stat, meminfo, loadavg, uptime, net/dev,
 * self/mountinfo, count /proc's processes, statvfs and /sys block stat of
 * every filesystem of interest (host.c), derive the rates (sample.c) and
 * push the points (history.c). The reference, in the same run and process,
 * is the floor no implementation can go under: open/read/close of the same
 * files, the same readdir and statvfs calls, and no parsing at all. The
 * ratio round / floor is what our parsing and bookkeeping add.
 *
 * Memory: the rings are allocated once; RSS is measured after filling a
 * history with 6 h and then 24 h of samples (it must not grow: bounded),
 * and the bytes per hour of history are computed from the ring sizes.
 *
 * usage: telemetry_bench [ROUNDS] */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "history.h"
#include "host.h"
#include "log.h"
#include "sample.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static char fbuf[1 << 20];

static void slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (read(fd, fbuf, sizeof(fbuf)) > 0)
		;
	close(fd);
}

/* The floor: the same system calls, no parsing. */
static void raw_round(const struct tel_raw *like)
{
	static const char *const files[] = { "/proc/stat", "/proc/meminfo", "/proc/loadavg",
					     "/proc/uptime", "/proc/net/dev",
					     "/proc/self/mountinfo" };
	struct statvfs v;
	char path[128];
	DIR *d;
	volatile unsigned n = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		slurp(files[i]);
	if ((d = opendir("/proc"))) {
		while (readdir(d))
			n++;
		closedir(d);
	}
	for (size_t i = 0; i < like->n_mounts; i++) {
		statvfs(like->mounts[i].mount_point, &v);
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat", like->mounts[i].major,
			 like->mounts[i].minor);
		slurp(path);
	}
	statvfs("/", &v);
}

static long rss_kib(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 2000;
	struct tel_sample *s = calloc(1, sizeof(*s));
	struct tel_raw *raw[2];
	uint64_t *ours, *floor_ns;
	struct tel_history h;
	struct tel_host host;
	long rss0, rss6, rss24;
	int cur = 0;

	cst_log_init("bench", CST_LOG_WARN);
	if (!s)
		return 1;
	/* memory first, before anything else touched the heap: fill 6 h, then
	 * 24 h, of 10 s samples into a 6 h history */
	rss0 = rss_kib();
	if (tel_history_init(&h, 10, 6))
		return 1;
	for (int i = 0; i < 6 * 360; i++) {
		s->ts = 1800000000 + 10 * i;
		tel_history_add_sample(&h, s);
	}
	rss6 = rss_kib();
	for (int i = 6 * 360; i < 24 * 360; i++) {
		s->ts = 1800000000 + 10 * i;
		tel_history_add_sample(&h, s);
	}
	rss24 = rss_kib();
	printf("history (SAMPLE_EVERY_SEC 10, METRICS_WINDOW_H 6): %zu bytes of rings\n",
	       tel_history_bytes(&h));
	printf("  per hour of history: %d bytes (%d sampled kinds x 360 points x 8 bytes);"
	       " speed-test series fixed: %u bytes\n",
	       TEL_K_N_SAMPLED * 360 * 8, TEL_K_N_SAMPLED, (TEL_K_N - TEL_K_N_SAMPLED) * TEL_EVENT_CAP * 8);
	printf("  RSS: before %ld KiB, after 6 h of samples %ld KiB (+%ld), after 24 h %ld KiB (+%ld)\n",
	       rss0, rss6, rss6 - rss0, rss24, rss24 - rss6);
	tel_history_deinit(&h);
	raw[0] = calloc(1, sizeof(struct tel_raw));
	raw[1] = calloc(1, sizeof(struct tel_raw));
	ours = calloc((size_t)rounds, 8);
	floor_ns = calloc((size_t)rounds, 8);
	if (!raw[0] || !raw[1] || !ours || !floor_ns || tel_host_init(&host, NULL) ||
	    tel_history_init(&h, 10, 6))
		return 1;
	tel_host_read(&host, raw[0]);
	/* warm up both, then alternate so both see the same machine */
	for (int i = 0; i < 50; i++) {
		raw_round(raw[0]);
		tel_host_read(&host, raw[1]);
	}
	for (int i = 0; i < rounds; i++) {
		uint64_t t0 = cst_clock_mono_ns(), t1, t2;

		tel_host_read(&host, raw[!cur]);
		tel_sample_derive(s, raw[cur], raw[!cur], "wg0");
		tel_history_add_sample(&h, s);
		cur = !cur;
		t1 = cst_clock_mono_ns();
		raw_round(raw[cur]);
		t2 = cst_clock_mono_ns();
		ours[i] = t1 - t0;
		floor_ns[i] = t2 - t1;
	}
	qsort(ours, (size_t)rounds, 8, cmp_u64);
	qsort(floor_ns, (size_t)rounds, 8, cmp_u64);
	printf("sampling round (%d rounds, %u cores, %zu interfaces, %zu filesystems, %u processes):\n",
	       rounds, s->n_cores, s->n_ifaces + (size_t)s->overlay_present, s->n_disks, s->procs);
	printf("  ours:  median %.1f us, p90 %.1f us\n", ours[rounds / 2] / 1e3,
	       ours[rounds * 9 / 10] / 1e3);
	printf("  floor: median %.1f us, p90 %.1f us (same reads, no parsing)\n",
	       floor_ns[rounds / 2] / 1e3, floor_ns[rounds * 9 / 10] / 1e3);
	printf("  ratio ours / floor (median): %.2f\n",
	       (double)ours[rounds / 2] / (double)floor_ns[rounds / 2]);

	tel_history_deinit(&h);
	tel_host_deinit(&host);
	free(raw[0]);
	free(raw[1]);
	free(s);
	free(ours);
	free(floor_ns);
	return 0;
}
