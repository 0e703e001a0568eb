#include "cpool.h"

#include <errno.h>
#include <linux/futex.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define WG_CPOOL_MAX_WORKERS 15

struct wg_cpool_job {
	void (*fn)(void *arg, unsigned i);
	void *arg;
	unsigned n;
	atomic_uint next; /* the next item to take */
	atomic_uint done; /* items finished */
};

struct wg_cpool {
	atomic_bool taken;                  /* a caller's batch is on */
	_Atomic(struct wg_cpool_job *) job; /* posted batch, NULL between batches */
	_Atomic uint32_t seq;               /* futex word: bumped per post and at stop */
	atomic_int sleepers;                /* workers in (or entering) futex_wait */
	atomic_int inside;                  /* workers that may touch job */
	atomic_bool stop;
	unsigned min_items;
	size_t min_bytes;
	uint64_t spin_ns;
	unsigned nworkers;
	pthread_t threads[WG_CPOOL_MAX_WORKERS];
	/* logged at the end: how much the pool did */
	atomic_uint_fast64_t st_batches, st_items, st_worker_items, st_alone;
};

static inline void wg_cpool_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static uint64_t wg_cpool_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void wg_cpool_futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* Takes items until none are left. */
static unsigned wg_cpool_work(struct wg_cpool_job *j)
{
	unsigned i, k = 0;

	while ((i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->n) {
		j->fn(j->arg, i);
		atomic_fetch_add_explicit(&j->done, 1, memory_order_release);
		k++;
	}
	return k;
}

/* Waits for seq to move past seen: spins for spin_ns (a stream's next batch
 * usually comes within it), then sleeps. Returns the new seq. */
static uint32_t wg_cpool_wait(struct wg_cpool *p, uint32_t seen)
{
	uint64_t until = 0;
	uint32_t s;

	for (unsigned k = 0;; k++) {
		s = atomic_load(&p->seq);
		if (s != seen)
			return s;
		if ((k & 63) == 0) {
			uint64_t now = wg_cpool_now();
			if (!until)
				until = now + p->spin_ns;
			else if (now >= until)
				break;
		}
		wg_cpool_relax();
	}
	for (;;) {
		/* sleepers before the re-check, seq before sleepers on the
		 * poster's side (both seq_cst): one of us sees the other. */
		atomic_fetch_add(&p->sleepers, 1);
		s = atomic_load(&p->seq);
		if (s == seen)
			wg_cpool_futex(&p->seq, FUTEX_WAIT, seen);
		atomic_fetch_sub(&p->sleepers, 1);
		s = atomic_load(&p->seq);
		if (s != seen)
			return s;
	}
}

static void *wg_cpool_worker(void *arg)
{
	struct wg_cpool *p = arg;
	uint32_t seen = atomic_load(&p->seq);

	while (!atomic_load(&p->stop)) {
		struct wg_cpool_job *j;

		seen = wg_cpool_wait(p, seen);
		/* inside before job, against the poster's job = NULL before
		 * its wait for inside == 0: a job seen here stays alive until
		 * this worker leaves it. */
		atomic_fetch_add(&p->inside, 1);
		j = atomic_load(&p->job);
		if (j)
			atomic_fetch_add_explicit(&p->st_worker_items, wg_cpool_work(j),
						  memory_order_relaxed);
		atomic_fetch_sub(&p->inside, 1);
	}
	return NULL;
}

bool wg_cpool_worth(const struct wg_cpool *p, unsigned n, size_t bytes)
{
	return p && n && (n >= p->min_items || bytes >= p->min_bytes);
}

unsigned wg_cpool_workers(const struct wg_cpool *p)
{
	return p ? p->nworkers : 0;
}

void wg_cpool_run(struct wg_cpool *p, void (*fn)(void *arg, unsigned i), void *arg, unsigned n)
{
	struct wg_cpool_job j = { .fn = fn, .arg = arg, .n = n };
	bool expected = false;

	if (!p || !atomic_compare_exchange_strong(&p->taken, &expected, true)) {
		if (p)
			atomic_fetch_add_explicit(&p->st_alone, 1, memory_order_relaxed);
		for (unsigned i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	atomic_init(&j.next, 0);
	atomic_init(&j.done, 0);
	atomic_store(&p->job, &j);
	atomic_fetch_add(&p->seq, 1);
	if (atomic_load(&p->sleepers))
		wg_cpool_futex(&p->seq, FUTEX_WAKE, INT_MAX);
	wg_cpool_work(&j);
	/* The workers' last items: short, unless one was preempted, when
	 * yielding lets it finish sooner on a crowded machine. */
	for (unsigned k = 0; atomic_load_explicit(&j.done, memory_order_acquire) < n; k++) {
		if (k < 256)
			wg_cpool_relax();
		else
			sched_yield();
	}
	atomic_store(&p->job, NULL);
	while (atomic_load(&p->inside))
		wg_cpool_relax();
	atomic_store(&p->taken, false);
	atomic_fetch_add_explicit(&p->st_batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->st_items, n, memory_order_relaxed);
}

static unsigned wg_cpool_env(const char *name, unsigned def, unsigned max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max) {
		cst_warn("%s=%s ignored (0..%u)", name, s, max);
		return def;
	}
	return (unsigned)v;
}

int wg_cpool_new_from_env(struct wg_cpool **out)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned all = cpus > 1 ? (unsigned)(cpus - 1) : 0, workers;
	const char *w = getenv("CONSTELLA_WG_CRYPTO_THREADS");
	struct wg_cpool *p;
	int ret;

	*out = NULL;
	if (all > WG_CPOOL_MAX_WORKERS)
		all = WG_CPOOL_MAX_WORKERS;
	/* Off unless asked for: see cpool.h for why. */
	if (w && strcmp(w, "auto") == 0)
		workers = all;
	else
		workers = wg_cpool_env("CONSTELLA_WG_CRYPTO_THREADS", 0, WG_CPOOL_MAX_WORKERS);
	if (!workers)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->min_items = wg_cpool_env("CONSTELLA_WG_CRYPTO_MIN", 8, 1u << 20);
	if (!p->min_items)
		p->min_items = 1;
	p->min_bytes = wg_cpool_env("CONSTELLA_WG_CRYPTO_BYTES", 32768, 1u << 30);
	if (!p->min_bytes)
		p->min_bytes = 1;
	p->spin_ns = (uint64_t)wg_cpool_env("CONSTELLA_WG_CRYPTO_SPIN_US", 50, 1000000) * 1000u;
	for (p->nworkers = 0; p->nworkers < workers; p->nworkers++) {
		ret = -pthread_create(&p->threads[p->nworkers], NULL, wg_cpool_worker, p);
		if (ret < 0) {
			wg_cpool_free(p);
			return ret;
		}
	}
	cst_info("crypto pool: %u worker(s), batches from %u items or %zu bytes", p->nworkers,
		 p->min_items, p->min_bytes);
	*out = p;
	return 0;
}

void wg_cpool_free(struct wg_cpool *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	atomic_fetch_add(&p->seq, 1);
	wg_cpool_futex(&p->seq, FUTEX_WAKE, INT_MAX);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->threads[i], NULL);
	if (atomic_load(&p->st_batches) || atomic_load(&p->st_alone))
		cst_info("crypto pool: %llu batches shared (%llu items, %llu by workers), "
			 "%llu done alone (pool taken)",
			 (unsigned long long)atomic_load(&p->st_batches),
			 (unsigned long long)atomic_load(&p->st_items),
			 (unsigned long long)atomic_load(&p->st_worker_items),
			 (unsigned long long)atomic_load(&p->st_alone));
	free(p);
}
