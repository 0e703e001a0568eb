/* Offload helpers as specifications: checksums against an independent
 * byte-wise implementation, GSO splits checked field by field, GRO
 * coalescing checked by splitting the result back into the same packets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "offload.h"
#include "test.h"

#define STRIDE 2048
#define MAXSEG 64

static uint8_t super[70000], segs[MAXSEG * STRIDE], payload[70000];
static size_t seg_len[MAXSEG];

/* ---- independent reference: RFC 1071 byte by byte ---- */

static uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Sum of the pseudo-header built by hand from the RFCs (793 / 2460). */
static uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4)
{
	uint8_t ph[40];
	size_t n;
	if ((ip[0] >> 4) == 6) {
		memcpy(ph, ip + 8, 32);
		ph[32] = (uint8_t)(l4 >> 24); ph[33] = (uint8_t)(l4 >> 16);
		ph[34] = (uint8_t)(l4 >> 8); ph[35] = (uint8_t)l4;
		ph[36] = ph[37] = ph[38] = 0; ph[39] = proto;
		n = 40;
	} else {
		memcpy(ph, ip + 12, 8);
		ph[8] = 0; ph[9] = proto; ph[10] = (uint8_t)(l4 >> 8); ph[11] = (uint8_t)l4;
		n = 12;
	}
	return ref_sum(ph, n, 0);
}

static int ref_l4_ok(const uint8_t *ip, size_t len, size_t l4off, uint8_t proto)
{
	return ref_sum(ip + l4off, len - l4off, ref_pseudo(ip, proto, len - l4off)) == 0xffff;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* A TCP super-packet as the kernel hands it over: IP lengths of the whole,
 * 32-byte TCP header (NOP NOP timestamp), flags, pseudo-header sum in the
 * checksum field (NEEDS_CSUM). */
static size_t build_tcp(uint8_t *b, int v6, size_t plen, uint32_t seq, uint8_t flags,
			uint16_t sport)
{
	size_t iphl = v6 ? 40 : 20, tcphl = 32, len = iphl + tcphl + plen;
	uint8_t *t = b + iphl;
	memset(b, 0, iphl + tcphl);
	if (v6) {
		b[0] = 0x60; b[1] = 0x0a; b[2] = 0xbc; b[3] = 0xde; /* TC, flow label */
		put16(b + 4, len - 40);
		b[6] = IPPROTO_TCP; b[7] = 64;
		inet_pton(AF_INET6, "fd00::1", b + 8);
		inet_pton(AF_INET6, "fd00::2", b + 24);
	} else {
		b[0] = 0x45; put16(b + 2, len); put16(b + 4, 0x1234); b[6] = 0x40;
		b[8] = 64; b[9] = IPPROTO_TCP;
		inet_pton(AF_INET, "10.0.0.1", b + 12);
		inet_pton(AF_INET, "10.0.0.2", b + 16);
		put16(b + 10, (uint16_t)~ref_sum(b, 20, 0));
	}
	put16(t, sport); put16(t + 2, 49153);
	put32(t + 4, seq); put32(t + 8, 0xa0b0c0d0);
	t[12] = 0x80; t[13] = flags; put16(t + 14, 502);
	t[20] = 1; t[21] = 1; t[22] = 8; t[23] = 10; put32(t + 24, 777); put32(t + 28, 555);
	for (size_t i = 0; i < plen; i++)
		b[iphl + tcphl + i] = payload[i];
	put16(t + 16, ref_pseudo(b, IPPROTO_TCP, len - iphl));
	return len;
}

static void fill_payload(void)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3 + (i >> 8));
}

/* ---- checksums ---- */

