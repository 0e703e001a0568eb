/* TUN devices: create, configure over rtnetlink (libmnl), and packet I/O
 * with the optional virtio-net header. Knows nothing of WireGuard; the
 * offload helpers (GSO split, GRO coalescing, checksums) are in offload.h.
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; results go to out-parameters. No function keeps global state. */
#ifndef TUN_H
#define TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "offload.h"

/* tun_open flags */
#define TUN_F_MULTI_QUEUE 1u /* IFF_MULTI_QUEUE: more queues via tun_open_queue */
#define TUN_F_VNET_HDR 2u    /* IFF_VNET_HDR + offloads: every packet read or
			      * written carries a struct virtio_net_hdr */

/* Offloads the kernel accepted (TUNSETOFFLOAD), in tun_dev.offloads. */
#define TUN_OFF_CSUM 1u /* partial checksums (NEEDS_CSUM) may be read */
#define TUN_OFF_TSO 2u  /* TCP super-packets both ways (TSO4 + TSO6) */
#define TUN_OFF_USO 4u  /* UDP super-packets (GSO_UDP_L4) both ways (USO4 + USO6) */

#define TUN_MAX_QUEUES 16 /* the first queue plus 15 from tun_open_queue */

struct tun_dev {
	int fd;                             /* first queue */
	int ifindex;
	char name[IFNAMSIZ];                /* as the kernel named it */
	unsigned flags;                     /* TUN_F_* asked for */
	unsigned offloads;                  /* TUN_OFF_* granted */
	int queue_fd[TUN_MAX_QUEUES - 1];   /* extra queues, owned by the device */
	unsigned nqueues;                   /* extra queues open */
};

/* Creates the TUN interface `name` (IFF_TUN | IFF_NO_PI, not persistent)
 * and opens its first queue, O_NONBLOCK | O_CLOEXEC. A name containing
 * "%d" is a pattern the kernel completes (dev->name has the result).
 * TUN_F_VNET_HDR sets the header size to sizeof(struct virtio_net_hdr) and
 * asks for CSUM + TSO4/6 + USO4/6, falling back to CSUM + TSO, then CSUM,
 * then none; dev->offloads says what is active. With TSO/USO the
 * device's gso_max_segs is set to TUN_GSO_MAX_SEGS (rtnetlink), so a read
 * never splits into more segments; a kernel refusing that keeps CSUM only.
 * The interface is created exclusively (IFF_TUN_EXCL): we never attach to
 * an existing device, tun or not, someone else's or a busy one.
 * dev_path: NULL for /dev/net/tun (tests point it elsewhere).
 * Errors: -EINVAL bad name; -ENOENT no TUN device node (no tun module);
 * -EPERM no CAP_NET_ADMIN (or -EACCES on the node); -EBUSY an interface of
 * that name exists; other -errno from the kernel. On error *dev has fd -1. */
int tun_open(const char *name, unsigned flags, const char *dev_path, struct tun_dev *dev);
/* Opens one more queue of a TUN_F_MULTI_QUEUE device for another I/O
 * thread (same flags and vnet header). The fd stays owned by dev: it is
 * closed by tun_close. -EINVAL not multi-queue, -ENOSPC TUN_MAX_QUEUES
 * reached, -ENODEV the interface is no longer the one we created. */
int tun_open_queue(struct tun_dev *dev, int *fd_out);
/* Closes every queue; the kernel then removes the (non-persistent)
 * interface, its addresses and routes. Safe on a closed or failed dev. */
void tun_close(struct tun_dev *dev);

/* ---- rtnetlink configuration (one NETLINK_ROUTE socket per call; every
 * call waits for the kernel's ack and returns its -errno) ---- */

/* Sets the MTU; -EINVAL outside 68..65535 (the kernel may refuse more,
 * e.g. IPv6 needs 1280). */
