/* The one clock of a process. Code that needs time takes a `now` argument
 * where it can (protocol cores, lease, timers), so tests drive time by hand;
 * these are for the outer layers that read the real clock. */
#ifndef CST_CLOCK_H
#define CST_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CST_NSEC_PER_SEC 1000000000ULL

static inline uint64_t cst_clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CST_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* CLOCK_BOOTTIME keeps counting across suspend: lease expiry must too. */
static inline uint64_t cst_clock_boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * CST_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cst_clock_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * CST_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

#endif
