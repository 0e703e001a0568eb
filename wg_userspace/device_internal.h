/* What device.c, send.c and receive.c share: the device and per-peer state,
 * the data-path limits and the helpers the two directions call back into.
 * Private to wg_userspace/ (device.h is the public face). */
#ifndef WG_DEVICE_INTERNAL_H
#define WG_DEVICE_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "allowedips.h"
#include "clock.h"
#include "cpool.h"
#include "device.h"
#include "proto.h"
#include "timers.h"
#include "tun.h"
#include "uapi_server.h"

#define WG_DEV_BATCH 64
#define WG_DEV_BUF 65536          /* a datagram or a TUN read */
#define WG_DEV_STAGED_MAX 128     /* packets queued per peer while handshaking */
#define WG_DEV_LOAD_THRESHOLD 64  /* handshake messages/s before cookies are required */
#define WG_DEV_TICK_MS 50
#define WG_DEV_MAX_SEGS 64        /* segments of one TSO super-packet */
#define WG_DEV_GSO_BYTES 65000    /* most bytes in one UDP GSO send (one UDP datagram's worth) */
#define WG_DEV_ANSWER_MAX 8       /* receive batches up to this size look for a reply... */
#define WG_DEV_ANSWER_READS 4     /* ...in this many TUN reads */
#define WG_DEV_IDLE_READS 8       /* TUN reads of one turn that make the TUN side busy */
#define WG_DEV_IDLE_MS 20         /* without TUN packets for this long it is idle again */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

struct wg_dev_peer {
	struct wg_device *dev;
	struct wg_peer *peer;     /* not a reference: dev_peer lives inside peer's lifetime */
	pthread_mutex_t lock;     /* timers and staged packets */
	struct wg_timers timers;
	uint8_t *staged[WG_DEV_STAGED_MAX];
	uint16_t staged_len[WG_DEV_STAGED_MAX];
	unsigned staged_n;
	struct wg_dev_peer *next; /* device list, under dev->peers_lock */
};

/* The drop and relay counters (struct wg_device_stats), bumped where the
 * packets are dropped or relayed. */
struct wg_dev_stats {
	_Atomic uint64_t rx_unknown_index, rx_handshake_rejected, rx_bad_source, rx_auth_failed,
		rx_malformed, relay_packets, relay_bytes, relay_dropped;
};

static inline void wg_dev_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

struct wg_device {
	struct wg_proto proto;
	struct wg_allowedips aips;
	struct tun_dev tun;
	bool vnet;                  /* packets on the TUN carry a virtio_net_hdr */
	bool relay;                 /* peer-to-peer packets are sealed again, not sent to the TUN */
	/* The outbound side (TUN reads, split, seal, send) belongs to whoever
	 * holds tx_lock: the TUN thread, or the UDP thread answering at once
	 * (see wg_receive_tun_turn). One batch per lock, never one packet. */
	pthread_mutex_t tx_lock;
	uint8_t *tx_rbuf;           /* one TUN read */
	uint8_t *tx_segs;           /* WG_DEV_MAX_SEGS slots of tx_slot bytes */
	size_t tx_slot;             /* header + segment + padding + tag */
	atomic_bool tx_busy;        /* the TUN thread polls the TUN (else the UDP thread) */
	int tx_wake_fd, rx_wake_fd; /* eventfds: mode changes for the TUN / UDP thread */
	bool tun_tso;               /* ...and the kernel takes TCP super-packets */
	atomic_bool udp_gso;        /* UDP_SEGMENT works (cleared on first refusal) */
	size_t seg_stride;          /* room per segment: MTU rounded up */
	unsigned mtu;
	struct wg_timer_config tcfg;

	/* Guards udp_fd across rebinds. Default attributes (reader-preferring):
	 * the send path holds it for a batch and may take it again inside. */
	pthread_rwlock_t sock_lock;
	int udp_fd;
	int udp_family;
	uint16_t listen_port;
	uint32_t fwmark;

	pthread_mutex_t conf_lock;  /* serialises UAPI set/get */
	pthread_mutex_t peers_lock; /* the list below */
	struct wg_dev_peer *peers;

