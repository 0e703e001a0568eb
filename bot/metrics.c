/* GetStats / GetTS / RunSpeedtest answers for the screens (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A finite number in [lo, hi] at key k; absent gives dflt. */
static int mt_num(const cJSON *o, const char *k, double lo, double hi, double dflt, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!v || cJSON_IsNull(v)) {
		*out = dflt;
		return 0;
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
	    v->valuedouble > hi)
		return -EINVAL;
	*out = v->valuedouble;
	return 0;
}

/* GetStats v2's load averages and interface rates (absent: unknown). */
static int mt_stats_v2(const cJSON *o, struct bot_stats *out)
{
	const cJSON *load = cJSON_GetObjectItemCaseSensitive(o, "load");
	const cJSON *net = cJSON_GetObjectItemCaseSensitive(o, "net"), *x;
	double rx = 0, tx = 0, v;
	int i = 0;

	out->load[0] = out->load[1] = out->load[2] = -1;
	out->net_rx_bps = out->net_tx_bps = -1;
	if (load && !cJSON_IsNull(load)) {
		if (!cJSON_IsArray(load) || cJSON_GetArraySize(load) != 3)
			return -EINVAL;
		cJSON_ArrayForEach(x, load) {
			if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0 ||
			    x->valuedouble > 1e6)
				return -EINVAL;
			out->load[i++] = x->valuedouble;
		}
	}
	if (net && !cJSON_IsNull(net)) {
		if (!cJSON_IsArray(net) || cJSON_GetArraySize(net) > 1024)
			return -EINVAL;
		cJSON_ArrayForEach(x, net) {
			if (!cJSON_IsObject(x))
				return -EINVAL;
			/* a rate is null until two samples exist */
			if (mt_num(x, "rx_bytes_per_s", 0, 1e13, 0, &v))
				return -EINVAL;
			rx += v;
			if (mt_num(x, "tx_bytes_per_s", 0, 1e13, 0, &v))
				return -EINVAL;
			tx += v;
		}
		out->net_rx_bps = rx;
		out->net_tx_bps = tx;
	}
	return 0;
}

int bot_stats_parse(const cJSON *o, struct bot_stats *out)
{
	const cJSON *cpus, *c;
	unsigned n = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o))
		return -EINVAL;
	cpus = cJSON_GetObjectItemCaseSensitive(o, "cpu_pct");
	if (cpus && !cJSON_IsArray(cpus))
		return -EINVAL;
	cJSON_ArrayForEach(c, cpus) {
		if (n >= BOT_STATS_MAX_CPUS || !cJSON_IsNumber(c) || !isfinite(c->valuedouble) ||
		    c->valuedouble < 0 || c->valuedouble > 100.0001)
			return -EINVAL;
		out->cpu_pct[n++] = c->valuedouble;
	}
	out->n_cpus = n;
	/* the daemon writes -1 for what it could not read */
	if (mt_num(o, "mem_total_kb", -1, 1e15, -1, &out->mem_total_kb) ||
	    mt_num(o, "mem_available_kb", -1, 1e15, -1, &out->mem_available_kb) ||
	    mt_num(o, "disk_total_b", -1, 1e19, -1, &out->disk_total_b) ||
	    mt_num(o, "disk_free_b", -1, 1e19, -1, &out->disk_free_b) ||
	    mt_num(o, "uptime_s", -1, 1e11, -1, &out->uptime_s))
		return -EINVAL;
	return mt_stats_v2(o, out);
}

double bot_stats_cpu_avg(const struct bot_stats *s)
{
	double sum = 0;

	if (!s->n_cpus)
		return -1;
	for (unsigned i = 0; i < s->n_cpus; i++)
		sum += s->cpu_pct[i];
	return sum / s->n_cpus;
}

double bot_stats_mem_pct(const struct bot_stats *s)
{
	if (s->mem_total_kb <= 0 || s->mem_available_kb < 0 || s->mem_available_kb > s->mem_total_kb)
		return -1;
	return 100.0 * (s->mem_total_kb - s->mem_available_kb) / s->mem_total_kb;
}

static void mt_bytes(double b, char *out, size_t cap)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int i = 0;

	while (b >= 1024 && i < 5) {
		b /= 1024;
		i++;
	}
	snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

