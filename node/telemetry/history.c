/* The time series and their file (history.h). */
#include "history.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define TEL_FILE_MAGIC "CSTTEL\0\0"
#define TEL_FILE_VERSION 1u
#define TEL_FILE_HEADER 24u
#define TEL_FILE_NAME 16u
#define TEL_FILE_SUM 16u
#define TEL_FILE_MAX_SERIES 64u
#define TEL_FUTURE_SLACK_S 60

static const struct {
	const char *name, *unit;
} tel_kinds[TEL_K_N] = {
	[TEL_K_CPU] = { "cpu", "percent" },
	[TEL_K_MEM] = { "mem", "percent" },
	[TEL_K_SWAP] = { "swap", "percent" },
	[TEL_K_LOAD1] = { "load1", "load" },
	[TEL_K_PROCS] = { "procs", "count" },
	[TEL_K_DISK_USED] = { "disk_used", "percent" },
	[TEL_K_DISK_READ] = { "disk_read", "bytes_per_s" },
	[TEL_K_DISK_WRITE] = { "disk_write", "bytes_per_s" },
	[TEL_K_NET_RX] = { "net_rx", "bytes_per_s" },
	[TEL_K_NET_TX] = { "net_tx", "bytes_per_s" },
	[TEL_K_OVERLAY_RX] = { "overlay_rx", "bytes_per_s" },
	[TEL_K_OVERLAY_TX] = { "overlay_tx", "bytes_per_s" },
	[TEL_K_PEER_DOWN] = { "peer_down", "bytes_per_s" },
	[TEL_K_PEER_UP] = { "peer_up", "bytes_per_s" },
	[TEL_K_PEER_RTT] = { "peer_rtt", "ms" },
	[TEL_K_INET_DOWN] = { "inet_down", "bytes_per_s" },
	[TEL_K_INET_UP] = { "inet_up", "bytes_per_s" },
	[TEL_K_INET_RTT] = { "inet_rtt", "ms" },
};

const char *tel_kind_name(enum tel_kind k)
{
	return k < TEL_K_N ? tel_kinds[k].name : "?";
}

const char *tel_kind_unit(enum tel_kind k)
{
	return k < TEL_K_N ? tel_kinds[k].unit : "?";
}

int tel_kind_parse(const char *s)
{
	for (int k = 0; k < TEL_K_N; k++)
		if (!strcmp(s, tel_kinds[k].name))
			return k;
	return -1;
}

int tel_history_capacity(unsigned sample_every_s, unsigned window_h, uint32_t *cap)
{
	uint64_t n;

	if (!sample_every_s || !window_h)
		return -EINVAL;
	n = ((uint64_t)window_h * 3600 + sample_every_s - 1) / sample_every_s;
	if (n < 2)
		n = 2;
	if (n > TEL_RING_MAX)
		return -E2BIG;
	*cap = (uint32_t)n;
	return 0;
}

int tel_history_init(struct tel_history *h, unsigned sample_every_s, unsigned window_h)
{
	uint32_t cap;
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = tel_history_capacity(sample_every_s, window_h, &cap)))
		return r;
	h->sample_every_s = sample_every_s;
	h->window_h = window_h;
	for (int k = 0; k < TEL_K_N; k++)
		if ((r = tel_ring_init(&h->ring[k], k < TEL_K_N_SAMPLED ? cap : TEL_EVENT_CAP))) {
			tel_history_deinit(h);
			return r;
		}
	return 0;
}

void tel_history_deinit(struct tel_history *h)
{
	for (int k = 0; k < TEL_K_N; k++)
		tel_ring_deinit(&h->ring[k]);
}

size_t tel_history_bytes(const struct tel_history *h)
{
	size_t b = 0;

	for (int k = 0; k < TEL_K_N; k++)
		b += (size_t)h->ring[k].cap * sizeof(struct tel_point);
	return b;
}

void tel_history_add(struct tel_history *h, enum tel_kind k, int64_t ts, double v)
{
	if (k >= TEL_K_N || !isfinite(v) || ts < 0 || ts > UINT32_MAX)
		return;
	tel_ring_push(&h->ring[k], (uint32_t)ts, (float)v);
}

void tel_history_add_sample(struct tel_history *h, const struct tel_sample *s)
{
	const double v[TEL_K_N_SAMPLED] = {
		[TEL_K_CPU] = s->cpu_pct,
		[TEL_K_MEM] = s->mem_used_pct,
		[TEL_K_SWAP] = s->swap_used_pct,
		[TEL_K_LOAD1] = s->load[0],
		[TEL_K_PROCS] = s->procs_ok ? (double)s->procs : NAN,
		[TEL_K_DISK_USED] = s->root_used_pct,
		[TEL_K_DISK_READ] = s->disk_read_rate,
		[TEL_K_DISK_WRITE] = s->disk_write_rate,
		[TEL_K_NET_RX] = s->net_rx_rate,
		[TEL_K_NET_TX] = s->net_tx_rate,
		[TEL_K_OVERLAY_RX] = s->overlay_present ? s->overlay.rx_rate : NAN,
		[TEL_K_OVERLAY_TX] = s->overlay_present ? s->overlay.tx_rate : NAN,
	};

	for (int k = 0; k < TEL_K_N_SAMPLED; k++)
		tel_history_add(h, (enum tel_kind)k, s->ts, v[k]);
}

/* ---- the file ---- */

