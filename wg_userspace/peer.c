#include "peer.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int wg_peer_new(const struct wg_identity *id, const uint8_t public_key[WG_KEY_LEN],
		const uint8_t *psk, struct wg_index_table *index_table, struct wg_peer **out)
{
	struct wg_peer *peer;

	*out = NULL;
	if (wg_key_is_zero(public_key))
		return -EINVAL;
	peer = calloc(1, sizeof(*peer));
	if (!peer)
		return -ENOMEM;
	memcpy(peer->public_key, public_key, WG_KEY_LEN);
	pthread_mutex_init(&peer->lock, NULL);
	wg_noise_handshake_init(&peer->handshake, id, public_key, psk);
	wg_cookie_maker_init(&peer->cookie, public_key);
	atomic_init(&peer->refcount, 1);
	peer->index_table = index_table;
	*out = peer;
	return 0;
}

struct wg_peer *wg_peer_get(struct wg_peer *peer)
{
	if (peer)
		atomic_fetch_add_explicit(&peer->refcount, 1, memory_order_relaxed);
	return peer;
}

/* Called with peer->lock held. */
static void wg_peer_drop_handshake_index(struct wg_peer *peer)
{
	if (peer->handshake.local_index)
		wg_index_table_remove(peer->index_table, peer->handshake.local_index, peer, NULL);
}

void wg_peer_zero_keys(struct wg_peer *peer)
{
	struct wg_keypair *prev, *cur, *next;

	pthread_mutex_lock(&peer->lock);
	prev = peer->keypair_previous;
	cur = peer->keypair_current;
	next = peer->keypair_next;
	peer->keypair_previous = peer->keypair_current = peer->keypair_next = NULL;
	wg_peer_drop_handshake_index(peer);
	wg_noise_handshake_clear(&peer->handshake);
	pthread_mutex_unlock(&peer->lock);
	wg_keypair_put(prev);
	wg_keypair_put(cur);
	wg_keypair_put(next);
}

void wg_peer_put(struct wg_peer *peer)
{
	if (!peer || atomic_fetch_sub_explicit(&peer->refcount, 1, memory_order_acq_rel) != 1)
		return;
	wg_peer_zero_keys(peer);
	if (peer->user_free)
		peer->user_free(peer->user);
	pthread_mutex_destroy(&peer->lock);
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

struct wg_keypair *wg_peer_current_keypair(struct wg_peer *peer)
{
	struct wg_keypair *kp;

	pthread_mutex_lock(&peer->lock);
	kp = wg_keypair_get(peer->keypair_current);
	pthread_mutex_unlock(&peer->lock);
	return kp;
}

int wg_peer_create_initiation(struct wg_peer *peer, const struct wg_identity *id,
			      struct wg_msg_initiation *msg, uint64_t now_ns, uint64_t wall_ns)
{
	uint32_t index;
	int ret;

	ret = wg_index_table_insert_handshake(peer->index_table, peer, &index);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&peer->lock);
	wg_peer_drop_handshake_index(peer);
	ret = wg_noise_create_initiation(id, &peer->handshake, msg, index, wall_ns);
	if (ret < 0) {
		wg_noise_handshake_clear(&peer->handshake);
		wg_index_table_remove(peer->index_table, index, peer, NULL);
	} else {
		wg_cookie_add_macs(&peer->cookie, (uint8_t *)msg, sizeof(*msg), now_ns);
	}
	pthread_mutex_unlock(&peer->lock);
	return ret;
}

int wg_peer_consume_initiation(const struct wg_identity *id, struct wg_pubkey_table *peers,
			       const struct wg_msg_initiation *msg, uint64_t now_ns,
			       struct wg_peer **peer_out)
{
	struct wg_noise_initiation_partial p;
	struct wg_peer *peer;
	int ret;

	*peer_out = NULL;
	ret = wg_noise_consume_initiation_begin(id, msg, &p);
	if (ret < 0)
		return ret;
	peer = wg_pubkey_table_lookup(peers, p.remote_static);
	if (!peer) {
		sodium_memzero(&p, sizeof(p));
		return -ENOKEY;
	}
	pthread_mutex_lock(&peer->lock);
	ret = wg_noise_consume_initiation_finish(&peer->handshake, msg, &p, now_ns);
	if (ret == 0) {
		/* A pending initiation of ours is superseded by theirs. */
		wg_peer_drop_handshake_index(peer);
		peer->handshake.local_index = 0;
	}
	pthread_mutex_unlock(&peer->lock);
	if (ret < 0) {
		wg_peer_put(peer);
		return ret;
	}
	*peer_out = peer;
	return 0;
}

/* Installs a new session keypair per the slot rules; called with the lock.
 * Returns the keypairs to release once the lock is dropped. */
static void wg_peer_install_keypair(struct wg_peer *peer, struct wg_keypair *kp,
				    struct wg_keypair *release[2])
{
	release[0] = release[1] = NULL;
	if (kp->i_am_initiator) {
		/* Ours is confirmed by the response: it becomes current at once.
		 * An unconfirmed "next" from a crossed handshake becomes previous so
		 * late packets under it still decrypt. */
		if (peer->keypair_next) {
			release[0] = peer->keypair_previous;
			peer->keypair_previous = peer->keypair_next;
			peer->keypair_next = NULL;
			release[1] = peer->keypair_current;
		} else {
			release[0] = peer->keypair_previous;
			peer->keypair_previous = peer->keypair_current;
		}
		peer->keypair_current = kp;
	} else {
		/* The responder may not send on it until the initiator has used
		 * it (key confirmation): park it in "next". */
		release[0] = peer->keypair_next;
		peer->keypair_next = kp;
		release[1] = peer->keypair_previous;
		peer->keypair_previous = NULL;
	}
}

