#include "offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

uint32_t tun_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	while (len >= 8) {
		uint32_t a, b;
		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		s += (uint64_t)ntohl(a) + ntohl(b);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		s += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)(p[0] << 8);
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	/* fold to 32 bits keeping the 16-bit one's-complement value */
	s = (s & 0xffff) + ((s >> 16) & 0xffff) + (s >> 32);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint16_t tun_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t tun_csum_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint8_t tail[4] = { 0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len };
	uint32_t s;

	if ((ip[0] >> 4) == 4) {
		s = tun_csum_add(0, ip + 12, 8);
	} else {
		uint8_t len32[4] = { (uint8_t)(l4_len >> 24), (uint8_t)(l4_len >> 16),
				     (uint8_t)(l4_len >> 8), (uint8_t)l4_len };
		s = tun_csum_add(0, ip + 8, 32);
		s = tun_csum_add(s, len32, 4);
		tail[2] = tail[3] = 0;
	}
	return tun_csum_add(s, tail, 4);
}

static void tun_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t tun_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t tun_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void tun_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void tun_ipv4_fix(uint8_t *ip, size_t ihl, size_t total, uint16_t id)
{
	tun_put16(ip + 2, (uint16_t)total);
	tun_put16(ip + 4, id);
	ip[10] = ip[11] = 0;
	tun_put16(ip + 10, tun_csum_fold(tun_csum_add(0, ip, ihl)));
}

