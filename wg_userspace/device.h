/* The userspace WireGuard device: the protocol (proto.c) wired to a TUN
 * interface, a dual-stack UDP socket, per-peer timers and the UAPI socket.
 *
 * Threads: one reads the TUN and encrypts (outbound), one reads UDP and
 * decrypts (inbound) — so the two directions use both cores and each
 * peer's packets keep their order — one runs timers, one serves the UAPI.
 * Buffers are preallocated per thread; the hot path does not allocate.
 *
 * Two ways in: the UAPI socket (`wg`, as for wireguard-go), and, for a
 * program that embeds the device, the calls below (wg_device_set applies
 * the same transactions the UAPI does; wg_device_get_info reads what
 * `wg show` shows plus the drop counters). Both may be used at once: every
 * change is serialised by the device. */
#ifndef WG_DEVICE_H
#define WG_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "timers.h"
#include "uapi.h"

struct wg_device;

struct wg_device_config {
	const char *ifname;
	unsigned mtu;                  /* 0 = 1420, as wireguard-go */
	struct wg_timer_config timers; /* protocol constants unless a test shortens them */
	const char *uapi_dir;          /* NULL = /var/run/wireguard */
	const char *tun_path;          /* NULL = /dev/net/tun */
	int no_offload;                /* 1: no TUN vnet header, no UDP GSO/GRO */
	/* Hub: a packet decrypted from peer A whose destination belongs to
	 * peer B (allowed IPs) is sealed to B inside the data path and never
	 * written to the TUN, so the host needs no ip_forward. A destination
	 * that is an address of this network namespace, in no peer's allowed
	 * IPs, or A's own, goes to the TUN as without relay. */
	bool relay;
	/* Embedding: a UAPI socket that cannot be created (say an unprivileged
	 * user cannot write /var/run/wireguard) is a warning, not an error. A
	 * live socket of the same name (the name is in use by another device,
	 * whatever its namespace) is still -EBUSY. */
	bool uapi_optional;
	/* The UDP port bound at creation (0: any, as a UAPI `set` of
	 * listen_port can change it later); taken: -EADDRINUSE. An embedder
	 * that knows its port binds it at once rather than a random one first. */
	uint16_t listen_port;
};

/* Creates the TUN interface and the UAPI socket and starts the threads.
 * -ENOENT no TUN device node, -EPERM no CAP_NET_ADMIN, -EBUSY name in use
 * (interface or a live UAPI socket), -EADDRINUSE listen_port taken. */
int wg_device_new(const struct wg_device_config *cfg, struct wg_device **out);
/* Stops threads, removes the UAPI socket and the interface, wipes keys. */
void wg_device_free(struct wg_device *dev);
/* Non-zero once the TUN device has gone away (e.g. `ip link del`). */
int wg_device_dead(struct wg_device *dev);
const char *wg_device_name(const struct wg_device *dev);
/* The TUN interface's index, for rtnetlink (addresses, routes, MTU). */
int wg_device_ifindex(const struct wg_device *dev);

/* Applies a configuration transaction exactly as a UAPI `set` does (the
 * struct wg_uapi_parse_set produces; a caller may build it directly, with
 * endpoint_len 0 meaning "the size of the endpoint's family"). The whole
 * transaction is validated before anything changes: -EINVAL for a bad
 * family, prefix length, endpoint or count (nothing applied); a listen port
 * that cannot be bound is -errno from bind with nothing applied either.
 * Only running out of memory midway (-ENOMEM) leaves part of it applied. */
int wg_device_set(struct wg_device *dev, const struct wg_uapi_set *set);

struct wg_device_peer_info {
	uint8_t public_key[WG_KEY_LEN];
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	uint64_t rx_bytes, tx_bytes;       /* sealed bytes, as `wg show` counts */
	uint64_t last_handshake_wall_ns;   /* 0 = never */
	uint16_t persistent_keepalive;     /* seconds, 0 = off */
	struct wg_uapi_allowed_ip *allowed_ips;
	size_t n_allowed_ips;
};

/* Monotonically increasing counters, since the device was created. */
struct wg_device_stats {
	uint64_t rx_unknown_index;      /* transport packets for no live session
					 * (unknown receiver index, removed peer,
					 * expired keypair): dropped */
	uint64_t rx_handshake_rejected; /* handshake messages and cookie replies
					 * dropped: unknown key, bad mac, replayed
					 * timestamp, flood, rate limited, or
					 * answered with a cookie under load */
	uint64_t rx_bad_source;         /* inner source not allowed for its peer */
	uint64_t rx_auth_failed;        /* transport that failed to authenticate,
					 * or was replayed */
	uint64_t rx_malformed;          /* datagrams of no known type or length,
					 * malformed inner packets */
	uint64_t relay_packets;         /* relay: packets sealed to their
					 * destination peer (or queued for its
					 * handshake) */
	uint64_t relay_bytes;           /* ...their inner (plaintext) bytes */
	uint64_t relay_dropped;         /* relay: destination peer removed
					 * meanwhile, with a session but no
					 * endpoint, or the packet larger than
					 * the device's segments */
};

struct wg_device_info {
	bool has_private_key;
	uint8_t public_key[WG_KEY_LEN];  /* valid when has_private_key */
	uint16_t listen_port;
	uint32_t fwmark;
	struct wg_device_stats stats;
	struct wg_device_peer_info *peers; /* in configuration order */
	size_t n_peers;
};

/* A snapshot of the device (never the private key). 0 or -ENOMEM; free it
 * with wg_device_info_free (also safe after a failure). */
int wg_device_get_info(struct wg_device *dev, struct wg_device_info *out);
void wg_device_info_free(struct wg_device_info *info);

/* Sends a handshake initiation to that peer now (say a restarted hub
 * towards the endpoints it remembers). 0 sent; -ENOENT no such peer,
 * -EDESTADDRREQ the peer has no endpoint, -ENOKEY the device has no private
 * key, -EALREADY one went out less than REKEY_TIMEOUT (5 s) ago and its
 * answer or retry is pending (the protocol's own rate limit). */
int wg_device_initiate(struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN]);

#endif
