/* GRO: coalesces consecutive TCP segments of one flow into a super-packet
 * the kernel accepts in one write (IFF_VNET_HDR with TSO), following Linux
 * tcp_gro_receive and wireguard-go's tcpGRO. */
#include "bytes.h"
#include "offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define TUN_TCP_PSH 0x08
#define TUN_TCP_ACK 0x10

/* A TCP segment we may coalesce: plain IPv4 (no options, not a fragment) or
 * IPv6 (no extension headers) whose length fields agree with len, TCP
 * flags ACK or ACK|PSH, payload present. Anything else passes unchanged. */
static bool tun_gro_candidate(const uint8_t *p, size_t len, bool *v6, size_t *hdr_len)
{
	size_t iphl, tcphl;

	if (len > TUN_MAX_SUPER)
		return false;
	if (len >= 40 && p[0] == 0x45) {
		if (p[9] != IPPROTO_TCP || tun_get16(p + 2) != len || (tun_get16(p + 6) & 0x3fff))
			return false;
		iphl = 20;
		*v6 = false;
	} else if (len >= 60 && (p[0] >> 4) == 6) {
		if (p[6] != IPPROTO_TCP || (size_t)tun_get16(p + 4) + 40 != len)
			return false;
		iphl = 40;
		*v6 = true;
	} else {
		return false;
	}
	tcphl = (size_t)(p[iphl + 12] >> 4) * 4;
	if (tcphl < 20 || iphl + tcphl >= len)
		return false;
	if (p[iphl + 13] != TUN_TCP_ACK && p[iphl + 13] != (TUN_TCP_ACK | TUN_TCP_PSH))
		return false;
	*hdr_len = iphl + tcphl;
	return true;
}

/* Same flow and headers that may merge: everything but the IP length,
 * IPv4 id and checksums, TCP seq/PSH/checksum must match the first. */
static bool tun_gro_same_headers(const struct tun_gro *g, const uint8_t *p)
{
	const uint8_t *c = g->buf + TUN_VNET_HDR_LEN;
	size_t iphl = g->is_v6 ? 40 : 20;

	if (g->is_v6) {
		/* version, traffic class, flow label; next header, hop limit,
		 * addresses */
		if (memcmp(c, p, 4) != 0 || memcmp(c + 6, p + 6, 34) != 0)
			return false;
	} else {
		/* ToS; reserved/DF bits; TTL, protocol; addresses */
		if (c[1] != p[1] || (c[6] & 0xe0) != (p[6] & 0xe0) ||
		    memcmp(c + 8, p + 8, 2) != 0 || memcmp(c + 12, p + 12, 8) != 0)
			return false;
	}
	/* ports; ack number; data offset and window (flags compared by the
	 * caller); urgent pointer; options */
	return memcmp(c + iphl, p + iphl, 4) == 0 &&
	       memcmp(c + iphl + 8, p + iphl + 8, 5) == 0 &&
	       memcmp(c + iphl + 14, p + iphl + 14, 2) == 0 &&
	       memcmp(c + iphl + 18, p + iphl + 18, g->hdr_len - iphl - 18) == 0;
}

static void tun_gro_start(struct tun_gro *g, const uint8_t *pkt, size_t len, bool cand, bool v6,
			  size_t hdr_len)
{
	memcpy(g->buf + TUN_VNET_HDR_LEN, pkt, len);
	g->len = len;
	g->segs = 1;
	g->is_v6 = v6;
	g->head_csum_ok = false;
	g->hdr_len = cand ? hdr_len : 0;
	g->mss = cand ? (uint16_t)(len - hdr_len) : 0;
	g->next_seq = cand ? tun_get32(pkt + (v6 ? 40 : 20) + 4) + (uint32_t)(len - hdr_len) : 0;
}

bool tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len)
{
	uint8_t *cur = g->buf + TUN_VNET_HDR_LEN;
	size_t hdr_len = 0, plen, iphl;
	bool v6 = false, cand = tun_gro_candidate(pkt, len, &v6, &hdr_len);

	if (g->len == 0) {
		if (len > TUN_MAX_SUPER)
			return false;
		tun_gro_start(g, pkt, len, cand, v6, hdr_len);
		return true;
	}
	if (!cand || !g->hdr_len || v6 != g->is_v6 || hdr_len != g->hdr_len)
		return false;
	iphl = v6 ? 40 : 20;
	plen = len - hdr_len;
	if (g->segs >= TUN_GRO_MAX_SEGS || g->len + plen > TUN_MAX_SUPER || plen > g->mss ||
	    tun_get32(pkt + iphl + 4) != g->next_seq ||
	    (cur[iphl + 13] & TUN_TCP_PSH) ||             /* PSH ends a super-packet */
	    (g->len - g->hdr_len) % g->mss != 0 ||         /* so does a short segment */
	    !tun_gro_same_headers(g, pkt))
		return false;
	/* The kernel will trust the partial checksum of the whole: verify the
	 * parts (Linux GRO validates every segment too). */
	if (!g->head_csum_ok) {
		if (!tun_csum_l4_valid(cur, g->len, iphl, IPPROTO_TCP))
			return false;
		g->head_csum_ok = true;
	}
	if (!tun_csum_l4_valid(pkt, len, iphl, IPPROTO_TCP))
		return false;
	memcpy(cur + g->len, pkt + hdr_len, plen);
	g->len += plen;
	g->segs++;
	g->next_seq += (uint32_t)plen;
	cur[iphl + 13] |= pkt[iphl + 13] & TUN_TCP_PSH;
	return true;
}

