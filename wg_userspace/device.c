#include "device.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "allowedips.h"
#include "crypto.h"
#include "log.h"
#include "proto.h"
#include "offload.h"
#include "tun.h"
#include "uapi.h"
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

struct wg_device {
	struct wg_proto proto;
	struct wg_allowedips aips;
	struct tun_dev tun;
	bool vnet;                  /* packets on the TUN carry a virtio_net_hdr */
	/* The outbound side (TUN reads, split, seal, send) belongs to whoever
	 * holds tx_lock: the TUN thread, or the UDP thread answering at once
	 * (see wg_dev_udp_tun_turn). One batch per lock, never one packet. */
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

	/* batching statistics, logged at shutdown (debug) */
	atomic_uint_fast64_t st_tun_reads, st_tun_segs, st_udp_calls, st_udp_dgrams;
	atomic_uint_fast64_t st_tun_writes, st_tun_write_pkts;

	/* under-load estimate: handshake messages in the current second */
	atomic_uint_fast64_t load_window;
	atomic_uint load_count;
	atomic_uint_fast64_t load_until;
};

static uint64_t wg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t wg_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

const char *wg_device_name(const struct wg_device *dev) { return dev->tun.name; }
int wg_device_dead(struct wg_device *dev) { return atomic_load(&dev->dead); }

/* ---- sockets ---- */

static socklen_t wg_dev_sockaddr(const struct wg_device *dev, const struct sockaddr_storage *in,
				 struct sockaddr_storage *out)
{
	/* A dual-stack socket reaches IPv4 peers through v4-mapped addresses. */
	if (dev->udp_family == AF_INET6 && in->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)in;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		return sizeof(*s6);
	}
	*out = *in;
	return in->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static int wg_dev_open_socket(uint16_t port, uint32_t fwmark, int *fd_out, int *family_out,
			      uint16_t *port_out)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	int fd, zero = 0, bufsz = 4 << 20;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0 &&
	    bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0) {
		*family_out = AF_INET6;
	} else {
		/* No IPv6 in this namespace: IPv4 only. */
		if (fd >= 0)
			close(fd);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		*family_out = AF_INET;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	{
		/* Coalesced receive: one recvmmsg slot may carry many datagrams. */
		int one = 1;
		setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (fwmark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark));
	getsockname(fd, (struct sockaddr *)&bound, &bl);
	*port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						       : ((struct sockaddr_in *)&bound)->sin_port);
	*fd_out = fd;
	return 0;
}

static void wg_dev_send(struct wg_device *dev, const struct sockaddr_storage *to, const void *buf,
			size_t len)
{
	struct sockaddr_storage sa;
	socklen_t sl;

	pthread_rwlock_rdlock(&dev->sock_lock);
	sl = wg_dev_sockaddr(dev, to, &sa);
	if (sendto(dev->udp_fd, buf, len, 0, (struct sockaddr *)&sa, sl) < 0)
		cst_debug("sendto: %s", strerror(errno));
	pthread_rwlock_unlock(&dev->sock_lock);
}

/* ---- per-peer device state ---- */

static void wg_dev_peer_free(void *user)
{
	struct wg_dev_peer *dp = user;

	if (!dp)
		return;
	for (unsigned i = 0; i < dp->staged_n; i++)
		free(dp->staged[i]);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}

static void wg_dev_drop_staged(struct wg_dev_peer *dp)
{
	for (unsigned i = 0; i < dp->staged_n; i++)
		free(dp->staged[i]);
	dp->staged_n = 0;
}

static void wg_dev_send_initiation(struct wg_dev_peer *dp, bool is_retry)
{
	struct wg_device *dev = dp->dev;
	struct wg_msg_initiation msg;
	struct sockaddr_storage ep;
	uint64_t now = wg_now();
	int ret;

	pthread_mutex_lock(&dp->lock);
	if (!wg_timers_may_send_initiation(&dp->timers, is_retry, now)) {
		pthread_mutex_unlock(&dp->lock);
		return;
	}
	ret = wg_proto_create_initiation(&dev->proto, dp->peer, &msg, now, wg_wall());
	if (ret == 0) {
		wg_timers_handshake_initiated(&dp->timers, now);
		wg_timers_any_authenticated_packet_traversal(&dp->timers, now);
		wg_timers_any_authenticated_packet_sent(&dp->timers, now);
	}
	pthread_mutex_unlock(&dp->lock);
	if (ret < 0) {
		cst_debug("cannot create handshake initiation: %s", strerror(-ret));
		return;
	}
	if (!wg_peer_get_endpoint(dp->peer, &ep)) {
		cst_debug("peer has no endpoint: initiation not sent");
		return;
	}
	cst_debug("sending handshake initiation%s", is_retry ? " (retry)" : "");
	wg_dev_send(dev, &ep, &msg, sizeof(msg));
}

/* Bookkeeping after sealed bytes left for dp: counters, timers, and the
 * rekey the send path asked for. */
static void wg_dev_after_send(struct wg_dev_peer *dp, size_t bytes, bool data, bool rekey,
			      uint64_t now)
{
	atomic_fetch_add(&dp->peer->tx_bytes, (uint64_t)bytes);
	pthread_mutex_lock(&dp->lock);
	if (data)
		wg_timers_data_sent(&dp->timers, now);
	wg_timers_any_authenticated_packet_sent(&dp->timers, now);
	wg_timers_any_authenticated_packet_traversal(&dp->timers, now);
	pthread_mutex_unlock(&dp->lock);
	if (rekey)
		wg_dev_send_initiation(dp, false);
}

/* Seals and sends one plaintext (0 bytes = keepalive). Returns -ENOKEY when
 * there is no session yet. Caller holds no locks. */
static int wg_dev_seal_send(struct wg_dev_peer *dp, const uint8_t *pkt, size_t len, uint8_t *buf,
			    size_t cap)
{
	struct wg_device *dev = dp->dev;
	struct sockaddr_storage ep;
	struct wg_keypair *kp;
	uint64_t now = wg_now(), counter = 0;
	bool rekey;
	ssize_t n;

	kp = wg_peer_current_keypair(dp->peer);
	if (!kp)
		return -ENOKEY;
	n = wg_keypair_seal(kp, buf, cap, pkt, len, dev->mtu, now, &counter);
	rekey = n > 0 && wg_timers_should_rekey_on_send(&dp->timers, kp->i_am_initiator,
							 kp->birth_ns, counter, now);
	wg_keypair_put(kp);
	if (n < 0)
		return (int)n == -EKEYEXPIRED ? -ENOKEY : (int)n;
	if (!wg_peer_get_endpoint(dp->peer, &ep))
		return -EDESTADDRREQ;
	wg_dev_send(dev, &ep, buf, (size_t)n);
	wg_dev_after_send(dp, (size_t)n, len > 0, rekey, now);
	return 0;
}

static void wg_dev_stage(struct wg_dev_peer *dp, const uint8_t *pkt, size_t len)
{
	uint8_t *copy;

	pthread_mutex_lock(&dp->lock);
	if (dp->staged_n == WG_DEV_STAGED_MAX) {
		/* Oldest out: a stalled handshake must not hold stale data. */
		free(dp->staged[0]);
		memmove(dp->staged, dp->staged + 1, (WG_DEV_STAGED_MAX - 1) * sizeof(dp->staged[0]));
		memmove(dp->staged_len, dp->staged_len + 1,
			(WG_DEV_STAGED_MAX - 1) * sizeof(dp->staged_len[0]));
		dp->staged_n--;
	}
	copy = malloc(len ? len : 1); /* slow path only: no session yet */
	if (copy) {
		if (len)
			memcpy(copy, pkt, len);
		dp->staged[dp->staged_n] = copy;
		dp->staged_len[dp->staged_n] = (uint16_t)len;
		dp->staged_n++;
	}
	pthread_mutex_unlock(&dp->lock);
}

