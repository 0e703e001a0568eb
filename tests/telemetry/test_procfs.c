/* The /proc and /sys parsers and the sample derived from two readings,
 * against the recorded and constructed snapshots in snapshots/ (see its
 * README), and against malformed text that must be refused.
 * usage: test_telemetry_procfs SNAPSHOT_DIR */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "procfs.h"
#include "sample.h"
#include "snap.h"
#include "test.h"

static const char *snapdir;
static char err[256];

static char *slurp(const char *rel, size_t *len)
{
	char path[512];
	FILE *f;
	char *b = malloc(1 << 20);

	snprintf(path, sizeof(path), "%s/%s", snapdir, rel);
	f = fopen(path, "r");
	if (!f || !b) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	*len = fread(b, 1, (1 << 20) - 1, f);
	b[*len] = 0;
	fclose(f);
	return b;
}

#define PARSE_OK(call) do { err[0] = 0; int _r = (call); \
	if (_r) { fprintf(stderr, "  parse error: %s\n", err); } \
	CHECK_EQ_INT(_r, 0); } while (0)
#define PARSE_BAD(call) do { err[0] = 0; CHECK_EQ_INT((call), -EINVAL); CHECK(err[0] != 0); } while (0)

/* ---- /proc/stat ---- */

static struct tel_cpu_times cores[TEL_MAX_CPUS];

static void test_stat_recorded_two_cores(void)
{
	struct tel_cpu_times total;
	unsigned n;
	size_t len;
	char *t = slurp("vm2core/t0/proc/stat", &len);

	PARSE_OK(tel_parse_stat(t, len, &total, cores, TEL_MAX_CPUS, &n, err, sizeof(err)));
	CHECK_EQ_INT(n, 2);
	CHECK(total.present && cores[0].present && cores[1].present);
	/* the aggregate is the sum of the cores, field by field */
	for (int f = 0; f < TEL_CPU_NFIELDS; f++)
		CHECK(llabs((long long)total.t[f] - (long long)(cores[0].t[f] + cores[1].t[f])) <= 2);
	free(t);
}

static void test_stat_many_cores_with_an_offline_one(void)
{
	struct tel_cpu_times total;
	unsigned n;
	size_t len;
	char *t = slurp("manycore/t0/proc/stat", &len);

	PARSE_OK(tel_parse_stat(t, len, &total, cores, TEL_MAX_CPUS, &n, err, sizeof(err)));
	CHECK_EQ_INT(n, 128);
	CHECK(!cores[17].present);
	CHECK(cores[16].present && cores[18].present && cores[127].present);
	CHECK_EQ_INT(cores[127].t[TEL_CPU_USER], 1000 + 10 * 127);
	/* fewer slots than cores: the rest is ignored, not an error */
	PARSE_OK(tel_parse_stat(t, len, &total, cores, 8, &n, err, sizeof(err)));
	CHECK_EQ_INT(n, 8);
	free(t);
}

static void test_stat_old_kernel_four_fields(void)
{
	struct tel_cpu_times total;
	unsigned n;
	size_t len;
	char *t = slurp("oldkernel/t0/proc/stat", &len);

	PARSE_OK(tel_parse_stat(t, len, &total, cores, TEL_MAX_CPUS, &n, err, sizeof(err)));
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(total.t[TEL_CPU_IDLE], 360600);
	CHECK_EQ_INT(total.t[TEL_CPU_IOWAIT], 0);
	free(t);
}

static void test_stat_rejects_malformed(void)
{
	static const char *const bad[] = {
		"cpu0 1 2 3 4\n",                         /* no aggregate line */
		"cpu  1 2 3\n",                           /* 3 counters */
		"cpu  1 2 3 4 5 6 7 8 9 10 11\n",         /* 11 counters */
		"cpu  1 2 x 4\n",                         /* not a number */
		"cpu  1 2 3 4\ncpu0 1 2 -3 4\n",          /* negative */
		"cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n", /* a core twice */
		"cpu  1 2 3 4\ncpu 1 2 3 4\n",            /* the aggregate twice */
		"cpu  99999999999999999999 2 3 4\n",      /* above 2^64 */
		"cpux 1 2 3 4\ncpu  1 2 3 4\n",           /* cpu followed by garbage */
		"cpu  1 2 3 4junk\n",
	};
	struct tel_cpu_times total;
	unsigned n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		PARSE_BAD(tel_parse_stat(bad[i], strlen(bad[i]), &total, cores, TEL_MAX_CPUS, &n,
					 err, sizeof(err)));
	/* not NUL-terminated: the length rules */
	PARSE_OK(tel_parse_stat("cpu  1 2 3 4 junk", 12, &total, cores, 4, &n, err, sizeof(err)));
}