void bot_stats_format(struct bot_text *t, const struct bot_stats *s)
{
	char a[32], b[32];
	double v;

	if (s->n_cpus) {
		bot_text_rawf(t, "CPU: <b>%.0f%%</b> over %u core%s", bot_stats_cpu_avg(s), s->n_cpus,
			      s->n_cpus == 1 ? "" : "s");
		if (s->n_cpus > 1 && s->n_cpus <= 16) {
			bot_text_raw(t, " (");
			for (unsigned i = 0; i < s->n_cpus; i++)
				bot_text_rawf(t, "%s%.0f", i ? " · " : "", s->cpu_pct[i]);
			bot_text_raw(t, ")");
		}
	} else {
		bot_text_raw(t, "CPU: unknown");
	}
	bot_text_endl(t);
	if ((v = bot_stats_mem_pct(s)) >= 0) {
		mt_bytes((s->mem_total_kb - s->mem_available_kb) * 1024, a, sizeof(a));
		mt_bytes(s->mem_total_kb * 1024, b, sizeof(b));
		bot_text_rawf(t, "Memory: <b>%.0f%%</b> used (%s of %s)", v, a, b);
	} else {
		bot_text_raw(t, "Memory: unknown");
	}
	bot_text_endl(t);
	if (s->disk_total_b > 0 && s->disk_free_b >= 0 && s->disk_free_b <= s->disk_total_b) {
		mt_bytes(s->disk_total_b - s->disk_free_b, a, sizeof(a));
		mt_bytes(s->disk_total_b, b, sizeof(b));
		bot_text_rawf(t, "Disk /: <b>%.0f%%</b> used (%s of %s)",
			      100.0 * (s->disk_total_b - s->disk_free_b) / s->disk_total_b, a, b);
	} else {
		bot_text_raw(t, "Disk /: unknown");
	}
	bot_text_endl(t);
	if (s->load[0] >= 0) {
		bot_text_rawf(t, "Load: %.2f %.2f %.2f", s->load[0], s->load[1], s->load[2]);
		bot_text_endl(t);
	}
	if (s->net_rx_bps >= 0) {
		bot_text_rawf(t, "Network: ⬇️ %.2f Mbit/s · ⬆️ %.2f Mbit/s", s->net_rx_bps * 8 / 1e6,
			      s->net_tx_bps * 8 / 1e6);
		bot_text_endl(t);
	}
	if (s->uptime_s >= 0) {
		long long up = (long long)s->uptime_s;

		bot_text_rawf(t, "Uptime: %lld d %lld h %lld min", up / 86400, up % 86400 / 3600,
			      up % 3600 / 60);
	} else {
		bot_text_raw(t, "Uptime: unknown");
	}
	bot_text_endl(t);
}

void bot_series_free(struct bot_series *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].t);
		free(s[i].v);
		s[i].t = s[i].v = NULL;
		s[i].n = 0;
	}
}

static int mt_point(const cJSON *p, double *t, double *v)
{
	const cJSON *a, *b;

	if (cJSON_IsArray(p)) {
		if (cJSON_GetArraySize(p) != 2)
			return -EINVAL;
		a = cJSON_GetArrayItem(p, 0);
		b = cJSON_GetArrayItem(p, 1);
	} else if (cJSON_IsObject(p)) {
		a = cJSON_GetObjectItemCaseSensitive(p, "t");
		if (!a)
			a = cJSON_GetObjectItemCaseSensitive(p, "ts");
		b = cJSON_GetObjectItemCaseSensitive(p, "v");
		if (!b)
			b = cJSON_GetObjectItemCaseSensitive(p, "value");
	} else {
		return -EINVAL;
	}
	if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !isfinite(a->valuedouble) ||
	    !isfinite(b->valuedouble) || a->valuedouble < 0 || a->valuedouble > 1e11 ||
	    fabs(b->valuedouble) > 1e15)
		return -EINVAL;
	*t = a->valuedouble;
	*v = b->valuedouble;
	return 0;
}

static int mt_series(const cJSON *points, const char *name, struct bot_series *s)
{
	const cJSON *p;
	size_t n = (size_t)cJSON_GetArraySize(points), i = 0;

	memset(s, 0, sizeof(*s));
	if (!cJSON_IsArray(points) || n > BOT_SERIES_MAX_POINTS)
		return -EINVAL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (!n)
		return 0;
	s->t = malloc(n * sizeof(double));
	s->v = malloc(n * sizeof(double));
	if (!s->t || !s->v) {
		bot_series_free(s, 1);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(p, points) {
		if (mt_point(p, &s->t[i], &s->v[i])) {
			bot_series_free(s, 1);
			return -EINVAL;
		}
		i++;
	}
	s->n = n;
	return 0;
}

static int mt_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= sizeof(((struct bot_series *)0)->name))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int bot_ts_parse(const cJSON *o, const char *default_name, struct bot_series *out, size_t *n)
{
	const cJSON *series, *points, *x;
	size_t start = *n;
	int r;

	if (!cJSON_IsObject(o))
		return -EINVAL;
	series = cJSON_GetObjectItemCaseSensitive(o, "series");
	points = cJSON_GetObjectItemCaseSensitive(o, "points");
	if (points) {
		const cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "summary");
		double cnt, avg, max;

		if (*n >= BOT_SERIES_MAX)
			return -EINVAL;
		if ((r = mt_series(points, default_name, &out[*n])))
			return r;
		if (sum && !cJSON_IsNull(sum)) {
			if (!cJSON_IsObject(sum) || mt_num(sum, "count", 0, 1e12, 0, &cnt) ||
			    mt_num(sum, "avg", -1e15, 1e15, 0, &avg) ||
			    mt_num(sum, "max", -1e15, 1e15, 0, &max)) {
				bot_series_free(&out[*n], 1);
				return -EINVAL;
			}
			if (cnt > 0) {
				out[*n].has_summary = 1;
				out[*n].s_avg = avg;
				out[*n].s_max = max;
			}
		}
		(*n)++;
	}
	if (series && !cJSON_IsArray(series))
		goto bad;
	cJSON_ArrayForEach(x, series) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name");
		const char *name = default_name;

		if (!cJSON_IsObject(x) || *n >= BOT_SERIES_MAX)
			goto bad;
		if (nm) {
			if (!cJSON_IsString(nm) || !mt_name_ok(nm->valuestring))
				goto bad;
			name = nm->valuestring;
		}
		if ((r = mt_series(cJSON_GetObjectItemCaseSensitive(x, "points"), name, &out[*n]))) {
			bot_series_free(out + start, *n - start);
			*n = start;
			return r;
		}
		(*n)++;
	}
	return 0;