static void test_csum_matches_reference_at_every_length_and_alignment(void)
{
	static uint8_t data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(rand() & 0xff);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof(data); len++) {
			uint32_t got = tun_csum_add(0x1234, data + off, len);
			uint32_t want = ref_sum(data + off, len, 0x1234);
			/* 0 and 0xffff are the same one's-complement number */
			if (!(got == want || (got % 0xffff) == (want % 0xffff))) {
				CHECK_EQ_INT(got, want);
				return;
			}
		}
	uint8_t ff[64];
	memset(ff, 0xff, sizeof(ff));
	CHECK_EQ_INT(tun_csum_fold(tun_csum_add(0, ff, sizeof(ff))), 0);
}

static void test_csum_known_ipv4_header(void)
{
	/* RFC 1071-style example: the header checksum of this packet is 0xb861 */
	uint8_t h[20];
	CHECK_EQ_INT(test_unhex("450000730000400040110000c0a80001c0a800c7", h, 20), 20);
	CHECK_EQ_INT(tun_csum_fold(tun_csum_add(0, h, 20)), 0xb861);
}

static void test_csum_complete_fills_partial_checksum(void)
{
	size_t len = build_tcp(super, 0, 1000, 1, 0x18, 8000);
	CHECK(!ref_l4_ok(super, len, 20, IPPROTO_TCP)); /* only the pseudo sum yet */
	CHECK_EQ_INT(tun_csum_complete(super, len, 20, 16), 0);
	CHECK(ref_l4_ok(super, len, 20, IPPROTO_TCP));
	CHECK(tun_csum_l4_valid(super, len, 20, IPPROTO_TCP));
	super[100] ^= 1;
	CHECK(!tun_csum_l4_valid(super, len, 20, IPPROTO_TCP));
	CHECK_EQ_INT(tun_csum_complete(super, len, 20, len - 21), -EINVAL);
	CHECK_EQ_INT(tun_csum_complete(super, len, len + 1, 0), -EINVAL);
	CHECK_EQ_INT(tun_csum_complete(super, len, 20, 15), -EINVAL); /* odd offset */
}

/* ---- GSO split ---- */

static struct virtio_net_hdr tso_hdr(int v6, uint16_t mss)
{
	struct virtio_net_hdr h = { 0 };
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = mss;
	h.hdr_len = (uint16_t)((v6 ? 40 : 20) + 32);
	h.csum_start = v6 ? 40 : 20;
	h.csum_offset = 16;
	return h;
}

static void check_split(int v6)
{
	size_t iphl = v6 ? 40 : 20, len = build_tcp(super, v6, 10000, 0xfffff000, 0x80 | 0x18 | 0x01, 8000);
	struct virtio_net_hdr h = tso_hdr(v6, 1368);
	size_t off = 0;
	int n = tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len);

	CHECK_EQ_INT(n, 8); /* 7 x 1368 + 424 */
	for (int i = 0; i < n; i++) {
		uint8_t *s = segs + (size_t)i * STRIDE, *t = s + iphl;
		size_t plen = seg_len[i] - iphl - 32;
		CHECK_EQ_INT(plen, i < 7 ? 1368 : 424);
		CHECK_EQ_INT(get32(t + 4), (uint32_t)(0xfffff000u + off)); /* wraps */
		CHECK_MEM(s + iphl + 32, payload + off, plen);
		CHECK_MEM(t + 20, super + iphl + 20, 12); /* options copied */
		CHECK_EQ_INT(get32(t + 8), 0xa0b0c0d0);
		CHECK(ref_l4_ok(s, seg_len[i], iphl, IPPROTO_TCP));
		if (v6) {
			CHECK_EQ_INT(get16(s + 4), seg_len[i] - 40);
			CHECK_MEM(s, super, 4);
		} else {
			CHECK_EQ_INT(get16(s + 2), seg_len[i]);
			CHECK_EQ_INT(get16(s + 4), 0x1234 + i);
			CHECK_EQ_INT(ref_sum(s, 20, 0), 0xffff);
		}
		/* ACK always; CWR first only; PSH and FIN last only */
		CHECK_EQ_INT(t[13], (i == 0 ? 0x80 : 0) | 0x10 | (i == n - 1 ? 0x09 : 0));
		off += plen;
	}
	CHECK_EQ_INT(off, 10000);
}