/* ---- /proc/meminfo ---- */

static void test_meminfo_recorded_no_swap(void)
{
	struct tel_mem m;
	size_t len;
	char *t = slurp("vm2core/t0/proc/meminfo", &len);

	PARSE_OK(tel_parse_meminfo(t, len, &m, err, sizeof(err)));
	CHECK(m.total > 0 && m.available > 0 && m.available <= m.total);
	CHECK_EQ_INT(m.total % 1024, 0);
	CHECK_EQ_INT(m.swap_total, 0);
	CHECK_EQ_INT(m.swap_free, 0);
	free(t);
}

static void test_meminfo_with_swap(void)
{
	struct tel_mem m;
	size_t len;
	char *t = slurp("manycore/t0/proc/meminfo", &len);

	PARSE_OK(tel_parse_meminfo(t, len, &m, err, sizeof(err)));
	CHECK_EQ_INT(m.total, 527999960ull * 1024);
	CHECK_EQ_INT(m.available, 400000000ull * 1024);
	CHECK_EQ_INT(m.swap_total, 8388604ull * 1024);
	CHECK_EQ_INT(m.swap_free, 8000000ull * 1024);
	free(t);
}

static void test_meminfo_without_memavailable_falls_back(void)
{
	struct tel_mem m;
	size_t len;
	char *t = slurp("oldkernel/t0/proc/meminfo", &len);

	PARSE_OK(tel_parse_meminfo(t, len, &m, err, sizeof(err)));
	/* MemFree + Buffers + Cached = 256000 + 1024 + 128000 kB */
	CHECK_EQ_INT(m.available, (256000ull + 1024 + 128000) * 1024);
	free(t);
}

static void test_meminfo_rejects_malformed(void)
{
	static const char *const bad[] = {
		"MemFree: 1 kB\n",                        /* MemTotal missing */
		"MemTotal: 10 kB\n",                      /* MemFree missing */
		"MemTotal: 10 kB\nMemFree: 1 MB\n",       /* unknown unit */
		"MemTotal: 10 kB\nMemFree 1 kB\n",        /* no colon */
		"MemTotal: 10 kB\nMem Free: 1 kB\n",      /* blank in key */
		"MemTotal: -10 kB\nMemFree: 1 kB\n",
		"MemTotal: 10 kB\nMemFree: 1 kB\n\nX: 1\n", /* an empty line inside */
		"MemTotal: 99999999999999999999 kB\nMemFree: 1 kB\n",
	};
	struct tel_mem m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		PARSE_BAD(tel_parse_meminfo(bad[i], strlen(bad[i]), &m, err, sizeof(err)));
}

/* ---- /proc/loadavg, /proc/uptime ---- */

