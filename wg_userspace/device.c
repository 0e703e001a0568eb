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
#include "device_internal.h"

const char *wg_device_name(const struct wg_device *dev) { return dev->tun.name; }
int wg_device_dead(struct wg_device *dev) { return atomic_load(&dev->dead); }
int wg_device_ifindex(const struct wg_device *dev) { return dev->tun.ifindex; }

/* ---- sockets ---- */

socklen_t wg_dev_sockaddr(const struct wg_device *dev, const struct sockaddr_storage *in,
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

void wg_dev_send(struct wg_device *dev, const struct sockaddr_storage *to, const void *buf,
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

int wg_dev_send_initiation(struct wg_dev_peer *dp, bool is_retry)
{
	struct wg_device *dev = dp->dev;
	struct wg_msg_initiation msg;
	struct sockaddr_storage ep;
	uint64_t now = wg_now();
	int ret;

	pthread_mutex_lock(&dp->lock);
	if (!wg_timers_may_send_initiation(&dp->timers, is_retry, now)) {
		pthread_mutex_unlock(&dp->lock);
		return -EALREADY;
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
		return ret;
	}
	if (!wg_peer_get_endpoint(dp->peer, &ep)) {
		cst_debug("peer has no endpoint: initiation not sent");
		return -EDESTADDRREQ;
	}
	cst_debug("sending handshake initiation%s", is_retry ? " (retry)" : "");
	wg_dev_send(dev, &ep, &msg, sizeof(msg));
	return 0;
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

void wg_dev_stage(struct wg_dev_peer *dp, const uint8_t *pkt, size_t len)
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
void wg_dev_flush_staged(struct wg_dev_peer *dp, bool keepalive_if_empty)
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

/* ---- this namespace's addresses (relay) ---- */

/* Re-reads the addresses after the watch socket said they changed. On
 * failure the old list stays (and the next change tries again). */
static void wg_dev_local_refresh(struct wg_device *dev)
{
	struct tun_local_addr *list = NULL;
	size_t total = 0, cap = 16;
	int n = -ENOMEM;

	for (int attempt = 0; attempt < 3; attempt++) {
		free(list);
		list = calloc(cap, sizeof(*list));
		if (!list)
			return;
		n = tun_addr_list(list, cap, &total);
		if (n < 0 || total <= cap)
			break;
		cap = total + 16;
	}
	if (n < 0) {
		cst_warn("cannot read this namespace's addresses: %s", strerror(-n));
		free(list);
		return;
	}
	pthread_rwlock_wrlock(&dev->local_lock);
	free(dev->local);
	dev->local = list;
	dev->n_local = (size_t)n;
	pthread_rwlock_unlock(&dev->local_lock);
}

bool wg_dev_is_local(struct wg_device *dev, int family, const uint8_t *addr)
{
	size_t alen = family == AF_INET ? 4 : 16;
	bool local = false;

	pthread_rwlock_rdlock(&dev->local_lock);
	for (size_t i = 0; i < dev->n_local && !local; i++)
		local = dev->local[i].family == family && !memcmp(dev->local[i].addr, addr, alen);
	pthread_rwlock_unlock(&dev->local_lock);
	return local;
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
		struct pollfd pfd[2] = { { .fd = dev->stop_fd, .events = POLLIN },
					 { .fd = dev->addr_watch_fd, .events = POLLIN } };
		size_t n = 0, count = 0;
		uint64_t now;

		/* Address changes are picked up at once (a relay must not send
		 * a packet for a new local address to a peer); the timers run
		 * then too, a little early, which they allow. */
		if (poll(pfd, dev->addr_watch_fd >= 0 ? 2 : 1, WG_DEV_TICK_MS) > 0) {
			if (pfd[0].revents)
				break;
			if (pfd[1].revents) {
				int changed = tun_addr_watch_drain(dev->addr_watch_fd);
				if (changed < 0) {
					/* not to spin on a broken socket: the list
					 * stays as it is from now on */
					cst_warn("address watch failed: %s; local addresses "
						 "no longer followed", strerror(-changed));
					close(dev->addr_watch_fd);
					dev->addr_watch_fd = -1;
				}
				if (changed)
					wg_dev_local_refresh(dev);
			}
		}
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

/* Installs a socket opened by wg_dev_open_socket in place of the old one. */
static void wg_dev_swap_socket(struct wg_device *dev, int fd, int family, uint16_t bound)
{
	pthread_rwlock_wrlock(&dev->sock_lock);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	dev->udp_fd = fd;
	dev->udp_family = family;
	dev->listen_port = bound;
	pthread_rwlock_unlock(&dev->sock_lock);
	cst_info("listening on UDP port %u", bound);
}

static int wg_dev_rebind(struct wg_device *dev, uint16_t port)
{
	int fd = -1, family = 0, ret;
	uint16_t bound = 0;

	ret = wg_dev_open_socket(port, dev->fwmark, &fd, &family, &bound);
	if (ret < 0)
		return ret;
	wg_dev_swap_socket(dev, fd, family, bound);
	return 0;
}

static socklen_t wg_dev_family_len(int family)
{
	return family == AF_INET ? sizeof(struct sockaddr_in) :
	       family == AF_INET6 ? sizeof(struct sockaddr_in6) : 0;
}

/* Everything that can be wrong with a transaction built by hand (the UAPI
 * parser never produces it), checked before anything is applied. */
static int wg_dev_validate(const struct wg_uapi_set *set)
{
	if (set->n_peers > WG_UAPI_MAX_PEERS || (set->n_peers && !set->peers))
		return -EINVAL;
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct wg_uapi_peer *up = &set->peers[i];

		if (up->n_allowed_ips > WG_UAPI_MAX_ALLOWED_IPS ||
		    (up->n_allowed_ips && !up->allowed_ips))
			return -EINVAL;
		if (up->has_endpoint) {
			socklen_t need = wg_dev_family_len(up->endpoint.ss_family);

			if (!need || (up->endpoint_len &&
				      (up->endpoint_len < need ||
				       up->endpoint_len > sizeof(up->endpoint))))
				return -EINVAL;
		}
		for (size_t j = 0; j < up->n_allowed_ips; j++) {
			const struct wg_uapi_allowed_ip *a = &up->allowed_ips[j];

			if (!(a->family == AF_INET && a->cidr <= 32) &&
			    !(a->family == AF_INET6 && a->cidr <= 128))
				return -EINVAL;
		}
	}
	return 0;
}

int wg_device_set(struct wg_device *dev, const struct wg_uapi_set *set)
{
	int ret, new_fd = -1, new_family = 0;
	uint16_t new_port = 0;

	ret = wg_dev_validate(set);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&dev->conf_lock);
	/* The one step that can fail for a reason outside the transaction
	 * goes first, so a port in use changes nothing. */
	if (set->has_listen_port && set->listen_port != dev->listen_port) {
		ret = wg_dev_open_socket(set->listen_port,
					 set->has_fwmark ? set->fwmark : dev->fwmark, &new_fd,
					 &new_family, &new_port);
		if (ret < 0) {
			cst_err("cannot bind UDP port %u: %s", set->listen_port, strerror(-ret));
			goto out;
		}
	}
	if (set->has_fwmark) {
		dev->fwmark = set->fwmark;
		pthread_rwlock_rdlock(&dev->sock_lock);
		setsockopt(dev->udp_fd, SOL_SOCKET, SO_MARK, &dev->fwmark, sizeof(dev->fwmark));
		pthread_rwlock_unlock(&dev->sock_lock);
	}
	if (new_fd >= 0)
		wg_dev_swap_socket(dev, new_fd, new_family, new_port);
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
		int r;

		if (up->remove) {
			if (dp)
				wg_dev_remove_peer_locked(dev, dp);
			continue;
		}
		if (!dp) {
			if (up->update_only)
				continue;
			r = wg_dev_add_peer_locked(dev, up->public_key, &dp);
			if (r == -ENOMEM && !ret)
				ret = r;
			if (r < 0)
				continue; /* our own key or a zero key: ignored, as wireguard-go */
		}
		if (up->has_psk)
			wg_proto_set_psk(&dev->proto, dp->peer,
					 sodium_is_zero(up->psk, WG_KEY_LEN) ? NULL : up->psk);
		if (up->has_endpoint)
			wg_peer_set_endpoint(dp->peer, (const struct sockaddr *)&up->endpoint,
					     up->endpoint_len ? up->endpoint_len :
					     wg_dev_family_len(up->endpoint.ss_family));
		if (up->replace_allowed_ips)
			wg_allowedips_remove_by_peer(&dev->aips, dp->peer);
		for (size_t j = 0; j < up->n_allowed_ips; j++) {
			const struct wg_uapi_allowed_ip *a = &up->allowed_ips[j];
			r = wg_allowedips_insert(&dev->aips, a->family, a->addr, a->cidr, dp->peer);
			if (r < 0 && !ret)
				ret = r;
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
	return ret;
}

static int wg_dev_uapi_set(void *ctx, const struct wg_uapi_set *set)
{
	return -wg_device_set(ctx, set);
}

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

/* ---- reading the device (embedding) ---- */

struct wg_dev_aip_list {
	struct wg_device_peer_info *pi;
	size_t cap;
	bool oom;
};

static void wg_dev_collect_aip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct wg_dev_aip_list *l = ctx;
	struct wg_device_peer_info *pi = l->pi;
	struct wg_uapi_allowed_ip *a;

	if (l->oom)
		return;
	if (pi->n_allowed_ips == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct wg_uapi_allowed_ip *grown = realloc(pi->allowed_ips, cap * sizeof(*grown));
		if (!grown) {
			l->oom = true;
			return;
		}
		pi->allowed_ips = grown;
		l->cap = cap;
	}
	a = &pi->allowed_ips[pi->n_allowed_ips++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	a->cidr = cidr;
}

static void wg_dev_stats_read(struct wg_device *dev, struct wg_device_stats *st)
{
	const struct wg_dev_stats *s = &dev->stats;

	st->rx_unknown_index = atomic_load_explicit(&s->rx_unknown_index, memory_order_relaxed);
	st->rx_handshake_rejected =
		atomic_load_explicit(&s->rx_handshake_rejected, memory_order_relaxed);
	st->rx_bad_source = atomic_load_explicit(&s->rx_bad_source, memory_order_relaxed);
	st->rx_auth_failed = atomic_load_explicit(&s->rx_auth_failed, memory_order_relaxed);
	st->rx_malformed = atomic_load_explicit(&s->rx_malformed, memory_order_relaxed);
	st->relay_packets = atomic_load_explicit(&s->relay_packets, memory_order_relaxed);
	st->relay_bytes = atomic_load_explicit(&s->relay_bytes, memory_order_relaxed);
	st->relay_dropped = atomic_load_explicit(&s->relay_dropped, memory_order_relaxed);
}

int wg_device_get_info(struct wg_device *dev, struct wg_device_info *out)
{
	struct wg_identity id;
	size_t n = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&dev->conf_lock);
	out->has_private_key = wg_proto_get_identity(&dev->proto, &id);
	if (out->has_private_key)
		memcpy(out->public_key, id.public_key, WG_KEY_LEN);
	sodium_memzero(&id, sizeof(id));
	out->listen_port = dev->listen_port;
	out->fwmark = dev->fwmark;
	wg_dev_stats_read(dev, &out->stats);
	pthread_mutex_lock(&dev->peers_lock);
	for (struct wg_dev_peer *dp = dev->peers; dp; dp = dp->next)
		n++;
	if (n) {
		out->peers = calloc(n, sizeof(*out->peers));
		if (!out->peers) {
			ret = -ENOMEM;
			goto unlock;
		}
	}
	for (struct wg_dev_peer *dp = dev->peers; dp; dp = dp->next) {
		struct wg_device_peer_info *pi = &out->peers[out->n_peers++];
		struct wg_dev_aip_list l = { .pi = pi };
		struct wg_peer *p = dp->peer;

		memcpy(pi->public_key, p->public_key, WG_KEY_LEN);
		pi->has_endpoint = wg_peer_get_endpoint(p, &pi->endpoint);
		pi->rx_bytes = atomic_load(&p->rx_bytes);
		pi->tx_bytes = atomic_load(&p->tx_bytes);
		pi->last_handshake_wall_ns = atomic_load(&p->last_handshake_wall_ns);
		pi->persistent_keepalive = p->persistent_keepalive_interval;
		wg_allowedips_walk_by_peer(&dev->aips, p, wg_dev_collect_aip, &l);
		if (l.oom) {
			ret = -ENOMEM;
			break;
		}
	}
unlock:
	pthread_mutex_unlock(&dev->peers_lock);
	pthread_mutex_unlock(&dev->conf_lock);
	if (ret < 0)
		wg_device_info_free(out);
	return ret;
}

void wg_device_info_free(struct wg_device_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_peers; i++)
		free(info->peers[i].allowed_ips);
	free(info->peers);
	memset(info, 0, sizeof(*info));
}

int wg_device_initiate(struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	struct wg_dev_peer *dp;
	struct wg_peer *peer = NULL;
	struct wg_identity id;
	struct sockaddr_storage ep;
	bool has_key;
	int ret;

	has_key = wg_proto_get_identity(&dev->proto, &id);
	sodium_memzero(&id, sizeof(id));
	pthread_mutex_lock(&dev->peers_lock);
	dp = wg_dev_find(dev, public_key);
	if (dp)
		peer = wg_peer_get(dp->peer); /* keeps dp alive too: it lives in the peer */
	pthread_mutex_unlock(&dev->peers_lock);
	if (!peer)
		return -ENOENT;
	if (!has_key)
		ret = -ENOKEY;
	else if (!wg_peer_get_endpoint(peer, &ep))
		ret = -EDESTADDRREQ;
	else if (peer->removed)
		ret = -ENOENT;
	else
		ret = wg_dev_send_initiation(dp, false);
	wg_peer_put(peer);
	return ret;
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
	dev->addr_watch_fd = -1;
	dev->tun.fd = -1;
	dev->relay = cfg->relay;
	dev->mtu = cfg->mtu ? cfg->mtu : 1420;
	dev->tcfg = cfg->timers;
	if (!dev->tcfg.rekey_timeout)
		wg_timer_config_default(&dev->tcfg);
	pthread_rwlock_init(&dev->sock_lock, NULL);
	pthread_mutex_init(&dev->tx_lock, NULL);
	pthread_mutex_init(&dev->conf_lock, NULL);
	pthread_mutex_init(&dev->peers_lock, NULL);
	pthread_rwlock_init(&dev->local_lock, NULL);
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
	ret = wg_dev_rebind(dev, cfg->listen_port);
	if (ret < 0)
		goto fail;
	dev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->tx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->rx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->stop_fd < 0 || dev->tx_wake_fd < 0 || dev->rx_wake_fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (dev->relay) {
		/* Watch first, then read: a change in between is not missed. */
		ret = tun_addr_watch_open();
		if (ret < 0)
			cst_warn("cannot watch this namespace's addresses (%s): the relay keeps "
				 "the ones it reads now", strerror(-ret));
		else
			dev->addr_watch_fd = ret;
		wg_dev_local_refresh(dev);
		cst_info("relay on: packets between peers are sealed again in the data path");
	}
	ret = wg_cpool_new_from_env(&dev->cpool);
	if (ret < 0)
		goto fail;
	ret = wg_uapi_server_start(cfg->uapi_dir, dev->tun.name, &ops, dev, &dev->uapi);
	if (ret == -EADDRINUSE) {
		ret = -EBUSY;
		goto fail;
	}
	if (ret < 0 && cfg->uapi_optional) {
		cst_warn("no UAPI socket in %s (%s): `wg` cannot reach this interface",
			 cfg->uapi_dir ? cfg->uapi_dir : "/var/run/wireguard", strerror(-ret));
		dev->uapi = NULL;
		ret = 0;
	}
	if (ret < 0)
		goto fail;
	if ((ret = -pthread_create(&dev->tun_thread, NULL, wg_send_tun_thread, dev)) < 0)
		goto fail_uapi;
	if ((ret = -pthread_create(&dev->udp_thread, NULL, wg_receive_udp_thread, dev)) < 0) {
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
	if (dev->addr_watch_fd >= 0)
		close(dev->addr_watch_fd);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	tun_close(&dev->tun);
	wg_cpool_free(dev->cpool);
	free(dev->local);
	pthread_rwlock_destroy(&dev->local_lock);
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
	wg_cpool_free(dev->cpool); /* its callers are gone */
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
	if (dev->addr_watch_fd >= 0)
		close(dev->addr_watch_fd);
	close(dev->udp_fd);
	tun_close(&dev->tun);
	free(dev->local);
	pthread_rwlock_destroy(&dev->local_lock);
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
