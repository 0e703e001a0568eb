/* The inbound data path: UDP → open → coalesce → TUN, and the handshake
 * messages that arrive on the same socket. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "device_internal.h"
#include "log.h"
#include "offload.h"

/* ---- inbound: UDP → decrypt → TUN ---- */

static bool wg_receive_under_load(struct wg_device *dev, uint64_t now)
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
static ssize_t wg_receive_inner_len(const uint8_t *p, size_t len, int *family, const uint8_t **src)
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

/* Writes one frame (vnet header + packet) to the TUN. Errors are the
 * kernel's to count (a full TUN queue drops, as a NIC would). */
static int wg_receive_emit(void *ctx, const struct virtio_net_hdr *hdr, const uint8_t *pkt,
			   size_t len)
{
	struct wg_device *dev = ctx;
	struct iovec v[2] = { { (void *)hdr, TUN_VNET_HDR_LEN }, { (void *)pkt, len } };

	atomic_fetch_add_explicit(&dev->st_tun_writes, 1, memory_order_relaxed);
	if (writev(dev->tun.fd, v, 2) < 0)
		cst_debug("TUN write: %s", strerror(errno));
	return 0;
}

/* Writes what the coalescer holds to the TUN. */
static void wg_receive_gro_flush(struct wg_device *dev, struct tun_gro_table *t)
{
	tun_gro_table_flush(t, wg_receive_emit, dev);
}

/* Each TCP flow of a batch coalesces in its own slot of the table, so two
 * interleaved streams still reach the TUN as super-packets; a flow's
 * packets keep their order. */
static void wg_receive_tun_deliver(struct wg_device *dev, struct tun_gro_table *t,
				   const uint8_t *pkt, size_t len)
{
	static const struct virtio_net_hdr zero;

	if (!dev->vnet) {
		if (write(dev->tun.fd, pkt, len) < 0)
			cst_debug("TUN write: %s", strerror(errno));
		return;
	}
	atomic_fetch_add_explicit(&dev->st_tun_write_pkts, 1, memory_order_relaxed);
	if (!dev->tun_tso) {
		wg_receive_emit(dev, &zero, pkt, len); /* no super-packets: one at a time */
		return;
	}
	tun_gro_table_add(t, pkt, len, wg_receive_emit, dev);
}

/* Undoes the v4 mapping of a dual-stack socket so endpoints look like what
 * the user configured. */