static void test_gso_split_tcpv4_super_packet(void) { check_split(0); }
static void test_gso_split_tcpv6_super_packet(void) { check_split(1); }

static void test_gso_split_udp_l4_super_packet(void)
{
	size_t plen = 3000, len = 20 + 8 + plen;
	struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4, .gso_size = 1200,
				    .hdr_len = 28, .csum_start = 20, .csum_offset = 6 };
	uint8_t *u = super + 20;
	int n;

	memset(super, 0, 28);
	super[0] = 0x45; put16(super + 2, len); put16(super + 4, 7); super[8] = 64; super[9] = 17;
	inet_pton(AF_INET, "10.1.0.1", super + 12);
	inet_pton(AF_INET, "10.1.0.2", super + 16);
	put16(u, 5000); put16(u + 2, 53); put16(u + 4, 8 + plen);
	memcpy(super + 28, payload, plen);
	n = tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len);
	CHECK_EQ_INT(n, 3);
	for (int i = 0; i < n; i++) {
		uint8_t *s = segs + (size_t)i * STRIDE;
		size_t pl = i < 2 ? 1200 : 600;
		CHECK_EQ_INT(seg_len[i], 28 + pl);
		CHECK_EQ_INT(get16(s + 2), 28 + pl);
		CHECK_EQ_INT(get16(s + 4), 7 + i);
		CHECK_EQ_INT(ref_sum(s, 20, 0), 0xffff);
		CHECK_EQ_INT(get16(s + 24), 8 + pl);
		CHECK(get16(s + 26) != 0);
		CHECK(ref_l4_ok(s, seg_len[i], 20, IPPROTO_UDP));
		CHECK_MEM(s + 28, payload + (size_t)i * 1200, pl);
	}
}

static void test_gso_none_completes_partial_checksum(void)
{
	size_t len = build_tcp(super, 1, 500, 9, 0x18, 8000);
	struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 40,
				    .csum_offset = 16 };
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), 1);
	CHECK_EQ_INT(seg_len[0], len);
	CHECK(ref_l4_ok(segs, len, 40, IPPROTO_TCP));
	CHECK_MEM(segs, super, 56); /* only the checksum changed */
	CHECK_MEM(segs + 60, super + 60, len - 60);
	h.flags = 0; /* already complete: copied as is */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), 1);
	CHECK_MEM(segs, super, len);
}

static void test_gso_split_skips_ipv6_extension_headers(void)
{
	/* hop-by-hop options header (8 bytes) between IPv6 and TCP */
	size_t len0 = build_tcp(super, 1, 3000, 1, 0x10, 8000), len = len0 + 8;
	struct virtio_net_hdr h = tso_hdr(1, 1000);
	memmove(super + 48, super + 40, len0 - 40);
	memset(super + 40, 0, 8);
	super[40] = IPPROTO_TCP; /* next header */
	super[42] = 1; super[43] = 4; /* PadN */
	super[6] = 0;
	put16(super + 4, len - 40);
	h.csum_start = 48;
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), 3);
	for (int i = 0; i < 3; i++)
		CHECK(ref_l4_ok(segs + (size_t)i * STRIDE, seg_len[i], 48, IPPROTO_TCP));
	h.csum_start = 40; /* pointing at the extension header: refused */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
}