/* After a session comes up: send what waited; as initiator with nothing
 * waiting, a keepalive confirms the keys to the responder. */
static void wg_dev_flush_staged(struct wg_dev_peer *dp, bool keepalive_if_empty)
{
	uint8_t *pkts[WG_DEV_STAGED_MAX];
	uint16_t lens[WG_DEV_STAGED_MAX];
	unsigned n, i;
	uint8_t *buf = malloc(WG_DEV_BUF);

	if (!buf)
		return;
	pthread_mutex_lock(&dp->lock);
	n = dp->staged_n;
	memcpy(pkts, dp->staged, n * sizeof(pkts[0]));
	memcpy(lens, dp->staged_len, n * sizeof(lens[0]));
	dp->staged_n = 0;
	pthread_mutex_unlock(&dp->lock);
	for (i = 0; i < n; i++) {
		if (wg_dev_seal_send(dp, pkts[i], lens[i], buf, WG_DEV_BUF) == -ENOKEY) {
			/* lost the session meanwhile: put the rest back */
			for (unsigned j = i; j < n; j++) {
				wg_dev_stage(dp, pkts[j], lens[j]);
				free(pkts[j]);
			}
			break;
		}
		free(pkts[i]);
	}
	if (n == 0 && keepalive_if_empty)
		wg_dev_seal_send(dp, NULL, 0, buf, WG_DEV_BUF);
	free(buf);
}

/* ---- outbound: TUN → encrypt → UDP ----
 *
 * One TUN wake-up is one batch: up to WG_DEV_BATCH reads, each a TSO
 * super-packet cut into segments or a single packet. What needs a lock is
 * done once per batch and peer, not per packet: the socket lock is held for
 * the whole batch, and so is the allowed-IPs read lock from the first route
 * lookup on (the last destination is cached besides), the
 * keypair and endpoint are fetched when the batch first meets the peer, and
 * the timer bookkeeping runs when the batch is done with it. Segments are
 * sealed where the split put them (room for the header in front and the
 * padding and tag behind), so nothing is copied on the way out. */

