/* GSO: cuts the kernel's TCP/UDP super-packets (IFF_VNET_HDR with TSO/USO)
 * into wire-sized IP packets, doing what the kernel's tcp_gso_segment /
 * __udp_gso_segment would do for a real NIC. */
#include "bytes.h"
#include "offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define TUN_TCP_FIN 0x01
#define TUN_TCP_PSH 0x08
#define TUN_TCP_CWR 0x80

/* Offset and protocol of the transport header of an IP packet, accepting
 * only what the kernel segments for us: IPv4 with options but not a
 * fragment, IPv6 behind hop-by-hop/destination options only (a routing
 * header would change the pseudo-header destination, a fragment header
 * cannot be segmented). Lengths must agree with len exactly. */
static int tun_gso_l4(const uint8_t *p, size_t len, size_t *l4_off, uint8_t *proto)
{
	if ((p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 0xf) * 4;
		if (len < 20 || ihl < 20 || ihl > len || tun_get16(p + 2) != len ||
		    (tun_get16(p + 6) & 0x3fff))
			return -EINVAL;
		*l4_off = ihl;
		*proto = p[9];
		return 0;
	}
	if ((p[0] >> 4) == 6) {
		size_t off = 40;
		uint8_t nh;
		if (len < 40 || (size_t)tun_get16(p + 4) + 40 != len)
			return -EINVAL;
		nh = p[6];
		/* each extension header is >= 8 bytes, so this ends by len */
		while (nh == 0 || nh == 60) {
			if (len - off < 8)
				return -EINVAL;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			if (off > len)
				return -EINVAL;
		}
		*l4_off = off;
		*proto = nh;
		return 0;
	}
	return -EINVAL;
}

static int tun_gso_copy(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h,
			uint8_t *out, size_t stride, size_t max_segs, size_t *seg_len)
{
	if (len < 20 || ((pkt[0] >> 4) != 4 && (pkt[0] >> 4) != 6))
		return -EINVAL;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (h->csum_start > len || h->csum_offset > len - h->csum_start ||
	     len - h->csum_start - h->csum_offset < 2 || (h->csum_offset & 1)))
		return -EINVAL;
	if (max_segs < 1 || len > stride)
		return -ENOSPC;
	memcpy(out, pkt, len);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		tun_csum_complete(out, len, h->csum_start, h->csum_offset);
	seg_len[0] = len;
	return 1;
}

int tun_gso_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h,
		  uint8_t *out, size_t stride, size_t max_segs, size_t *seg_len)
{
	size_t l4, l4hl, hdrs, payload, mss, nseg, csum_off;
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN, proto, want;
	bool v4 = len > 0 && (pkt[0] >> 4) == 4;
	uint16_t id;
	uint32_t seq = 0;

	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return tun_gso_copy(pkt, len, h, out, stride, max_segs, seg_len);
	if (len == 0 || tun_gso_l4(pkt, len, &l4, &proto) < 0)
		return -EINVAL;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6) {
		if (v4 != (gso == VIRTIO_NET_HDR_GSO_TCPV4))
			return -EINVAL;
		want = IPPROTO_TCP;
		csum_off = 16;
	} else if (gso == VIRTIO_NET_HDR_GSO_UDP_L4 && h->gso_type == gso) {
		want = IPPROTO_UDP;
		csum_off = 6;
	} else {
		return -EINVAL; /* UFO (GSO_UDP) we never enable; unknown types */
	}
	if (proto != want || len - l4 < (want == IPPROTO_TCP ? 20u : 8u))
		return -EINVAL;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (h->csum_start != l4 || h->csum_offset != csum_off))
		return -EINVAL;
	if (want == IPPROTO_TCP) {
		l4hl = (size_t)(pkt[l4 + 12] >> 4) * 4;
		if (l4hl < 20 || l4hl > len - l4)
			return -EINVAL;
		seq = tun_get32(pkt + l4 + 4);
	} else {
		l4hl = 8;
	}
	hdrs = l4 + l4hl;
	payload = len - hdrs;
	mss = h->gso_size;
	if (mss == 0 || payload == 0)
		return -EINVAL;
	nseg = (payload + mss - 1) / mss;
	if (nseg > max_segs || hdrs + (payload < mss ? payload : mss) > stride)
		return -ENOSPC;
	id = v4 ? tun_get16(pkt + 4) : 0;
	for (size_t i = 0; i < nseg; i++) {
		size_t off = i * mss, plen = payload - off < mss ? payload - off : mss;
		size_t total = hdrs + plen;
		uint8_t *s = out + i * stride, *t = s + l4;
		uint16_t c;

		memcpy(s, pkt, hdrs);
		memcpy(s + hdrs, pkt + hdrs + off, plen);
		if (v4) {
			tun_put16(s + 2, (uint16_t)total);
			tun_put16(s + 4, (uint16_t)(id + i));
			s[10] = s[11] = 0;
			tun_put16(s + 10, tun_csum_fold(tun_csum_add(0, s, l4)));
		} else {
			tun_put16(s + 4, (uint16_t)(total - 40));
		}
		if (want == IPPROTO_TCP) {
			tun_put32(t + 4, seq + (uint32_t)off);
			if (i + 1 < nseg)
				t[13] &= (uint8_t)~(TUN_TCP_FIN | TUN_TCP_PSH);
			if (i > 0)
				t[13] &= (uint8_t)~TUN_TCP_CWR;
		} else {
			tun_put16(t + 4, (uint16_t)(l4hl + plen));
		}
		t[csum_off] = t[csum_off + 1] = 0;
		c = tun_csum_fold(tun_csum_add(tun_csum_pseudo(s, want, l4hl + plen), t, l4hl + plen));
		if (want == IPPROTO_UDP && c == 0)
			c = 0xffff; /* zero means "no checksum" in UDP */
		tun_put16(t + csum_off, c);
		seg_len[i] = total;
	}
	return (int)nseg;
}
