/* TUN offload plumbing (IFF_VNET_HDR). Every packet on such a device is
 * prefixed by a struct virtio_net_hdr (native byte order on this host).
 *
 * Outbound (read from the TUN): the kernel hands us TCP (TSO) and UDP (USO)
 * "super-packets" of up to 64 KiB and partial checksums (NEEDS_CSUM);
 * tun_gso_split() cuts them into MTU-sized IP packets with every header and
 * checksum fixed up, as the kernel's own GSO would.
 *
 * Inbound (written to the TUN): tun_gro_* coalesces consecutive TCP
 * segments of one flow into one super-packet so the kernel takes many in one
 * write, with the rules of Linux TCP GRO / wireguard-go's tcpGRO.
 *
 * Pure functions over caller buffers: nothing here allocates, blocks or
 * knows about file descriptors. */
#ifndef TUN_OFFLOAD_H
#define TUN_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* newer than some distributions' headers */
#endif

#define TUN_VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* Largest IP packet (IPv4 total length is 16 bits; we do not do BIG TCP). */
#define TUN_MAX_SUPER 65535
/* Most segments merged into one super-packet (bounds the work per write;
 * 64 KiB / 1280-byte MSS is 52). */
#define TUN_GRO_MAX_SEGS 64
/* Most segments in one super-packet the kernel hands us: tun_open caps the
 * device's gso_max_segs here, so a split never needs more output slots
 * (without the cap, TCP with a 536-byte MSS or UDP GSO could send 128). */
#define TUN_GSO_MAX_SEGS 64

/* ---- checksums (RFC 1071) ----
 * A "sum" is the 16-bit one's-complement sum of big-endian 16-bit words,
 * kept in a uint32_t (host order, at most 0xffff after tun_csum_add). */

/* Adds len bytes at data (any alignment, odd lengths padded with a zero
 * byte) to sum. 64-bit accumulation, so about one add per 8 bytes. */
uint32_t tun_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds and complements: the value to store in a checksum field. */
uint16_t tun_csum_fold(uint32_t sum);
/* Sum of the TCP/UDP pseudo-header of the IPv4 or IPv6 packet at ip
 * (addresses read from the fixed header) for an L4 length of l4_len. */
uint32_t tun_csum_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len);
/* True when the TCP/UDP checksum of the IP packet pkt (transport header at
 * l4_off) verifies. A UDP checksum of zero over IPv4 means "none": true. */
bool tun_csum_l4_valid(const uint8_t *pkt, size_t len, size_t l4_off, uint8_t proto);
/* Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM, the kernel's
 * CHECKSUM_PARTIAL) in place: sums from csum_start to the end, including
 * the pseudo-header sum the sender left in the field, and stores the
 * complement at csum_start + csum_offset (0 becomes 0xffff, as the kernel
 * does). -EINVAL when the field lies outside the packet or at an odd
 * offset. */
int tun_csum_complete(uint8_t *pkt, size_t len, size_t csum_start, size_t csum_offset);

/* ---- GSO: split what the kernel gives us ---- */

/* Splits pkt (one IP packet of len bytes as read after the vnet header hdr)
 * into IP packets at out + i * stride, lengths in seg_len[i]; returns the
 * number of segments (<= max_segs).
 * - GSO_NONE: the packet is copied; with NEEDS_CSUM its checksum completed.
 * - GSO_TCPV4/TCPV6 (ECN bit allowed): gso_size payload bytes per segment;
 *   IPv4 total length, id (+1 per segment) and header checksum, IPv6 payload
 *   length, TCP sequence numbers, FIN/PSH on the last segment only, CWR on
 *   the first only, full TCP checksums.
 * - GSO_UDP_L4 (USO): UDP length and checksum per datagram.
 * The IP header is parsed, not trusted: IPv4 without fragmentation and with
 * total length == len, IPv6 payload length == len - 40 with at most
 * hop-by-hop/destination-options extension headers; the transport protocol
 * must match gso_type and, with NEEDS_CSUM, csum_start/csum_offset must
 * point at its checksum. hdr->hdr_len is not trusted (the kernel may set it
 * to the whole first packet on the forwarding path).
 * Errors: -EINVAL malformed packet or header (nothing written to seg_len),
 * -ENOSPC more than max_segs segments or a segment longer than stride. */
