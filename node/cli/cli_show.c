/* constella show [--json]: the overlay in one view, from the running
 * daemon (the device lives in it): this node's interface, address, port and
 * key, the device's drop and relay counters, and every member with its
 * overlay address, role, how it is reached (directly, or through the hub's
 * relay), endpoint, latest handshake and transfer. */
#include "cli.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static int usage(const char *why)
{
	fprintf(stderr, "constella show: %s\nusage: constella show [--json]\n", why);
	return 2;
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

/* o[k], or dflt when empty */
static const char *str_or(const cJSON *o, const char *k, const char *dflt)
{
	const char *s = node_cli_jstr(o, k);

	return s[0] ? s : dflt;
}

static void print_view(const cJSON *v)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "stats"), *p;
	double now = (double)time(NULL);
	char rb[32];

	if (!strcmp(node_cli_jstr(v, "mode"), "none")) {
		printf("no overlay: this network has no hub (constella init --vpn-mode hub makes one)\n");
		return;
	}
	printf("%s: %s %s on %s, UDP port %.0f, hub %s\n  public key %s\n",
	       node_cli_jstr(v, "name"), node_cli_jstr(v, "mode"), node_cli_jstr(v, "address"),
	       node_cli_jstr(v, "interface"), node_cli_jnum0(v, "listen_port"),
	       node_cli_jstr(v, "hub"), node_cli_jstr(v, "public_key"));
	printf("  dropped: %.0f for no session (unknown index), %.0f handshakes rejected, "
	       "%.0f bad source, %.0f failed authentication\n",
	       node_cli_jnum0(s, "rx_unknown_index"), node_cli_jnum0(s, "rx_handshake_rejected"),
	       node_cli_jnum0(s, "rx_bad_source"), node_cli_jnum0(s, "rx_auth_failed"));
	bytes_str(node_cli_jnum0(s, "relay_bytes"), rb, sizeof(rb));
	if (!strcmp(node_cli_jstr(v, "mode"), "hub"))
		printf("  relayed: %.0f packets (%s), %.0f dropped\n",
		       node_cli_jnum0(s, "relay_packets"), rb, node_cli_jnum0(s, "relay_dropped"));
	if (node_cli_jstr(v, "problem")[0])
		printf("  problem: %s\n", node_cli_jstr(v, "problem"));
	printf("%-20s %-15s %-8s %-14s %-24s %-12s %-12s %s\n", "NAME", "OVERLAY", "ROLE", "VIA",
	       "ENDPOINT", "HANDSHAKE", "RX", "TX");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(v, "peers")) {
		char hs[32] = "-", rx[32] = "-", tx[32] = "-";
		double t = node_cli_jnum0(p, "latest_handshake");

		if (cJSON_GetObjectItemCaseSensitive(p, "rx_bytes")) {
			bytes_str(node_cli_jnum0(p, "rx_bytes"), rx, sizeof(rx));
			bytes_str(node_cli_jnum0(p, "tx_bytes"), tx, sizeof(tx));
			if (t > 0)
				snprintf(hs, sizeof(hs), "%.0fs ago", now > t ? now - t : 0);
			else
				snprintf(hs, sizeof(hs), "never");
		}
		printf("%-20s %-15s %-8s %-14s %-24s %-12s %-12s %s\n",
		       str_or(p, "name", "(joining)"), str_or(p, "overlay_addr", "-"),
		       str_or(p, "role", "-"), node_cli_jstr(p, "via"), str_or(p, "endpoint", "-"),
		       hs, rx, tx);
	}
}

int node_cli_show(int argc, char **argv, const char *state_dir)
{
	cJSON *rep = NULL;
	const cJSON *v;
	int json, rc = 1;

	if (node_cli_json_flag(argc, argv, &json))
		return usage("unknown option or argument");
	if (node_cli_ask(state_dir, "show", &rep)) {
		fprintf(stderr, "constella show: constellad is not running for %s (the overlay lives "
			"in the daemon)\n", state_dir);
		return 1;
	}
	v = cJSON_GetObjectItemCaseSensitive(rep, "overlay");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok")) || !cJSON_IsObject(v)) {
		fprintf(stderr, "constella show: %s\n",
			str_or(rep, "error", "the daemon gave no overlay view"));
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