struct wg_dev_tx {
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

static int wg_dev_ip_dst(const uint8_t *pkt, size_t len, int *family, const uint8_t **addr)
{
	if (len >= 20 && (pkt[0] >> 4) == 4) {
		*family = AF_INET;
		*addr = pkt + 16;
		return 0;
	}
	if (len >= 40 && (pkt[0] >> 4) == 6) {
		*family = AF_INET6;
		*addr = pkt + 24;
		return 0;
	}
	return -EINVAL;
}

/* Socket lock held (read). */
static void wg_dev_tx_begin(struct wg_device *dev, struct wg_dev_tx *tx, struct wg_peer *peer)
{
	struct sockaddr_storage ep;

	tx->peer = peer;
	tx->dp = peer->user;
	tx->kp = wg_peer_current_keypair(peer);
	tx->sl = wg_peer_get_endpoint(peer, &ep) ? wg_dev_sockaddr(dev, &ep, &tx->sa) : 0;
	tx->bytes = 0;
	tx->sent = tx->need_init = false;
}

/* The bookkeeping of everything the batch sent to tx->peer, then lets it go.
 * Socket lock held (read; the initiation takes it again, which a
 * reader-preferring rwlock allows). */
static void wg_dev_tx_end(struct wg_dev_tx *tx)
{
	struct wg_dev_peer *dp = tx->dp;
	bool rekey = false;

	if (!tx->peer)
		return;
	if (tx->sent) {
		atomic_fetch_add(&tx->peer->tx_bytes, tx->bytes);
		rekey = tx->kp && wg_timers_should_rekey_on_send(&dp->timers, tx->kp->i_am_initiator,
								 tx->kp->birth_ns, tx->last_counter,
								 tx->now);
		pthread_mutex_lock(&dp->lock);
		wg_timers_data_sent(&dp->timers, tx->now);
		wg_timers_any_authenticated_packet_sent(&dp->timers, tx->now);
		wg_timers_any_authenticated_packet_traversal(&dp->timers, tx->now);
		pthread_mutex_unlock(&dp->lock);
	}
	if ((rekey || tx->need_init) && !tx->peer->removed)
		wg_dev_send_initiation(dp, false);
	wg_keypair_put(tx->kp);
	wg_peer_put(tx->peer);
	tx->kp = NULL;
	tx->peer = NULL;
	tx->dp = NULL;
}

/* Sends n sealed messages (iov[i], all of one size but the last) with UDP
 * GSO when the kernel allows it, in sends of at most one UDP datagram's
 * worth of bytes, otherwise with sendmmsg. Socket lock held (read). */
static void wg_dev_send_segments(struct wg_device *dev, const struct sockaddr_storage *sa,
				 socklen_t sl, struct iovec *iov, unsigned n)
{
	unsigned i = 0;

	while (n > 1 && i < n && atomic_load_explicit(&dev->udp_gso, memory_order_relaxed)) {
		char ctrl[CMSG_SPACE(sizeof(uint16_t))] = { 0 };
		struct msghdr mh = { .msg_name = (void *)sa, .msg_namelen = sl,
				     .msg_iov = iov + i, .msg_control = ctrl,
				     .msg_controllen = sizeof(ctrl) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		uint16_t seg = (uint16_t)iov[i].iov_len;
		size_t total = 0;
		unsigned k = i;

		while (k < n && total + iov[k].iov_len <= WG_DEV_GSO_BYTES)
			total += iov[k++].iov_len;
		mh.msg_iovlen = k - i;
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		if (sendmsg(dev->udp_fd, &mh, 0) >= 0) {
			i = k;
			continue;
		}
		if (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
			cst_info("UDP GSO unavailable (%s); sending segments one by one",
				 strerror(errno));
			atomic_store(&dev->udp_gso, false);
		} else {
			cst_debug("sendmsg: %s", strerror(errno));
			i = k; /* full buffer: dropped, like any UDP send */
		}
		break;
	}
	if (i < n) {
		struct mmsghdr msgs[WG_DEV_MAX_SEGS];
		unsigned sent = 0, m = n - i;

		for (unsigned k = 0; k < m; k++) {
			memset(&msgs[k], 0, sizeof(msgs[k]));
			msgs[k].msg_hdr.msg_name = (void *)sa;
			msgs[k].msg_hdr.msg_namelen = sl;
			msgs[k].msg_hdr.msg_iov = &iov[i + k];
			msgs[k].msg_hdr.msg_iovlen = 1;
		}
		while (sent < m) {
			int r = sendmmsg(dev->udp_fd, msgs + sent, m - sent, 0);
			if (r <= 0) {
				cst_debug("sendmmsg: %s", strerror(errno));
				break;
			}
			sent += (unsigned)r;
		}
	}
}

/* Seals the nseg segments of one read in place and sends them to tx->peer;
 * without a session they wait for the handshake. Socket lock held. */
static void wg_dev_tx_send(struct wg_device *dev, struct wg_dev_tx *tx, uint8_t *segs,
			   const size_t *seg_len, unsigned nseg)
{
	size_t slot = dev->tx_slot;
	struct iovec iov[WG_DEV_MAX_SEGS];
	unsigned done = 0, retries = 0;

	while (done < nseg) {
		ssize_t m = -ENOKEY;

		if (tx->kp)
			m = wg_keypair_seal(tx->kp, segs + done * slot, slot,
					    segs + done * slot + WG_MSG_TRANSPORT_HEADER_LEN,
					    seg_len[done], dev->mtu, tx->now, &tx->last_counter);
		if (m > 0) {
			iov[done].iov_base = segs + done * slot;
			iov[done].iov_len = (size_t)m;
			tx->bytes += (size_t)m;
			done++;
			continue;
		}
		/* Expired or exhausted under us: the peer may have a newer one. */
		wg_keypair_put(tx->kp);
		tx->kp = retries++ ? NULL : wg_peer_current_keypair(tx->peer);
		if (!tx->kp)
			break;
	}
	if (done && tx->sl) {
		wg_dev_send_segments(dev, &tx->sa, tx->sl, iov, done);
		tx->sent = true;
	}
	if (done < nseg) {
		/* No session: the rest waits (still plaintext: a failed seal
		 * leaves its input alone) and a handshake starts. */
		for (unsigned k = done; k < nseg; k++)
			wg_dev_stage(tx->dp, segs + k * slot + WG_MSG_TRANSPORT_HEADER_LEN,
				     seg_len[k]);
		tx->need_init = true;
	}
}

/* Routes the segments of one read: the destination picks the peer. */
static void wg_dev_tx_route(struct wg_device *dev, struct wg_dev_tx *tx, uint8_t *segs,
			    const size_t *seg_len, unsigned nseg)
{
	const uint8_t *dst;
	struct wg_peer *peer;
	int family;
	size_t alen;

	if (wg_dev_ip_dst(segs + WG_MSG_TRANSPORT_HEADER_LEN, seg_len[0], &family, &dst) < 0)
		return;
	alen = family == AF_INET ? 4 : 16;
	if (!tx->peer || family != tx->rt_family || memcmp(dst, tx->rt_addr, alen) != 0) {
		if (!tx->aips_locked) {
			wg_allowedips_read_lock(&dev->aips);
			tx->aips_locked = true;
		}
		peer = wg_peer_get(wg_allowedips_lookup_locked(&dev->aips, family, dst));
		if (!peer)
			return;
		tx->rt_family = family;
		memcpy(tx->rt_addr, dst, alen);
		if (peer == tx->peer) {
			wg_peer_put(peer);
		} else {
			wg_dev_tx_end(tx);
			wg_dev_tx_begin(dev, tx, peer);
		}
	}
	if (!tx->peer->removed)
		wg_dev_tx_send(dev, tx, segs, seg_len, nseg);
}

/* One batch of at most max TUN reads. Caller holds tx_lock (the buffers).
 * Returns -errno when the TUN failed, else the number of reads that got a
 * packet. */
static int wg_dev_tx_batch(struct wg_device *dev, int max)
{
	size_t slot = dev->tx_slot, stride = dev->seg_stride, seg_len[WG_DEV_MAX_SEGS];
	uint8_t *segs = dev->tx_segs, *rbuf = dev->tx_rbuf;
	struct wg_dev_tx tx = { .now = wg_now() };
	int i, ret = 0;

	pthread_rwlock_rdlock(&dev->sock_lock);
	for (i = 0; i < max; i++) {
		ssize_t n;
		int nseg;

		if (dev->vnet) {
			struct virtio_net_hdr h;

			n = read(dev->tun.fd, rbuf, TUN_VNET_HDR_LEN + WG_DEV_BUF);
			if (n < 0)
				break;
			if ((size_t)n < TUN_VNET_HDR_LEN)
				continue;
			memcpy(&h, rbuf, sizeof(h));
			/* A TSO super-packet becomes MTU-sized segments here, each
			 * with room for the WireGuard header in front. */
			nseg = tun_gso_split(rbuf + TUN_VNET_HDR_LEN, (size_t)n - TUN_VNET_HDR_LEN,
					     &h, segs + WG_MSG_TRANSPORT_HEADER_LEN, slot,
					     WG_DEV_MAX_SEGS, seg_len);
			if (nseg <= 0) {
				cst_debug("dropped unsplittable TUN packet: %s", strerror(-nseg));
				continue;
			}
		} else {
			n = read(dev->tun.fd, segs + WG_MSG_TRANSPORT_HEADER_LEN, WG_DEV_BUF);
			if (n < 0)
				break;
			seg_len[0] = (size_t)n;
			nseg = 1;
		}
		ret++;
		/* sealing needs header, padding and tag room in the slot */
		for (int k = 0; k < nseg; k++)
			if (seg_len[k] > stride)
				nseg = 0;
		if (!nseg)
			continue;
		atomic_fetch_add_explicit(&dev->st_tun_reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&dev->st_tun_segs, (uint64_t)nseg, memory_order_relaxed);
		wg_dev_tx_route(dev, &tx, segs, seg_len, (unsigned)nseg);
	}
	if (i < max && errno != EAGAIN && errno != EINTR)
		ret = -errno;
	wg_dev_tx_end(&tx);
	if (tx.aips_locked)
		wg_allowedips_read_unlock(&dev->aips);
	pthread_rwlock_unlock(&dev->sock_lock);
	return ret;
}

/* The TUN side has two modes. Idle: the UDP thread polls the TUN as well, so
 * a lone packet and its answer cross one thread per host and nothing sleeps
 * on the TUN to be woken for a reply its own write produced. Busy: a burst
 * (more reads than WG_DEV_IDLE_READS in one go) hands the TUN to this
 * thread, so sealing runs beside decryption on the other core; after
 * WG_DEV_IDLE_MS without a packet it hands the TUN back. */
static void *wg_dev_tun_thread(void *arg)
{
	struct wg_device *dev = arg;

	while (!atomic_load(&dev->stopping)) {
		struct pollfd pfd[2] = { { .fd = dev->tun.fd, .events = POLLIN },
					 { .fd = dev->stop_fd, .events = POLLIN } };
		int ret;

		if (!atomic_load(&dev->tx_busy)) {
			eventfd_t v;

			pfd[0].fd = dev->tx_wake_fd;
			if (poll(pfd, 2, -1) < 0 && errno != EINTR)
				break;
			if (pfd[1].revents)
				break;
			eventfd_read(dev->tx_wake_fd, &v);
			continue;
		}
		ret = poll(pfd, 2, WG_DEV_IDLE_MS);
		if (ret < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (ret == 0) {
			atomic_store(&dev->tx_busy, false);
			eventfd_write(dev->rx_wake_fd, 1);
			continue;
		}
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			cst_err("TUN device gone; shutting down");
			atomic_store(&dev->dead, 1);
			break;
		}
		pthread_mutex_lock(&dev->tx_lock);
		ret = wg_dev_tx_batch(dev, WG_DEV_BATCH);
		pthread_mutex_unlock(&dev->tx_lock);
		if (ret < 0) {
			cst_err("TUN read failed: %s; shutting down", strerror(-ret));
			atomic_store(&dev->dead, 1);
			break;
		}
	}
	return NULL;
}

/* ---- inbound: UDP → decrypt → TUN ---- */

static bool wg_dev_under_load(struct wg_device *dev, uint64_t now)
{
	uint64_t sec = now / WG_NSEC_PER_SEC;

	if (atomic_load(&dev->load_window) != sec) {
		atomic_store(&dev->load_window, sec);
		atomic_store(&dev->load_count, 0);
	}
	if (atomic_fetch_add(&dev->load_count, 1) + 1 > WG_DEV_LOAD_THRESHOLD)
		atomic_store(&dev->load_until, now + WG_NSEC_PER_SEC); /* and 1 s after */
	return now < atomic_load(&dev->load_until);
}

/* Validates the decrypted packet and trims the padding. */
static ssize_t wg_dev_inner_len(const uint8_t *p, size_t len, int *family, const uint8_t **src)
{
	size_t tot;

	if (len >= 20 && (p[0] >> 4) == 4) {
		tot = (size_t)(p[2] << 8 | p[3]);
		if ((p[0] & 0xf) < 5 || tot < (size_t)(p[0] & 0xf) * 4 || tot > len)
			return -EINVAL;
		*family = AF_INET;
		*src = p + 12;
		return (ssize_t)tot;
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		tot = 40 + (size_t)(p[4] << 8 | p[5]);
		if (tot > len)
			return -EINVAL;
		*family = AF_INET6;
		*src = p + 8;
		return (ssize_t)tot;
	}
	return -EINVAL;
}

/* Writes what the coalescer holds to the TUN. */
static void wg_dev_gro_flush(struct wg_device *dev, struct tun_gro *g)
{
	size_t n;

	if (!g->len)
		return;
	atomic_fetch_add_explicit(&dev->st_tun_writes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&dev->st_tun_write_pkts, g->segs, memory_order_relaxed);
	n = tun_gro_finish(g);
	if (write(dev->tun.fd, g->buf, n) < 0)
		cst_debug("TUN write: %s", strerror(errno));
}

static void wg_dev_tun_deliver(struct wg_device *dev, struct tun_gro *g, const uint8_t *pkt,
			       size_t len)
{
	if (!dev->vnet) {
		if (write(dev->tun.fd, pkt, len) < 0)
			cst_debug("TUN write: %s", strerror(errno));
		return;
	}
	if (!dev->tun_tso)
		wg_dev_gro_flush(dev, g); /* no super-packets: one at a time */
	if (!tun_gro_add(g, pkt, len)) {
		wg_dev_gro_flush(dev, g);
		if (!tun_gro_add(g, pkt, len))
			return; /* larger than any super-packet: cannot happen below MTU */
	}
}

/* Undoes the v4 mapping of a dual-stack socket so endpoints look like what
 * the user configured. */
static socklen_t wg_dev_unmap(const struct sockaddr_storage *from, socklen_t fl,
			      struct sockaddr_storage *out)
{
	*out = *from;
	if (from->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)from)->sin6_addr)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		memset(out, 0, sizeof(*out));
		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		return sizeof(*s4);
	}
	return fl;
}

