/* constella speedtest NAME|--internet [--seconds S] [--json]: runs a speed
 * test from this node (to the member NAME, or against SPEEDTEST_URL) through
 * the local daemon, with a progress line on stderr, and prints the result
 * (RunSpeedtest's shape with --json). One test at a time per node: a second
 * one is refused with "speed test already running". */
#include "cli.h"

#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define POLL_S 0.25

static int usage(const char *why)
{
	fprintf(stderr, "constella speedtest: %s\n"
		"usage: constella speedtest NAME|--internet [--seconds 1-15] [--json]\n", why);
	return 2;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int call(const char *sock, cJSON *req, cJSON **rep)
{
	int r = node_control_call(sock, req, 10.0, rep);

	cJSON_Delete(req);
	if (r)
		fprintf(stderr, "constella speedtest: no daemon answers on %s (%s)\n", sock,
			strerror(-r));
	return r;
}

/* "upload   2.1 s   934.2 Mbit/s" on one line rewritten in place (a
 * terminal) or one line per phase (a file or pipe). */
static void progress(const cJSON *s, int tty, char *last_phase, size_t cap)
{
	const char *phase = node_cli_jstr(s, "phase");
	double rate = node_cli_jnum(s, "rate_bytes_per_s");

	if (tty) {
		fprintf(stderr, "\r%-9s %5.1f s  %9.1f Mbit/s ", phase, node_cli_jnum(s, "elapsed_s"),
			isnan(rate) ? 0.0 : rate * 8 / 1e6);
	} else if (strcmp(phase, last_phase)) {
		fprintf(stderr, "speedtest: %s\n", phase);
	}
	snprintf(last_phase, cap, "%s", phase);
}

int node_cli_speedtest(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "internet", no_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *peer = NULL;
	double seconds = 5, deadline;
	char sock[300], *end, last_phase[16] = "";
	cJSON *req, *rep = NULL;
	const cJSON *st, *last, *res;
	int c, json = 0, internet = 0, tty = isatty(2), rc = 1;
	uint64_t id;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'i') {
			internet = 1;
		} else if (c == 's') {
			seconds = strtod(optarg, &end);
			if (*end || !(seconds >= 1 && seconds <= 15))
				return usage("--seconds must be a number from 1 to 15");
		} else {
			return usage("unknown option");
		}
	}
	if (optind < argc)
		peer = argv[optind++];
	if (optind != argc)
		return usage("unexpected argument");
	if (!!peer == internet)
		return usage(internet ? "--internet takes no NAME" : "missing NAME (or --internet)");
	snprintf(sock, sizeof(sock), "%s/control.sock", state_dir);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "speedtest");
	if (peer)
		cJSON_AddStringToObject(req, "peer", peer);
	cJSON_AddNumberToObject(req, "seconds", seconds);
	if (call(sock, req, &rep))
		goto out;
	if (!cJSON_IsTrue(node_cli_jget(rep, "ok")) || !cJSON_IsNumber(node_cli_jget(rep, "id"))) {
		fprintf(stderr, "constella speedtest: %s\n", node_cli_jstr(rep, "error"));
		goto out;
	}
	id = (uint64_t)node_cli_jnum(rep, "id");
	/* the daemon bounds the test (2 x seconds + its slack); so do we */
	deadline = mono() + 2 * seconds + 30;
	for (;;) {
		cJSON_Delete(rep);
		rep = NULL;
		usleep((useconds_t)(POLL_S * 1e6));
		req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "cmd", "speedtest_status");
		if (call(sock, req, &rep))
			goto out;
		st = node_cli_jget(rep, "speedtest");
		if (!cJSON_IsObject(st)) {
			fprintf(stderr, "constella speedtest: malformed answer\n");
			goto out;
		}
		if (!cJSON_IsTrue(node_cli_jget(st, "running")) || node_cli_jnum(st, "id") != (double)id)
			break;
		progress(st, tty, last_phase, sizeof(last_phase));
		if (mono() > deadline) {
			fprintf(stderr, "%sconstella speedtest: no result in time\n", tty ? "\n" : "");
			goto out;
		}
	}
	if (tty && last_phase[0])
		fprintf(stderr, "\r%40s\r", "");
	last = node_cli_jget(st, "last");
	if (node_cli_jnum(last, "id") != (double)id) {
		fprintf(stderr, "constella speedtest: the result was replaced by a later test\n");
		goto out;
	}
	if (!cJSON_IsTrue(node_cli_jget(last, "ok"))) {
		fprintf(stderr, "constella speedtest: %s\n", node_cli_jstr(last, "error"));
		goto out;
	}
	res = node_cli_jget(last, "result");
	if (json) {
		char *t = cJSON_Print(res);

		if (!t)
			goto out;
		printf("%s\n", t);
		free(t);
	} else {
		const char *e = node_cli_jstr(res, "up_error");
		char down[32], up[32];

		/* an upload that failed has a null rate and says why in up_error */
		printf("%s%s: down %s, up %s, rtt %.3f ms ", node_cli_jstr(res, "peer"),
		       node_cli_jstr(res, "host"),
		       node_cli_jmbit(res, "down_bytes_per_s", "failed", down, sizeof(down)),
		       node_cli_jmbit(res, "up_bytes_per_s", "failed", up, sizeof(up)),
		       node_cli_jnum(res, "rtt_ms"));
		printf("(%.1f s; %.0f MB down, %.0f MB up%s)%s%s\n", node_cli_jnum(res, "seconds"),
		       node_cli_jnum(res, "down_bytes") / 1e6, node_cli_jnum(res, "up_bytes") / 1e6,
		       !strcmp(node_cli_jstr(res, "limited_by"), "bytes") ? "; byte bound reached" : "",
		       e[0] ? "; upload failed: " : "", e);
	}
	rc = 0;
out:
	cJSON_Delete(rep);
	return rc;
}
