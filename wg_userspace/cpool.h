/* A small pool of crypto workers that share the AEAD calls of one large
 * batch with the data thread that owns the batch. The caller posts the
 * batch, takes items itself from a shared index, waits until every item is
 * done and only then goes on (sends or validates in the batch's order), so
 * per-peer order is kept by construction: the pool changes who encrypts an
 * item, never when the item leaves.
 *
 * One batch at a time: a caller that finds the pool taken by the other data
 * thread does its batch alone (no queueing, no waiting). A worker spins a
 * little after its last batch, then sleeps on a futex, so an idle device
 * costs no CPU; a sleeping worker costs the poster one futex wake and
 * nothing else (the caller never waits for a worker to start).
 *
 * Configuration (environment, read once per device):
 *   CONSTELLA_WG_CRYPTO_THREADS  workers: a number, or "auto" for online
 *                                CPUs - 1; default 0 (no pool)
 *   CONSTELLA_WG_CRYPTO_MIN      items that make a batch worth sharing
 *                                (default 8; 1 = every batch: tests use it
 *                                to push every seal and open through the pool)
 *   CONSTELLA_WG_CRYPTO_BYTES    ...or bytes (default 32768)
 *   CONSTELLA_WG_CRYPTO_SPIN_US  how long an idle worker spins (default 50)
 *
 * Off by default because on the 2-core test machine, where both tunnel ends
 * of bench/wg_netns.sh share the two cores, no core is ever idle: a worker
 * only takes CPU from the other data threads and iperf3: a single TCP
 * stream went from 4.9-5.3 Gbit/s without it to 4.2-4.4 with it (4.4-4.8
 * with CONSTELLA_WG_CRYPTO_SPIN_US=0). It is for hosts whose second core
 * idles while one direction's crypto saturates the first: there a hot
 * worker cut the seal time of a 45-segment super-packet from 34 to 22 us. */
#ifndef WG_CPOOL_H
#define WG_CPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct wg_cpool;

/* *out = NULL (and 0) when the configuration asks for no workers. */
int wg_cpool_new_from_env(struct wg_cpool **out);
void wg_cpool_free(struct wg_cpool *p);
unsigned wg_cpool_workers(const struct wg_cpool *p);

/* Whether n items of bytes in all are worth sharing; false without a pool,
 * so small batches (a lone ping) never touch it. */
bool wg_cpool_worth(const struct wg_cpool *p, unsigned n, size_t bytes);

/* Calls fn(arg, i) once for every i < n, on the caller and the workers, and
 * returns when all calls have returned. p may be NULL (all on the caller). */
void wg_cpool_run(struct wg_cpool *p, void (*fn)(void *arg, unsigned i), void *arg, unsigned n);

#endif
