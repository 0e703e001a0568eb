#include "proto.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto.h"

int wg_proto_init(struct wg_proto *p)
{
	int ret;

	memset(p, 0, sizeof(*p));
	ret = wg_crypto_init();
	if (ret < 0)
		return ret;
	pthread_rwlock_init(&p->identity_lock, NULL);
	wg_index_table_init(&p->index);
	wg_pubkey_table_init(&p->peers);
	wg_cookie_checker_init(&p->cookie_checker);
	wg_ratelimiter_init(&p->ratelimiter);
	return 0;
}

static int wg_proto_zero_peer(struct wg_peer *peer, void *ctx)
{
	(void)ctx;
	wg_peer_zero_keys(peer);
	return 0;
}

void wg_proto_deinit(struct wg_proto *p)
{
	/* Keypairs hold their index entries: drop them before the tables. */
	wg_pubkey_table_foreach(&p->peers, wg_proto_zero_peer, NULL);
	wg_pubkey_table_deinit(&p->peers);
	wg_index_table_deinit(&p->index);
	wg_cookie_checker_deinit(&p->cookie_checker);
	wg_ratelimiter_deinit(&p->ratelimiter);
	wg_identity_clear(&p->identity);
	pthread_rwlock_destroy(&p->identity_lock);
}

static int wg_proto_rekey_peer(struct wg_peer *peer, void *ctx)
{
	const struct wg_identity *id = ctx;

	/* Sessions made with the old key are void (as in wireguard-go). */
	wg_peer_zero_keys(peer);
	pthread_mutex_lock(&peer->lock);
	wg_noise_handshake_rekey_identity(&peer->handshake, id);
	pthread_mutex_unlock(&peer->lock);
	return 0;
}

int wg_proto_set_private_key(struct wg_proto *p, const uint8_t key[WG_KEY_LEN])
{
	struct wg_identity id = { 0 };
	int ret = 0;

	if (key && !wg_key_is_zero(key)) {
		ret = wg_identity_set_private_key(&id, key);
		if (ret < 0)
			goto out;
	}
	/* Setting the key we already have changes nothing (`wg syncconf` sends it
	 * every time): sessions must survive it, as in wireguard-go. */
	pthread_rwlock_rdlock(&p->identity_lock);
	if (p->identity.has_key == id.has_key &&
	    sodium_memcmp(p->identity.private_key, id.private_key, WG_KEY_LEN) == 0) {
		pthread_rwlock_unlock(&p->identity_lock);
		goto out;
	}
	pthread_rwlock_unlock(&p->identity_lock);
	pthread_rwlock_wrlock(&p->identity_lock);
	p->identity = id;
	pthread_rwlock_unlock(&p->identity_lock);
	wg_cookie_checker_set_key(&p->cookie_checker, id.has_key ? id.public_key : NULL);
	wg_pubkey_table_foreach(&p->peers, wg_proto_rekey_peer, &id);
out:
	sodium_memzero(&id, sizeof(id));
	return ret;
}

bool wg_proto_get_identity(struct wg_proto *p, struct wg_identity *out)
{
	pthread_rwlock_rdlock(&p->identity_lock);
	*out = p->identity;
	pthread_rwlock_unlock(&p->identity_lock);
	return out->has_key;
}

int wg_proto_add_peer(struct wg_proto *p, const uint8_t public_key[WG_KEY_LEN],
		      const uint8_t *psk, struct wg_peer **out)
{
	struct wg_identity id;
	struct wg_peer *peer = NULL;
	int ret;

	if (out)
		*out = NULL;
	wg_proto_get_identity(p, &id);
	if (id.has_key && sodium_memcmp(id.public_key, public_key, WG_KEY_LEN) == 0) {
		ret = -EINVAL;
		goto out;
	}
	ret = wg_peer_new(&id, public_key, psk, &p->index, &peer);
	if (ret < 0)
		goto out;
	ret = wg_pubkey_table_insert(&p->peers, peer);
	if (ret < 0)
		goto out;
	if (out)
		*out = wg_peer_get(peer);
out:
	wg_peer_put(peer);
	sodium_memzero(&id, sizeof(id));
	return ret;
}

struct wg_peer *wg_proto_find_peer(struct wg_proto *p, const uint8_t public_key[WG_KEY_LEN])
{
	return wg_pubkey_table_lookup(&p->peers, public_key);
}

void wg_proto_remove_peer(struct wg_proto *p, struct wg_peer *peer)
{
	peer->removed = true;
	wg_pubkey_table_remove(&p->peers, peer);
	wg_peer_zero_keys(peer);
}

void wg_proto_set_psk(struct wg_proto *p, struct wg_peer *peer, const uint8_t *psk)
{
	(void)p;
	pthread_mutex_lock(&peer->lock);
	wg_noise_handshake_set_psk(&peer->handshake, psk);
	pthread_mutex_unlock(&peer->lock);
}

int wg_proto_create_initiation(struct wg_proto *p, struct wg_peer *peer,
			       struct wg_msg_initiation *msg, uint64_t now_ns, uint64_t wall_ns)
{
	struct wg_identity id;
	int ret;

	wg_proto_get_identity(p, &id);
	ret = wg_peer_create_initiation(peer, &id, msg, now_ns, wall_ns);
	sodium_memzero(&id, sizeof(id));
	return ret;
}

int wg_proto_create_response(struct wg_proto *p, struct wg_peer *peer,
			     struct wg_msg_response *msg, uint64_t now_ns, uint64_t wall_ns)
{
	struct wg_identity id;
	int ret;

	wg_proto_get_identity(p, &id);
	ret = wg_peer_create_response(peer, &id, msg, now_ns, wall_ns);
	sodium_memzero(&id, sizeof(id));
	return ret;
}