static void test_loadavg_and_uptime(void)
{
	double l[3], up;
	size_t len;
	char *t = slurp("manycore/t0/proc/loadavg", &len);

	PARSE_OK(tel_parse_loadavg(t, len, l, err, sizeof(err)));
	CHECK(l[0] == 12.5 && l[1] == 11.25 && l[2] == 10.0);
	free(t);
	t = slurp("vm2core/t0/proc/uptime", &len);
	PARSE_OK(tel_parse_uptime(t, len, &up, err, sizeof(err)));
	CHECK(up > 0);
	free(t);
	PARSE_BAD(tel_parse_loadavg("0.1 0.2\n", 8, l, err, sizeof(err)));
	PARSE_BAD(tel_parse_loadavg("0.1 0.2 0.3 1 2 3\n", 18, l, err, sizeof(err)));
	PARSE_BAD(tel_parse_loadavg("0.1 0.2 0.3 1/ 2\n", 17, l, err, sizeof(err)));
	PARSE_BAD(tel_parse_loadavg("0.1 0.2 -0.3 1/2 3\n", 19, l, err, sizeof(err)));
	PARSE_BAD(tel_parse_loadavg("0.1 0.2 0.3 1/2 3\nx\n", 20, l, err, sizeof(err)));
	PARSE_BAD(tel_parse_uptime("12.5\n", 5, &up, err, sizeof(err)));
	PARSE_BAD(tel_parse_uptime("12.5 3 4\n", 9, &up, err, sizeof(err)));
	PARSE_BAD(tel_parse_uptime("1e5 3\n", 6, &up, err, sizeof(err)));
}

/* ---- /proc/net/dev ---- */

static struct tel_iface ifs[TEL_MAX_IFACES];

static void test_net_dev_long_names_recorded(void)
{
	size_t n, len;
	char *t = slurp("longnames/t1/proc/net/dev", &len);

	PARSE_OK(tel_parse_net_dev(t, len, ifs, TEL_MAX_IFACES, &n, err, sizeof(err)));
	CHECK_EQ_INT(n, 3);
	CHECK_STR(ifs[1].name, "averylongname15");
	CHECK_EQ_INT(ifs[1].rx_bytes, 29594);
	CHECK_EQ_INT(ifs[1].tx_packets, 29);
	CHECK_STR(ifs[2].name, "wg0");
	free(t);
}

static void test_net_dev_rejects_malformed(void)
{
	static const char *const hdr = "Inter-| a | b\n face |x|y\n";
	static const char *const bad[] = {
		"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",                 /* no header */
		"averylongname16x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",     /* 16 characters */
		"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n",                    /* 15 counters */
		"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",              /* 17 counters */
		"eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",                  /* no colon */
		"e h: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",                  /* blank in the name */
		": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",                     /* empty name */
		("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"                 /* twice: one */
		 "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),                /* string */
		"eth0: 1 2 3 4 5 6 7 8 x 10 11 12 13 14 15 16\n",
	};
	char text[512];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", i ? hdr : "", bad[i]);
		PARSE_BAD(tel_parse_net_dev(text, strlen(text), ifs, TEL_MAX_IFACES, &n, err,
					    sizeof(err)));
	}
}

/* ---- /proc/self/mountinfo ---- */

static struct tel_mount mounts[TEL_MAX_MOUNTS];

static const struct tel_mount *find_mount(size_t n, const char *mp)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(mounts[i].mount_point, mp))
			return &mounts[i];
	return NULL;
}

static void test_mountinfo_recorded_keeps_the_disk_only(void)
{
	size_t n, len;
	char *t = slurp("vm2core/t0/proc/self/mountinfo", &len);

	PARSE_OK(tel_parse_mountinfo(t, len, mounts, TEL_MAX_MOUNTS, &n, err, sizeof(err)));
	/* /dev/vda is mounted at / and bound at /run/netns: one entry, "/" */
	CHECK_EQ_INT(n, 1);
	CHECK_STR(mounts[0].mount_point, "/");
	CHECK_STR(mounts[0].device, "vda");
	CHECK_STR(mounts[0].fstype, "ext4");
	CHECK_EQ_INT(mounts[0].major, 254);
	free(t);
}

