#include "keypair.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "messages.h"
#include "peerlookup.h"

int wg_keypair_new(const uint8_t send_key[WG_KEY_LEN], const uint8_t recv_key[WG_KEY_LEN],
		   bool i_am_initiator, uint64_t now_ns, struct wg_keypair **out)
{
	struct wg_keypair *kp = calloc(1, sizeof(*kp));

	*out = NULL;
	if (!kp)
		return -ENOMEM;
	EVP_AEAD_CTX_zero(&kp->send);
	EVP_AEAD_CTX_zero(&kp->recv);
	if (!EVP_AEAD_CTX_init(&kp->send, EVP_aead_chacha20_poly1305(), send_key, WG_KEY_LEN,
			       WG_TAG_LEN, NULL) ||
	    !EVP_AEAD_CTX_init(&kp->recv, EVP_aead_chacha20_poly1305(), recv_key, WG_KEY_LEN,
			       WG_TAG_LEN, NULL)) {
		EVP_AEAD_CTX_cleanup(&kp->send);
		EVP_AEAD_CTX_cleanup(&kp->recv);
		free(kp);
		return -EIO;
	}
	pthread_mutex_init(&kp->replay_lock, NULL);
	wg_replay_init(&kp->replay);
	atomic_init(&kp->send_counter, 0);
	atomic_init(&kp->refcount, 1);
	kp->birth_ns = now_ns;
	kp->i_am_initiator = i_am_initiator;
	*out = kp;
	return 0;
}

struct wg_keypair *wg_keypair_get(struct wg_keypair *kp)
{
	if (kp)
		atomic_fetch_add_explicit(&kp->refcount, 1, memory_order_relaxed);
	return kp;
}

void wg_keypair_put(struct wg_keypair *kp)
{
	if (!kp || atomic_fetch_sub_explicit(&kp->refcount, 1, memory_order_acq_rel) != 1)
		return;
	if (kp->index_table)
		wg_index_table_remove(kp->index_table, kp->local_index, NULL, kp);
	/* cleanup wipes the expanded key material held by the contexts. */
	EVP_AEAD_CTX_cleanup(&kp->send);
	EVP_AEAD_CTX_cleanup(&kp->recv);
	pthread_mutex_destroy(&kp->replay_lock);
	sodium_memzero(kp, sizeof(*kp));
	free(kp);
}

static void wg_keypair_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	memcpy(nonce + 4, &counter, 8); /* little-endian host (messages.h) */
}

size_t wg_keypair_sealed_size(size_t len, size_t mtu)
{
	size_t padded = (len + WG_MSG_PADDING - 1) & ~(size_t)(WG_MSG_PADDING - 1);

	/* Padding never pushes the packet past the MTU (whitepaper §5.4.6). */
	if (mtu && padded > mtu)
		padded = len > mtu ? len : mtu;
	return WG_MSG_TRANSPORT_HEADER_LEN + padded + WG_TAG_LEN;
}

static bool wg_keypair_expired(const struct wg_keypair *kp, uint64_t now_ns)
{
	return now_ns - kp->birth_ns >= WG_REJECT_AFTER_TIME_NS;
}