int tun_gso_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *hdr,
		  uint8_t *out, size_t stride, size_t max_segs, size_t *seg_len);

/* ---- GRO: coalesce what we write ---- */

/* One super-packet being built. Zero it, then set buf to a caller-owned
 * buffer of TUN_GRO_BUF_LEN bytes. buf holds the vnet header followed by
 * the IP packet. Read-only for the caller: len (IP bytes held, 0 = empty)
 * and segs (packets merged). */
#define TUN_GRO_BUF_LEN (TUN_VNET_HDR_LEN + TUN_MAX_SUPER)
struct tun_gro {
	uint8_t *buf;
	size_t len;
	unsigned segs;
	uint16_t mss;       /* payload of the first segment = gso_size */
	size_t hdr_len;     /* IP + TCP header length; 0 = not coalescible */
	uint32_t next_seq;  /* sequence number the next segment must carry */
	bool is_v6;
	bool head_csum_ok;  /* first packet's checksum verified */
};

/* Offers pkt to g. Returns true when taken: merged into the super-packet,
 * or copied into an empty g (any IP packet up to TUN_MAX_SUPER bytes).
 * Returns false when g must be flushed first (tun_gro_finish + write) and
 * pkt offered again; false on an empty g means pkt is too large.
 * Merging needs: a TCP segment (IPv4 without options/fragmentation, or IPv6
 * without extension headers) with payload, flags ACK or ACK|PSH, the same
 * addresses, ports, ack number, window, TCP options, ToS/traffic class,
 * TTL/hop limit, DF and flow label as the first; seq continuing the stream;
 * no PSH before it; no payload larger than the first's and nothing after a
 * shorter one; at most TUN_GRO_MAX_SEGS segments and TUN_MAX_SUPER bytes.
 * Both checksums are verified before a merge (the kernel trusts a partial
 * checksum, so a corrupt segment must not hide in a super-packet). */
bool tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len);
/* Finalises g->buf: the vnet header (zero for a lone packet, else
 * GSO_TCPV4/6 with gso_size, NEEDS_CSUM and the pseudo-header sum in the TCP
 * checksum field) and the IP length fields. Returns the bytes to write from
 * g->buf (header included), 0 when g was empty, and empties g. */
size_t tun_gro_finish(struct tun_gro *g);

/* A small flow table over tun_gro for a batch of packets of several flows:
 * each TCP flow (addresses + ports) coalesces in its own slot; a packet
 * that cannot join flushes its flow's slot first, so each flow keeps its
 * order; other packets go out at once, untouched, with a zero vnet header.
 * Packets of different flows may be reordered against each other. */
#define TUN_GRO_FLOWS 8
struct tun_gro_table {
	struct tun_gro flow[TUN_GRO_FLOWS];
	uint32_t used[TUN_GRO_FLOWS]; /* age stamp of each slot: evict the oldest */
	uint32_t clock;
};
/* Receives one frame to write: hdr (vnet header) and the IP packet.
 * A negative return aborts and is passed back to the caller. */
typedef int (*tun_gro_emit_fn)(void *ctx, const struct virtio_net_hdr *hdr, const uint8_t *pkt,
			       size_t len);
/* bufs: TUN_GRO_FLOWS * TUN_GRO_BUF_LEN bytes, caller-owned. */
void tun_gro_table_init(struct tun_gro_table *t, uint8_t *bufs);
/* Takes one packet; may emit earlier packets of the same or an evicted flow.
 * Returns 0 or the emitter's negative error (-EMSGSIZE if pkt is larger
 * than TUN_MAX_SUPER: nothing emitted). */
int tun_gro_table_add(struct tun_gro_table *t, const uint8_t *pkt, size_t len,
		      tun_gro_emit_fn emit, void *ctx);
/* Emits everything held (oldest first) and empties the table. */
int tun_gro_table_flush(struct tun_gro_table *t, tun_gro_emit_fn emit, void *ctx);

#endif