static void test_mountinfo_filters_escapes_and_dedupes(void)
{
	const struct tel_mount *m;
	size_t n, len;
	char *t = slurp("manycore/t0/proc/self/mountinfo", &len);

	PARSE_OK(tel_parse_mountinfo(t, len, mounts, TEL_MAX_MOUNTS, &n, err, sizeof(err)));
	/* /, /boot/efi, /srv/my data (bound twice), /home (btrfs), /var (dm);
	 * not proc, sysfs, tmpfs, overlay or the snap's squashfs on a loop */
	CHECK_EQ_INT(n, 5);
	CHECK(find_mount(n, "/") && find_mount(n, "/boot/efi") && find_mount(n, "/home") &&
	      find_mount(n, "/var"));
	CHECK((m = find_mount(n, "/srv/my data")) != NULL);
	if (m)
		CHECK_STR(m->device, "nvme0n1p3");
	CHECK(!find_mount(n, "/var/lib/bind mount"));
	CHECK(!find_mount(n, "/snap/core/123"));
	CHECK((m = find_mount(n, "/var")) != NULL);
	if (m)
		CHECK_STR(m->device, "mapper/vg-var");
	PARSE_OK(tel_parse_mountinfo(t, len, mounts, 2, &n, err, sizeof(err)));
	CHECK_EQ_INT(n, 2);
	free(t);
}

static void test_mountinfo_rejects_malformed(void)
{
	static const char *const bad[] = {
		"27 1 8:2 / / rw - ext4 /dev/sda2\n",                  /* super options missing */
		"27 1 8:2 / / rw ext4 /dev/sda2 rw\n",                 /* no separator */
		"27 1 82 / / rw - ext4 /dev/sda2 rw\n",                /* no major:minor */
		"x 1 8:2 / / rw - ext4 /dev/sda2 rw\n",
		"27 1 8:2 / rel rw - ext4 /dev/sda2 rw\n",             /* relative mount point */
		"27 1 8:2 / /a\\09 rw - ext4 /dev/sda2 rw\n",          /* bad escape */
		"27 1 8:2 / /a\\000 rw - ext4 /dev/sda2 rw\n",         /* NUL escape */
		"27  1 8:2 / / rw - ext4 /dev/sda2 rw\n",              /* two blanks */
		"27 1 8:2 / / rw - ext4 /dev/sda2 rw \n",              /* trailing blank */
		"27 1 8:99999999 / / rw - ext4 /dev/sda2 rw\n",
	};
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		PARSE_BAD(tel_parse_mountinfo(bad[i], strlen(bad[i]), mounts, TEL_MAX_MOUNTS, &n,
					      err, sizeof(err)));
}

static void test_mount_of_interest(void)
{
	CHECK(tel_mount_of_interest("ext4", "/dev/sda1"));
	CHECK(tel_mount_of_interest("xfs", "/dev/mapper/root"));
	CHECK(!tel_mount_of_interest("squashfs", "/dev/loop0"));
	CHECK(!tel_mount_of_interest("ext4", "/dev/loop7"));
	CHECK(!tel_mount_of_interest("tmpfs", "tmpfs"));
	CHECK(!tel_mount_of_interest("overlay", "overlay"));
	CHECK(!tel_mount_of_interest("fuse.sshfs", "/dev/fuse"));
	CHECK(!tel_mount_of_interest("nfs4", "server:/export"));
	CHECK(!tel_mount_of_interest("ext4", "/dev/"));
}

/* ---- /sys/.../stat ---- */

static void test_blockstat_field_counts(void)
{
	struct tel_blockstat b;
	size_t len;
	char *t = slurp("vm2core/t0/sys/dev/block/254:0/stat", &len);

	PARSE_OK(tel_parse_blockstat(t, len, &b, err, sizeof(err)));
	CHECK(b.sectors_read > 0);
	free(t);
	t = slurp("oldkernel/t0/sys/dev/block/8:2/stat", &len);
	PARSE_OK(tel_parse_blockstat(t, len, &b, err, sizeof(err)));
	CHECK_EQ_INT(b.sectors_read, 1234);
	CHECK_EQ_INT(b.sectors_written, 5678);
	free(t);
	PARSE_BAD(tel_parse_blockstat("1 2 3 4 5 6 7 8 9 10\n", 21, &b, err, sizeof(err)));
	PARSE_BAD(tel_parse_blockstat("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n", 45, &b, err,
				      sizeof(err)));
	PARSE_BAD(tel_parse_blockstat("1 2 3 4 5 6 7 8 9 10 x\n", 23, &b, err, sizeof(err)));
}

/* ---- counters and the derived sample ---- */