	int stop_fd;
	atomic_int stopping;
	atomic_int dead;
	pthread_t tun_thread, udp_thread, timer_thread;
	struct wg_uapi_server *uapi;
	struct wg_cpool *cpool;     /* crypto workers for large batches; NULL = none */

	struct wg_dev_stats stats;
	/* Relay: this namespace's addresses (the kernel's to deliver, never
	 * relayed), refreshed by the timer thread when addr_watch_fd says
	 * they changed. */
	pthread_rwlock_t local_lock;
	struct tun_local_addr *local;
	size_t n_local;
	int addr_watch_fd;

	/* batching statistics, logged at shutdown (debug) */
	atomic_uint_fast64_t st_tun_reads, st_tun_segs, st_udp_calls, st_udp_dgrams;
	atomic_uint_fast64_t st_tun_writes, st_tun_write_pkts;

	/* under-load estimate: handshake messages in the current second */
	atomic_uint_fast64_t load_window;
	atomic_uint load_count;
	atomic_uint_fast64_t load_until;
};

/* The device's clocks: the protocol core takes time as an argument. */
static inline uint64_t wg_now(void)
{
	return cst_clock_mono_ns();
}

static inline uint64_t wg_wall(void)
{
	return cst_clock_wall_ns();
}

/* device.c */
socklen_t wg_dev_sockaddr(const struct wg_device *dev, const struct sockaddr_storage *in,
			  struct sockaddr_storage *out);
void wg_dev_send(struct wg_device *dev, const struct sockaddr_storage *to, const void *buf,
		 size_t len);
/* 0 sent; -EALREADY rate limited (one went out less than REKEY_TIMEOUT
 * ago); -EDESTADDRREQ no endpoint; else why it could not be created. */
int wg_dev_send_initiation(struct wg_dev_peer *dp, bool is_retry);
/* Whether addr (network order) is an address of this namespace. */
bool wg_dev_is_local(struct wg_device *dev, int family, const uint8_t *addr);
void wg_dev_stage(struct wg_dev_peer *dp, const uint8_t *pkt, size_t len);
void wg_dev_flush_staged(struct wg_dev_peer *dp, bool keepalive_if_empty);

/* send.c: one batch of at most max TUN reads, sealed and sent (caller holds
 * tx_lock); -errno when the TUN failed, else the reads that got a packet. */
int wg_send_batch(struct wg_device *dev, int max);

/* What a batch has fetched for the peer it is sending to: used by the TUN
 * batch and by the relay (the UDP thread), each with its own context and
 * segment buffer. */
struct wg_send_ctx {
	struct wg_peer *peer;       /* a reference; NULL before the first packet */
	struct wg_dev_peer *dp;
	struct wg_keypair *kp;      /* a reference; NULL = no session */
	struct sockaddr_storage sa; /* endpoint in the socket's family */
	socklen_t sl;               /* 0 = no endpoint */
	int rt_family;              /* route cache: rt_addr → peer */
	uint8_t rt_addr[16];
	bool aips_locked;           /* allowed-IPs read lock taken (at the first miss) */
	uint64_t now, bytes, last_counter;
	bool sent, need_init;
};
/* The three steps of sending to one peer, socket lock held (read):
 * begin takes over the caller's reference to peer and fetches keypair and
 * endpoint; seal seals nseg segments in place (slots of dev->tx_slot bytes
 * from segs, each with header room in front: the plaintext of segment k
 * starts at segs + k * tx_slot + 16) and sends them with UDP GSO, or queues
 * them for the handshake when there is no session; end does the counters
 * and timers once and lets the peer go. */
void wg_send_begin(struct wg_device *dev, struct wg_send_ctx *tx, struct wg_peer *peer);
void wg_send_seal(struct wg_device *dev, struct wg_send_ctx *tx, uint8_t *segs,
		  const size_t *seg_len, unsigned nseg);
void wg_send_end(struct wg_send_ctx *tx);
void *wg_send_tun_thread(void *arg);

/* receive.c */
void *wg_receive_udp_thread(void *arg);

#endif