/* Handshake messages, cookie replies and anything malformed: one at a time
 * (rare, and each costs far more than a lock). */
static void wg_dev_handle_control(struct wg_device *dev, uint8_t *buf, size_t len,
				  const struct sockaddr_storage *from, socklen_t fl, uint64_t now)
{
	struct wg_proto_result r;
	struct sockaddr_storage src;
	uint32_t type = wg_msg_type(buf, len);
	bool load = false;
	int ret;

	fl = wg_dev_unmap(from, fl, &src);
	if (type == WG_MSG_INITIATION || type == WG_MSG_RESPONSE)
		load = wg_dev_under_load(dev, now);
	ret = wg_proto_receive(&dev->proto, buf, len, (struct sockaddr *)&src, fl, load, now,
			       wg_wall(), NULL, 0, &r);
	if (ret < 0) {
		cst_debug("dropped datagram of %zu bytes: %s", len, strerror(-ret));
		return;
	}
	switch (r.event) {
	case WG_PROTO_SEND_COOKIE:
		cst_debug("under load: answering with a cookie reply");
		wg_dev_send(dev, &src, &r.cookie_reply, sizeof(r.cookie_reply));
		break;
	case WG_PROTO_COOKIE:
		cst_debug("cookie reply consumed");
		break;
	case WG_PROTO_INITIATION: {
		struct wg_dev_peer *dp = r.peer->user;
		struct wg_msg_response resp;
		if (!dp || r.peer->removed)
			break;
		if (wg_proto_create_response(&dev->proto, r.peer, &resp, now, wg_wall()) == 0) {
			pthread_mutex_lock(&dp->lock);
			wg_timers_any_authenticated_packet_received(&dp->timers, now);
			wg_timers_any_authenticated_packet_traversal(&dp->timers, now);
			wg_timers_session_derived(&dp->timers, now);
			wg_timers_any_authenticated_packet_sent(&dp->timers, now);
			pthread_mutex_unlock(&dp->lock);
			cst_debug("handshake initiation consumed; sending response");
			wg_dev_send(dev, &src, &resp, sizeof(resp));
		}
		break;
	}
	case WG_PROTO_RESPONSE: {
		struct wg_dev_peer *dp = r.peer->user;
		if (!dp || r.peer->removed)
			break;
		pthread_mutex_lock(&dp->lock);
		wg_timers_any_authenticated_packet_received(&dp->timers, now);
		wg_timers_any_authenticated_packet_traversal(&dp->timers, now);
		wg_timers_handshake_complete(&dp->timers, now);
		wg_timers_session_derived(&dp->timers, now);
		pthread_mutex_unlock(&dp->lock);
		cst_debug("handshake complete (initiator)");
		wg_dev_flush_staged(dp, true);
		break;
	}
	default:
		break;
	}
	wg_proto_result_release(&r);
}

/* ---- inbound: UDP → decrypt → TUN ----
 *
 * Transport messages of one receive batch are gathered first, then handled
 * in runs of the same receiver index: one index lookup, one replay-window
 * lock, one key-confirmation check, one endpoint update and one timer update
 * per run, instead of each per packet. The inner source check takes the
 * allowed-IPs read lock once per run and caches the last source. A control
 * message ends the gathering so order is kept (a response, then the data it
 * made possible). */

#define WG_DEV_RX_ITEMS 1024

struct wg_dev_rx {
	struct wg_open_item *items;
	uint16_t *slot;                    /* receive slot of each item: its source */
	unsigned n;
	const struct sockaddr_storage *from;
	const struct mmsghdr *msgs;
	struct tun_gro g;
	uint64_t now;
	unsigned delivered;                /* packets handed to the TUN this batch */
};

static uint32_t wg_dev_rx_index(const struct wg_open_item *it)
{
	return ((const struct wg_msg_transport *)it->msg)->receiver_index; /* packed: any alignment */
}

/* Delivers the opened packets of one run of peer's, checking that each
 * inner source belongs to peer (cryptokey routing on receive). */
static void wg_dev_rx_deliver(struct wg_device *dev, struct wg_dev_rx *rx, struct wg_peer *peer,
			      unsigned from, unsigned to)
{
	int c_family = 0;
	uint8_t c_src[16];
	bool locked = false;

	for (unsigned i = from; i < to; i++) {
		struct wg_open_item *it = &rx->items[i];
		const uint8_t *inner_src;
		int family;
		ssize_t n;

		if (it->result <= 0)
			continue; /* dropped, or a keepalive */
		n = wg_dev_inner_len(it->dst, (size_t)it->result, &family, &inner_src);
		if (n < 0) {
			cst_debug("dropped malformed inner packet");
			continue;
		}
		if (family != c_family ||
		    memcmp(c_src, inner_src, family == AF_INET ? 4 : 16) != 0) {
			if (!locked) {
				wg_allowedips_read_lock(&dev->aips);
				locked = true;
			}
			if (wg_allowedips_lookup_locked(&dev->aips, family, inner_src) != peer) {
				cst_debug("dropped packet with source not allowed for its peer");
				continue;
			}
			c_family = family;
			memcpy(c_src, inner_src, family == AF_INET ? 4 : 16);
		}
		wg_dev_tun_deliver(dev, &rx->g, it->dst, (size_t)n);
		rx->delivered++;
	}
	if (locked)
		wg_allowedips_read_unlock(&dev->aips);
}