static void test_gso_split_rejects_malformed(void)
{
	size_t len = build_tcp(super, 0, 3000, 1, 0x10, 8000);
	struct virtio_net_hdr h = tso_hdr(0, 0);

	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	h.gso_size = 100;
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, 4, seg_len), -ENOSPC);
	h.gso_size = 3000;
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, 1000, MAXSEG, seg_len), -ENOSPC);
	h.gso_size = 1000;
	CHECK_EQ_INT(tun_gso_split(super, 10, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	CHECK_EQ_INT(tun_gso_split(super, len - 1, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; /* IPv4 packet */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* UFO: never negotiated */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.csum_offset = 6;
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	h.csum_offset = 16;
	super[6] = 0x20; /* a fragment */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	super[6] = 0x40;
	super[32] = 0x40; /* TCP data offset 16 bytes */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	super[32] = 0x80;
	super[9] = IPPROTO_UDP; /* says TCP GSO but is UDP */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
	super[9] = IPPROTO_TCP;
	super[0] = 0x55; /* version 5 */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len), -EINVAL);
}

/* ---- GRO ---- */

static uint8_t gbuf[TUN_GRO_BUF_LEN];

/* Splits a super-packet (as the kernel will) into plain segments with
 * completed checksums: the input of every GRO test. */
static int make_stream(int v6, size_t plen, uint32_t seq, uint8_t flags, uint16_t mss)
{
	size_t len = build_tcp(super, v6, plen, seq, flags, 8000);
	struct virtio_net_hdr h = tso_hdr(v6, mss);
	return tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len);
}

