#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "offload.h"
#include "test.h"

static uint8_t super[70000], segs[64 * 2048], payload[60000];
static size_t seg_len[64];

/* Independent RFC 1071 checksum, byte by byte, for verification. */
static uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static int tcp_csum_ok(const uint8_t *ip, size_t len, int v6)
{
	uint8_t ph[40];
	size_t iphl = v6 ? 40 : 20, l4 = len - iphl, n;
	if (v6) {
		memcpy(ph, ip + 8, 32);
		ph[32] = (uint8_t)(l4 >> 24); ph[33] = (uint8_t)(l4 >> 16);
		ph[34] = (uint8_t)(l4 >> 8); ph[35] = (uint8_t)l4;
		ph[36] = ph[37] = ph[38] = 0; ph[39] = 6;
		n = 40;
	} else {
		memcpy(ph, ip + 12, 8);
		ph[8] = 0; ph[9] = 6; ph[10] = (uint8_t)(l4 >> 8); ph[11] = (uint8_t)l4;
		n = 12;
	}
	return ref_sum(ip + iphl, l4, ref_sum(ph, n, 0)) == 0xffff;
}

static size_t build_tcp(int v6, size_t plen, uint32_t seq)
{
	size_t iphl = v6 ? 40 : 20, tcphl = 32, len = iphl + tcphl + plen;
	uint8_t *t = super + iphl;
	memset(super, 0, iphl + tcphl);
	if (v6) {
		super[0] = 0x60;
		super[4] = (uint8_t)((len - 40) >> 8); super[5] = (uint8_t)(len - 40);
		super[6] = 6; super[7] = 64;
		inet_pton(AF_INET6, "fd00::1", super + 8);
		inet_pton(AF_INET6, "fd00::2", super + 24);
	} else {
		super[0] = 0x45; super[2] = (uint8_t)(len >> 8); super[3] = (uint8_t)len;
		super[4] = 0x12; super[5] = 0x34; super[6] = 0x40; super[8] = 64; super[9] = 6;
		inet_pton(AF_INET, "10.0.0.1", super + 12);
		inet_pton(AF_INET, "10.0.0.2", super + 16);
	}
	t[0] = 0x1f; t[1] = 0x90; t[2] = 0xc0; t[3] = 0x01;
	t[4] = (uint8_t)(seq >> 24); t[5] = (uint8_t)(seq >> 16); t[6] = (uint8_t)(seq >> 8); t[7] = (uint8_t)seq;
	t[11] = 7; t[12] = 0x80; t[13] = 0x18; t[14] = 0x01; /* ACK|PSH, window */
	t[20] = 1; t[21] = 1; t[22] = 8; t[23] = 10; /* NOP NOP timestamps */
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	memcpy(super + iphl + tcphl, payload, plen);
	return len;
}

static void check_split(int v6)
{
	struct virtio_net_hdr h = { 0 };
	size_t iphl = v6 ? 40 : 20, len = build_tcp(v6, 10000, 1000000), off = 0;
	int n;

	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1368;
	h.hdr_len = (uint16_t)(iphl + 32);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = (uint16_t)iphl;
	h.csum_offset = 16;
	n = tun_gso_split(super, len, &h, segs, 2048, 64, seg_len);
	CHECK_EQ_INT(n, 8); /* 7 x 1368 + 424 */
	for (int i = 0; i < n; i++) {
		uint8_t *s = segs + (size_t)i * 2048, *t = s + iphl;
		size_t plen = seg_len[i] - iphl - 32;
		uint32_t seq = (uint32_t)(t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7]);
		CHECK_EQ_INT(plen, i < 7 ? 1368 : 424);
		CHECK_EQ_INT(seq, 1000000 + off);
		CHECK_MEM(s + iphl + 32, payload + off, plen);
		CHECK(tcp_csum_ok(s, seg_len[i], v6));
		if (v6) {
			CHECK_EQ_INT((size_t)(s[4] << 8 | s[5]), seg_len[i] - 40);
		} else {
			CHECK_EQ_INT((size_t)(s[2] << 8 | s[3]), seg_len[i]);
			CHECK_EQ_INT(s[4] << 8 | s[5], 0x1234 + i);
			CHECK_EQ_INT(ref_sum(s, 20, 0), 0xffff);
		}
		CHECK_EQ_INT(t[13] & 0x08, i == n - 1 ? 0x08 : 0); /* PSH only on the last */
		off += plen;
	}
	CHECK_EQ_INT(off, 10000);
}

static void test_offload_split_tcpv4_super_packet(void) { check_split(0); }
static void test_offload_split_tcpv6_super_packet(void) { check_split(1); }