static void test_counter_delta_wraps_and_resets(void)
{
	CHECK_EQ_INT(tel_counter_delta(100, 150), 50);
	CHECK_EQ_INT(tel_counter_delta(4294967000u, 704), 1000);      /* 32-bit wrap */
	CHECK_EQ_INT(tel_counter_delta(6000000000ull, 1000), 1000);    /* reset: counts anew */
	CHECK_EQ_INT(tel_counter_delta(5, 5), 0);
}

static int fake_statvfs(void *ctx, const char *path, struct tel_fs *out)
{
	(void)ctx;
	out->ok = 1;
	out->total = 1000000;
	out->free = strcmp(path, "/") ? 500000 : 250000;
	out->avail = out->free - 50000;
	return 0;
}

#define read_pair(name, a, b) snap_read_pair(snapdir, name, fake_statvfs, a, b)

static struct tel_raw ra, rb;
static struct tel_sample smp;

static void test_sample_many_cores(void)
{
	const struct tel_sample_iface *eno = NULL;

	read_pair("manycore", &ra, &rb);
	CHECK((rb.ok & (TEL_RAW_STAT | TEL_RAW_MEM | TEL_RAW_LOAD | TEL_RAW_UPTIME | TEL_RAW_NET |
			TEL_RAW_MOUNTS | TEL_RAW_PROCS | TEL_RAW_ROOTFS)) ==
	      (TEL_RAW_STAT | TEL_RAW_MEM | TEL_RAW_LOAD | TEL_RAW_UPTIME | TEL_RAW_NET |
	       TEL_RAW_MOUNTS | TEL_RAW_PROCS | TEL_RAW_ROOTFS));
	CHECK_EQ_INT(rb.procs, 7); /* numeric entries only: not "sys" */
	tel_sample_derive(&smp, &ra, &rb, "wg0");
	CHECK(fabs(smp.interval_s - 10.0) < 1e-9);
	/* per core: user +700, system +300, idle +1000, iowait +100 */
	CHECK(fabs(smp.cpu_pct - 100.0 * 1000 / 2100) < 1e-6);
	CHECK(fabs(smp.core_pct[0] - 100.0 * 1000 / 2100) < 1e-6);
	CHECK(isnan(smp.core_pct[17])); /* offline */
	CHECK_EQ_INT(smp.n_cores, 128);
	CHECK(fabs(smp.swap_used_pct - 100.0 * (8388604.0 - 7995904.0) / 8388604.0) < 1e-6);
	/* lo left out, the overlay reported apart */
	CHECK_EQ_INT(smp.n_ifaces, 1);
	eno = &smp.ifaces[0];
	CHECK_STR(eno->name, "eno1");
	CHECK(fabs(eno->rx_rate - 1000000.0) < 1e-6);
	CHECK(fabs(eno->tx_rate - 500000.0) < 1e-6);
	CHECK(smp.overlay_present);
	CHECK(fabs(smp.overlay.rx_rate - 10000.0) < 1e-6);
	CHECK(fabs(smp.net_rx_rate - 1000000.0) < 1e-6);
	/* disks: sda2 read 20480 sectors in 10 s = 1048576 B/s; btrfs by name */
	CHECK_EQ_INT(smp.n_disks, 5);
	for (size_t i = 0; i < smp.n_disks; i++) {
		const struct tel_sample_disk *d = &smp.disks[i];

		if (!strcmp(d->mount_point, "/")) {
			CHECK(fabs(d->read_rate - 20480.0 * 512 / 10) < 1e-6);
			CHECK(fabs(d->write_rate - 40960.0 * 512 / 10) < 1e-6);
			CHECK(fabs(d->used_pct - 100.0 * 750000 / (750000 + 200000)) < 1e-6);
		} else {
			CHECK(fabs(d->used_pct - 100.0 * 500000 / (500000 + 450000)) < 1e-6);
		}
		if (!strcmp(d->mount_point, "/home"))
			CHECK(fabs(d->read_rate - 1000.0 * 512 / 10) < 1e-6);
	}
	/* root filesystem: used 750000 of 750000 + 200000 available */
	CHECK(fabs(smp.root_used_pct - 100.0 * 750000 / 950000) < 1e-6);
}

