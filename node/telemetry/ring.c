/* Fixed-size rings of points (ring.h). */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tel_ring_init(struct tel_ring *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	if (cap == 0 || cap > TEL_RING_MAX)
		return -EINVAL;
	if (!(r->p = calloc(cap, sizeof(*r->p))))
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

void tel_ring_deinit(struct tel_ring *r)
{
	free(r->p);
	memset(r, 0, sizeof(*r));
}

const struct tel_point *tel_ring_at(const struct tel_ring *r, uint32_t i)
{
	return &r->p[(r->start + i) % r->cap];
}

void tel_ring_push(struct tel_ring *r, uint32_t ts, float v)
{
	if (r->n && ts < tel_ring_at(r, r->n - 1)->ts)
		ts = tel_ring_at(r, r->n - 1)->ts;
	if (r->n < r->cap) {
		r->p[(r->start + r->n) % r->cap] = (struct tel_point){ ts, v };
		r->n++;
		return;
	}
	r->p[r->start] = (struct tel_point){ ts, v };
	r->start = (r->start + 1) % r->cap;
}

uint32_t tel_ring_first_since(const struct tel_ring *r, uint32_t since)
{
	uint32_t lo = 0, hi = r->n;

	/* timestamps are non-decreasing from oldest to newest */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (tel_ring_at(r, mid)->ts < since)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void tel_ring_summary(const struct tel_ring *r, uint32_t since, struct tel_summary *s)
{
	double sum = 0;

	memset(s, 0, sizeof(*s));
	for (uint32_t i = tel_ring_first_since(r, since); i < r->n; i++) {
		const struct tel_point *p = tel_ring_at(r, i);

		if (!s->count || p->v > s->max)
			s->max = p->v;
		if (!s->count || p->v < s->min)
			s->min = p->v;
		sum += p->v;
		s->count++;
		s->last = p->v;
		s->last_ts = p->ts;
	}
	if (s->count)
		s->avg = sum / s->count;
}

uint32_t tel_ring_buckets(const struct tel_ring *r, uint32_t since, uint32_t until, uint32_t nb,
			  struct tel_point *out)
{
	uint64_t span = until >= since ? (uint64_t)until - since + 1 : 0;
	uint32_t n = 0, cur = UINT32_MAX, cnt = 0;
	double sum = 0;
	uint32_t last_ts = 0;

	if (!nb || !span)
		return 0;
	for (uint32_t i = tel_ring_first_since(r, since); i < r->n; i++) {
		const struct tel_point *p = tel_ring_at(r, i);
		uint32_t b;

		if (p->ts > until)
			break;
		b = (uint32_t)(((uint64_t)(p->ts - since) * nb) / span);
		if (b != cur && cnt) {
			out[n++] = (struct tel_point){ last_ts, (float)(sum / cnt) };
			sum = 0;
			cnt = 0;
		}
		cur = b;
		sum += p->v;
		cnt++;
		last_ts = p->ts;
	}
	if (cnt && n < nb)
		out[n++] = (struct tel_point){ last_ts, (float)(sum / cnt) };
	return n;
}