static socklen_t wg_receive_unmap(const struct sockaddr_storage *from, socklen_t fl,
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
static void wg_receive_control(struct wg_device *dev, uint8_t *buf, size_t len,
				  const struct sockaddr_storage *from, socklen_t fl, uint64_t now)
{
	struct wg_proto_result r;
	struct sockaddr_storage src;
	uint32_t type = wg_msg_type(buf, len);
	bool load = false;
	int ret;

	fl = wg_receive_unmap(from, fl, &src);
	if (type == WG_MSG_INITIATION || type == WG_MSG_RESPONSE)
		load = wg_receive_under_load(dev, now);
	ret = wg_proto_receive(&dev->proto, buf, len, (struct sockaddr *)&src, fl, load, now,
			       wg_wall(), NULL, 0, &r);
	if (ret < 0) {
		cst_debug("dropped datagram of %zu bytes: %s", len, strerror(-ret));
		if (type == WG_MSG_INITIATION || type == WG_MSG_RESPONSE || type == WG_MSG_COOKIE_REPLY)
			wg_dev_count(&dev->stats.rx_handshake_rejected, 1);
		else
			wg_dev_count(&dev->stats.rx_malformed, 1);
		return;
	}
	switch (r.event) {
	case WG_PROTO_SEND_COOKIE:
		cst_debug("under load: answering with a cookie reply");
		/* the message itself is not consumed: the sender retries with mac2 */
		wg_dev_count(&dev->stats.rx_handshake_rejected, 1);
		wg_dev_send(dev, &src, &r.cookie_reply, sizeof(r.cookie_reply));
		break;
	case WG_PROTO_COOKIE:
		cst_debug("cookie reply consumed");
		break;
	case WG_PROTO_INITIATION: {
		struct wg_dev_peer *dp = r.peer->user;
		struct wg_msg_response resp;
		if (!dp || r.peer->removed) {
			wg_dev_count(&dev->stats.rx_handshake_rejected, 1);
			break;
		}
		if (wg_proto_create_response(&dev->proto, r.peer, &resp, now, wg_wall()) != 0) {
			wg_dev_count(&dev->stats.rx_handshake_rejected, 1);
		} else {
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
		if (!dp || r.peer->removed) {
			wg_dev_count(&dev->stats.rx_handshake_rejected, 1);
			break;
		}
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

#define WG_RECEIVE_ITEMS 1024
#define WG_RELAY_DSTS 16 /* destination peers gathered before a relay flush */

/* A decrypted packet the relay will seal again: it stays where it was
 * opened (the receive buffers live until the next recvmmsg). */
struct wg_relay_item {
	const uint8_t *pkt;
	uint32_t len;
	uint32_t dst;                      /* index into rl_dst */
};

struct wg_receive_batch {
	struct wg_open_item *items;
	uint16_t *slot;                    /* receive slot of each item: its source */
	unsigned n;
	const struct sockaddr_storage *from;
	const struct mmsghdr *msgs;
	struct tun_gro_table gt;
	uint8_t *gt_bufs;                  /* TUN_GRO_FLOWS super-packet buffers */
	uint64_t now;
	unsigned delivered;                /* packets handed to the TUN this batch */
	/* relay (dev->relay): packets for other peers, by destination */
	struct wg_relay_item *rl_items;    /* WG_RECEIVE_ITEMS */
	unsigned rl_n;
	struct wg_peer *rl_dst[WG_RELAY_DSTS]; /* references */
	unsigned rl_ndst;
	uint8_t *rl_segs;                  /* the UDP thread's own WG_DEV_MAX_SEGS slots */
	int rl_cfamily;                    /* destination cache of the run being delivered */
	uint8_t rl_caddr[16];
	int rl_cidx;                       /* its rl_dst index, -1 = the TUN */
};

static uint32_t wg_receive_index(const struct wg_open_item *it)
{
	return ((const struct wg_msg_transport *)it->msg)->receiver_index; /* packed: any alignment */
}

/* Seals the gathered relay packets to their destination peers, grouped per
 * peer (one keypair and endpoint fetch, GSO sends of up to WG_DEV_MAX_SEGS
 * segments), through the send path's own code; without a session they wait
 * for the handshake it starts, as the TUN's packets do. Called with no
 * allowed-IPs lock held. */
static void wg_receive_relay_flush(struct wg_device *dev, struct wg_receive_batch *rx)
{
	size_t slot = dev->tx_slot, seg_len[WG_DEV_MAX_SEGS];
	uint64_t pkts = 0, bytes = 0, dropped = 0;

	if (!rx->rl_ndst)
		return;
	pthread_rwlock_rdlock(&dev->sock_lock);
	for (unsigned d = 0; d < rx->rl_ndst; d++) {
		struct wg_send_ctx tx = { .now = rx->now };
		unsigned k = 0;
		bool drop;

		wg_send_begin(dev, &tx, rx->rl_dst[d]); /* takes over the reference */
		/* A session with nowhere to send it to: sealing would be wasted. */
		drop = tx.peer->removed || (tx.kp && !tx.sl);
		for (unsigned i = 0; i < rx->rl_n; i++) {
			const struct wg_relay_item *e = &rx->rl_items[i];

			if (e->dst != d)
				continue;
			if (drop || e->len > dev->seg_stride) {
				dropped++;
				continue;
			}
			memcpy(rx->rl_segs + k * slot + WG_MSG_TRANSPORT_HEADER_LEN, e->pkt, e->len);
			seg_len[k++] = e->len;
			pkts++;
			bytes += e->len;
			if (k == WG_DEV_MAX_SEGS) {
				wg_send_seal(dev, &tx, rx->rl_segs, seg_len, k);
				k = 0;
			}
		}
		if (k)
			wg_send_seal(dev, &tx, rx->rl_segs, seg_len, k);
		wg_send_end(&tx);
	}
	pthread_rwlock_unlock(&dev->sock_lock);
	wg_dev_count(&dev->stats.relay_packets, pkts);
	wg_dev_count(&dev->stats.relay_bytes, bytes);
	if (dropped)
		wg_dev_count(&dev->stats.relay_dropped, dropped);
	rx->rl_n = rx->rl_ndst = 0;
	rx->rl_cfamily = 0;
}

/* Relay mode: whether the opened packet from src goes to another peer.
 * Returns 1 when it was taken for the relay, 0 when it goes to the TUN (its
 * destination is an address of this namespace, in no peer's allowed IPs, or
 * src's own), -ENOSPC when the relay must be flushed first. Takes the
 * allowed-IPs read lock if *locked is false. */
static int wg_receive_relay_take(struct wg_device *dev, struct wg_receive_batch *rx,
				 struct wg_peer *src, const uint8_t *pkt, size_t len, int family,
				 bool *locked)
{
	const uint8_t *dst = pkt + (family == AF_INET ? 16 : 24);
	size_t alen = family == AF_INET ? 4 : 16;
	int idx;

	if (family == rx->rl_cfamily && memcmp(dst, rx->rl_caddr, alen) == 0) {
		idx = rx->rl_cidx;
	} else {
		struct wg_peer *to;
		unsigned d;

		if (!*locked) {
			wg_allowedips_read_lock(&dev->aips);
			*locked = true;
		}
		to = wg_allowedips_lookup_locked(&dev->aips, family, dst);
		idx = -1;
		if (to && to != src && !wg_dev_is_local(dev, family, dst)) {
			for (d = 0; d < rx->rl_ndst && rx->rl_dst[d] != to; d++)
				;
			if (d == rx->rl_ndst) {
				if (d == WG_RELAY_DSTS)
					return -ENOSPC;
				rx->rl_dst[rx->rl_ndst++] = wg_peer_get(to); /* valid: lock held */
			}
			idx = (int)d;
		}
		rx->rl_cfamily = family;
		memcpy(rx->rl_caddr, dst, alen);
		rx->rl_cidx = idx;
	}
	if (idx < 0)
		return 0;
	if (rx->rl_n == WG_RECEIVE_ITEMS)
		return -ENOSPC;
	rx->rl_items[rx->rl_n++] = (struct wg_relay_item){ .pkt = pkt, .len = (uint32_t)len,
							    .dst = (uint32_t)idx };
	return 1;
}

/* Delivers the opened packets of one run of peer's, checking that each
 * inner source belongs to peer (cryptokey routing on receive); in relay
 * mode a packet for another peer is gathered for the relay instead. */
static void wg_receive_deliver(struct wg_device *dev, struct wg_receive_batch *rx, struct wg_peer *peer,
			      unsigned from, unsigned to)
{
	int c_family = 0;
	uint8_t c_src[16];
	bool locked = false;
	uint64_t malformed = 0, bad_source = 0;

	rx->rl_cfamily = 0; /* the allowed IPs may have changed since the last run */
	for (unsigned i = from; i < to; i++) {
		struct wg_open_item *it = &rx->items[i];
		const uint8_t *inner_src;
		int family;
		ssize_t n;

		if (it->result <= 0)
			continue; /* dropped, or a keepalive */
		n = wg_receive_inner_len(it->dst, (size_t)it->result, &family, &inner_src);
		if (n < 0) {
			cst_debug("dropped malformed inner packet");
			malformed++;
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
				bad_source++;
				continue;
			}
			c_family = family;
			memcpy(c_src, inner_src, family == AF_INET ? 4 : 16);
		}
		if (dev->relay) {
			int r = wg_receive_relay_take(dev, rx, peer, it->dst, (size_t)n, family,
						      &locked);
			if (r == -ENOSPC) {
				/* Sealing sends and may stage: never under the
				 * allowed-IPs lock. Both caches start over. */
				if (locked)
					wg_allowedips_read_unlock(&dev->aips);
				locked = false;
				wg_receive_relay_flush(dev, rx);
				c_family = 0;
				r = wg_receive_relay_take(dev, rx, peer, it->dst, (size_t)n, family,
							  &locked);
			}
			if (r > 0)
				continue;
		}
		wg_receive_tun_deliver(dev, &rx->gt, it->dst, (size_t)n);
		rx->delivered++;
	}
	if (locked)
		wg_allowedips_read_unlock(&dev->aips);
	if (malformed)
		wg_dev_count(&dev->stats.rx_malformed, malformed);
	if (bad_source)
		wg_dev_count(&dev->stats.rx_bad_source, bad_source);
}

/* Items [from, to) share a receiver index. */
static void wg_receive_run(struct wg_device *dev, struct wg_receive_batch *rx, unsigned from, unsigned to)
{
	struct wg_keypair *kp = NULL;
	struct wg_peer *peer;
	struct wg_dev_peer *dp;
	struct sockaddr_storage src;
	socklen_t sl;
	unsigned last = to, expired = 0, failed = 0;
	uint64_t bytes = 0;
	bool data = false, confirmed, rekey;

	peer = wg_index_table_lookup(&dev->proto.index, wg_receive_index(&rx->items[from]),
				     WG_INDEX_KEYPAIR, &kp);
	if (!peer) {
		cst_debug("dropped %u datagrams for an unknown index", to - from);
		wg_dev_count(&dev->stats.rx_unknown_index, to - from);
		return;
	}
	dp = peer->user;
	if (!dp || peer->removed) {
		wg_dev_count(&dev->stats.rx_unknown_index, to - from);
		goto out;
	}
	if (!wg_keypair_open_batch(kp, rx->items + from, to - from, rx->now, dev->cpool))
		cst_debug("dropped %u datagrams: %s", to - from,
			  strerror((int)-rx->items[from].result));
	for (unsigned i = from; i < to; i++) {
		if (rx->items[i].result < 0) {
			/* an expired keypair is no live session; the rest failed
			 * authentication or the replay check */
			if (rx->items[i].result == -EKEYEXPIRED)
				expired++;
			else
				failed++;
			continue;
		}
		bytes += rx->items[i].len;
		data |= rx->items[i].result > 0;
		last = i;
	}
	if (expired)
		wg_dev_count(&dev->stats.rx_unknown_index, expired);
	if (failed)
		wg_dev_count(&dev->stats.rx_auth_failed, failed);
	if (last == to)
		goto out; /* nothing opened */
	/* Roaming: the source of the latest authenticated packet. */
	sl = wg_receive_unmap(&rx->from[rx->slot[last]], rx->msgs[rx->slot[last]].msg_hdr.msg_namelen,
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
	wg_receive_deliver(dev, rx, peer, from, to);
out:
	wg_keypair_put(kp);
	wg_peer_put(peer);
}

static void wg_receive_flush(struct wg_device *dev, struct wg_receive_batch *rx)
{
	unsigned i = 0;

	while (i < rx->n) {
		uint32_t index = wg_receive_index(&rx->items[i]);
		unsigned j = i + 1;

		while (j < rx->n && wg_receive_index(&rx->items[j]) == index)
			j++;
		wg_receive_run(dev, rx, i, j);
		i = j;
	}
	rx->n = 0;
}

static void wg_receive_datagram(struct wg_device *dev, struct wg_receive_batch *rx, uint8_t *buf,
			       size_t len, unsigned slot)
{
	if (wg_msg_type(buf, len) == WG_MSG_TRANSPORT && len >= WG_MSG_TRANSPORT_MIN_LEN) {
		struct wg_open_item *it = &rx->items[rx->n];

		/* in place: the plaintext lands right after the 16-byte header */
		it->msg = buf;
		it->len = len;
		it->dst = buf + WG_MSG_TRANSPORT_HEADER_LEN;
		rx->slot[rx->n++] = (uint16_t)slot;
		if (rx->n == WG_RECEIVE_ITEMS)
			wg_receive_flush(dev, rx);
		return;
	}
	wg_receive_flush(dev, rx);
	wg_receive_control(dev, buf, len, &rx->from[slot], rx->msgs[slot].msg_hdr.msg_namelen,
			      rx->now);
}

/* The UDP thread's turn at the TUN. Idle mode: it owns the TUN and reads
 * whatever is there; a burst hands the TUN to the TUN thread. Busy mode,
 * after a small receive batch that reached the TUN: the answer (an echo, a
 * TCP ACK) is often queued already, as the kernel replies within our write,
 * and sending it from here spares a wake-up on the round trip. Returns
 * false when the TUN failed. */
static bool wg_receive_tun_turn(struct wg_device *dev, bool own)
{
	int ret;

	if (own) {
		pthread_mutex_lock(&dev->tx_lock);
	} else if (pthread_mutex_trylock(&dev->tx_lock) != 0) {
		return true;
	}
	ret = wg_send_batch(dev, own ? WG_DEV_IDLE_READS : WG_DEV_ANSWER_READS);
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

void *wg_receive_udp_thread(void *arg)
{
	struct wg_device *dev = arg;
	struct mmsghdr *msgs = calloc(WG_DEV_BATCH, sizeof(*msgs));
	struct iovec *iov = calloc(WG_DEV_BATCH, sizeof(*iov));
	struct sockaddr_storage *from = calloc(WG_DEV_BATCH, sizeof(*from));
	uint8_t *bufs = malloc((size_t)WG_DEV_BATCH * WG_DEV_BUF);
	enum { CTRL = CMSG_SPACE(sizeof(int)) };
	uint8_t *ctrl = calloc(WG_DEV_BATCH, CTRL);
	struct wg_receive_batch rx = { .items = calloc(WG_RECEIVE_ITEMS, sizeof(*rx.items)),
				.slot = calloc(WG_RECEIVE_ITEMS, sizeof(*rx.slot)),
				.from = from, .msgs = msgs,
				.gt_bufs = malloc((size_t)TUN_GRO_FLOWS * TUN_GRO_BUF_LEN) };
	bool busy = false;

	if (dev->relay) {
		rx.rl_items = calloc(WG_RECEIVE_ITEMS, sizeof(*rx.rl_items));
		rx.rl_segs = malloc(WG_DEV_MAX_SEGS * dev->tx_slot);
	}
	if (!msgs || !iov || !from || !bufs || !ctrl || !rx.items || !rx.slot || !rx.gt_bufs ||
	    (dev->relay && (!rx.rl_items || !rx.rl_segs))) {
		cst_err("UDP thread: out of memory; shutting down");
		atomic_store(&dev->dead, 1);
		goto out;
	}
	tun_gro_table_init(&rx.gt, rx.gt_bufs);
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
				if (tun_ready && !wg_receive_tun_turn(dev, true))
					break;
				continue;
			}
		}
		pthread_rwlock_rdlock(&dev->sock_lock);
		n = dev->udp_fd == fd ? recvmmsg(fd, msgs, WG_DEV_BATCH, MSG_DONTWAIT, NULL) : 0;
		pthread_rwlock_unlock(&dev->sock_lock);
		busy = n == WG_DEV_BATCH;
		if (n <= 0) {
			if (tun_ready && !wg_receive_tun_turn(dev, true))
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
				wg_receive_datagram(dev, &rx, p, one, (unsigned)i);
				p += one;
				left -= one;
			}
		}
		wg_receive_flush(dev, &rx);
		if (dev->relay)
			wg_receive_relay_flush(dev, &rx);
		wg_receive_gro_flush(dev, &rx.gt);
		/* The kernel rewrote the lengths of the slots it filled: only
		 * those need resetting, so an idle wake-up touches a few cache
		 * lines rather than the whole array. */
		for (int i = 0; i < n; i++) {
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_controllen = CTRL;
		}
		atomic_fetch_add_explicit(&dev->st_udp_dgrams, dgrams, memory_order_relaxed);
		if ((own && (tun_ready || rx.delivered)) || (rx.delivered && dgrams <= WG_DEV_ANSWER_MAX))
			if (!wg_receive_tun_turn(dev, own))
				break;
	}
out:
	for (unsigned d = 0; d < rx.rl_ndst; d++)
		wg_peer_put(rx.rl_dst[d]);
	free(rx.rl_items);
	free(rx.rl_segs);
	free(rx.gt_bufs);
	free(rx.slot);
	free(rx.items);
	free(ctrl);
	free(msgs);
	free(iov);
	free(from);
	free(bufs);
	return NULL;
}