/* Items [from, to) share a receiver index. */
static void wg_dev_rx_run(struct wg_device *dev, struct wg_dev_rx *rx, unsigned from, unsigned to)
{
	struct wg_keypair *kp = NULL;
	struct wg_peer *peer;
	struct wg_dev_peer *dp;
	struct sockaddr_storage src;
	socklen_t sl;
	unsigned last = to;
	uint64_t bytes = 0;
	bool data = false, confirmed, rekey;

	peer = wg_index_table_lookup(&dev->proto.index, wg_dev_rx_index(&rx->items[from]),
				     WG_INDEX_KEYPAIR, &kp);
	if (!peer) {
		cst_debug("dropped %u datagrams for an unknown index", to - from);
		return;
	}
	dp = peer->user;
	if (!dp || peer->removed)
		goto out;
	if (!wg_keypair_open_batch(kp, rx->items + from, to - from, rx->now)) {
		cst_debug("dropped %u datagrams: %s", to - from,
			  strerror((int)-rx->items[from].result));
		goto out;
	}
	for (unsigned i = from; i < to; i++) {
		if (rx->items[i].result < 0)
			continue;
		bytes += rx->items[i].len;
		data |= rx->items[i].result > 0;
		last = i;
	}
	/* Roaming: the source of the latest authenticated packet. */
	sl = wg_dev_unmap(&rx->from[rx->slot[last]], rx->msgs[rx->slot[last]].msg_hdr.msg_namelen,
			  &src);
	wg_peer_set_endpoint(peer, (struct sockaddr *)&src, sl);
	atomic_fetch_add(&peer->rx_bytes, bytes);
	confirmed = wg_peer_received_with_keypair(peer, kp);
	pthread_mutex_lock(&dp->lock);
	/* once per handshake: a stream of packets on an ageing keypair must
	 * not send one initiation each */
	rekey = wg_timers_rekey_on_receive_once(&dp->timers, kp->i_am_initiator, kp->birth_ns,
						rx->now);
	wg_timers_any_authenticated_packet_received(&dp->timers, rx->now);
	wg_timers_any_authenticated_packet_traversal(&dp->timers, rx->now);
	if (data)
		wg_timers_data_received(&dp->timers, rx->now);
	pthread_mutex_unlock(&dp->lock);
	if (confirmed)
		wg_dev_flush_staged(dp, false);
	if (rekey)
		wg_dev_send_initiation(dp, false);
	wg_dev_rx_deliver(dev, rx, peer, from, to);
out:
	wg_keypair_put(kp);
	wg_peer_put(peer);
}

static void wg_dev_rx_flush(struct wg_device *dev, struct wg_dev_rx *rx)
{
	unsigned i = 0;

	while (i < rx->n) {
		uint32_t index = wg_dev_rx_index(&rx->items[i]);
		unsigned j = i + 1;

		while (j < rx->n && wg_dev_rx_index(&rx->items[j]) == index)
			j++;
		wg_dev_rx_run(dev, rx, i, j);
		i = j;
	}
	rx->n = 0;
}

static void wg_dev_rx_datagram(struct wg_device *dev, struct wg_dev_rx *rx, uint8_t *buf,
			       size_t len, unsigned slot)
{
	if (wg_msg_type(buf, len) == WG_MSG_TRANSPORT && len >= WG_MSG_TRANSPORT_MIN_LEN) {
		struct wg_open_item *it = &rx->items[rx->n];

		/* in place: the plaintext lands right after the 16-byte header */
		it->msg = buf;
		it->len = len;
		it->dst = buf + WG_MSG_TRANSPORT_HEADER_LEN;
		rx->slot[rx->n++] = (uint16_t)slot;
		if (rx->n == WG_DEV_RX_ITEMS)
			wg_dev_rx_flush(dev, rx);
		return;
	}
	wg_dev_rx_flush(dev, rx);
	wg_dev_handle_control(dev, buf, len, &rx->from[slot], rx->msgs[slot].msg_hdr.msg_namelen,
			      rx->now);
}

/* The UDP thread's turn at the TUN. Idle mode: it owns the TUN and reads
 * whatever is there; a burst hands the TUN to the TUN thread. Busy mode,
 * after a small receive batch that reached the TUN: the answer (an echo, a
 * TCP ACK) is often queued already, as the kernel replies within our write,
 * and sending it from here spares a wake-up on the round trip. Returns
 * false when the TUN failed. */
static bool wg_dev_udp_tun_turn(struct wg_device *dev, bool own)
{
	int ret;

	if (own) {
		pthread_mutex_lock(&dev->tx_lock);
	} else if (pthread_mutex_trylock(&dev->tx_lock) != 0) {
		return true;
	}
	ret = wg_dev_tx_batch(dev, own ? WG_DEV_IDLE_READS : WG_DEV_ANSWER_READS);
	pthread_mutex_unlock(&dev->tx_lock);
	if (ret < 0) {
		cst_err("TUN read failed: %s; shutting down", strerror(-ret));
		atomic_store(&dev->dead, 1);
		return false;
	}
	if (own && ret >= WG_DEV_IDLE_READS) {
		atomic_store(&dev->tx_busy, true);
		eventfd_write(dev->tx_wake_fd, 1);
	}
	return true;
}