size_t tun_gro_finish(struct tun_gro *g)
{
	struct virtio_net_hdr h;
	uint8_t *p = g->buf + TUN_VNET_HDR_LEN;
	size_t len = g->len, iphl = g->is_v6 ? 40 : 20;

	if (len == 0)
		return 0;
	memset(&h, 0, sizeof(h));
	if (g->segs > 1) {
		if (g->is_v6) {
			tun_put16(p + 4, (uint16_t)(len - 40));
		} else {
			tun_put16(p + 2, (uint16_t)len);
			p[10] = p[11] = 0;
			tun_put16(p + 10, tun_csum_fold(tun_csum_add(0, p, 20)));
		}
		/* CHECKSUM_PARTIAL: the field holds the (uncomplemented)
		 * pseudo-header sum; the kernel completes it per segment. */
		tun_put16(p + iphl + 16, (uint16_t)tun_csum_pseudo(p, IPPROTO_TCP, len - iphl));
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
	g->hdr_len = 0;
	return len + TUN_VNET_HDR_LEN;
}

/* ---- flow table ---- */

void tun_gro_table_init(struct tun_gro_table *t, uint8_t *bufs)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < TUN_GRO_FLOWS; i++)
		t->flow[i].buf = bufs + i * TUN_GRO_BUF_LEN;
}

/* Addresses and ports of a TCP packet without IPv4 options / IPv6
 * extension headers, the flow key of the table. */
static bool tun_gro_key_match(const struct tun_gro *g, const uint8_t *p, size_t len)
{
	const uint8_t *c = g->buf + TUN_VNET_HDR_LEN;

	if (g->len == 0 || g->hdr_len == 0)
		return false;
	if (g->is_v6)
		return len >= 44 && (p[0] >> 4) == 6 && p[6] == IPPROTO_TCP &&
		       memcmp(c + 8, p + 8, 36) == 0;
	return len >= 24 && p[0] == 0x45 && p[9] == IPPROTO_TCP && memcmp(c + 12, p + 12, 12) == 0;
}

static int tun_gro_emit_slot(struct tun_gro *g, tun_gro_emit_fn emit, void *ctx)
{
	size_t n = tun_gro_finish(g);
	struct virtio_net_hdr h;

	if (n == 0)
		return 0;
	memcpy(&h, g->buf, sizeof(h));
	return emit(ctx, &h, g->buf + TUN_VNET_HDR_LEN, n - TUN_VNET_HDR_LEN);
}

int tun_gro_table_add(struct tun_gro_table *t, const uint8_t *pkt, size_t len,
		      tun_gro_emit_fn emit, void *ctx)
{
	static const struct virtio_net_hdr zero;
	size_t hdr_len, slot = TUN_GRO_FLOWS, oldest = 0;
	bool v6, cand;
	int ret;

	if (len > TUN_MAX_SUPER)
		return -EMSGSIZE;
	for (size_t i = 0; i < TUN_GRO_FLOWS; i++) {
		if (tun_gro_key_match(&t->flow[i], pkt, len)) {
			slot = i;
			break;
		}
	}
	cand = tun_gro_candidate(pkt, len, &v6, &hdr_len);
	if (!cand) {
		/* a FIN, RST or pure ACK of a held flow goes after its data */
		if (slot < TUN_GRO_FLOWS && (ret = tun_gro_emit_slot(&t->flow[slot], emit, ctx)) < 0)
			return ret;
		return emit(ctx, &zero, pkt, len);
	}
	if (slot < TUN_GRO_FLOWS) {
		if (tun_gro_add(&t->flow[slot], pkt, len)) {
			t->used[slot] = ++t->clock;
			return 0;
		}
		if ((ret = tun_gro_emit_slot(&t->flow[slot], emit, ctx)) < 0)
			return ret;
	} else {
		for (size_t i = 0; i < TUN_GRO_FLOWS && slot == TUN_GRO_FLOWS; i++)
			if (t->flow[i].len == 0)
				slot = i;
		if (slot == TUN_GRO_FLOWS) {
			/* all busy: the least recently fed flow goes out */
			for (size_t i = 1; i < TUN_GRO_FLOWS; i++)
				if ((int32_t)(t->used[i] - t->used[oldest]) < 0)
					oldest = i;
			slot = oldest;
			if ((ret = tun_gro_emit_slot(&t->flow[slot], emit, ctx)) < 0)
				return ret;
		}
	}
	tun_gro_add(&t->flow[slot], pkt, len); /* empty slot: always taken */
	t->used[slot] = ++t->clock;
	return 0;
}

int tun_gro_table_flush(struct tun_gro_table *t, tun_gro_emit_fn emit, void *ctx)
{
	int ret = 0;

	for (;;) {
		size_t pick = TUN_GRO_FLOWS;
		for (size_t i = 0; i < TUN_GRO_FLOWS; i++)
			if (t->flow[i].len &&
			    (pick == TUN_GRO_FLOWS || (int32_t)(t->used[i] - t->used[pick]) < 0))
				pick = i;
		if (pick == TUN_GRO_FLOWS)
			break;
		/* empty the slot even if the emitter fails: the table is reset */
		if ((ret = tun_gro_emit_slot(&t->flow[pick], emit, ctx)) < 0) {
			for (size_t i = 0; i < TUN_GRO_FLOWS; i++)
				t->flow[i].len = t->flow[i].segs = 0;
			break;
		}
	}
	return ret;
}
