/* TUN offload plumbing (IFF_VNET_HDR): every packet on the device is
 * prefixed by a struct virtio_net_hdr. Outbound, the kernel hands us TCP
 * "super-packets" of up to 64 KiB (TSO) and partial checksums; we split them
 * into MTU-sized segments. Inbound, we coalesce consecutive TCP segments of
 * a flow into one super-packet so the kernel takes many in one write (GRO).
 * Pure functions over caller buffers: no allocation. */
#ifndef TUN_OFFLOAD_H
#define TUN_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TUN_VNET_HDR_LEN sizeof(struct virtio_net_hdr)
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* newer than some distributions' headers */
#endif
#define TUN_MAX_SUPER 65535

/* One's-complement sum helpers (RFC 1071). */
uint32_t tun_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t tun_csum_fold(uint32_t sum);
/* Sum of the TCP/UDP pseudo-header for an IPv4 or IPv6 packet. */
uint32_t tun_csum_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len);

/* Splits pkt (IP packet of len bytes, described by hdr) into segments at
 * out + i * stride (each at most stride bytes). Non-GSO packets are copied
 * with their partial checksum completed. Returns the number of segments
 * (<= max_segs) with their lengths in seg_len, or -EINVAL for a malformed
 * packet/header, -ENOSPC when it does not fit. */
int tun_gso_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *hdr,
		  uint8_t *out, size_t stride, size_t max_segs, size_t *seg_len);

/* Coalescer for inbound packets: packets are appended to `cur` while they
 * continue the same TCP flow; otherwise the caller flushes. */
struct tun_gro {
	uint8_t *buf;     /* TUN_VNET_HDR_LEN + TUN_MAX_SUPER bytes, caller-owned */
	size_t len;       /* bytes of IP packet after the vnet header (0 = empty) */
	unsigned segs;
	uint16_t mss;     /* payload size of each merged segment */
	size_t hdr_len;   /* IP + TCP header length of the flow */
	uint32_t next_seq;
	bool is_v6;
};

/* Tries to take pkt into g. Returns true when merged (or started), false
 * when the caller must flush g first and then call again. Non-TCP packets
 * are taken only into an empty g, as a single packet. */
bool tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len);
/* Finalises the vnet header and IP/TCP fields of the super-packet; returns
 * the number of bytes to write (header included) and empties g. */
size_t tun_gro_finish(struct tun_gro *g);

#endif
