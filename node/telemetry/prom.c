/* The Prometheus text exposition (prom.h). One family at a time: its HELP
 * and TYPE lines come with its first sample, so a family with no known
 * value is left out entirely, and no family is ever split. */
#include "prom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prom_buf {
	char *p;
	size_t n, cap;
	int oom;
	const char *family; /* the family whose header was written last */
};

static void pb_printf(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pb_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		{
			size_t cap = b->cap * 2 + (size_t)k;
			char *q = realloc(b->p, cap);

			if (!q) {
				b->oom = 1;
				return;
			}
			b->p = q;
			b->cap = cap;
		}
	}
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong forms, no surrogates, at most U+10FFFF), 0 when there is none.
 * s is NUL-terminated, which no continuation byte matches. */
static int pb_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	int n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* A label value with \, " and newline escaped as the format requires. The
 * format is UTF-8 and Prometheus refuses a whole scrape over one bad label
 * value; mount points and interface names are bytes (a directory named in
 * Latin-1), so each byte that is not UTF-8 becomes U+FFFD. */
static void pb_label_value(struct prom_buf *b, const char *v)
{
	for (; *v; v++) {
		int n = pb_utf8_len((const unsigned char *)v);

		if (n == 0) {
			pb_printf(b, "\xef\xbf\xbd");
		} else if (n > 1) {
			pb_printf(b, "%.*s", n, v);
			v += n - 1;
		} else if (*v == '\\') {
			pb_printf(b, "\\\\");
		} else if (*v == '"') {
			pb_printf(b, "\\\"");
		} else if (*v == '\n') {
			pb_printf(b, "\\n");
		} else {
			pb_printf(b, "%c", *v);
		}
	}
}

/* Starts a sample of family name (writing HELP and TYPE first if it is a
 * new family). labels: NULL-terminated name, value pairs. */