/* Derives the session from a completed handshake; called with the lock. */
static int wg_peer_begin_session(struct wg_peer *peer, uint64_t now_ns, uint64_t wall_ns,
				 struct wg_keypair *release[2])
{
	uint8_t send[WG_KEY_LEN], recv[WG_KEY_LEN];
	uint32_t local = peer->handshake.local_index, remote = peer->handshake.remote_index;
	struct wg_keypair *kp = NULL;
	bool initiator;
	int ret;

	ret = wg_noise_derive_keys(&peer->handshake, send, recv, &initiator);
	if (ret < 0)
		goto out;
	ret = wg_keypair_new(send, recv, initiator, now_ns, &kp);
	if (ret < 0)
		goto out;
	kp->remote_index = remote;
	kp->peer = peer;
	ret = wg_index_table_promote(peer->index_table, local, peer, kp);
	if (ret < 0) {
		wg_keypair_put(kp);
		goto out;
	}
	wg_peer_install_keypair(peer, kp, release);
	atomic_store(&peer->last_handshake_wall_ns, wall_ns);
out:
	sodium_memzero(send, sizeof(send));
	sodium_memzero(recv, sizeof(recv));
	return ret;
}

int wg_peer_create_response(struct wg_peer *peer, const struct wg_identity *id,
			    struct wg_msg_response *msg, uint64_t now_ns, uint64_t wall_ns)
{
	struct wg_keypair *release[2] = { NULL, NULL };
	uint32_t index;
	int ret;

	(void)id;
	ret = wg_index_table_insert_handshake(peer->index_table, peer, &index);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&peer->lock);
	ret = wg_noise_create_response(&peer->handshake, msg, index);
	if (ret < 0) {
		wg_index_table_remove(peer->index_table, index, peer, NULL);
		goto out;
	}
	wg_cookie_add_macs(&peer->cookie, (uint8_t *)msg, sizeof(*msg), now_ns);
	ret = wg_peer_begin_session(peer, now_ns, wall_ns, release);
	if (ret < 0)
		wg_index_table_remove(peer->index_table, index, peer, NULL);
out:
	pthread_mutex_unlock(&peer->lock);
	wg_keypair_put(release[0]);
	wg_keypair_put(release[1]);
	return ret;
}

int wg_peer_consume_response(const struct wg_identity *id, struct wg_index_table *index,
			     const struct wg_msg_response *msg, uint64_t now_ns,
			     uint64_t wall_ns, struct wg_peer **peer_out)
{
	struct wg_keypair *release[2] = { NULL, NULL };
	struct wg_peer *peer;
	int ret;

	*peer_out = NULL;
	peer = wg_index_table_lookup(index, msg->receiver_index, WG_INDEX_HANDSHAKE, NULL);
	if (!peer)
		return -ENOENT;
	pthread_mutex_lock(&peer->lock);
	ret = wg_noise_consume_response(id, &peer->handshake, msg);
	if (ret == 0)
		ret = wg_peer_begin_session(peer, now_ns, wall_ns, release);
	pthread_mutex_unlock(&peer->lock);
	wg_keypair_put(release[0]);
	wg_keypair_put(release[1]);
	if (ret < 0) {
		wg_peer_put(peer);
		return ret;
	}
	*peer_out = peer;
	return 0;
}

int wg_peer_consume_cookie_reply(struct wg_index_table *index,
				 const struct wg_msg_cookie_reply *reply, uint64_t now_ns)
{
	struct wg_peer *peer;
	int ret;

	peer = wg_index_table_lookup(index, reply->receiver_index, WG_INDEX_ANY, NULL);
	if (!peer)
		return -ENOENT;
	pthread_mutex_lock(&peer->lock);
	ret = wg_cookie_consume_reply(&peer->cookie, reply, now_ns);
	pthread_mutex_unlock(&peer->lock);
	wg_peer_put(peer);
	return ret;
}

bool wg_peer_received_with_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
	struct wg_keypair *old = NULL;
	bool rotated = false;

	pthread_mutex_lock(&peer->lock);
	if (kp && kp == peer->keypair_next) {
		old = peer->keypair_previous;
		peer->keypair_previous = peer->keypair_current;
		peer->keypair_current = peer->keypair_next;
		peer->keypair_next = NULL;
		rotated = true;
	}
	pthread_mutex_unlock(&peer->lock);
	wg_keypair_put(old);
	return rotated;
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof(peer->endpoint))
		return;
	pthread_mutex_lock(&peer->lock);
	memset(&peer->endpoint, 0, sizeof(peer->endpoint));
	memcpy(&peer->endpoint, sa, len);
	peer->has_endpoint = true;
	pthread_mutex_unlock(&peer->lock);
}

bool wg_peer_get_endpoint(struct wg_peer *peer, struct sockaddr_storage *out)
{
	bool has;

	pthread_mutex_lock(&peer->lock);
	has = peer->has_endpoint;
	if (has)
		*out = peer->endpoint;
	pthread_mutex_unlock(&peer->lock);
	return has;
}