static void check_coalesce(int v6)
{
	static uint8_t again[MAXSEG * STRIDE];
	size_t again_len[MAXSEG];
	struct tun_gro g = { .buf = gbuf };
	struct virtio_net_hdr out;
	size_t iphl = v6 ? 40 : 20, total;
	int n = make_stream(v6, 10000, 5, 0x18, 1368);

	CHECK_EQ_INT(n, 8);
	for (int i = 0; i < n; i++)
		CHECK(tun_gro_add(&g, segs + (size_t)i * STRIDE, seg_len[i]));
	CHECK_EQ_INT(g.segs, 8);
	total = tun_gro_finish(&g);
	CHECK_EQ_INT(total, TUN_VNET_HDR_LEN + iphl + 32 + 10000);
	memcpy(&out, gbuf, sizeof(out));
	CHECK_EQ_INT(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ_INT(out.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ_INT(out.gso_size, 1368);
	CHECK_EQ_INT(out.hdr_len, iphl + 32);
	CHECK_EQ_INT(out.csum_start, iphl);
	CHECK_EQ_INT(out.csum_offset, 16);
	CHECK_MEM(gbuf + TUN_VNET_HDR_LEN + iphl + 32, payload, 10000);
	CHECK_EQ_INT(gbuf[TUN_VNET_HDR_LEN + iphl + 13], 0x18); /* PSH of the last kept */
	/* the checksum field holds the pseudo-header sum of the whole */
	CHECK_EQ_INT(get16(gbuf + TUN_VNET_HDR_LEN + iphl + 16),
		     ref_pseudo(gbuf + TUN_VNET_HDR_LEN, IPPROTO_TCP, total - TUN_VNET_HDR_LEN - iphl));
	if (!v6) {
		CHECK_EQ_INT(get16(gbuf + TUN_VNET_HDR_LEN + 2), total - TUN_VNET_HDR_LEN);
		CHECK_EQ_INT(ref_sum(gbuf + TUN_VNET_HDR_LEN, 20, 0), 0xffff);
	} else {
		CHECK_EQ_INT(get16(gbuf + TUN_VNET_HDR_LEN + 4), total - TUN_VNET_HDR_LEN - 40);
	}
	/* what the kernel will do with it gives back exactly the segments */
	CHECK_EQ_INT(tun_gso_split(gbuf + TUN_VNET_HDR_LEN, total - TUN_VNET_HDR_LEN, &out, again,
				   STRIDE, MAXSEG, again_len), 8);
	for (int i = 0; i < n; i++) {
		CHECK_EQ_INT(again_len[i], seg_len[i]);
		CHECK_MEM(again + (size_t)i * STRIDE, segs + (size_t)i * STRIDE, seg_len[i]);
	}
	CHECK_EQ_INT(g.len, 0);
	CHECK_EQ_INT(tun_gro_finish(&g), 0);
}

static void test_gro_coalesce_restores_stream_v4(void) { check_coalesce(0); }
static void test_gro_coalesce_restores_stream_v6(void) { check_coalesce(1); }

static void test_gro_refuses_gap_other_flow_and_bad_checksum(void)
{
	struct tun_gro g = { .buf = gbuf };
	struct virtio_net_hdr out;
	int n = make_stream(0, 5000, 1, 0x10, 1000);

	CHECK_EQ_INT(n, 5);
	CHECK(tun_gro_add(&g, segs, seg_len[0]));
	CHECK(!tun_gro_add(&g, segs + 2 * STRIDE, seg_len[2])); /* seq gap */
	segs[STRIDE + 20 + 2] ^= 1;                             /* other port */
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	segs[STRIDE + 20 + 2] ^= 1;
	segs[STRIDE + 20 + 14] ^= 1;                            /* other window */
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	segs[STRIDE + 20 + 14] ^= 1;
	segs[STRIDE + 8] ^= 1;                                  /* other TTL */
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	segs[STRIDE + 8] ^= 1;
	segs[STRIDE + 100] ^= 1;                                /* corrupt payload */
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	segs[STRIDE + 100] ^= 1;
	CHECK(tun_gro_add(&g, segs + STRIDE, seg_len[1]));      /* intact: merges */
	CHECK_EQ_INT(g.segs, 2);
	CHECK_EQ_INT(tun_gro_finish(&g), TUN_VNET_HDR_LEN + seg_len[0] + seg_len[1] - 52);

	/* a corrupt first packet never becomes the head of a super-packet */
	segs[100] ^= 1;
	CHECK(tun_gro_add(&g, segs, seg_len[0]));
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	CHECK_EQ_INT(tun_gro_finish(&g), TUN_VNET_HDR_LEN + seg_len[0]);
	memcpy(&out, gbuf, sizeof(out));
	CHECK_EQ_INT(out.gso_type, VIRTIO_NET_HDR_GSO_NONE); /* lone: kernel verifies it */
	CHECK_EQ_INT(out.flags, 0);
	CHECK_MEM(gbuf + TUN_VNET_HDR_LEN, segs, seg_len[0]);
}

static void test_gro_psh_or_short_segment_ends_super_packet(void)
{
	struct tun_gro g = { .buf = gbuf };
	int n = make_stream(0, 2500, 1, 0x18, 1000); /* 1000 1000 500(PSH) */

	CHECK_EQ_INT(n, 3);
	segs[20 + 13] |= 0x08; /* PSH on the first: nothing may follow */
	put16(segs + 20 + 16, 0);
	put16(segs + 20 + 16, (uint16_t)~ref_sum(segs + 20, seg_len[0] - 20,
						  ref_pseudo(segs, 6, seg_len[0] - 20)));
	CHECK(tun_gro_add(&g, segs, seg_len[0]));
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	tun_gro_finish(&g);
	/* a short segment (500) then a full one: refused */
	CHECK(tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	n = make_stream(0, 600, 2001, 0x10, 1000);
	CHECK(tun_gro_add(&g, segs, seg_len[0])); /* 600 after 1000: fine */
	n = make_stream(0, 1000, 2601, 0x10, 1000);
	CHECK(!tun_gro_add(&g, segs, seg_len[0])); /* 1000 after 600: no */
	CHECK_EQ_INT(g.segs, 2);
	tun_gro_finish(&g);
}

static void test_gro_non_coalescible_packets_pass_unchanged(void)
{
	struct tun_gro g = { .buf = gbuf };
	uint8_t udp[48] = { 0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 17 };
	size_t len;

	CHECK(tun_gro_add(&g, udp, sizeof(udp)));
	CHECK(!tun_gro_add(&g, udp, sizeof(udp)));
	CHECK_EQ_INT(tun_gro_finish(&g), TUN_VNET_HDR_LEN + 48);
	CHECK_MEM(gbuf + TUN_VNET_HDR_LEN, udp, 48);
	for (size_t i = 0; i < TUN_VNET_HDR_LEN; i++)
		CHECK_EQ_INT(gbuf[i], 0);
	/* SYN, FIN, pure ACK: alone, byte for byte */
	len = build_tcp(super, 0, 0, 1, 0x02, 8000);
	CHECK(tun_gro_add(&g, super, len));
	CHECK(!tun_gro_add(&g, super, len));
	CHECK_EQ_INT(tun_gro_finish(&g), TUN_VNET_HDR_LEN + len);
	CHECK_MEM(gbuf + TUN_VNET_HDR_LEN, super, len);
	make_stream(0, 2000, 1, 0x11, 1000); /* the second carries FIN */
	CHECK(tun_gro_add(&g, segs, seg_len[0]));
	CHECK(!tun_gro_add(&g, segs + STRIDE, seg_len[1]));
	tun_gro_finish(&g);
	CHECK(!tun_gro_add(&g, super, TUN_MAX_SUPER + 1));
}

/* ---- flow table ---- */

struct emitted {
	int n;
	size_t total_segs;
	struct { struct virtio_net_hdr h; size_t len; uint16_t sport; uint8_t flags; } f[64];
	int fail_at;
};

static int record(void *ctx, const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len)
{
	struct emitted *e = ctx;
	size_t iphl = (pkt[0] >> 4) == 6 ? 40 : 20;
	if (e->n == e->fail_at)
		return -EIO;
	if (e->n >= 64)
		return -ENOSPC;
	e->f[e->n].h = *h;
	e->f[e->n].len = len;
	e->f[e->n].sport = len >= iphl + 4 ? get16(pkt + iphl) : 0;
	e->f[e->n].flags = len >= iphl + 14 ? pkt[iphl + 13] : 0;
	e->n++;
	return 0;
}

static void test_gro_table_keeps_interleaved_flows_apart(void)
{
	static uint8_t tbufs[TUN_GRO_FLOWS * TUN_GRO_BUF_LEN], a[8][STRIDE], b[8][STRIDE];
	static struct tun_gro_table t;
	size_t alen[8], blen[8], len;
	struct emitted e = { .fail_at = -1 };
	uint8_t udp[48] = { 0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 17 };
	int na, nb;

	tun_gro_table_init(&t, tbufs);
	na = make_stream(0, 4000, 100, 0x10, 1000);
	for (int i = 0; i < na; i++) { memcpy(a[i], segs + (size_t)i * STRIDE, seg_len[i]); alen[i] = seg_len[i]; }
	len = build_tcp(super, 0, 3000, 900, 0x18, 8001);
	{
		struct virtio_net_hdr h = tso_hdr(0, 1000);
		nb = tun_gso_split(super, len, &h, segs, STRIDE, MAXSEG, seg_len);
	}
	for (int i = 0; i < nb; i++) { memcpy(b[i], segs + (size_t)i * STRIDE, seg_len[i]); blen[i] = seg_len[i]; }
	CHECK_EQ_INT(na, 4);
	CHECK_EQ_INT(nb, 3);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(tun_gro_table_add(&t, a[i], alen[i], record, &e), 0);
		if (i < 3)
			CHECK_EQ_INT(tun_gro_table_add(&t, b[i], blen[i], record, &e), 0);
		if (i == 1) /* non-TCP: straight out */
			CHECK_EQ_INT(tun_gro_table_add(&t, udp, sizeof(udp), record, &e), 0);
	}
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.f[0].len, 48);
	CHECK_EQ_INT(e.f[0].h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	/* a FIN of flow a goes out after a's data */
	len = build_tcp(super, 0, 0, 4100, 0x11, 8000);
	CHECK_EQ_INT(tun_gro_table_add(&t, super, len, record, &e), 0);
	CHECK_EQ_INT(e.n, 3);
	CHECK_EQ_INT(e.f[1].sport, 8000);
	CHECK_EQ_INT(e.f[1].h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ_INT(e.f[1].len, 20 + 32 + 4000);
	CHECK_EQ_INT(e.f[2].flags, 0x11);
	CHECK_EQ_INT(tun_gro_table_flush(&t, record, &e), 0);
	CHECK_EQ_INT(e.n, 4);
	CHECK_EQ_INT(e.f[3].sport, 8001);
	CHECK_EQ_INT(e.f[3].len, 20 + 32 + 3000);
	CHECK_EQ_INT(e.f[3].h.gso_size, 1000);
	CHECK_EQ_INT(e.f[3].flags, 0x18);
	CHECK_EQ_INT(tun_gro_table_flush(&t, record, &e), 0);
	CHECK_EQ_INT(e.n, 4);
	/* an emitter error is passed back and the table is left empty */
	CHECK_EQ_INT(tun_gro_table_add(&t, a[0], alen[0], record, &e), 0);
	e.fail_at = e.n;
	CHECK_EQ_INT(tun_gro_table_flush(&t, record, &e), -EIO);
	e.fail_at = -1;
	CHECK_EQ_INT(tun_gro_table_flush(&t, record, &e), 0);
	CHECK_EQ_INT(e.n, 4);
	CHECK_EQ_INT(tun_gro_table_add(&t, super, TUN_MAX_SUPER + 1, record, &e), -EMSGSIZE);
}

static void test_gro_table_evicts_oldest_flow_when_full(void)
{
	static uint8_t tbufs[TUN_GRO_FLOWS * TUN_GRO_BUF_LEN];
	static struct tun_gro_table t;
	struct emitted e = { .fail_at = -1 };

	tun_gro_table_init(&t, tbufs);
	for (int f = 0; f <= TUN_GRO_FLOWS; f++) {
		size_t len = build_tcp(super, 0, 100, 1, 0x10, (uint16_t)(7000 + f));
		CHECK_EQ_INT(tun_csum_complete(super, len, 20, 16), 0);
		CHECK_EQ_INT(tun_gro_table_add(&t, super, len, record, &e), 0);
	}
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.f[0].sport, 7000);
	CHECK_EQ_INT(tun_gro_table_flush(&t, record, &e), 0);
	CHECK_EQ_INT(e.n, TUN_GRO_FLOWS + 1);
	for (int i = 1; i <= TUN_GRO_FLOWS; i++)
		CHECK_EQ_INT(e.f[i].sport, 7000 + i); /* oldest first */
}

int main(void)
{
	srand(1);
	fill_payload();
	RUN_TEST(test_csum_matches_reference_at_every_length_and_alignment);
	RUN_TEST(test_csum_known_ipv4_header);
	RUN_TEST(test_csum_complete_fills_partial_checksum);
	RUN_TEST(test_gso_split_tcpv4_super_packet);
	RUN_TEST(test_gso_split_tcpv6_super_packet);
	RUN_TEST(test_gso_split_udp_l4_super_packet);
	RUN_TEST(test_gso_none_completes_partial_checksum);
	RUN_TEST(test_gso_split_skips_ipv6_extension_headers);
	RUN_TEST(test_gso_split_rejects_malformed);
	RUN_TEST(test_gro_coalesce_restores_stream_v4);
	RUN_TEST(test_gro_coalesce_restores_stream_v6);
	RUN_TEST(test_gro_refuses_gap_other_flow_and_bad_checksum);
	RUN_TEST(test_gro_psh_or_short_segment_ends_super_packet);
	RUN_TEST(test_gro_non_coalescible_packets_pass_unchanged);
	RUN_TEST(test_gro_table_keeps_interleaved_flows_apart);
	RUN_TEST(test_gro_table_evicts_oldest_flow_when_full);
	return TEST_DONE();
}
