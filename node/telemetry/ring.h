/* A fixed-size ring of time-stamped points: the storage of one time series.
 * 8 bytes a point (unix seconds as u32, good until 2106, and a float), all
 * allocated at init, so memory never grows with uptime. */
#ifndef TEL_RING_H
#define TEL_RING_H

#include <stddef.h>
#include <stdint.h>

#define TEL_RING_MAX 65536u /* points per series: the largest window we accept */

struct tel_point {
	uint32_t ts;
	float v;
};

struct tel_ring {
	struct tel_point *p;
	uint32_t cap, start, n;
};

struct tel_summary {
	uint32_t count;
	double avg, max, min, last; /* meaningless when count is 0 */
	uint32_t last_ts;
};

/* cap 1..TEL_RING_MAX. 0 or -ENOMEM / -EINVAL. */
int tel_ring_init(struct tel_ring *r, uint32_t cap);
void tel_ring_deinit(struct tel_ring *r);
/* Appends, dropping the oldest point when full. Timestamps never go back: a
 * ts older than the newest point (the wall clock was stepped back) is
 * stored as the newest one's, so windows stay ordered. */
void tel_ring_push(struct tel_ring *r, uint32_t ts, float v);
/* i-th point, 0 = oldest, i < n. */
const struct tel_point *tel_ring_at(const struct tel_ring *r, uint32_t i);
/* Index of the first point with ts >= since (n when none). */
uint32_t tel_ring_first_since(const struct tel_ring *r, uint32_t since);
/* Count, average, maximum, minimum and last of the points with ts >= since. */
void tel_ring_summary(const struct tel_ring *r, uint32_t since, struct tel_summary *s);
/* Averages the points with since <= ts <= until into nb buckets of equal
 * time; each non-empty bucket gives one point (its last ts, the average).
 * out has room for nb points; returns how many were written. */
uint32_t tel_ring_buckets(const struct tel_ring *r, uint32_t since, uint32_t until, uint32_t nb,
			  struct tel_point *out);

#endif