/* Completes a NEEDS_CSUM packet in place. */
static int tun_complete_csum(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, off = h->csum_offset;

	if (start + off + 2 > len)
		return -EINVAL;
	pkt[start + off] = pkt[start + off + 1] = 0;
	/* The kernel seeded the field with the pseudo-header sum; recompute
	 * it from scratch so we do not depend on that. */
	{
		uint8_t proto = (pkt[0] >> 4) == 4 ? pkt[9] : pkt[6];
		uint32_t s = tun_csum_pseudo(pkt, proto, len - start);
		uint16_t c;
		s = tun_csum_add(s, pkt + start, len - start);
		c = tun_csum_fold(s);
		if (proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
		tun_put16(pkt + start + off, c);
	}
	return 0;
}

int tun_gso_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h,
		  uint8_t *out, size_t stride, size_t max_segs, size_t *seg_len)
{
	size_t iphl, l4hl, hdrs, payload, mss, nseg;
	bool v4;
	uint8_t proto;
	uint16_t id = 0;
	uint32_t seq = 0;

	if (len < 20)
		return -EINVAL;
	v4 = (pkt[0] >> 4) == 4;
	if (!v4 && (pkt[0] >> 4) != 6)
		return -EINVAL;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (len > stride || max_segs < 1)
			return -ENOSPC;
		memcpy(out, pkt, len);
		if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && tun_complete_csum(out, len, h) < 0)
			return -EINVAL;
		seg_len[0] = len;
		return 1;
	}
	if (v4) {
		iphl = (size_t)(pkt[0] & 0xf) * 4;
		proto = pkt[9];
		if (iphl < 20)
			return -EINVAL;
	} else {
		if (len < 40)
			return -EINVAL;
		iphl = 40; /* extension headers: the kernel does not TSO those to us */
		proto = pkt[6];
	}
	if ((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4 ||
	    (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV6) {
		if (proto != IPPROTO_TCP || len < iphl + 20)
			return -EINVAL;
		l4hl = (size_t)(pkt[iphl + 12] >> 4) * 4;
		if (l4hl < 20)
			return -EINVAL;
		seq = tun_get32(pkt + iphl + 4);
	} else if (h->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4) {
		if (proto != IPPROTO_UDP)
			return -EINVAL;
		l4hl = 8;
	} else {
		return -EINVAL;
	}
	hdrs = iphl + l4hl;
	mss = h->gso_size;
	if (hdrs > len || mss == 0)
		return -EINVAL;
	payload = len - hdrs;
	nseg = payload ? (payload + mss - 1) / mss : 1;
	if (nseg > max_segs || hdrs + mss > stride)
		return -ENOSPC;
	if (v4)
		id = tun_get16(pkt + 4);
	for (size_t i = 0; i < nseg; i++) {
		size_t off = i * mss, plen = payload - off < mss ? payload - off : mss;
		uint8_t *s = out + i * stride, *l4 = s + iphl;
		size_t total = hdrs + plen;
		uint32_t sum;

		memcpy(s, pkt, hdrs);
		memcpy(s + hdrs, pkt + hdrs + off, plen);
		if (v4)
			tun_ipv4_fix(s, iphl, total, (uint16_t)(id + i));
		else
			tun_put16(s + 4, (uint16_t)(total - 40));
		if (proto == IPPROTO_TCP) {
			tun_put32(l4 + 4, seq + (uint32_t)off);
			if (i + 1 < nseg)
				l4[13] &= (uint8_t)~(0x01 | 0x08); /* FIN, PSH only on the last */
			if (i > 0)
				l4[13] &= (uint8_t)~0x80;          /* CWR only on the first */
			l4[16] = l4[17] = 0;
			sum = tun_csum_pseudo(s, IPPROTO_TCP, l4hl + plen);
			sum = tun_csum_add(sum, l4, l4hl + plen);
			tun_put16(l4 + 16, tun_csum_fold(sum));
		} else {
			uint16_t c;
			tun_put16(l4 + 4, (uint16_t)(8 + plen));
			l4[6] = l4[7] = 0;
			sum = tun_csum_pseudo(s, IPPROTO_UDP, 8 + plen);
			sum = tun_csum_add(sum, l4, 8 + plen);
			c = tun_csum_fold(sum);
			tun_put16(l4 + 6, c ? c : 0xffff);
		}
		seg_len[i] = total;
	}
	return (int)nseg;
}

/* Header facts of a TCP packet, or false when it is not a plain TCP segment
 * we may coalesce (fragments, IP options, SYN/FIN/RST/URG, no payload). */
static bool tun_gro_parse(const uint8_t *p, size_t len, bool *v6, size_t *hdr_len,
			  size_t *plen)
{
	size_t iphl, tcphl;

	if (len >= 20 && (p[0] >> 4) == 4) {
		iphl = (size_t)(p[0] & 0xf) * 4;
		if (iphl != 20 || p[9] != IPPROTO_TCP || tun_get16(p + 2) != len ||
		    (tun_get16(p + 6) & 0x3fff)) /* MF or offset set */
			return false;
		*v6 = false;
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		iphl = 40;
		if (p[6] != IPPROTO_TCP || (size_t)tun_get16(p + 4) + 40 != len)
			return false;
		*v6 = true;
	} else {
		return false;
	}
	if (len < iphl + 20)
		return false;
	tcphl = (size_t)(p[iphl + 12] >> 4) * 4;
	if (tcphl < 20 || iphl + tcphl >= len)
		return false;
	if (p[iphl + 13] & (0x01 | 0x02 | 0x04 | 0x20 | 0x80)) /* FIN SYN RST URG CWR */
		return false;
	*hdr_len = iphl + tcphl;
	*plen = len - iphl - tcphl;
	return true;
}

static bool tun_gro_same_flow(const struct tun_gro *g, const uint8_t *p, size_t hdr_len)
{
	const uint8_t *c = g->buf + TUN_VNET_HDR_LEN;
	size_t iphl = g->is_v6 ? 40 : 20;

	if (hdr_len != g->hdr_len)
		return false;
	if (g->is_v6) {
		/* addresses, traffic class/flow label, hop limit */
		if (memcmp(c, p, 4) != 0 || memcmp(c + 7, p + 7, 33) != 0)
			return false;
	} else {
		if (c[1] != p[1] || c[8] != p[8] || memcmp(c + 12, p + 12, 8) != 0 ||
		    (c[6] & 0x40) != (p[6] & 0x40))
			return false;
	}
	/* ports, ack number, window and options identical; flags equal except PSH */
	if (memcmp(c + iphl, p + iphl, 4) != 0 || memcmp(c + iphl + 8, p + iphl + 8, 4) != 0 ||
	    memcmp(c + iphl + 14, p + iphl + 14, 2) != 0 ||
	    memcmp(c + iphl + 20, p + iphl + 20, hdr_len - iphl - 20) != 0 ||
	    (c[iphl + 13] & ~0x08) != (p[iphl + 13] & ~0x08))
		return false;
	return true;
}

bool tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len)
{
	uint8_t *cur = g->buf + TUN_VNET_HDR_LEN;
	size_t hdr_len = 0, plen = 0;
	bool v6 = false, tcp = tun_gro_parse(pkt, len, &v6, &hdr_len, &plen);

	if (g->len == 0) {
		if (len > TUN_MAX_SUPER)
			return false;
		memcpy(cur, pkt, len);
		g->len = len;
		g->segs = 1;
		g->is_v6 = v6;
		g->hdr_len = tcp ? hdr_len : 0;
		g->mss = tcp ? (uint16_t)plen : 0;
		g->next_seq = tcp ? tun_get32(pkt + (v6 ? 40 : 20) + 4) + (uint32_t)plen : 0;
		return true;
	}
	if (!tcp || !g->hdr_len || v6 != g->is_v6 || g->segs >= 64 ||
	    g->len + plen > TUN_MAX_SUPER || plen > g->mss ||
	    tun_get32(pkt + (v6 ? 40 : 20) + 4) != g->next_seq ||
	    /* a short segment ends a super-packet: nothing may follow it */
	    (g->len - g->hdr_len) % g->mss != 0 ||
	    cur[(v6 ? 40 : 20) + 13] & 0x08 ||
	    !tun_gro_same_flow(g, pkt, hdr_len))
		return false;
	memcpy(cur + g->len, pkt + hdr_len, plen);
	g->len += plen;
	g->segs++;
	g->next_seq += (uint32_t)plen;
	/* carry PSH of the newest segment */
	cur[(v6 ? 40 : 20) + 13] |= pkt[(v6 ? 40 : 20) + 13] & 0x08;
	return true;
}

size_t tun_gro_finish(struct tun_gro *g)
{
	struct virtio_net_hdr h;
	uint8_t *p = g->buf + TUN_VNET_HDR_LEN;
	size_t len = g->len;

	memset(&h, 0, sizeof(h));
	if (g->segs > 1) {
		size_t iphl = g->is_v6 ? 40 : 20;
		uint32_t sum;
		if (g->is_v6) {
			tun_put16(p + 4, (uint16_t)(len - 40));
		} else {
			tun_put16(p + 2, (uint16_t)len);
			p[10] = p[11] = 0;
			tun_put16(p + 10, tun_csum_fold(tun_csum_add(0, p, 20)));
		}
		/* Partial checksum: the field holds the pseudo-header sum and the
		 * kernel finishes it (or trusts it) per segment. */
		sum = tun_csum_pseudo(p, IPPROTO_TCP, len - iphl);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		tun_put16(p + iphl + 16, (uint16_t)sum);
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.gso_type = g->is_v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		h.gso_size = g->mss;
		h.hdr_len = (uint16_t)g->hdr_len;
		h.csum_start = (uint16_t)iphl;
		h.csum_offset = 16;
	}
	memcpy(g->buf, &h, sizeof(h));
	g->len = 0;
	g->segs = 0;
	return len + TUN_VNET_HDR_LEN;
}