int tun_set_mtu(int ifindex, unsigned mtu);
/* Reads the MTU (RTM_GETLINK). */
int tun_get_mtu(int ifindex, unsigned *mtu);
/* Caps the segments per GSO packet the stack sends to the device
 * (IFLA_GSO_MAX_SEGS); larger ones are segmented in software first.
 * -EINVAL for 0 or more than 65535. */
int tun_set_gso_max_segs(int ifindex, unsigned segs);
/* Sets the link administratively up (up != 0) or down. */
int tun_set_up(int ifindex, int up);
/* Adds / deletes an address with its prefix length on the interface.
 * family AF_INET (addr: 4 bytes) or AF_INET6 (16 bytes), network order.
 * Adding an existing address: -EEXIST; deleting a missing one:
 * -EADDRNOTAVAIL; prefix too long: -EINVAL. */
int tun_addr_add(int ifindex, int family, const void *addr, uint8_t prefix);
int tun_addr_del(int ifindex, int family, const void *addr, uint8_t prefix);
/* Adds / deletes a route dst/prefix through the interface (main table,
 * link scope for IPv4). Host bits of dst must be zero (-EINVAL otherwise).
 * Existing route: -EEXIST; missing: -ESRCH. */
int tun_route_add(int ifindex, int family, const void *dst, uint8_t prefix);
int tun_route_del(int ifindex, int family, const void *dst, uint8_t prefix);
/* 1 when an interface of that name exists in this network namespace. */
int tun_exists(const char *name);

/* ---- the namespace's addresses (addrs.c) ---- */

struct tun_local_addr {
	int family;       /* AF_INET or AF_INET6 */
	int ifindex;
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
	uint8_t prefix;
};
/* Every address of every interface in this network namespace (RTM_GETADDR
 * dump). Writes at most cap entries (out may be NULL with cap 0 to count),
 * returns how many were written; *total (may be NULL) gets how many exist. */
int tun_addr_list(struct tun_local_addr *out, size_t cap, size_t *total);
/* Which interface holds addr: 0 and *ifindex (may be NULL), -ENOENT when
 * none does, -EINVAL for a bad family. */
int tun_addr_owner(int family, const void *addr, int *ifindex);
/* A non-blocking NETLINK_ROUTE socket subscribed to address changes (IPv4
 * and IPv6): readable after an address is added or removed anywhere in this
 * namespace. Returns the fd (the caller closes it) or -errno. */
int tun_addr_watch_open(void);
/* Reads what is queued on a watch socket without blocking: 1 when anything
 * changed (or events were lost), 0 when nothing did, -errno. */
int tun_addr_watch_drain(int fd);

/* ---- packet I/O on a queue fd (non-blocking) ---- */

/* One packet: data/cap are the caller's buffer; len and (with a vnet
 * header) hdr are filled by reads and used by writes. */
struct tun_pkt {
	uint8_t *data;
	size_t cap;
	size_t len;
	struct virtio_net_hdr hdr;
};

/* Reads one packet (readv: header into *hdr, packet into buf). Without
 * vnet, *hdr is zeroed. Returns the packet length, -EAGAIN when none is
 * queued, -EINVAL for a frame shorter than the header. cap should be at
 * least TUN_MAX_SUPER with TSO: the kernel truncates silently. */
ssize_t tun_read(int fd, bool vnet, struct virtio_net_hdr *hdr, uint8_t *buf, size_t cap);
/* Writes one packet, prefixed by hdr (NULL: a zero header) when vnet.
 * Returns 0 or -errno (-EAGAIN: the queue is full, the packet is dropped). */
int tun_write(int fd, bool vnet, const struct virtio_net_hdr *hdr, const uint8_t *pkt, size_t len);
/* Reads up to n packets, stopping at the first -EAGAIN. Returns how many
 * were read (0 if none is queued) or -errno if the first read failed. */
int tun_read_batch(int fd, bool vnet, struct tun_pkt *pkts, size_t n);
/* Writes n packets (pkts[i].hdr used when vnet). Returns how many were
 * written before the first error, or that error if it was the first. */
int tun_write_batch(int fd, bool vnet, const struct tun_pkt *pkts, size_t n);

#endif