void wg_proto_result_release(struct wg_proto_result *res)
{
	wg_keypair_put(res->keypair);
	wg_peer_put(res->peer);
	res->keypair = NULL;
	res->peer = NULL;
}

static int wg_proto_receive_handshake(struct wg_proto *p, uint32_t type, const uint8_t *buf,
				      size_t len, const struct sockaddr *src, socklen_t srclen,
				      bool under_load, uint64_t now_ns, uint64_t wall_ns,
				      struct wg_proto_result *res)
{
	enum wg_cookie_mac_state mac;
	struct wg_identity id;
	int ret;

	mac = wg_cookie_validate(&p->cookie_checker, buf, len, src, under_load, now_ns);
	if (mac == WG_COOKIE_INVALID_MAC)
		return -EBADMSG;
	if (under_load && mac != WG_COOKIE_VALID_MAC_WITH_COOKIE) {
		ret = wg_cookie_create_reply(&p->cookie_checker, &res->cookie_reply, buf, len,
					     src, now_ns);
		if (ret == 0)
			res->event = WG_PROTO_SEND_COOKIE;
		return ret;
	}
	/* Proven source address (mac2) but still many: limit per source. */
	if (under_load && !wg_ratelimiter_allow(&p->ratelimiter, src, now_ns))
		return -EAGAIN;
	wg_proto_get_identity(p, &id);
	if (type == WG_MSG_INITIATION) {
		ret = wg_peer_consume_initiation(&id, &p->peers,
						 (const struct wg_msg_initiation *)buf, now_ns,
						 &res->peer);
		res->event = WG_PROTO_INITIATION;
	} else {
		ret = wg_peer_consume_response(&id, &p->index, (const struct wg_msg_response *)buf,
					       now_ns, wall_ns, &res->peer);
		res->event = WG_PROTO_RESPONSE;
	}
	sodium_memzero(&id, sizeof(id));
	if (ret < 0) {
		res->event = WG_PROTO_NONE;
		return ret;
	}
	wg_peer_set_endpoint(res->peer, src, srclen);
	atomic_fetch_add(&res->peer->rx_bytes, len);
	return 0;
}

static int wg_proto_receive_data(struct wg_proto *p, const uint8_t *buf, size_t len,
				 const struct sockaddr *src, socklen_t srclen, uint64_t now_ns,
				 uint8_t *plain, size_t plain_cap, struct wg_proto_result *res)
{
	const struct wg_msg_transport *hdr = (const struct wg_msg_transport *)buf;
	struct wg_keypair *kp = NULL;
	struct wg_peer *peer;
	ssize_t n;

	if (plain_cap < len - WG_MSG_TRANSPORT_MIN_LEN)
		return -ENOSPC;
	peer = wg_index_table_lookup(&p->index, hdr->receiver_index, WG_INDEX_KEYPAIR, &kp);
	if (!peer)
		return -ENOENT;
	n = wg_keypair_open(kp, plain, buf, len, now_ns, &res->counter);
	if (n < 0) {
		wg_keypair_put(kp);
		wg_peer_put(peer);
		return (int)n;
	}
	res->event = WG_PROTO_DATA;
	res->peer = peer;
	res->keypair = kp;
	res->plain_len = (size_t)n;
	res->keypair_confirmed = wg_peer_received_with_keypair(peer, kp);
	wg_peer_set_endpoint(peer, src, srclen);
	atomic_fetch_add(&peer->rx_bytes, len);
	return 0;
}

int wg_proto_receive(struct wg_proto *p, const uint8_t *buf, size_t len,
		     const struct sockaddr *src, socklen_t srclen, bool under_load,
		     uint64_t now_ns, uint64_t wall_ns, uint8_t *plain, size_t plain_cap,
		     struct wg_proto_result *res)
{
	uint32_t type = wg_msg_type(buf, len);

	memset(res, 0, sizeof(*res));
	switch (type) {
	case WG_MSG_INITIATION:
		if (len != WG_MSG_INITIATION_LEN)
			return -EINVAL;
		return wg_proto_receive_handshake(p, type, buf, len, src, srclen, under_load,
						  now_ns, wall_ns, res);
	case WG_MSG_RESPONSE:
		if (len != WG_MSG_RESPONSE_LEN)
			return -EINVAL;
		return wg_proto_receive_handshake(p, type, buf, len, src, srclen, under_load,
						  now_ns, wall_ns, res);
	case WG_MSG_COOKIE_REPLY: {
		int ret;
		if (len != WG_MSG_COOKIE_REPLY_LEN)
			return -EINVAL;
		ret = wg_peer_consume_cookie_reply(&p->index,
						   (const struct wg_msg_cookie_reply *)buf, now_ns);
		if (ret == -EINVAL)
			ret = -EBADMSG; /* nothing of ours it could answer */
		if (ret == 0)
			res->event = WG_PROTO_COOKIE;
		return ret;
	}
	case WG_MSG_TRANSPORT:
		if (len < WG_MSG_TRANSPORT_MIN_LEN)
			return -EINVAL;
		return wg_proto_receive_data(p, buf, len, src, srclen, now_ns, plain, plain_cap, res);
	default:
		return -EINVAL;
	}
}

ssize_t wg_proto_seal(struct wg_proto *p, struct wg_peer *peer, uint8_t *dst, size_t dst_cap,
		      const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns)
{
	struct wg_keypair *kp = wg_peer_current_keypair(peer);
	ssize_t n;

	(void)p;
	if (!kp)
		return -ENOKEY;
	n = wg_keypair_seal(kp, dst, dst_cap, src, len, mtu, now_ns, NULL);
	wg_keypair_put(kp);
	if (n > 0)
		atomic_fetch_add(&peer->tx_bytes, (uint64_t)n);
	return n;
}