static void test_sample_first_reading_has_no_rates(void)
{
	read_pair("vm2core", &ra, &rb);
	tel_sample_derive(&smp, NULL, &ra, "");
	CHECK(smp.valid);
	CHECK(isnan(smp.cpu_pct));
	CHECK(isnan(smp.net_rx_rate));
	CHECK(!isnan(smp.mem_used_pct));
	CHECK(smp.swap_used_pct == 0); /* no swap: 0 %, not unknown */
	tel_sample_derive(&smp, &ra, &rb, "");
	CHECK(smp.cpu_pct > 0 && smp.cpu_pct <= 100);
	CHECK(smp.disk_write_rate >= 0);
}

static void test_sample_counters_that_wrap(void)
{
	read_pair("wrap32", &ra, &rb);
	/* only /proc/net/dev exists there: the other files failed (logged once) */
	CHECK((ra.ok & (TEL_RAW_NET | TEL_RAW_STAT | TEL_RAW_MEM)) == TEL_RAW_NET);
	CHECK((rb.ok & (TEL_RAW_NET | TEL_RAW_STAT | TEL_RAW_MEM)) == TEL_RAW_NET);
	tel_sample_derive(&smp, &ra, &rb, "");
	CHECK_EQ_INT(smp.n_ifaces, 2);
	CHECK_STR(smp.ifaces[0].name, "eth0");
	CHECK(fabs(smp.ifaces[0].rx_rate - 100.0) < 1e-9);  /* 1000 bytes over the wrap */
	CHECK(fabs(smp.ifaces[0].tx_rate - 400.0) < 1e-9);  /* 1296 + 2704 */
	CHECK(fabs(smp.ifaces[1].rx_rate - 100.0) < 1e-9);  /* reset: 1000 since */
	CHECK(isnan(smp.cpu_pct));
}

static void test_sample_long_names_and_overlay(void)
{
	read_pair("longnames", &ra, &rb);
	tel_sample_derive(&smp, &ra, &rb, "wg0");
	CHECK_EQ_INT(smp.n_ifaces, 1);
	CHECK_STR(smp.ifaces[0].name, "averylongname15");
	CHECK(fabs(smp.ifaces[0].rx_rate - (29594 - 418) / 10.0) < 1e-9);
	CHECK(smp.overlay_present);
	CHECK(fabs(smp.overlay.tx_rate - (1268 - 266) / 10.0) < 1e-9);
	tel_sample_derive(&smp, &ra, &rb, "wg1"); /* not there */
	CHECK(!smp.overlay_present);
	CHECK_EQ_INT(smp.n_ifaces, 2);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SNAPSHOT_DIR\n", argv[0]);
		return 2;
	}
	snapdir = argv[1];
	RUN_TEST(test_stat_recorded_two_cores);
	RUN_TEST(test_stat_many_cores_with_an_offline_one);
	RUN_TEST(test_stat_old_kernel_four_fields);
	RUN_TEST(test_stat_rejects_malformed);
	RUN_TEST(test_meminfo_recorded_no_swap);
	RUN_TEST(test_meminfo_with_swap);
	RUN_TEST(test_meminfo_without_memavailable_falls_back);
	RUN_TEST(test_meminfo_rejects_malformed);
	RUN_TEST(test_loadavg_and_uptime);
	RUN_TEST(test_net_dev_long_names_recorded);
	RUN_TEST(test_net_dev_rejects_malformed);
	RUN_TEST(test_mountinfo_recorded_keeps_the_disk_only);
	RUN_TEST(test_mountinfo_filters_escapes_and_dedupes);
	RUN_TEST(test_mountinfo_rejects_malformed);
	RUN_TEST(test_mount_of_interest);
	RUN_TEST(test_blockstat_field_counts);
	RUN_TEST(test_counter_delta_wraps_and_resets);
	RUN_TEST(test_sample_many_cores);
	RUN_TEST(test_sample_first_reading_has_no_rates);
	RUN_TEST(test_sample_counters_that_wrap);
	RUN_TEST(test_sample_long_names_and_overlay);
	return TEST_DONE();
}