ssize_t wg_keypair_seal(struct wg_keypair *kp, uint8_t *dst, size_t dst_cap,
			const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns,
			uint64_t *counter_out)
{
	struct wg_msg_transport *hdr = (struct wg_msg_transport *)dst;
	size_t total = wg_keypair_sealed_size(len, mtu);
	size_t padded = total - WG_MSG_TRANSPORT_HEADER_LEN - WG_TAG_LEN, out_len = 0;
	uint8_t nonce[12];
	uint64_t counter;

	if (total > dst_cap)
		return -ENOSPC;
	if (wg_keypair_expired(kp, now_ns))
		return -EKEYEXPIRED;
	counter = atomic_fetch_add_explicit(&kp->send_counter, 1, memory_order_relaxed);
	if (counter >= WG_REJECT_AFTER_MESSAGES) {
		/* Keep the counter saturated so later callers fail too. */
		atomic_store_explicit(&kp->send_counter, WG_REJECT_AFTER_MESSAGES,
				      memory_order_relaxed);
		return -EKEYEXPIRED;
	}
	if (len && src != hdr->encrypted)
		memmove(hdr->encrypted, src, len); /* len 0 (keepalive) may come with src NULL */
	memset(hdr->encrypted + len, 0, padded - len);
	hdr->type = wg_le32(WG_MSG_TRANSPORT);
	hdr->receiver_index = kp->remote_index;
	hdr->counter = wg_le64(counter);
	wg_keypair_nonce(nonce, counter);
	if (!EVP_AEAD_CTX_seal(&kp->send, hdr->encrypted, &out_len, padded + WG_TAG_LEN, nonce,
			       sizeof(nonce), hdr->encrypted, padded, NULL, 0))
		return -EIO;
	if (counter_out)
		*counter_out = counter;
	return (ssize_t)total;
}

/* Called with kp->replay_lock held. */
static ssize_t wg_keypair_open_locked(struct wg_keypair *kp, uint8_t *dst, const uint8_t *msg,
				      size_t len, uint64_t *counter_out)
{
	const struct wg_msg_transport *hdr = (const struct wg_msg_transport *)msg;
	uint8_t nonce[12];
	uint64_t counter;
	size_t out_len = 0;

	if (len < WG_MSG_TRANSPORT_MIN_LEN || wg_msg_type(msg, len) != WG_MSG_TRANSPORT ||
	    hdr->receiver_index != kp->local_index)
		return -EINVAL;
	counter = wg_le64(hdr->counter);
	/* a cheap pre-check: no decryption spent on an obvious replay */
	if (!wg_replay_would_accept(&kp->replay, counter, WG_REJECT_AFTER_MESSAGES))
		return -EALREADY;
	wg_keypair_nonce(nonce, counter);
	if (!EVP_AEAD_CTX_open(&kp->recv, dst, &out_len, len - WG_MSG_TRANSPORT_HEADER_LEN,
			       nonce, sizeof(nonce), hdr->encrypted,
			       len - WG_MSG_TRANSPORT_HEADER_LEN, NULL, 0))
		return -EBADMSG;
	/* Only an authenticated counter may move the window. */
	if (!wg_replay_check_and_update(&kp->replay, counter, WG_REJECT_AFTER_MESSAGES))
		return -EALREADY;
	*counter_out = counter;
	return (ssize_t)out_len;
}

size_t wg_keypair_open_batch(struct wg_keypair *kp, struct wg_open_item *items, size_t n,
			     uint64_t now_ns)
{
	size_t ok = 0;

	if (wg_keypair_expired(kp, now_ns)) {
		for (size_t i = 0; i < n; i++)
			items[i].result = -EKEYEXPIRED;
		return 0;
	}
	pthread_mutex_lock(&kp->replay_lock);
	for (size_t i = 0; i < n; i++) {
		items[i].result = wg_keypair_open_locked(kp, items[i].dst, items[i].msg,
							 items[i].len, &items[i].counter);
		if (items[i].result >= 0)
			ok++;
	}
	pthread_mutex_unlock(&kp->replay_lock);
	return ok;
}

ssize_t wg_keypair_open(struct wg_keypair *kp, uint8_t *dst, const uint8_t *msg, size_t len,
			uint64_t now_ns, uint64_t *counter_out)
{
	struct wg_open_item it = { .msg = msg, .len = len, .dst = dst };
	const struct wg_msg_transport *hdr = (const struct wg_msg_transport *)msg;

	/* malformed beats expired, as before */
	if (len < WG_MSG_TRANSPORT_MIN_LEN || wg_msg_type(msg, len) != WG_MSG_TRANSPORT ||
	    hdr->receiver_index != kp->local_index)
		return -EINVAL;
	wg_keypair_open_batch(kp, &it, 1, now_ns);
	if (it.result >= 0 && counter_out)
		*counter_out = it.counter;
	return it.result;
}