static void *wg_dev_udp_thread(void *arg)
{
	struct wg_device *dev = arg;
	struct mmsghdr *msgs = calloc(WG_DEV_BATCH, sizeof(*msgs));
	struct iovec *iov = calloc(WG_DEV_BATCH, sizeof(*iov));
	struct sockaddr_storage *from = calloc(WG_DEV_BATCH, sizeof(*from));
	uint8_t *bufs = malloc((size_t)WG_DEV_BATCH * WG_DEV_BUF);
	enum { CTRL = CMSG_SPACE(sizeof(int)) };
	uint8_t *ctrl = calloc(WG_DEV_BATCH, CTRL);
	struct wg_dev_rx rx = { .items = calloc(WG_DEV_RX_ITEMS, sizeof(*rx.items)),
				.slot = calloc(WG_DEV_RX_ITEMS, sizeof(*rx.slot)),
				.from = from, .msgs = msgs,
				.g = { .buf = malloc(TUN_VNET_HDR_LEN + TUN_MAX_SUPER) } };
	bool busy = false;

	if (!msgs || !iov || !from || !bufs || !ctrl || !rx.items || !rx.slot || !rx.g.buf)
		goto out;
	for (int i = 0; i < WG_DEV_BATCH; i++) {
		iov[i].iov_base = bufs + (size_t)i * WG_DEV_BUF;
		iov[i].iov_len = WG_DEV_BUF;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		msgs[i].msg_hdr.msg_control = ctrl + (size_t)i * CTRL;
		msgs[i].msg_hdr.msg_controllen = CTRL;
	}
	while (!atomic_load(&dev->stopping)) {
		struct pollfd pfd[4];
		bool own = !atomic_load(&dev->tx_busy), tun_ready = false;
		unsigned dgrams = 0;
		int n, fd;

		pthread_rwlock_rdlock(&dev->sock_lock);
		fd = dev->udp_fd;
		pthread_rwlock_unlock(&dev->sock_lock);
		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = dev->stop_fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = dev->rx_wake_fd, .events = POLLIN };
		pfd[3] = (struct pollfd){ .fd = dev->tun.fd, .events = POLLIN };
		/* Sleep only when the last batch drained the socket: under load
		 * the next recvmmsg comes without a poll in between. Bounded
		 * wait so a rebound socket is picked up promptly. */
		if (!busy) {
			if (poll(pfd, own ? 4 : 3, 200) <= 0)
				continue;
			if (pfd[1].revents)
				break;
			if (pfd[2].revents) {
				eventfd_t v;
				eventfd_read(dev->rx_wake_fd, &v);
			}
			tun_ready = own && pfd[3].revents;
			if (tun_ready && (pfd[3].revents & (POLLERR | POLLHUP | POLLNVAL))) {
				cst_err("TUN device gone; shutting down");
				atomic_store(&dev->dead, 1);
				break;
			}
			if (!(pfd[0].revents & POLLIN)) {
				if (tun_ready && !wg_dev_udp_tun_turn(dev, true))
					break;
				continue;
			}
		}
		pthread_rwlock_rdlock(&dev->sock_lock);
		n = dev->udp_fd == fd ? recvmmsg(fd, msgs, WG_DEV_BATCH, MSG_DONTWAIT, NULL) : 0;
		pthread_rwlock_unlock(&dev->sock_lock);
		busy = n == WG_DEV_BATCH;
		if (n <= 0) {
			if (tun_ready && !wg_dev_udp_tun_turn(dev, true))
				break;
			continue;
		}
		atomic_fetch_add_explicit(&dev->st_udp_calls, 1, memory_order_relaxed);
		rx.now = wg_now();
		rx.delivered = 0;
		for (int i = 0; i < n; i++) {
			uint8_t *p = iov[i].iov_base;
			size_t left = msgs[i].msg_len, seg = left;
			struct cmsghdr *cm;

			/* With UDP GRO one slot may hold several datagrams of gso_size. */
			for (cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
			     cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
				if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
					int gs;
					memcpy(&gs, CMSG_DATA(cm), sizeof(gs));
					if (gs > 0)
						seg = (size_t)gs;
				}
			}
			while (left > 0) {
				size_t one = left < seg ? left : seg;
				dgrams++;
				wg_dev_rx_datagram(dev, &rx, p, one, (unsigned)i);
				p += one;
				left -= one;
			}
		}
		wg_dev_rx_flush(dev, &rx);
		wg_dev_gro_flush(dev, &rx.g);
		/* The kernel rewrote the lengths of the slots it filled: only
		 * those need resetting, so an idle wake-up touches a few cache
		 * lines rather than the whole array. */
		for (int i = 0; i < n; i++) {
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_controllen = CTRL;
		}
		atomic_fetch_add_explicit(&dev->st_udp_dgrams, dgrams, memory_order_relaxed);
		if ((own && (tun_ready || rx.delivered)) || (rx.delivered && dgrams <= WG_DEV_ANSWER_MAX))
			if (!wg_dev_udp_tun_turn(dev, own))
				break;
	}
out:
	free(rx.g.buf);
	free(rx.slot);
	free(rx.items);
	free(ctrl);
	free(msgs);
	free(iov);
	free(from);
	free(bufs);
	return NULL;
}

/* ---- timers ---- */

static void wg_dev_run_timers(struct wg_dev_peer *dp, uint64_t now)
{
	unsigned actions;
	uint8_t buf[256];

	pthread_mutex_lock(&dp->lock);
	actions = wg_timers_tick(&dp->timers, now);
	if (actions & WG_TIMER_GIVE_UP)
		wg_dev_drop_staged(dp);
	pthread_mutex_unlock(&dp->lock);
	if (actions & WG_TIMER_GIVE_UP)
		cst_debug("handshake did not complete after %llu s; giving up",
			  (unsigned long long)(dp->timers.cfg.rekey_attempt_time / WG_NSEC_PER_SEC));
	if (actions & (WG_TIMER_SEND_INITIATION))
		wg_dev_send_initiation(dp, true);
	if (actions & WG_TIMER_NEW_HANDSHAKE)
		wg_dev_send_initiation(dp, false);
	if (actions & (WG_TIMER_SEND_KEEPALIVE | WG_TIMER_SEND_PERSISTENT_KEEPALIVE)) {
		if (wg_dev_seal_send(dp, NULL, 0, buf, sizeof(buf)) == -ENOKEY &&
		    (actions & WG_TIMER_SEND_PERSISTENT_KEEPALIVE)) {
			/* No session: a keepalive waits for one, as in wireguard-go. */
			wg_dev_stage(dp, NULL, 0);
			wg_dev_send_initiation(dp, false);
		}
	}
	if (actions & WG_TIMER_ZERO_KEYS) {
		cst_debug("zeroing keys after 3 x REJECT_AFTER_TIME without a handshake");
		wg_peer_zero_keys(dp->peer);
	}
}

static void *wg_dev_timer_thread(void *arg)
{
	struct wg_device *dev = arg;
	struct wg_peer **batch = NULL;
	size_t cap = 0;

	while (!atomic_load(&dev->stopping)) {
		struct pollfd pfd = { .fd = dev->stop_fd, .events = POLLIN };
		size_t n = 0, count = 0;
		uint64_t now;

		if (poll(&pfd, 1, WG_DEV_TICK_MS) > 0)
			break;
		now = wg_now();
		/* Take references to every peer, then run their timers unlocked
		 * (sending may take the peer locks the UAPI also needs). */
		pthread_mutex_lock(&dev->peers_lock);
		for (struct wg_dev_peer *dp = dev->peers; dp; dp = dp->next)
			count++;
		if (count > cap) {
			struct wg_peer **grown = realloc(batch, count * sizeof(*batch));
			if (grown) {
				batch = grown;
				cap = count;
			}
		}
		for (struct wg_dev_peer *dp = dev->peers; dp && n < cap; dp = dp->next)
			batch[n++] = wg_peer_get(dp->peer);
		pthread_mutex_unlock(&dev->peers_lock);
		for (size_t i = 0; i < n; i++) {
			if (!batch[i]->removed)
				wg_dev_run_timers(batch[i]->user, now);
			wg_peer_put(batch[i]);
		}
	}
	free(batch);
	return NULL;
}

/* ---- configuration (UAPI) ---- */

static struct wg_dev_peer *wg_dev_find(struct wg_device *dev, const uint8_t key[WG_KEY_LEN])
{
	struct wg_dev_peer *dp;

	for (dp = dev->peers; dp; dp = dp->next)
		if (memcmp(dp->peer->public_key, key, WG_KEY_LEN) == 0)
			return dp;
	return NULL;
}

/* Called with conf_lock and peers_lock held. */
static void wg_dev_remove_peer_locked(struct wg_device *dev, struct wg_dev_peer *dp)
{
	struct wg_dev_peer **pp;
	struct wg_peer *peer = dp->peer;

	for (pp = &dev->peers; *pp; pp = &(*pp)->next) {
		if (*pp == dp) {
			*pp = dp->next;
			break;
		}
	}
	wg_allowedips_remove_by_peer(&dev->aips, peer);
	pthread_mutex_lock(&dp->lock);
	wg_timers_stop(&dp->timers);
	wg_dev_drop_staged(dp);
	pthread_mutex_unlock(&dp->lock);
	wg_proto_remove_peer(&dev->proto, peer); /* drops the table's reference */
	wg_peer_put(peer);                       /* the device list's reference */
}