static void pb_sample(struct prom_buf *b, const char *name, const char *type, const char *help,
		      const char *const *labels, double v)
{
	if (isnan(v))
		return;
	if (!b->family || strcmp(b->family, name)) {
		pb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
		b->family = name;
	}
	pb_printf(b, "%s", name);
	if (labels && labels[0]) {
		pb_printf(b, "{");
		for (int i = 0; labels[i]; i += 2) {
			pb_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
			pb_label_value(b, labels[i + 1]);
			pb_printf(b, "\"");
		}
		pb_printf(b, "}");
	}
	if (isinf(v))
		pb_printf(b, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		pb_printf(b, " %.0f\n", v);
	else
		pb_printf(b, " %.9g\n", v);
}

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *const cpu_modes[TEL_CPU_NFIELDS] = {
	"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};

static void prom_cpu(struct prom_buf *b, const struct tel_prom_input *in)
{
	const struct tel_sample *s = in->s;
	double hz = in->clk_tck > 0 ? (double)in->clk_tck : 100.0;

	for (int m = 0; s->cpu_total.present && m < TEL_CPU_NFIELDS; m++)
		pb_sample(b, "constella_cpu_seconds_total", "counter",
			  "CPU time of all cores by mode (/proc/stat).", L("mode", cpu_modes[m]),
			  (double)s->cpu_total.t[m] / hz);
	pb_sample(b, "constella_cpu_usage_ratio", "gauge",
		  "Busy share of all cores over the last sample interval (0-1).", NULL,
		  s->cpu_pct / 100.0);
	for (unsigned i = 0; i < s->n_cores; i++) {
		char core[16];

		snprintf(core, sizeof(core), "%u", i);
		pb_sample(b, "constella_cpu_core_usage_ratio", "gauge",
			  "Busy share of one core over the last sample interval (0-1).",
			  L("cpu", core), s->core_pct[i] / 100.0);
	}
	pb_sample(b, "constella_cpu_cores", "gauge", "Cores listed in /proc/stat.", NULL,
		  s->n_cores ? (double)s->n_cores : NAN);
}

static void prom_system(struct prom_buf *b, const struct tel_prom_input *in)
{
	const struct tel_sample *s = in->s;

	pb_sample(b, "constella_load1", "gauge", "1-minute load average.", NULL, s->load[0]);
	pb_sample(b, "constella_load5", "gauge", "5-minute load average.", NULL, s->load[1]);
	pb_sample(b, "constella_load15", "gauge", "15-minute load average.", NULL, s->load[2]);
	pb_sample(b, "constella_uptime_seconds", "gauge", "Seconds since the host booted.", NULL,
		  s->uptime);
	pb_sample(b, "constella_processes", "gauge", "Processes running on the host.", NULL,
		  s->procs_ok ? (double)s->procs : NAN);
	if (s->mem_ok) {
		pb_sample(b, "constella_memory_total_bytes", "gauge", "Physical memory.", NULL,
			  (double)s->mem.total);
		pb_sample(b, "constella_memory_available_bytes", "gauge",
			  "Memory available for new work without swapping (MemAvailable).", NULL,
			  (double)s->mem.available);
		pb_sample(b, "constella_swap_total_bytes", "gauge", "Swap space (0 without swap).",
			  NULL, (double)s->mem.swap_total);
		pb_sample(b, "constella_swap_free_bytes", "gauge", "Unused swap space.", NULL,
			  (double)s->mem.swap_free);
	}
}

static void prom_disks(struct prom_buf *b, const struct tel_prom_input *in)
{
	const struct tel_sample *s = in->s;
	static const struct {
		const char *name, *help;
	} fam[3] = {
		{ "constella_filesystem_size_bytes", "Size of a mounted filesystem of interest." },
		{ "constella_filesystem_avail_bytes", "Space available to unprivileged users." },
		{ "constella_filesystem_free_bytes", "Free space, root's reserve included." },
	};

	for (int f = 0; f < 3; f++)
		for (size_t i = 0; i < s->n_disks; i++) {
			const struct tel_sample_disk *d = &s->disks[i];
			double v = f == 0 ? (double)d->total : f == 1 ? (double)d->avail : (double)d->free;

			if (d->fs_ok)
				pb_sample(b, fam[f].name, "gauge", fam[f].help,
					  L("mountpoint", d->mount_point, "device", d->device, "fstype",
					    d->fstype), v);
		}
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < s->n_disks; i++) {
			const struct tel_sample_disk *d = &s->disks[i];

			if (d->io_ok)
				pb_sample(b, f ? "constella_disk_written_bytes_total" :
						 "constella_disk_read_bytes_total", "counter",
					  f ? "Bytes written to the device of a filesystem of interest." :
					      "Bytes read from the device of a filesystem of interest.",
					  L("device", d->device),
					  (double)(f ? d->written_bytes : d->read_bytes));
		}
}

static void prom_net(struct prom_buf *b, const struct tel_prom_input *in)
{
	const struct tel_sample *s = in->s;

	for (int f = 0; f < 2; f++) {
		const char *name = f ? "constella_network_transmit_bytes_total" :
				       "constella_network_receive_bytes_total";
		const char *help = f ? "Bytes sent by an interface (the overlay's included)." :
				       "Bytes received by an interface (the overlay's included).";

		for (size_t i = 0; i < s->n_ifaces; i++)
			pb_sample(b, name, "counter", help, L("interface", s->ifaces[i].name),
				  (double)(f ? s->ifaces[i].tx_bytes : s->ifaces[i].rx_bytes));
		if (s->overlay_present)
			pb_sample(b, name, "counter", help, L("interface", s->overlay.name),
				  (double)(f ? s->overlay.tx_bytes : s->overlay.rx_bytes));
	}
	for (int f = 0; f < 3 && in->peers; f++)
		for (size_t i = 0; i < in->n_peers; i++) {
			const struct node_telemetry_overlay_peer *p = &in->peers[i];
			const char *const *l = L("peer", p->name[0] ? p->name : "?", "public_key",
						 p->public_key);

			if (f == 0)
				pb_sample(b, "constella_overlay_peer_receive_bytes_total", "counter",
					  "Bytes received from an overlay peer.", l, (double)p->rx_bytes);
			else if (f == 1)
				pb_sample(b, "constella_overlay_peer_transmit_bytes_total", "counter",
					  "Bytes sent to an overlay peer.", l, (double)p->tx_bytes);
			else if (p->latest_handshake > 0)
				pb_sample(b, "constella_overlay_peer_last_handshake_timestamp_seconds",
					  "gauge", "Unix time of the latest handshake with an overlay peer.",
					  l, (double)p->latest_handshake);
		}
}

static void prom_speedtests(struct prom_buf *b, const struct tel_prom_input *in)
{
	const struct tel_st_result *r[2] = { in->last_peer, in->last_inet };
	static const struct {
		const char *name, *help;
	} fam[4] = {
		{ "constella_speedtest_download_bytes_per_second",
		  "Last speed test: throughput towards this node." },
		{ "constella_speedtest_upload_bytes_per_second",
		  "Last speed test: throughput from this node." },
		{ "constella_speedtest_rtt_seconds", "Last speed test: round-trip time." },
		{ "constella_speedtest_timestamp_seconds", "Last speed test: when it ended (unix time)." },
	};

	for (int f = 0; f < 4; f++)
		for (int k = 0; k < 2; k++) {
			const struct tel_st_result *x = r[k];
			double v;

			if (!x)
				continue;
			v = f == 0 ? x->down_rate : f == 1 ? x->up_rate : f == 2 ? x->rtt_ms / 1000.0 :
									  (double)x->ts;
			pb_sample(b, fam[f].name, "gauge", fam[f].help,
				  L("kind", k ? "internet" : "peer", "target", k ? x->host : x->peer), v);
		}
}

int tel_prom_render(const struct tel_prom_input *in, char **out, size_t *len)
{
	struct prom_buf b = { .cap = 16384 };

	*out = NULL;
	if (!(b.p = malloc(b.cap)))
		return -ENOMEM;
	b.p[0] = 0;
	pb_sample(&b, "constella_node_info", "gauge", "This node's name and version (always 1).",
		  L("name", in->name, "version", in->version), 1);
	if (in->s && in->s->valid) {
		prom_cpu(&b, in);
		prom_system(&b, in);
		prom_disks(&b, in);
		prom_net(&b, in);
	}
	prom_speedtests(&b, in);
	pb_sample(&b, "constella_sample_duration_seconds", "gauge",
		  "How long the last sampling round of /proc and /sys took.", NULL,
		  in->sample_cost_s);
	pb_sample(&b, "constella_history_bytes", "gauge",
		  "Memory held by the time-series ring buffers.", NULL, (double)in->history_bytes);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.n;
	return 0;
}
