/* constella show [--json]: the overlay in one view, from the running
 * daemon (the device lives in it): this node's interface, address, port and
 * key, the device's drop and relay counters, and every member with its
 * overlay address, role, how it is reached (directly, or through the hub's
 * relay), endpoint, latest handshake and transfer. */
#include "cli.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella show: %s\nusage: constella show [--json]\n", why);
	return 2;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* 1536 -> "1.50 KiB", as `wg show` prints transfer */
static void bytes_str(double b, char *out, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
}

static void print_view(const cJSON *v)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "stats"), *p;
	double now = (double)time(NULL);
	char rb[32];

	if (!strcmp(jstr(v, "mode"), "none")) {
		printf("no overlay: this network has no hub (constella init --vpn-mode hub makes one)\n");
		return;
	}
	printf("%s: %s %s on %s, UDP port %.0f, hub %s\n  public key %s\n", jstr(v, "name"),
	       jstr(v, "mode"), jstr(v, "address"), jstr(v, "interface"), jnum(v, "listen_port"),
	       jstr(v, "hub"), jstr(v, "public_key"));
	bytes_str(jnum(s, "relay_bytes"), rb, sizeof(rb));
	printf("  dropped: %.0f for no session (unknown index), %.0f handshakes rejected, %.0f bad "
	       "source, %.0f failed authentication\n", jnum(s, "rx_unknown_index"),
	       jnum(s, "rx_handshake_rejected"), jnum(s, "rx_bad_source"), jnum(s, "rx_auth_failed"));
	if (!strcmp(jstr(v, "mode"), "hub"))
		printf("  relayed: %.0f packets (%s), %.0f dropped\n", jnum(s, "relay_packets"), rb,
		       jnum(s, "relay_dropped"));
	if (jstr(v, "problem")[0])
		printf("  problem: %s\n", jstr(v, "problem"));
	printf("%-20s %-15s %-8s %-14s %-24s %-12s %-12s %s\n", "NAME", "OVERLAY", "ROLE", "VIA",
	       "ENDPOINT", "HANDSHAKE", "RX", "TX");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(v, "peers")) {
		char hs[32] = "-", rx[32] = "-", tx[32] = "-";
		double t = jnum(p, "latest_handshake");

		if (cJSON_GetObjectItemCaseSensitive(p, "rx_bytes")) {
			bytes_str(jnum(p, "rx_bytes"), rx, sizeof(rx));
			bytes_str(jnum(p, "tx_bytes"), tx, sizeof(tx));
			if (t > 0)
				snprintf(hs, sizeof(hs), "%.0fs ago", now > t ? now - t : 0);
			else
				snprintf(hs, sizeof(hs), "never");
		}
		printf("%-20s %-15s %-8s %-14s %-24s %-12s %-12s %s\n",
		       jstr(p, "name")[0] ? jstr(p, "name") : "(joining)",
		       jstr(p, "overlay_addr")[0] ? jstr(p, "overlay_addr") : "-",
		       jstr(p, "role")[0] ? jstr(p, "role") : "-", jstr(p, "via"),
		       jstr(p, "endpoint")[0] ? jstr(p, "endpoint") : "-", hs, rx, tx);
	}
}

int node_cli_show(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	cJSON *req, *rep = NULL;
	const cJSON *v;
	char sock[300];
	int c, json = 0, r, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return usage("unknown option");
		json = 1;
	}
	if (optind != argc)
		return usage("unexpected argument");
	snprintf(sock, sizeof(sock), "%s/control.sock", state_dir);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "show");
	r = node_control_call(sock, req, 5.0, &rep);
	cJSON_Delete(req);
	if (r) {
		fprintf(stderr, "constella show: constellad is not running for %s (the overlay lives "
			"in the daemon)\n", state_dir);
		return 1;
	}
	v = cJSON_GetObjectItemCaseSensitive(rep, "overlay");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok")) || !cJSON_IsObject(v)) {
		fprintf(stderr, "constella show: %s\n", jstr(rep, "error")[0] ? jstr(rep, "error") :
			"the daemon gave no overlay view");
		goto out;
	}
	if (json) {
		char *t = cJSON_Print(v);

		if (!t)
			goto out;
		printf("%s\n", t);
		free(t);
	} else {
		print_view(v);
	}
	rc = 0;
out:
	cJSON_Delete(rep);
	return rc;
}
