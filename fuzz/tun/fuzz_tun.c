/* Fuzzes the offload parsers with the invariants that make them safe to
 * feed untrusted packets:
 *  FUZZ_TUN_TARGET 1 (fuzz_tun_gso): input = virtio_net_hdr, a stride byte,
 *    an IP packet. tun_gso_split must either refuse without touching the
 *    output lengths, or produce segments that fit, carry valid checksums
 *    and together hold exactly the input payload.
 *  FUZZ_TUN_TARGET 2 (fuzz_tun_gro): input = packets, each prefixed by a
 *    16-bit big-endian length. Every packet fed to the GRO table must come
 *    out exactly once: splitting each emitted super-packet again gives as
 *    many segments and bytes as went in, all with valid checksums. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"

#define MAX_SEGS 64
#define MAX_STRIDE 4096

static uint8_t out[MAX_SEGS * MAX_STRIDE];
static size_t seg_len[MAX_SEGS];

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

#if FUZZ_TUN_TARGET == 1
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr h;
	const uint8_t *pkt;
	size_t len, stride, total = 0;
	int n;

	if (size < sizeof(h) + 1)
		return 0;
	memcpy(&h, data, sizeof(h));
	stride = 128 + (size_t)data[sizeof(h)] * 16; /* 128 .. 4208 */
	if (stride > MAX_STRIDE)
		stride = MAX_STRIDE;
	pkt = data + sizeof(h) + 1;
	len = size - sizeof(h) - 1;
	for (size_t i = 0; i < MAX_SEGS; i++)
		seg_len[i] = (size_t)-1;
	n = tun_gso_split(pkt, len, &h, out, stride, MAX_SEGS, seg_len);
	if (n <= 0) {
		for (size_t i = 0; i < MAX_SEGS; i++)
			REQUIRE(seg_len[i] == (size_t)-1);
		return 0;
	}
	REQUIRE(n <= MAX_SEGS);
	for (int i = 0; i < n; i++) {
		const uint8_t *s = out + (size_t)i * stride;
		REQUIRE(seg_len[i] <= stride && seg_len[i] >= 20);
		total += seg_len[i];
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			/* the checksum the sender left partial is now complete */
			uint8_t proto = (s[0] >> 4) == 4 ? s[9] : (uint8_t)(h.gso_type ==
					VIRTIO_NET_HDR_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP);
			if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
				REQUIRE(tun_csum_l4_valid(s, seg_len[i], h.csum_start, proto));
			else /* the kernel's rule: the seed is summed, then replaced */
				REQUIRE(tun_csum_add(get16(pkt + h.csum_start + h.csum_offset),
						     s + h.csum_start, seg_len[i] - h.csum_start) == 0xffff);
		}
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE && (s[0] >> 4) == 4) {
			REQUIRE(get16(s + 2) == seg_len[i]);
			REQUIRE(tun_csum_add(0, s, (size_t)(s[0] & 0xf) * 4) == 0xffff);
		}
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE && (s[0] >> 4) == 6)
			REQUIRE((size_t)get16(s + 4) + 40 == seg_len[i]);
	}
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		REQUIRE(n == 1 && seg_len[0] == len);
	} else if (n > 1) {
		/* every segment repeats the same headers: the payload adds up */
		size_t hdrs = (total - len) / (size_t)(n - 1);
		REQUIRE((total - len) % (size_t)(n - 1) == 0);
		for (int i = 0; i < n; i++) {
			size_t pl = seg_len[i] - hdrs;
			REQUIRE(pl <= h.gso_size && (i == n - 1 || pl == h.gso_size));
			REQUIRE(memcmp(out + (size_t)i * stride + hdrs, pkt + hdrs + (size_t)i * h.gso_size,
				       pl) == 0);
		}
	} else {
		REQUIRE(total == len);
	}
	return 0;
}
#elif FUZZ_TUN_TARGET == 2
static uint8_t tbufs[TUN_GRO_FLOWS * TUN_GRO_BUF_LEN];
static struct tun_gro_table table;

struct tally {
	size_t pkts, bytes;
};

static int check_frame(void *ctx, const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len)
{
	struct tally *t = ctx;
	int n;

	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		REQUIRE(h->flags == 0 && h->gso_size == 0);
		t->pkts++;
		t->bytes += len;
		return 0;
	}
	REQUIRE(h->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && len <= TUN_MAX_SUPER);
	n = tun_gso_split(pkt, len, h, out, 2048, MAX_SEGS, seg_len);
	REQUIRE(n >= 2);
	for (int i = 0; i < n; i++) {
		REQUIRE(tun_csum_l4_valid(out + (size_t)i * 2048, seg_len[i], h->csum_start, IPPROTO_TCP));
		t->bytes += seg_len[i];
	}
	t->pkts += (size_t)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally t = { 0, 0 };
	size_t fed = 0, fed_bytes = 0;

	tun_gro_table_init(&table, tbufs);
	while (size >= 2) {
		size_t len = get16(data);
		if (len > size - 2)
			len = size - 2;
		REQUIRE(tun_gro_table_add(&table, data + 2, len, check_frame, &t) == 0);
		fed++;
		fed_bytes += len;
		data += 2 + len;
		size -= 2 + len;
	}
	REQUIRE(tun_gro_table_flush(&table, check_frame, &t) == 0);
	REQUIRE(t.pkts == fed && t.bytes == fed_bytes);
	return 0;
}
#else
#error "FUZZ_TUN_TARGET must be 1 (gso) or 2 (gro)"
#endif