static void tel_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t tel_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tel_history_encode(const struct tel_history *h, uint8_t **buf, size_t *len)
{
	size_t n = TEL_FILE_HEADER + TEL_FILE_SUM, off;
	uint8_t *b;

	for (int k = 0; k < TEL_K_N; k++)
		n += TEL_FILE_NAME + 4 + (size_t)h->ring[k].n * 8;
	if (!(b = calloc(1, n)))
		return -ENOMEM;
	memcpy(b, TEL_FILE_MAGIC, 8);
	tel_put32(b + 8, TEL_FILE_VERSION);
	tel_put32(b + 12, TEL_K_N);
	tel_put32(b + 16, h->sample_every_s);
	off = TEL_FILE_HEADER;
	for (int k = 0; k < TEL_K_N; k++) {
		const struct tel_ring *r = &h->ring[k];

		memcpy(b + off, tel_kinds[k].name, strlen(tel_kinds[k].name));
		tel_put32(b + off + TEL_FILE_NAME, r->n);
		off += TEL_FILE_NAME + 4;
		for (uint32_t i = 0; i < r->n; i++) {
			const struct tel_point *p = tel_ring_at(r, i);
			uint32_t bits;

			memcpy(&bits, &p->v, 4);
			tel_put32(b + off, p->ts);
			tel_put32(b + off + 4, bits);
			off += 8;
		}
	}
	crypto_generichash(b + off, TEL_FILE_SUM, b, off, NULL, 0);
	*buf = b;
	*len = n;
	return 0;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); r = -EINVAL; goto out; } while (0)

int tel_history_decode(struct tel_history *h, const uint8_t *buf, size_t len, int64_t now,
		       char *err, size_t errlen)
{
	struct tel_history t;
	uint8_t sum[TEL_FILE_SUM];
	uint32_t n_series, seen = 0;
	size_t off, body;
	int r;

	if ((r = tel_history_init(&t, h->sample_every_s, h->window_h)))
		return r;
	if (len < TEL_FILE_HEADER + TEL_FILE_SUM)
		BAD("truncated (%zu bytes)", len);
	body = len - TEL_FILE_SUM;
	crypto_generichash(sum, sizeof(sum), buf, body, NULL, 0);
	if (sodium_memcmp(sum, buf + body, TEL_FILE_SUM))
		BAD("checksum mismatch (torn or altered file)");
	if (memcmp(buf, TEL_FILE_MAGIC, 8))
		BAD("not a telemetry history file");
	if (tel_get32(buf + 8) != TEL_FILE_VERSION)
		BAD("version %u (this constellad reads %u)", tel_get32(buf + 8), TEL_FILE_VERSION);
	n_series = tel_get32(buf + 12);
	if (n_series > TEL_FILE_MAX_SERIES)
		BAD("%u series", n_series);
	if (tel_get32(buf + 16) == 0 || tel_get32(buf + 20) != 0)
		BAD("bad header");
	off = TEL_FILE_HEADER;
	for (uint32_t s = 0; s < n_series; s++) {
		char name[TEL_FILE_NAME + 1];
		uint32_t n, prev_ts = 0;
		int k;
		size_t nl;

		if (body - off < TEL_FILE_NAME + 4)
			BAD("series %u truncated", s);
		memcpy(name, buf + off, TEL_FILE_NAME);
		name[TEL_FILE_NAME] = 0;
		nl = strlen(name);
		if (!nl || nl == TEL_FILE_NAME)
			BAD("series %u: bad name", s);
		for (size_t i = nl; i < TEL_FILE_NAME; i++)
			if (buf[off + i])
				BAD("series %u: bad name padding", s);
		n = tel_get32(buf + off + TEL_FILE_NAME);
		off += TEL_FILE_NAME + 4;
		if (n > TEL_RING_MAX || (body - off) / 8 < n)
			BAD("series %s: %u points do not fit", name, n);
		k = tel_kind_parse(name);
		if (k >= 0) {
			if (seen & (1u << k))
				BAD("series %s twice", name);
			seen |= 1u << k;
		}
		for (uint32_t i = 0; i < n; i++, off += 8) {
			uint32_t ts = tel_get32(buf + off), bits = tel_get32(buf + off + 4);
			float v;

			memcpy(&v, &bits, 4);
			if (!isfinite(v))
				BAD("series %s: point %u is not a number", name, i);
			if (ts < prev_ts)
				BAD("series %s: timestamps go back at point %u", name, i);
			prev_ts = ts;
			/* unknown kinds (a later version's) are checked, then skipped */
			if (k < 0 || (int64_t)ts > now + TEL_FUTURE_SLACK_S ||
			    (int64_t)ts < now - (int64_t)h->window_h * 3600)
				continue;
			tel_ring_push(&t.ring[k], ts, v);
		}
	}
	if (off != body)
		BAD("%zu bytes after the last series", body - off);
	tel_history_deinit(h);
	*h = t;
	return 0;
out:
	tel_history_deinit(&t);
	return r;
}

#undef BAD

int tel_history_save(const struct tel_history *h, const char *path)
{
	uint8_t *b;
	size_t n;
	int r;

	if ((r = tel_history_encode(h, &b, &n)))
		return r;
	r = cst_file_write_atomic(path, b, n, 0600);
	free(b);
	return r;
}

int tel_history_load(struct tel_history *h, const char *path, int64_t now, char *err,
		     size_t errlen)
{
	char *b;
	size_t n;
	int r;

	/* the largest file a valid history can make: 64 full series */
	r = cst_file_read_all(path, TEL_FILE_HEADER + TEL_FILE_SUM +
				    (size_t)TEL_FILE_MAX_SERIES * (TEL_FILE_NAME + 4 + 8u * TEL_RING_MAX),
			      &b, &n);
	if (r == -EFBIG) {
		snprintf(err, errlen, "larger than any valid history");
		return -EINVAL;
	}
	if (r) {
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	r = tel_history_decode(h, (const uint8_t *)b, n, now, err, errlen);
	free(b);
	return r;
}
