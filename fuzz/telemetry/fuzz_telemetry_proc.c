/* libFuzzer target for every /proc and /sys parser of telemetry (procfs.h):
 * the first byte picks the parser, the rest is the file's text (not
 * NUL-terminated). Each input is parsed or refused with a reason, and what
 * a parser accepts is consistent: core counts within bounds, memory
 * available never above the total, interface names 1-15 characters without
 * ':' or blanks, mount points absolute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

static struct tel_cpu_times cores[TEL_MAX_CPUS];
static struct tel_iface ifs[TEL_MAX_IFACES];
static struct tel_mount mounts[TEL_MAX_MOUNTS];

static void refused_without_reason(const char *err)
{
	if (!err[0]) {
		fprintf(stderr, "refused without a message\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	char err[256] = "";
	int r;

	if (!size)
		return 0;
	switch (data[0] % 7) {
	case 0: {
		struct tel_cpu_times total;
		unsigned n;

		r = tel_parse_stat(t, len, &total, cores, 64, &n, err, sizeof(err));
		if (!r && (n > 64 || !total.present))
			abort();
		break;
	}
	case 1: {
		struct tel_mem m;

		r = tel_parse_meminfo(t, len, &m, err, sizeof(err));
		if (!r && (m.available > m.total || m.swap_free > m.swap_total))
			abort();
		break;
	}
	case 2: {
		double l[3];

		r = tel_parse_loadavg(t, len, l, err, sizeof(err));
		if (!r && (l[0] < 0 || l[1] < 0 || l[2] < 0))
			abort();
		break;
	}
	case 3: {
		double up;

		r = tel_parse_uptime(t, len, &up, err, sizeof(err));
		break;
	}
	case 4: {
		size_t n;

		r = tel_parse_net_dev(t, len, ifs, 8, &n, err, sizeof(err));
		for (size_t i = 0; !r && i < n; i++) {
			size_t nl = strlen(ifs[i].name);

			if (n > 8 || !nl || nl >= TEL_IFNAME_MAX || strpbrk(ifs[i].name, ": \t"))
				abort();
		}
		break;
	}
	case 5: {
		size_t n;

		r = tel_parse_mountinfo(t, len, mounts, 4, &n, err, sizeof(err));
		for (size_t i = 0; !r && i < n; i++)
			if (n > 4 || mounts[i].mount_point[0] != '/')
				abort();
		break;
	}
	default: {
		struct tel_blockstat b;

		r = tel_parse_blockstat(t, len, &b, err, sizeof(err));
		break;
	}
	}
	if (r)
		refused_without_reason(err);
	return 0;
}
