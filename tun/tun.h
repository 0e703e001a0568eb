/* TUN devices: create/attach, configure over rtnetlink (libmnl), and batch
 * I/O helpers. Knows nothing of WireGuard. Every function returns 0 (or a
 * count) on success and a negative errno on failure. */
#ifndef TUN_H
#define TUN_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#define TUN_F_MULTI_QUEUE 1u  /* IFF_MULTI_QUEUE: more fds via tun_open_queue */
#define TUN_F_VNET_HDR 2u     /* IFF_VNET_HDR + offloads: every packet carries a
			       * struct virtio_net_hdr (see offload.h) */

/* Offloads the kernel accepted (TUNSETOFFLOAD), in tun_dev.offloads. */
#define TUN_OFF_CSUM 1u  /* partial checksums may come our way */
#define TUN_OFF_TSO 2u   /* TCP super-packets (TSO4/TSO6) both ways */

struct tun_dev {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
	unsigned flags;
	unsigned offloads;
};

/* Creates TUN interface `name` (IFF_TUN|IFF_NO_PI, non-persistent, O_CLOEXEC,
 * O_NONBLOCK). Errors: -ENOENT no /dev/net/tun (path overridable for tests,
 * NULL = default), -EPERM no CAP_NET_ADMIN, -EBUSY an interface with that
 * name already exists (we never attach to someone else's device),
 * -EINVAL bad name. */
int tun_open(const char *name, unsigned flags, const char *dev_path, struct tun_dev *out);
/* Another queue of a multi-queue device (for one more I/O thread). */
int tun_open_queue(const struct tun_dev *dev, int *fd_out);
/* Closes the fd; the kernel removes the non-persistent interface. */
void tun_close(struct tun_dev *dev);

int tun_set_mtu(int ifindex, unsigned mtu);
int tun_get_mtu(int ifindex, unsigned *mtu);
int tun_set_up(int ifindex, int up);
/* family AF_INET/AF_INET6, addr in network order. */
int tun_addr_add(int ifindex, int family, const void *addr, uint8_t prefix);
int tun_addr_del(int ifindex, int family, const void *addr, uint8_t prefix);
int tun_route_add(int ifindex, int family, const void *dst, uint8_t prefix);
int tun_route_del(int ifindex, int family, const void *dst, uint8_t prefix);
/* True when an interface of that name exists (in this network namespace). */
int tun_exists(const char *name);

#endif