static void check_coalesce(int v6)
{
	static uint8_t gbuf[TUN_VNET_HDR_LEN + TUN_MAX_SUPER];
	struct tun_gro g = { .buf = gbuf };
	struct virtio_net_hdr h = { 0 }, out;
	size_t iphl = v6 ? 40 : 20, len = build_tcp(v6, 10000, 5), total;
	int n;

	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1368;
	n = tun_gso_split(super, len, &h, segs, 2048, 64, seg_len);
	CHECK_EQ_INT(n, 8);
	for (int i = 0; i < n; i++)
		CHECK(tun_gro_add(&g, segs + (size_t)i * 2048, seg_len[i]));
	total = tun_gro_finish(&g);
	CHECK_EQ_INT(total, TUN_VNET_HDR_LEN + len);
	memcpy(&out, gbuf, sizeof(out));
	CHECK_EQ_INT(out.gso_type, h.gso_type);
	CHECK_EQ_INT(out.gso_size, 1368);
	CHECK_EQ_INT(out.hdr_len, iphl + 32);
	CHECK_EQ_INT(out.csum_start, iphl);
	CHECK_EQ_INT(out.csum_offset, 16);
	CHECK_MEM(gbuf + TUN_VNET_HDR_LEN + iphl + 32, payload, 10000);
	if (!v6)
		CHECK_EQ_INT(ref_sum(gbuf + TUN_VNET_HDR_LEN, 20, 0), 0xffff);
	CHECK_EQ_INT(g.len, 0);
}

static void test_offload_coalesce_restores_stream_v4(void) { check_coalesce(0); }
static void test_offload_coalesce_restores_stream_v6(void) { check_coalesce(1); }

static void test_offload_coalesce_refuses_gap_and_other_flow(void)
{
	static uint8_t gbuf[TUN_VNET_HDR_LEN + TUN_MAX_SUPER];
	struct tun_gro g = { .buf = gbuf };
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000 };
	size_t len = build_tcp(0, 3000, 1);
	int n = tun_gso_split(super, len, &h, segs, 2048, 64, seg_len);
	CHECK_EQ_INT(n, 3);
	/* PSH only on the last: clear it to test the gap logic alone */
	CHECK(tun_gro_add(&g, segs, seg_len[0]));
	CHECK(!tun_gro_add(&g, segs + 2 * 2048, seg_len[2])); /* seq gap */
	segs[2048 + 20 + 2] ^= 1;                             /* other port */
	CHECK(!tun_gro_add(&g, segs + 2048, seg_len[1]));
	CHECK_EQ_INT(tun_gro_finish(&g), TUN_VNET_HDR_LEN + seg_len[0]);
	{
		struct virtio_net_hdr out;
		memcpy(&out, gbuf, sizeof(out));
		CHECK_EQ_INT(out.gso_type, VIRTIO_NET_HDR_GSO_NONE); /* single packet: plain */
	}
}

static void test_offload_non_tcp_passes_alone(void)
{
	static uint8_t gbuf[TUN_VNET_HDR_LEN + TUN_MAX_SUPER];
	struct tun_gro g = { .buf = gbuf };
	uint8_t udp[48] = { 0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 17 };
	CHECK(tun_gro_add(&g, udp, sizeof(udp)));
	CHECK(!tun_gro_add(&g, udp, sizeof(udp)));
	CHECK_EQ_INT(tun_gro_finish(&g), TUN_VNET_HDR_LEN + 48);
	CHECK_MEM(gbuf + TUN_VNET_HDR_LEN, udp, 48);
}

static void test_offload_split_rejects_malformed(void)
{
	struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 0 };
	size_t len = build_tcp(0, 3000, 1);
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, 2048, 64, seg_len), -EINVAL);
	h.gso_size = 100;
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, 2048, 4, seg_len), -ENOSPC);
	h.gso_size = 1000;
	CHECK_EQ_INT(tun_gso_split(super, 10, &h, segs, 2048, 64, seg_len), -EINVAL);
	super[9] = 17; /* says TCP GSO but is UDP */
	CHECK_EQ_INT(tun_gso_split(super, len, &h, segs, 2048, 64, seg_len), -EINVAL);
}

int main(void)
{
	RUN_TEST(test_offload_split_tcpv4_super_packet);
	RUN_TEST(test_offload_split_tcpv6_super_packet);
	RUN_TEST(test_offload_coalesce_restores_stream_v4);
	RUN_TEST(test_offload_coalesce_restores_stream_v6);
	RUN_TEST(test_offload_coalesce_refuses_gap_and_other_flow);
	RUN_TEST(test_offload_non_tcp_passes_alone);
	RUN_TEST(test_offload_split_rejects_malformed);
	return TEST_DONE();
}