bad:
	bot_series_free(out + start, *n - start);
	*n = start;
	return -EINVAL;
}

void bot_series_scale(struct bot_series *s, double f)
{
	for (size_t i = 0; i < s->n; i++)
		s->v[i] *= f;
	s->s_avg *= f;
	s->s_max *= f;
}

int bot_series_summary(const struct bot_series *s, double since, double *avg, double *max)
{
	double sum = 0, mx = -INFINITY;
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->t[i] < since)
			continue;
		sum += s->v[i];
		if (s->v[i] > mx)
			mx = s->v[i];
		k++;
	}
	if (!k)
		return -ENOENT;
	*avg = sum / (double)k;
	*max = mx;
	return 0;
}

void bot_series_spark(const struct bot_series *s, size_t k, double top, char *out, size_t cap)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	size_t from = s->n > k ? s->n - k : 0, o = 0;

	if (cap)
		out[0] = 0;
	for (size_t i = from; i < s->n; i++) {
		double f = top > 0 ? s->v[i] / top : 0;
		int b = (int)floor(f * 8);

		if (b < 0)
			b = 0;
		if (b > 7)
			b = 7;
		if (o + 4 >= cap)
			break;
		memcpy(out + o, bars[b], 3);
		o += 3;
		out[o] = 0;
	}
}

int bot_speedtest_format(const cJSON *o, char *out, size_t cap)
{
	const cJSON *dbps = cJSON_GetObjectItemCaseSensitive(o, "down_bytes_per_s");
	double down, up, ping;

	if (!cJSON_IsObject(o))
		return -EINVAL;
	if (dbps) {
		/* docs/cli.md's shape: bytes per second, up may be null (internet) */
		if (mt_num(o, "down_bytes_per_s", 0, 1e13, -1, &down) ||
		    mt_num(o, "up_bytes_per_s", 0, 1e13, -1, &up) ||
		    mt_num(o, "rtt_ms", 0, 1e7, -1, &ping) || down < 0)
			return -EINVAL;
		char upt[48] = "failed", rtt[32] = "";

		if (up >= 0)
			snprintf(upt, sizeof(upt), "<b>%.1f</b> Mbit/s", up * 8 / 1e6);
		if (ping >= 0)
			snprintf(rtt, sizeof(rtt), " · rtt %.2f ms", ping);
		snprintf(out, cap, "⬇️ <b>%.1f</b> Mbit/s · ⬆️ %s%s", down * 8 / 1e6, upt, rtt);
		return 0;
	}
	if (mt_num(o, "down_mbps", 0, 1e7, -1, &down) || mt_num(o, "up_mbps", 0, 1e7, -1, &up) ||
	    mt_num(o, "ping_ms", 0, 1e7, -1, &ping))
		return -EINVAL;
	if (down < 0 && up < 0) {
		/* the original's shape: bits per second */
		if (mt_num(o, "download", 0, 1e13, -1, &down) || mt_num(o, "upload", 0, 1e13, -1, &up) ||
		    mt_num(o, "ping", 0, 1e7, -1, &ping))
			return -EINVAL;
		if (down >= 0)
			down /= 1e6;
		if (up >= 0)
			up /= 1e6;
	}
	if (down < 0 || up < 0)
		return -EINVAL;
	if (ping >= 0)
		snprintf(out, cap, "⬇️ <b>%.1f</b> Mbit/s · ⬆️ <b>%.1f</b> Mbit/s · ping %.0f ms", down,
			 up, ping);
	else
		snprintf(out, cap, "⬇️ <b>%.1f</b> Mbit/s · ⬆️ <b>%.1f</b> Mbit/s", down, up);
	return 0;
}
