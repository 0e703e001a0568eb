/* constella stats [NAME] [--hours H] [--json]: a member's snapshot and the
 * summaries of its time series, through the local daemon (which asks NAME
 * over the signed RPC when it is another member). The shapes are GetStats's
 * (docs/cli.md). */
#include "cli.h"

#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella stats: %s\nusage: constella stats [NAME] [--hours H] [--json]\n",
		why);
	return 2;
}

/* 1536 -> "1.5 KiB"; NAN -> "-" */
static const char *human(double v, const char *unit, char *buf, size_t cap)
{
	static const char *const p[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi" };
	int i = 0;

	if (isnan(v))
		return "-";
	while (fabs(v) >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, cap, i ? "%.1f %s%s" : "%.0f %s%s", v, p[i], unit);
	return buf;
}

static const char *pct(double v, char *buf, size_t cap)
{
	if (isnan(v))
		return "-";
	snprintf(buf, cap, "%.1f %%", v);
	return buf;
}

/* A series' figure in its unit (GetStats's summaries say which). */
static const char *figure(double v, const char *unit, char *buf, size_t cap)
{
	if (isnan(v))
		return "-";
	if (!strcmp(unit, "percent"))
		return pct(v, buf, cap);
	if (!strcmp(unit, "bytes_per_s"))
		return human(v, "B/s", buf, cap);
	if (!strcmp(unit, "ms"))
		snprintf(buf, cap, "%.2f ms", v);
	else if (!strcmp(unit, "count"))
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.2f", v);
	return buf;
}

static void print_uptime(double s)
{
	long m = isnan(s) ? -1 : (long)(s / 60);

	if (m < 0)
		printf("up ?");
	else if (m >= 1440)
		printf("up %ldd %ldh", m / 1440, m % 1440 / 60);
	else
		printf("up %ldh %ldm", m / 60, m % 60);
}

static void print_speed(const char *label, const cJSON *r)
{
	char a[32], b[32];
	const char *err = node_cli_jstr(r, "up_error");

	if (!cJSON_IsObject(r))
		return;
	printf("%-8s %s %s%s: down %s, up %s, rtt %.2f ms%s%s\n", "speed", label,
	       node_cli_jstr(r, "peer"), node_cli_jstr(r, "host"),
	       node_cli_jmbit(r, "down_bytes_per_s", "failed", a, sizeof(a)),
	       node_cli_jmbit(r, "up_bytes_per_s", "failed", b, sizeof(b)),
	       node_cli_jnum(r, "rtt_ms"), err[0] ? ", upload: " : "", err);
}

static void print_stats(const cJSON *s)
{
	const cJSON *cpu = node_cli_jget(s, "cpu"), *mem = node_cli_jget(s, "mem"), *x, *ov, *sum;
	const cJSON *load = node_cli_jget(s, "load");
	char a[32], b[32], c[32];
	int n = 0;

	printf("%s  ", node_cli_jstr(s, "name"));
	print_uptime(node_cli_jnum(s, "uptime_s"));
	printf("  procs %.0f  load", node_cli_jnum(s, "procs"));
	cJSON_ArrayForEach(x, load)
		printf(" %.2f", cJSON_IsNumber(x) ? x->valuedouble : NAN);
	printf("\n%-8s %s (", "cpu", pct(node_cli_jnum(cpu, "total_pct"), a, sizeof(a)));
	cJSON_ArrayForEach(x, node_cli_jget(cpu, "per_core_pct"))
		n++;
	printf("%d cores)\n", n);
	printf("%-8s %s of %s used", "memory", pct(node_cli_jnum(mem, "used_pct"), a, sizeof(a)),
	       human(node_cli_jnum(mem, "total_b"), "B", b, sizeof(b)));
	if (node_cli_jnum(mem, "swap_total_b") > 0)
		printf(", swap %s of %s\n", pct(node_cli_jnum(mem, "swap_used_pct"), a, sizeof(a)),
		       human(node_cli_jnum(mem, "swap_total_b"), "B", c, sizeof(c)));
	else
		printf(", no swap\n");
	cJSON_ArrayForEach(x, node_cli_jget(s, "disks")) {
		printf("%-8s %-12s %s of %s (%s %s)", "disk", node_cli_jstr(x, "mount"),
		       pct(node_cli_jnum(x, "used_pct"), a, sizeof(a)),
		       human(node_cli_jnum(x, "total_b"), "B", b, sizeof(b)),
		       node_cli_jstr(x, "device"), node_cli_jstr(x, "fstype"));
		printf("  read %s", human(node_cli_jnum(x, "read_bytes_per_s"), "B/s", a, sizeof(a)));
		printf("  write %s\n", human(node_cli_jnum(x, "write_bytes_per_s"), "B/s", a, sizeof(a)));
	}
	cJSON_ArrayForEach(x, node_cli_jget(s, "net")) {
		printf("%-8s %-12s rx %s", "net", node_cli_jstr(x, "iface"),
		       human(node_cli_jnum(x, "rx_bytes_per_s"), "B/s", a, sizeof(a)));
		printf("  tx %s\n", human(node_cli_jnum(x, "tx_bytes_per_s"), "B/s", a, sizeof(a)));
	}
	ov = node_cli_jget(s, "overlay");
	if (cJSON_IsObject(ov)) {
		printf("%-8s %-12s ", "overlay", node_cli_jstr(ov, "iface"));
		if (cJSON_IsTrue(node_cli_jget(ov, "present"))) {
			printf("rx %s", human(node_cli_jnum(ov, "rx_bytes_per_s"), "B/s", a, sizeof(a)));
			printf("  tx %s", human(node_cli_jnum(ov, "tx_bytes_per_s"), "B/s", a, sizeof(a)));
		} else {
			printf("(not up)");
		}
		printf("\n");
		cJSON_ArrayForEach(x, node_cli_jget(ov, "peers")) {
			double hs = node_cli_jnum(x, "latest_handshake");
			/* the age on the member's own clock, as `wg show` gives it */
			double age = node_cli_jnum(s, "ts") - hs;

			printf("%-8s   peer %-12s rx %s", "", node_cli_jstr(x, "name"),
			       human(node_cli_jnum(x, "rx_bytes"), "B", a, sizeof(a)));
			printf("  tx %s  handshake ", human(node_cli_jnum(x, "tx_bytes"), "B", b, sizeof(b)));
			if (hs > 0 && age >= 0)
				printf("%.0f s ago\n", age);
			else
				printf("%s\n", hs > 0 ? "yes" : "never");
		}
	}
	x = node_cli_jget(s, "speedtest");
	print_speed("peer", node_cli_jget(x, "peer"));
	print_speed("internet", node_cli_jget(x, "internet"));
	sum = node_cli_jget(s, "summaries");
	printf("%-12s %12s %12s %12s %8s\n", "SERIES", "AVG", "MAX", "LAST", "POINTS");
	cJSON_ArrayForEach(x, sum) {
		double cnt = node_cli_jnum(x, "count");
		const char *unit = node_cli_jstr(x, "unit");

		if (!(cnt > 0))
			continue;
		printf("%-12s %12s", x->string, figure(node_cli_jnum(x, "avg"), unit, a, sizeof(a)));
		printf(" %12s", figure(node_cli_jnum(x, "max"), unit, a, sizeof(a)));
		printf(" %12s %8.0f\n", figure(node_cli_jnum(x, "last"), unit, a, sizeof(a)), cnt);
	}
}

int node_cli_stats(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "hours", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	double hours = 0;
	char sock[300], *end;
	cJSON *req, *rep = NULL;
	const cJSON *st;
	int c, json = 0, rc = 1, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'H') {
			hours = strtod(optarg, &end);
			if (*end || !(hours > 0))
				return usage("--hours must be a positive number");
		} else {
			return usage("unknown option");
		}
	}
	if (optind < argc)
		name = argv[optind++];
	if (optind != argc)
		return usage("unexpected argument");
	snprintf(sock, sizeof(sock), "%s/control.sock", state_dir);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "stats");
	if (name)
		cJSON_AddStringToObject(req, "name", name);
	if (hours > 0)
		cJSON_AddNumberToObject(req, "hours", hours);
	if ((r = node_control_call(sock, req, 15.0, &rep))) {
		fprintf(stderr, "constella stats: no daemon answers on %s (%s)\n", sock, strerror(-r));
		goto out;
	}
	st = node_cli_jget(rep, "stats");
	if (!cJSON_IsTrue(node_cli_jget(rep, "ok")) || !cJSON_IsObject(st)) {
		const char *e = node_cli_jstr(rep, "error");

		fprintf(stderr, "constella stats: %s\n", e[0] ? e : "malformed answer");
		goto out;
	}
	if (json) {
		char *t = cJSON_Print(st);

		if (!t)
			goto out;
		printf("%s\n", t);
		free(t);
	} else {
		print_stats(st);
	}
	rc = 0;
out:
	cJSON_Delete(req);
	cJSON_Delete(rep);
	return rc;
}