static int wg_dev_add_peer_locked(struct wg_device *dev, const uint8_t key[WG_KEY_LEN],
				  struct wg_dev_peer **out)
{
	struct wg_dev_peer *dp = calloc(1, sizeof(*dp));
	struct wg_peer *peer = NULL;
	int ret;

	if (!dp)
		return -ENOMEM;
	ret = wg_proto_add_peer(&dev->proto, key, NULL, &peer);
	if (ret < 0) {
		free(dp);
		return ret;
	}
	dp->dev = dev;
	dp->peer = peer;
	pthread_mutex_init(&dp->lock, NULL);
	{
		uint64_t seed;
		randombytes_buf(&seed, sizeof(seed));
		wg_timers_init(&dp->timers, &dev->tcfg, seed);
	}
	peer->user = dp;
	peer->user_free = wg_dev_peer_free;
	/* Keep insertion order: `wg showconf | wg setconf` is then a fixed point. */
	{
		struct wg_dev_peer **pp = &dev->peers;
		while (*pp)
			pp = &(*pp)->next;
		*pp = dp;
	}
	*out = dp;
	return 0;
}

static int wg_dev_rebind(struct wg_device *dev, uint16_t port)
{
	int fd = -1, family = 0, ret;
	uint16_t bound = 0;

	ret = wg_dev_open_socket(port, dev->fwmark, &fd, &family, &bound);
	if (ret < 0)
		return ret;
	pthread_rwlock_wrlock(&dev->sock_lock);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	dev->udp_fd = fd;
	dev->udp_family = family;
	dev->listen_port = bound;
	pthread_rwlock_unlock(&dev->sock_lock);
	cst_info("listening on UDP port %u", bound);
	return 0;
}

static int wg_dev_uapi_set(void *ctx, const struct wg_uapi_set *set)
{
	struct wg_device *dev = ctx;
	int ret = 0;

	pthread_mutex_lock(&dev->conf_lock);
	if (set->has_fwmark) {
		dev->fwmark = set->fwmark;
		pthread_rwlock_rdlock(&dev->sock_lock);
		setsockopt(dev->udp_fd, SOL_SOCKET, SO_MARK, &dev->fwmark, sizeof(dev->fwmark));
		pthread_rwlock_unlock(&dev->sock_lock);
	}
	if (set->has_listen_port && set->listen_port != dev->listen_port) {
		ret = wg_dev_rebind(dev, set->listen_port);
		if (ret < 0) {
			cst_err("cannot bind UDP port %u: %s", set->listen_port, strerror(-ret));
			goto out;
		}
	}
	pthread_mutex_lock(&dev->peers_lock);
	if (set->has_private_key) {
		struct wg_identity id;
		wg_proto_set_private_key(&dev->proto, set->private_key);
		/* A peer with our own public key makes no sense: drop it. */
		if (wg_proto_get_identity(&dev->proto, &id)) {
			struct wg_dev_peer *self = wg_dev_find(dev, id.public_key);
			if (self)
				wg_dev_remove_peer_locked(dev, self);
		}
		sodium_memzero(&id, sizeof(id));
	}
	if (set->replace_peers)
		while (dev->peers)
			wg_dev_remove_peer_locked(dev, dev->peers);
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct wg_uapi_peer *up = &set->peers[i];
		struct wg_dev_peer *dp = wg_dev_find(dev, up->public_key);
		uint64_t now = wg_now();

		if (up->remove) {
			if (dp)
				wg_dev_remove_peer_locked(dev, dp);
			continue;
		}
		if (!dp) {
			if (up->update_only)
				continue;
			if (wg_dev_add_peer_locked(dev, up->public_key, &dp) < 0)
				continue; /* our own key or a zero key: ignored, as wireguard-go */
		}
		if (up->has_psk)
			wg_proto_set_psk(&dev->proto, dp->peer,
					 sodium_is_zero(up->psk, WG_KEY_LEN) ? NULL : up->psk);
		if (up->has_endpoint)
			wg_peer_set_endpoint(dp->peer, (const struct sockaddr *)&up->endpoint,
					     up->endpoint_len);
		if (up->replace_allowed_ips)
			wg_allowedips_remove_by_peer(&dev->aips, dp->peer);
		for (size_t j = 0; j < up->n_allowed_ips; j++) {
			const struct wg_uapi_allowed_ip *a = &up->allowed_ips[j];
			wg_allowedips_insert(&dev->aips, a->family, a->addr, a->cidr, dp->peer);
		}
		if (up->has_keepalive) {
			pthread_mutex_lock(&dp->lock);
			/* Turning it on sends one right away (NAT traversal): the
			 * timer thread picks up a deadline of now on its next tick. */
			if (wg_timers_set_persistent_keepalive(&dp->timers, up->keepalive, now) &
			    WG_TIMER_SEND_PERSISTENT_KEEPALIVE)
				dp->timers.persistent_keepalive_at = now ? now : 1;
			dp->peer->persistent_keepalive_interval = up->keepalive;
			pthread_mutex_unlock(&dp->lock);
		}
	}
	pthread_mutex_unlock(&dev->peers_lock);
out:
	pthread_mutex_unlock(&dev->conf_lock);
	return ret < 0 ? -ret : 0;
}

struct wg_dev_walk { struct wg_uapi_writer *w; };

static void wg_dev_walk_aip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	wg_uapi_put_allowed_ip(ctx, family, addr, cidr);
}

static int wg_dev_uapi_get(void *ctx, struct wg_uapi_writer *w)
{
	struct wg_device *dev = ctx;
	struct wg_identity id;

	pthread_mutex_lock(&dev->conf_lock);
	if (wg_proto_get_identity(&dev->proto, &id))
		wg_uapi_put_key(w, "private_key", id.private_key);
	sodium_memzero(&id, sizeof(id));
	wg_uapi_put_u64(w, "listen_port", dev->listen_port);
	if (dev->fwmark)
		wg_uapi_put_u64(w, "fwmark", dev->fwmark);
	pthread_mutex_lock(&dev->peers_lock);
	for (struct wg_dev_peer *dp = dev->peers; dp; dp = dp->next) {
		struct wg_peer *p = dp->peer;
		struct sockaddr_storage ep;
		uint64_t hs = atomic_load(&p->last_handshake_wall_ns);
		uint8_t psk[WG_KEY_LEN];

		wg_uapi_put_key(w, "public_key", p->public_key);
		pthread_mutex_lock(&p->lock);
		memcpy(psk, p->handshake.preshared_key, WG_KEY_LEN);
		pthread_mutex_unlock(&p->lock);
		wg_uapi_put_key(w, "preshared_key", psk);
		sodium_memzero(psk, sizeof(psk));
		wg_uapi_put_u64(w, "protocol_version", 1);
		if (wg_peer_get_endpoint(p, &ep))
			wg_uapi_put_endpoint(w, (struct sockaddr *)&ep);
		wg_uapi_put_u64(w, "last_handshake_time_sec", hs / WG_NSEC_PER_SEC);
		wg_uapi_put_u64(w, "last_handshake_time_nsec", hs % WG_NSEC_PER_SEC);
		wg_uapi_put_u64(w, "tx_bytes", atomic_load(&p->tx_bytes));
		wg_uapi_put_u64(w, "rx_bytes", atomic_load(&p->rx_bytes));
		wg_uapi_put_u64(w, "persistent_keepalive_interval", p->persistent_keepalive_interval);
		wg_allowedips_walk_by_peer(&dev->aips, p, wg_dev_walk_aip, w);
	}
	pthread_mutex_unlock(&dev->peers_lock);
	pthread_mutex_unlock(&dev->conf_lock);
	return 0;
}

