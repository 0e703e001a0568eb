/* GetStats and GetTS JSON (tel_json.h). */
#include "tel_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double tel_round(double v, int decimals)
{
	double m = pow(10, decimals);

	return fabs(v) < 1e15 ? round(v * m) / m : v;
}

void tel_json_add_num(cJSON *o, const char *key, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, tel_round(v, decimals));
}

static void tel_json_push_num(cJSON *a, double v, int decimals)
{
	cJSON_AddItemToArray(a, isnan(v) || isinf(v) ? cJSON_CreateNull() :
			     cJSON_CreateNumber(tel_round(v, decimals)));
}

static cJSON *tel_json_iface(const struct tel_sample_iface *i)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "iface", i->name);
	tel_json_add_num(o, "rx_bytes_per_s", i->rx_rate, 1);
	tel_json_add_num(o, "tx_bytes_per_s", i->tx_rate, 1);
	cJSON_AddNumberToObject(o, "rx_bytes", (double)i->rx_bytes);
	cJSON_AddNumberToObject(o, "tx_bytes", (double)i->tx_bytes);
	return o;
}

cJSON *tel_json_sample(const struct tel_sample *s, const char *name, unsigned sample_every_s,
		       const char *overlay_if)
{
	cJSON *o = cJSON_CreateObject(), *a, *c, *m;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "v", 2);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "ts", (double)s->ts);
	cJSON_AddNumberToObject(o, "sample_every_s", sample_every_s);
	tel_json_add_num(o, "uptime_s", s->uptime, 1);
	tel_json_add_num(o, "procs", s->procs_ok ? (double)s->procs : NAN, 0);
	a = cJSON_AddArrayToObject(o, "load");
	for (int i = 0; i < 3; i++)
		tel_json_push_num(a, s->load[i], 2);

	c = cJSON_AddObjectToObject(o, "cpu");
	tel_json_add_num(c, "total_pct", s->cpu_pct, 2);
	a = cJSON_AddArrayToObject(c, "per_core_pct");
	for (unsigned i = 0; i < s->n_cores; i++)
		tel_json_push_num(a, s->core_pct[i], 2);

	m = cJSON_AddObjectToObject(o, "mem");
	tel_json_add_num(m, "total_b", s->mem_ok ? (double)s->mem.total : NAN, 0);
	tel_json_add_num(m, "available_b", s->mem_ok ? (double)s->mem.available : NAN, 0);
	tel_json_add_num(m, "used_pct", s->mem_used_pct, 2);
	tel_json_add_num(m, "swap_total_b", s->mem_ok ? (double)s->mem.swap_total : NAN, 0);
	tel_json_add_num(m, "swap_free_b", s->mem_ok ? (double)s->mem.swap_free : NAN, 0);
	tel_json_add_num(m, "swap_used_pct", s->swap_used_pct, 2);

	a = cJSON_AddArrayToObject(o, "disks");
	for (size_t i = 0; i < s->n_disks; i++) {
		const struct tel_sample_disk *d = &s->disks[i];
		cJSON *x = cJSON_CreateObject();

		cJSON_AddItemToArray(a, x);
		cJSON_AddStringToObject(x, "mount", d->mount_point);
		cJSON_AddStringToObject(x, "device", d->device);
		cJSON_AddStringToObject(x, "fstype", d->fstype);
		tel_json_add_num(x, "total_b", d->fs_ok ? (double)d->total : NAN, 0);
		tel_json_add_num(x, "avail_b", d->fs_ok ? (double)d->avail : NAN, 0);
		tel_json_add_num(x, "used_pct", d->used_pct, 2);
		tel_json_add_num(x, "read_bytes_per_s", d->read_rate, 1);
		tel_json_add_num(x, "write_bytes_per_s", d->write_rate, 1);
	}

	a = cJSON_AddArrayToObject(o, "net");
	for (size_t i = 0; i < s->n_ifaces; i++)
		cJSON_AddItemToArray(a, tel_json_iface(&s->ifaces[i]));

	if (!overlay_if || !*overlay_if) {
		cJSON_AddNullToObject(o, "overlay");
	} else {
		cJSON *ov;

		if (s->overlay_present) {
			ov = tel_json_iface(&s->overlay);
		} else {
			ov = cJSON_CreateObject();
			cJSON_AddStringToObject(ov, "iface", overlay_if);
			cJSON_AddNullToObject(ov, "rx_bytes_per_s");
			cJSON_AddNullToObject(ov, "tx_bytes_per_s");
			cJSON_AddNullToObject(ov, "rx_bytes");
			cJSON_AddNullToObject(ov, "tx_bytes");
		}
		cJSON_AddItemToObject(o, "overlay", ov);
		cJSON_AddBoolToObject(ov, "present", s->overlay_present);
		cJSON_AddNullToObject(ov, "peers");
	}

	/* version 1's fields, same meaning */
	a = cJSON_AddArrayToObject(o, "cpu_pct");
	for (unsigned i = 0; i < s->n_cores; i++)
		tel_json_push_num(a, s->core_pct[i], 2);
	tel_json_add_num(o, "mem_total_kb", s->mem_ok ? (double)(s->mem.total / 1024) : NAN, 0);
	tel_json_add_num(o, "mem_available_kb",
			 s->mem_ok ? (double)(s->mem.available / 1024) : NAN, 0);
	tel_json_add_num(o, "disk_total_b", s->root_ok ? (double)s->root_total : NAN, 0);
	tel_json_add_num(o, "disk_free_b", s->root_ok ? (double)s->root_avail : NAN, 0);
	return o;
}

