/* The outbound data path: TUN → split → seal → UDP. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device_internal.h"
#include "log.h"
#include "offload.h"

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

static int wg_send_ip_dst(const uint8_t *pkt, size_t len, int *family, const uint8_t **addr)
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
void wg_send_begin(struct wg_device *dev, struct wg_send_ctx *tx, struct wg_peer *peer)
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
void wg_send_end(struct wg_send_ctx *tx)
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
static void wg_send_segments(struct wg_device *dev, const struct sockaddr_storage *sa,
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

/* Sends n sealed messages to tx->peer's endpoint, if it has one. UDP GSO
 * cuts one send into segments of the first one's size, the last may be
 * shorter: so a send carries a run of messages of one size and at most one
 * shorter one after it. A TSO super-packet's segments are always one such
 * run; relayed packets of mixed sizes become several. */
static void wg_send_emit(struct wg_device *dev, struct wg_send_ctx *tx, struct iovec *iov,
			 unsigned n)
{
	unsigned i = 0;

	if (!n || !tx->sl)
		return;
	while (i < n) {
		unsigned j = i + 1;

		tx->bytes += iov[i].iov_len;
		while (j < n && iov[j].iov_len == iov[i].iov_len)
			tx->bytes += iov[j++].iov_len;
		if (j < n && iov[j].iov_len < iov[i].iov_len)
			tx->bytes += iov[j++].iov_len;
		wg_send_segments(dev, &tx->sa, tx->sl, iov + i, j - i);
		i = j;
	}
	tx->sent = true;
}

/* The encryption of prepared messages, shared with the crypto pool when the
 * read is large enough (a TSO super-packet); a lone packet never touches it. */
struct wg_send_job {
	struct wg_keypair *kp;
	struct iovec *iov;
	int *err;
};

static void wg_send_encrypt_one(void *arg, unsigned i)
{
	struct wg_send_job *job = arg;

	job->err[i] = wg_keypair_seal_encrypt(job->kp, job->iov[i].iov_base, job->iov[i].iov_len);
}

/* Encrypts the n messages prepared in iov with kp; returns how many are
 * left in iov (a failed one is dropped: its counter is spent anyway). */
static unsigned wg_send_encrypt(struct wg_device *dev, struct wg_keypair *kp, struct iovec *iov,
				unsigned n, size_t bytes)
{
	int err[WG_DEV_MAX_SEGS];
	struct wg_send_job job = { .kp = kp, .iov = iov, .err = err };
	unsigned k = 0;

	if (wg_cpool_worth(dev->cpool, n, bytes)) {
		wg_cpool_run(dev->cpool, wg_send_encrypt_one, &job, n);
	} else {
		for (unsigned i = 0; i < n; i++)
			wg_send_encrypt_one(&job, i);
	}
	for (unsigned i = 0; i < n; i++)
		if (!err[i])
			iov[k++] = iov[i];
	return k;
}

/* Seals the nseg segments of one read in place and sends them to tx->peer;
 * without a session they wait for the handshake. The counters are taken in
 * order here, the encryption may be spread over the pool, and nothing is
 * sent before all of it is done, so the segments leave in order. Socket
 * lock held. */
void wg_send_seal(struct wg_device *dev, struct wg_send_ctx *tx, uint8_t *segs,
		  const size_t *seg_len, unsigned nseg)
{
	size_t slot = dev->tx_slot, bytes = 0;
	struct iovec iov[WG_DEV_MAX_SEGS];
	unsigned done = 0, ready = 0, retries = 0, out;

	while (done < nseg) {
		ssize_t m = -ENOKEY;

		if (tx->kp)
			m = wg_keypair_seal_prepare(tx->kp, segs + done * slot, slot,
						    segs + done * slot + WG_MSG_TRANSPORT_HEADER_LEN,
						    seg_len[done], dev->mtu, tx->now,
						    &tx->last_counter);
		if (m > 0) {
			iov[done].iov_base = segs + done * slot;
			iov[done].iov_len = (size_t)m;
			bytes += (size_t)m;
			done++;
			continue;
		}
		/* Expired or exhausted under us: the peer may have a newer one.
		 * What was prepared with this keypair is encrypted with it first. */
		if (done > ready) {
			out = wg_send_encrypt(dev, tx->kp, iov + ready, done - ready, bytes);
			wg_send_emit(dev, tx, iov + ready, out);
			ready = done;
			bytes = 0;
		}
		wg_keypair_put(tx->kp);
		tx->kp = retries++ ? NULL : wg_peer_current_keypair(tx->peer);
		if (!tx->kp)
			break;
	}
	if (done > ready) {
		out = wg_send_encrypt(dev, tx->kp, iov + ready, done - ready, bytes);
		wg_send_emit(dev, tx, iov + ready, out);
	}
	if (done < nseg) {
		/* No session: the rest waits (still plaintext: a failed
		 * prepare leaves its input alone) and a handshake starts. */
		for (unsigned k = done; k < nseg; k++)
			wg_dev_stage(tx->dp, segs + k * slot + WG_MSG_TRANSPORT_HEADER_LEN,
				     seg_len[k]);
		tx->need_init = true;
	}
}

/* Routes the segments of one read: the destination picks the peer. */
static void wg_send_route(struct wg_device *dev, struct wg_send_ctx *tx, uint8_t *segs,
			    const size_t *seg_len, unsigned nseg)
{
	const uint8_t *dst;
	struct wg_peer *peer;
	int family;
	size_t alen;

	if (wg_send_ip_dst(segs + WG_MSG_TRANSPORT_HEADER_LEN, seg_len[0], &family, &dst) < 0)
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
			wg_send_end(tx);
			wg_send_begin(dev, tx, peer);
		}
	}
	if (!tx->peer->removed)
		wg_send_seal(dev, tx, segs, seg_len, nseg);
}

/* One batch of at most max TUN reads. Caller holds tx_lock (the buffers).
 * Returns -errno when the TUN failed, else the number of reads that got a
 * packet. */
int wg_send_batch(struct wg_device *dev, int max)
{
	size_t slot = dev->tx_slot, stride = dev->seg_stride, seg_len[WG_DEV_MAX_SEGS];
	uint8_t *segs = dev->tx_segs, *rbuf = dev->tx_rbuf;
	struct wg_send_ctx tx = { .now = wg_now() };
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
		wg_send_route(dev, &tx, segs, seg_len, (unsigned)nseg);
	}
	if (i < max && errno != EAGAIN && errno != EINTR)
		ret = -errno;
	wg_send_end(&tx);
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
void *wg_send_tun_thread(void *arg)
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
		ret = wg_send_batch(dev, WG_DEV_BATCH);
		pthread_mutex_unlock(&dev->tx_lock);
		if (ret < 0) {
			cst_err("TUN read failed: %s; shutting down", strerror(-ret));
			atomic_store(&dev->dead, 1);
			break;
		}
	}
	return NULL;
}