/* ---- lifecycle ---- */

int wg_device_new(const struct wg_device_config *cfg, struct wg_device **out)
{
	static const struct wg_uapi_ops ops = { .get = wg_dev_uapi_get, .set = wg_dev_uapi_set };
	struct wg_device *dev;
	int ret;

	*out = NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->udp_fd = -1;
	dev->stop_fd = -1;
	dev->tx_wake_fd = -1;
	dev->rx_wake_fd = -1;
	dev->tun.fd = -1;
	dev->mtu = cfg->mtu ? cfg->mtu : 1420;
	dev->tcfg = cfg->timers;
	if (!dev->tcfg.rekey_timeout)
		wg_timer_config_default(&dev->tcfg);
	pthread_rwlock_init(&dev->sock_lock, NULL);
	pthread_mutex_init(&dev->tx_lock, NULL);
	pthread_mutex_init(&dev->conf_lock, NULL);
	pthread_mutex_init(&dev->peers_lock, NULL);
	wg_allowedips_init(&dev->aips);
	ret = wg_proto_init(&dev->proto);
	if (ret < 0)
		goto fail;
	ret = tun_open(cfg->ifname, cfg->no_offload ? 0 : TUN_F_VNET_HDR, cfg->tun_path, &dev->tun);
	if (ret < 0)
		goto fail;
	dev->vnet = !cfg->no_offload;
	dev->tun_tso = dev->vnet && (dev->tun.offloads & TUN_OFF_TSO);
	atomic_store(&dev->udp_gso, !cfg->no_offload);
	dev->seg_stride = (dev->mtu + 63) & ~(size_t)63;
	if (dev->seg_stride < 1536)
		dev->seg_stride = 1536;
	/* 16 header bytes before a segment, up to 15 padding and 16 tag bytes
	 * after it: 64 keeps the slots cache-line aligned. A non-offload read
	 * lands in the slots too, so they hold a whole WG_DEV_BUF read. */
	dev->tx_slot = dev->seg_stride + 64;
	dev->tx_rbuf = malloc(TUN_VNET_HDR_LEN + WG_DEV_BUF);
	dev->tx_segs = malloc(WG_DEV_MAX_SEGS * dev->tx_slot);
	if (!dev->tx_rbuf || !dev->tx_segs) {
		ret = -ENOMEM;
		goto fail;
	}
	cst_info("offloads: TUN %s, UDP GSO/GRO %s", dev->tun_tso ? "TSO+checksum" :
		 dev->vnet ? "checksum only" : "off", cfg->no_offload ? "off" : "on");
	ret = tun_set_mtu(dev->tun.ifindex, dev->mtu);
	if (ret < 0)
		cst_warn("cannot set MTU %u: %s", dev->mtu, strerror(-ret));
	ret = wg_dev_rebind(dev, 0);
	if (ret < 0)
		goto fail;
	dev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->tx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->rx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->stop_fd < 0 || dev->tx_wake_fd < 0 || dev->rx_wake_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = wg_uapi_server_start(cfg->uapi_dir, dev->tun.name, &ops, dev, &dev->uapi);
	if (ret < 0) {
		if (ret == -EADDRINUSE)
			ret = -EBUSY;
		goto fail;
	}
	if ((ret = -pthread_create(&dev->tun_thread, NULL, wg_dev_tun_thread, dev)) < 0)
		goto fail_uapi;
	if ((ret = -pthread_create(&dev->udp_thread, NULL, wg_dev_udp_thread, dev)) < 0) {
		atomic_store(&dev->stopping, 1);
		eventfd_write(dev->stop_fd, 1);
		pthread_join(dev->tun_thread, NULL);
		goto fail_uapi;
	}
	if ((ret = -pthread_create(&dev->timer_thread, NULL, wg_dev_timer_thread, dev)) < 0) {
		atomic_store(&dev->stopping, 1);
		eventfd_write(dev->stop_fd, 1);
		pthread_join(dev->tun_thread, NULL);
		pthread_join(dev->udp_thread, NULL);
		goto fail_uapi;
	}
	*out = dev;
	return 0;
fail_uapi:
	wg_uapi_server_stop(dev->uapi);
	dev->uapi = NULL;
fail:
	if (dev->stop_fd >= 0)
		close(dev->stop_fd);
	if (dev->tx_wake_fd >= 0)
		close(dev->tx_wake_fd);
	if (dev->rx_wake_fd >= 0)
		close(dev->rx_wake_fd);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	tun_close(&dev->tun);
	wg_allowedips_deinit(&dev->aips);
	wg_proto_deinit(&dev->proto);
	free(dev->tx_rbuf);
	free(dev->tx_segs);
	pthread_mutex_destroy(&dev->tx_lock);
	free(dev);
	return ret;
}

void wg_device_free(struct wg_device *dev)
{
	if (!dev)
		return;
	/* The UAPI goes first so no configuration change races the teardown. */
	wg_uapi_server_stop(dev->uapi);
	atomic_store(&dev->stopping, 1);
	eventfd_write(dev->stop_fd, 1);
	pthread_join(dev->tun_thread, NULL);
	pthread_join(dev->udp_thread, NULL);
	pthread_join(dev->timer_thread, NULL);
	{
		/* How well batching worked: segments per TUN read (TSO), datagrams
		 * per receive call (recvmmsg + GRO), packets per TUN write (GRO). */
		uint64_t r = atomic_load(&dev->st_tun_reads), c = atomic_load(&dev->st_udp_calls);
		uint64_t w = atomic_load(&dev->st_tun_writes);
		cst_debug("batching: %.1f segments/TUN read, %.1f datagrams/receive call, "
			  "%.1f packets/TUN write",
			  r ? (double)atomic_load(&dev->st_tun_segs) / (double)r : 0.0,
			  c ? (double)atomic_load(&dev->st_udp_dgrams) / (double)c : 0.0,
			  w ? (double)atomic_load(&dev->st_tun_write_pkts) / (double)w : 0.0);
	}
	pthread_mutex_lock(&dev->conf_lock);
	pthread_mutex_lock(&dev->peers_lock);
	while (dev->peers)
		wg_dev_remove_peer_locked(dev, dev->peers);
	pthread_mutex_unlock(&dev->peers_lock);
	pthread_mutex_unlock(&dev->conf_lock);
	close(dev->stop_fd);
	close(dev->tx_wake_fd);
	close(dev->rx_wake_fd);
	close(dev->udp_fd);
	tun_close(&dev->tun);
	wg_allowedips_deinit(&dev->aips);
	wg_proto_deinit(&dev->proto);
	pthread_rwlock_destroy(&dev->sock_lock);
	pthread_mutex_destroy(&dev->conf_lock);
	pthread_mutex_destroy(&dev->peers_lock);
	pthread_mutex_destroy(&dev->tx_lock);
	free(dev->tx_rbuf);
	free(dev->tx_segs);
	free(dev);
}
