/* The userspace WireGuard device: the protocol (proto.c) wired to a TUN
 * interface, a dual-stack UDP socket, per-peer timers and the UAPI socket.
 *
 * Threads: one reads the TUN and encrypts (outbound), one reads UDP and
 * decrypts (inbound) — so the two directions use both cores and each
 * peer's packets keep their order — one runs timers, one serves the UAPI.
 * Buffers are preallocated per thread; the hot path does not allocate. */
#ifndef WG_DEVICE_H
#define WG_DEVICE_H

#include <stdint.h>

#include "timers.h"

struct wg_device;

struct wg_device_config {
	const char *ifname;
	unsigned mtu;                  /* 0 = 1420, as wireguard-go */
	struct wg_timer_config timers; /* protocol constants unless a test shortens them */
	const char *uapi_dir;          /* NULL = /var/run/wireguard */
	const char *tun_path;          /* NULL = /dev/net/tun */
	int no_offload;                /* 1: no TUN vnet header, no UDP GSO/GRO */
};

/* Creates the TUN interface and the UAPI socket and starts the threads.
 * -ENOENT no TUN device node, -EPERM no CAP_NET_ADMIN, -EBUSY name in use
 * (interface or a live UAPI socket). */
int wg_device_new(const struct wg_device_config *cfg, struct wg_device **out);
/* Stops threads, removes the UAPI socket and the interface, wipes keys. */
void wg_device_free(struct wg_device *dev);
/* Non-zero once the TUN device has gone away (e.g. `ip link del`). */
int wg_device_dead(struct wg_device *dev);
const char *wg_device_name(const struct wg_device *dev);

#endif
