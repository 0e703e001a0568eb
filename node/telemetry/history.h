/* The node's time series: one ring per kind, sized from SAMPLE_EVERY_SEC and
 * METRICS_WINDOW_H, and their persistence across restarts in
 * STATE_DIR/telemetry.bin, written atomically (cst_file_write_atomic),
 * versioned and checksummed, validated completely on load.
 *
 * telemetry.bin, version 1, little-endian:
 *   "CSTTEL\0\0"  u32 version (1)  u32 n_series  u32 sample_every_s  u32 0
 *   n_series x { char kind[16] (NUL-padded)  u32 n  n x { u32 ts  f32 value } }
 *   16 bytes: BLAKE2b-128 (libsodium generichash) of everything before.
 * Points are oldest first, timestamps non-decreasing, values finite. */
#ifndef TEL_HISTORY_H
#define TEL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "sample.h"

enum tel_kind {
	/* sampled every SAMPLE_EVERY_SEC */
	TEL_K_CPU, TEL_K_MEM, TEL_K_SWAP, TEL_K_LOAD1, TEL_K_PROCS, TEL_K_DISK_USED,
	TEL_K_DISK_READ, TEL_K_DISK_WRITE, TEL_K_NET_RX, TEL_K_NET_TX, TEL_K_OVERLAY_RX,
	TEL_K_OVERLAY_TX,
	/* one point per speed test */
	TEL_K_PEER_DOWN, TEL_K_PEER_UP, TEL_K_PEER_RTT, TEL_K_INET_DOWN, TEL_K_INET_UP,
	TEL_K_INET_RTT,
	TEL_K_N
};
#define TEL_K_N_SAMPLED TEL_K_PEER_DOWN
#define TEL_EVENT_CAP 512u /* speed-test results kept per kind */

const char *tel_kind_name(enum tel_kind k);
const char *tel_kind_unit(enum tel_kind k);
/* The kind named s, or -1. */
int tel_kind_parse(const char *s);

struct tel_history {
	unsigned sample_every_s, window_h;
	struct tel_ring ring[TEL_K_N];
};

/* Points a sampled series holds: window / period, at least 2. -E2BIG when
 * above TEL_RING_MAX (the configuration refuses such a pair). */
int tel_history_capacity(unsigned sample_every_s, unsigned window_h, uint32_t *cap);
int tel_history_init(struct tel_history *h, unsigned sample_every_s, unsigned window_h);
void tel_history_deinit(struct tel_history *h);
/* Bytes held by the rings (the bounded memory of the history). */
size_t tel_history_bytes(const struct tel_history *h);

/* One point per sampled kind whose figure is known. */
void tel_history_add_sample(struct tel_history *h, const struct tel_sample *s);
void tel_history_add(struct tel_history *h, enum tel_kind k, int64_t ts, double v);

/* The file image of h (malloc'd). 0 or -ENOMEM. */
int tel_history_encode(const struct tel_history *h, uint8_t **buf, size_t *len);
/* Replaces h's points with the image's, keeping those of the last
 * window_h hours before now and at most 60 s after it (a clock stepped
 * back would otherwise put them in the future); each ring keeps its newest
 * points when the image has more than it holds (a smaller window, a longer
 * period). -EINVAL with a reason in err, h unchanged, on any defect. */
int tel_history_decode(struct tel_history *h, const uint8_t *buf, size_t len, int64_t now,
		       char *err, size_t errlen);
/* Atomic write (0600). 0 or -errno. */
int tel_history_save(const struct tel_history *h, const char *path);
/* -ENOENT when there is no file; -EINVAL (reason in err) when it is
 * corrupt: the caller logs it and starts with an empty history. */
int tel_history_load(struct tel_history *h, const char *path, int64_t now, char *err,
		     size_t errlen);

#endif
