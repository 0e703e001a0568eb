/* /metrics: the exposition of a sample from the recorded and constructed
 * snapshots passes the strict checker (promcheck.h), names and label
 * escaping follow the conventions, label values are UTF-8 whatever bytes
 * the kernel gave, and the checker itself refuses every
 * known-bad document (so its "ok" means something).
 * usage: test_telemetry_prom SNAPSHOT_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "prom.h"
#include "promcheck.h"
#include "sample.h"
#include "snap.h"
#include "speedtest.h"
#include "test.h"

static const char *snapdir;
static struct tel_raw ra, rb;
static struct tel_sample smp;

static int fake_statvfs(void *ctx, const char *path, struct tel_fs *out)
{
	(void)ctx;
	(void)path;
	out->ok = 1;
	out->total = 1000;
	out->free = 400;
	out->avail = 300;
	return 0;
}

static void derive(const char *name, const char *overlay)
{
	snap_read_pair(snapdir, name, fake_statvfs, &ra, &rb);
	tel_sample_derive(&smp, &ra, &rb, overlay);
}

static char *render(const struct tel_prom_input *in)
{
	char *out = NULL;
	size_t len;

	CHECK_EQ_INT(tel_prom_render(in, &out, &len), 0);
	CHECK(out && strlen(out) == len);
	return out;
}

static void check_ok(const char *doc, size_t min_samples)
{
	char err[300];
	size_t n = 0;
	int r = promcheck(doc, strlen(doc), "constella_", &n, err, sizeof(err));

	if (r)
		fprintf(stderr, "  promcheck: %s\n", err);
	CHECK_EQ_INT(r, 0);
	CHECK(n >= min_samples);
}

static void test_metrics_of_many_cores_pass_the_checker(void)
{
	struct node_telemetry_overlay_peer peers[2] = {
		{ "beta", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 100, 200, 1800000000 },
		{ "", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=", 0, 0, 0 },
	};
	struct tel_st_result peer = { .valid = 1, .peer = "beta", .ts = 1800000000,
				      .down_rate = 1.25e8, .up_rate = 1.2e8, .rtt_ms = 0.4 };
	struct tel_st_result inet = { .valid = 1, .internet = 1, .host = "speed.example",
				      .ts = 1800000001, .down_rate = 1e7, .up_rate = NAN,
				      .rtt_ms = 20 };
	struct tel_prom_input in = { .s = &smp, .name = "alpha", .version = "0.1.0",
				     .clk_tck = 100, .peers = peers, .n_peers = 2,
				     .last_peer = &peer, .last_inet = &inet,
				     .sample_cost_s = 0.000123, .history_bytes = 231936 };
	char *doc;

	derive("manycore", "wg0");
	doc = render(&in);
	/* 8 CPU modes + 128 cores (127 known) + the rest */
	check_ok(doc, 8 + 127 + 30);
	CHECK(strstr(doc, "\nconstella_cpu_seconds_total{mode=\"user\"} ") != NULL);
	CHECK(strstr(doc, "\nconstella_cpu_core_usage_ratio{cpu=\"17\"}") == NULL); /* offline */
	CHECK(strstr(doc, "constella_filesystem_size_bytes{mountpoint=\"/srv/my data\",device=\"nvme0n1p3\",fstype=\"xfs\"} 1000\n") != NULL);
	CHECK(strstr(doc, "constella_network_receive_bytes_total{interface=\"wg0\"} ") != NULL);
	CHECK(strstr(doc, "constella_network_receive_bytes_total{interface=\"lo\"}") == NULL);
	CHECK(strstr(doc, "constella_overlay_peer_receive_bytes_total{peer=\"beta\",") != NULL);
	CHECK(strstr(doc, "constella_overlay_peer_last_handshake_timestamp_seconds{peer=\"?\"") == NULL);
	CHECK(strstr(doc, "constella_speedtest_rtt_seconds{kind=\"peer\",target=\"beta\"} 0.0004\n") != NULL);
	/* an unknown figure is left out, not NaN */
	CHECK(strstr(doc, "constella_speedtest_upload_bytes_per_second{kind=\"internet\"") == NULL);
	CHECK(strstr(doc, "NaN") == NULL);
	free(doc);
}

static void test_metrics_escape_label_values(void)
{
	struct tel_prom_input in = { .s = &smp, .name = "we\"ird\\na\nme", .version = "0.1.0",
				     .clk_tck = 100, .sample_cost_s = NAN };
	char *doc;

	derive("longnames", "");
	doc = render(&in);
	check_ok(doc, 3);
	CHECK(strstr(doc, "constella_node_info{name=\"we\\\"ird\\\\na\\nme\",version=\"0.1.0\"} 1\n") != NULL);
	CHECK(strstr(doc, "{interface=\"averylongname15\"}") != NULL);
	CHECK(strstr(doc, "constella_sample_duration_seconds") == NULL);
	free(doc);
}

