/* Rate limiting of repeated log lines: one line per interval per limiter,
 * saying how many were held back since the last one. */
#ifndef CST_RATELIMIT_H
#define CST_RATELIMIT_H

struct cst_ratelimit {
	double last;         /* when a line last went out (0: never) */
	unsigned suppressed; /* held back since */
};

/* 1 when a line may go out now (then *held gets how many were held back
 * and the count restarts), 0 when it is held back. now: any monotonic
 * seconds > 0. */
static inline int cst_ratelimit_ok(struct cst_ratelimit *rl, double now, double interval,
				   unsigned *held)
{
	if (rl->last > 0 && now - rl->last < interval) {
		rl->suppressed++;
		return 0;
	}
	*held = rl->suppressed;
	rl->suppressed = 0;
	rl->last = now;
	return 1;
}

#endif