cJSON *tel_json_summary(const struct tel_summary *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "count", s->count);
	tel_json_add_num(o, "avg", s->count ? s->avg : NAN, 3);
	tel_json_add_num(o, "max", s->count ? s->max : NAN, 3);
	tel_json_add_num(o, "min", s->count ? s->min : NAN, 3);
	tel_json_add_num(o, "last", s->count ? s->last : NAN, 3);
	tel_json_add_num(o, "last_ts", s->count ? (double)s->last_ts : NAN, 0);
	return o;
}

cJSON *tel_json_summaries(const struct tel_history *h, uint32_t since)
{
	cJSON *o = cJSON_CreateObject();

	for (int k = 0; o && k < TEL_K_N; k++) {
		struct tel_summary s;

		cJSON *x;

		tel_ring_summary(&h->ring[k], since, &s);
		x = tel_json_summary(&s);
		cJSON_AddStringToObject(x, "unit", tel_kind_unit((enum tel_kind)k));
		cJSON_AddItemToObject(o, tel_kind_name((enum tel_kind)k), x);
	}
	return o;
}

int tel_json_hours(const struct tel_history *h, const cJSON *params, int64_t now, double *hours,
		   uint32_t *since, char *err, size_t errlen)
{
	const cJSON *jh = cJSON_GetObjectItemCaseSensitive(params, "hours");
	int64_t from;

	*hours = h->window_h;
	if (jh && !cJSON_IsNull(jh)) {
		if (!cJSON_IsNumber(jh) || !(jh->valuedouble > 0) ||
		    jh->valuedouble > (double)h->window_h) {
			snprintf(err, errlen, "hours must be a number in (0, %u] (METRICS_WINDOW_H)",
				 h->window_h);
			return -EINVAL;
		}
		*hours = jh->valuedouble;
	}
	from = now - (int64_t)llround(*hours * 3600);
	*since = from < 0 ? 0 : from > UINT32_MAX ? UINT32_MAX : (uint32_t)from;
	return 0;
}

int tel_json_series(const struct tel_history *h, const cJSON *params, int64_t now, cJSON **out,
		    char *err, size_t errlen)
{
	const cJSON *jk = cJSON_GetObjectItemCaseSensitive(params, "kind");
	const cJSON *jp = cJSON_GetObjectItemCaseSensitive(params, "points");
	const struct tel_ring *r;
	struct tel_summary sum;
	cJSON *o, *pts;
	uint32_t since, nb = 0;
	double hours;
	int k, ret;

	*out = NULL;
	if (!cJSON_IsString(jk)) {
		snprintf(err, errlen, "GetTS: kind (a string) is required");
		return -EINVAL;
	}
	if ((k = tel_kind_parse(jk->valuestring)) < 0) {
		size_t off = (size_t)snprintf(err, errlen, "GetTS: unknown kind \"%.32s\" (known:",
					      jk->valuestring);

		for (int i = 0; i < TEL_K_N && off < errlen; i++)
			off += (size_t)snprintf(err + off, errlen - off, "%s %s", i ? "," : "",
						tel_kind_name((enum tel_kind)i));
		if (off < errlen)
			snprintf(err + off, errlen - off, ")");
		return -EINVAL;
	}
	if ((ret = tel_json_hours(h, params, now, &hours, &since, err, errlen)))
		return ret;
	if (jp && !cJSON_IsNull(jp)) {
		if (!cJSON_IsNumber(jp) || jp->valuedouble < 1 ||
		    jp->valuedouble > TEL_JSON_MAX_POINTS || jp->valuedouble != floor(jp->valuedouble)) {
			snprintf(err, errlen, "points must be a whole number in [1, %d]",
				 TEL_JSON_MAX_POINTS);
			return -EINVAL;
		}
		nb = (uint32_t)jp->valuedouble;
	}
	r = &h->ring[k];
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", tel_kind_name((enum tel_kind)k));
	cJSON_AddStringToObject(o, "unit", tel_kind_unit((enum tel_kind)k));
	cJSON_AddNumberToObject(o, "hours", hours);
	cJSON_AddNumberToObject(o, "sample_every_s", h->sample_every_s);
	pts = cJSON_AddArrayToObject(o, "points");
	if (nb) {
		struct tel_point *b = calloc(nb, sizeof(*b));
		uint32_t n = b ? tel_ring_buckets(r, since, now < 0 ? 0 : now > UINT32_MAX ?
						  UINT32_MAX : (uint32_t)now, nb, b) : 0;

		for (uint32_t i = 0; i < n; i++) {
			cJSON *p = cJSON_CreateArray();

			cJSON_AddItemToArray(p, cJSON_CreateNumber(b[i].ts));
			cJSON_AddItemToArray(p, cJSON_CreateNumber(tel_round(b[i].v, 3)));
			cJSON_AddItemToArray(pts, p);
		}
		free(b);
	} else {
		for (uint32_t i = tel_ring_first_since(r, since); i < r->n; i++) {
			const struct tel_point *q = tel_ring_at(r, i);
			cJSON *p = cJSON_CreateArray();

			cJSON_AddItemToArray(p, cJSON_CreateNumber(q->ts));
			cJSON_AddItemToArray(p, cJSON_CreateNumber(tel_round(q->v, 3)));
			cJSON_AddItemToArray(pts, p);
		}
	}
	tel_ring_summary(r, since, &sum);
	cJSON_AddItemToObject(o, "summary", tel_json_summary(&sum));
	*out = o;
	return 0;
}