static void test_metrics_label_values_are_utf8(void)
{
	struct tel_prom_input in = { .s = &smp, .name = "n\xc5\x93ud", .version = "0.1.0",
				     .clk_tck = 100, .sample_cost_s = NAN };
	struct tel_sample_disk *d;
	char *doc;

	derive("longnames", "");
	/* a directory named in Latin-1 ("caf\xe9"), a truncated sequence, a
	 * surrogate: bytes the kernel hands over as they are */
	d = &smp.disks[0];
	smp.n_disks = 1;
	memset(d, 0, sizeof(*d));
	snprintf(d->mount_point, sizeof(d->mount_point), "/mnt/caf\xe9/\xe2\x82/\xed\xa0\x80");
	snprintf(d->device, sizeof(d->device), "sdb1");
	snprintf(d->fstype, sizeof(d->fstype), "ext4");
	d->fs_ok = 1;
	d->total = 1000;
	doc = render(&in);
	check_ok(doc, 4);
	CHECK(strstr(doc, "constella_node_info{name=\"n\xc5\x93ud\",") != NULL); /* UTF-8 kept */
	CHECK(strstr(doc, "{mountpoint=\"/mnt/caf\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd/"
			  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\",device=\"sdb1\"") != NULL);
	free(doc);
}

static void test_metrics_before_any_sample(void)
{
	struct tel_sample empty = { 0 };
	struct tel_prom_input in = { .s = &empty, .name = "alpha", .version = "0.1.0",
				     .sample_cost_s = NAN };
	char *doc = render(&in);

	check_ok(doc, 2); /* node_info and history_bytes */
	free(doc);
}

static void test_checker_refuses_known_bad_documents(void)
{
	static const char *const ok =
		"# HELP constella_a_total A.\n# TYPE constella_a_total counter\n"
		"constella_a_total{x=\"1\"} 1\nconstella_a_total{x=\"2\"} 2 1700000000000\n"
		"# HELP constella_b_bytes B.\n# TYPE constella_b_bytes gauge\nconstella_b_bytes -Inf\n";
	static const struct {
		const char *doc, *why;
	} bad[] = {
		{ "# HELP constella_a_total A.\n# TYPE constella_a_total counter\nconstella_a_total 1", "newline" },
		{ "", "empty" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a 1\r\n", "carriage return" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\n\nconstella_a 1\n", "empty line" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a one\n", "value" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a 1e\n", "value" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a nan\n", "value" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a 1 1.5\n", "timestamp" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a 1 2 3\n", "timestamp" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"1\"}1\n", "blank" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=1} 1\n", "quoted" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"1\" 1\n", "unterminated" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"a\\tb\"} 1\n", "escape" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"1\",x=\"2\"} 1\n", "twice" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{__x=\"1\"} 1\n", "label name" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{1x=\"1\"} 1\n", "label name" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\n1constella_a 1\n", "metric name" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella-a 1\n", "metric name" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a 1\nconstella_a 2\n", "series twice" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"1\",y=\"2\"} 1\nconstella_a{y=\"2\",x=\"1\"} 2\n", "series twice" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\n# HELP constella_b B.\n# TYPE constella_b gauge\n"
		  "constella_a{x=\"1\"} 1\nconstella_b 1\nconstella_a{x=\"2\"} 1\n", "not together" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\n# TYPE constella_a gauge\nconstella_a 1\n", "second TYPE" },
		{ "# HELP constella_a A.\n# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a 1\n", "second HELP" },
		{ "# HELP constella_a A.\nconstella_a 1\n# TYPE constella_a gauge\n", "TYPE after" },
		{ "# HELP constella_a A.\n# TYPE constella_a gaug\nconstella_a 1\n", "unknown type" },
		{ "# HELP constella_a A\\t.\n# TYPE constella_a gauge\nconstella_a 1\n", "HELP escape" },
		{ "# TYPE constella_a gauge\nconstella_a 1\n", "no HELP" },
		{ "# HELP constella_a A.\nconstella_a 1\n", "no TYPE" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\n", "without samples" },
		{ "# HELP constella_a A.\n# TYPE constella_a counter\nconstella_a 1\n", "_total" },
		{ "# HELP constella_a_total A.\n# TYPE constella_a_total gauge\nconstella_a_total 1\n", "_total" },
		{ "# HELP constella_rtt_milliseconds A.\n# TYPE constella_rtt_milliseconds gauge\nconstella_rtt_milliseconds 1\n", "base unit" },
		{ "# HELP constella_cpu_percent A.\n# TYPE constella_cpu_percent gauge\nconstella_cpu_percent 1\n", "base unit" },
		{ "# HELP constella_Cpu A.\n# TYPE constella_Cpu gauge\nconstella_Cpu 1\n", "snake_case" },
		{ "# HELP other_a A.\n# TYPE other_a gauge\nother_a 1\n", "prefix" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"caf\xe9\"} 1\n", "UTF-8" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"\xed\xa0\x80\"} 1\n", "UTF-8 surrogate" },
		{ "# HELP constella_a A.\n# TYPE constella_a gauge\nconstella_a{x=\"\xc0\xaf\"} 1\n", "UTF-8 overlong" },
	};
	char err[300], buf[1024];
	size_t n;

	CHECK_EQ_INT(promcheck(ok, strlen(ok), "constella_", &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i].doc);
		if (promcheck(buf, strlen(buf), "constella_", &n, err, sizeof(err)) == 0) {
			fprintf(stderr, "  accepted a bad document (%s): %s\n", bad[i].why, bad[i].doc);
			CHECK(0);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SNAPSHOT_DIR\n", argv[0]);
		return 2;
	}
	snapdir = argv[1];
	RUN_TEST(test_metrics_of_many_cores_pass_the_checker);
	RUN_TEST(test_metrics_escape_label_values);
	RUN_TEST(test_metrics_label_values_are_utf8);
	RUN_TEST(test_metrics_before_any_sample);
	RUN_TEST(test_checker_refuses_known_bad_documents);
	return TEST_DONE();
}
