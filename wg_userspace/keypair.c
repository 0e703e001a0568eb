#include "keypair.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cpool.h"
#include "messages.h"
#include "peerlookup.h"

int wg_keypair_new(const uint8_t send_key[WG_KEY_LEN], const uint8_t recv_key[WG_KEY_LEN],
		   bool i_am_initiator, uint64_t now_ns, struct wg_keypair **out)
{
	struct wg_keypair *kp = calloc(1, sizeof(*kp));

	*out = NULL;
	if (!kp)
		return -ENOMEM;
	if (wg_aead_ctx_init(&kp->send, send_key) < 0 || wg_aead_ctx_init(&kp->recv, recv_key) < 0) {
		wg_aead_ctx_cleanup(&kp->send);
		wg_aead_ctx_cleanup(&kp->recv);
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
	/* cleanup wipes the key material held by the contexts */
	wg_aead_ctx_cleanup(&kp->send);
	wg_aead_ctx_cleanup(&kp->recv);
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

ssize_t wg_keypair_seal_prepare(struct wg_keypair *kp, uint8_t *dst, size_t dst_cap,
				const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns,
				uint64_t *counter_out)
{
	struct wg_msg_transport *hdr = (struct wg_msg_transport *)dst;
	size_t total = wg_keypair_sealed_size(len, mtu);
	size_t padded = total - WG_MSG_TRANSPORT_HEADER_LEN - WG_TAG_LEN;
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
	if (counter_out)
		*counter_out = counter;
	return (ssize_t)total;
}

int wg_keypair_seal_encrypt(struct wg_keypair *kp, uint8_t *msg, size_t len)
{
	struct wg_msg_transport *hdr = (struct wg_msg_transport *)msg;
	size_t padded = len - WG_MSG_TRANSPORT_HEADER_LEN - WG_TAG_LEN;
	uint8_t nonce[12];

	wg_keypair_nonce(nonce, wg_le64(hdr->counter));
	return wg_aead_ctx_seal(&kp->send, hdr->encrypted, nonce, hdr->encrypted, padded, NULL, 0);
}

ssize_t wg_keypair_seal(struct wg_keypair *kp, uint8_t *dst, size_t dst_cap,
			const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns,
			uint64_t *counter_out)
{
	ssize_t m = wg_keypair_seal_prepare(kp, dst, dst_cap, src, len, mtu, now_ns, counter_out);

	if (m < 0)
		return m;
	return wg_keypair_seal_encrypt(kp, dst, (size_t)m) < 0 ? -EIO : m;
}

/* Called with kp->replay_lock held. */
static ssize_t wg_keypair_open_locked(struct wg_keypair *kp, uint8_t *dst, const uint8_t *msg,
				      size_t len, uint64_t *counter_out)
{
	const struct wg_msg_transport *hdr = (const struct wg_msg_transport *)msg;
	uint8_t nonce[12];
	uint64_t counter;

	if (len < WG_MSG_TRANSPORT_MIN_LEN || wg_msg_type(msg, len) != WG_MSG_TRANSPORT ||
	    hdr->receiver_index != kp->local_index)
		return -EINVAL;
	counter = wg_le64(hdr->counter);
	/* a cheap pre-check: no decryption spent on an obvious replay */
	if (!wg_replay_would_accept(&kp->replay, counter, WG_REJECT_AFTER_MESSAGES))
		return -EALREADY;
	wg_keypair_nonce(nonce, counter);
	if (wg_aead_ctx_open(&kp->recv, dst, nonce, hdr->encrypted,
			     len - WG_MSG_TRANSPORT_HEADER_LEN, NULL, 0) < 0)
		return -EBADMSG;
	/* Only an authenticated counter may move the window. */
	if (!wg_replay_check_and_update(&kp->replay, counter, WG_REJECT_AFTER_MESSAGES))
		return -EALREADY;
	*counter_out = counter;
	return (ssize_t)(len - WG_MSG_TRANSPORT_HEADER_LEN - WG_TAG_LEN);
}

/* The parallel open of a large batch, in three steps so that only the
 * decryption runs beside other threads and the replay window moves in the
 * batch's order: (1) under the lock, the format and the cheap replay
 * pre-check; (2) on the pool, the decryption of what passed; (3) under the
 * lock again, in order, the authoritative check_and_update for what
 * authenticated: a packet that failed authentication never touches the
 * window. The results are the serial path's: a counter seen twice in the
 * batch opens once, the second is -EALREADY in step 3 instead of step 1. */
struct wg_keypair_open_job {
	struct wg_keypair *kp;
	struct wg_open_item *items;
};

#define WG_OPEN_PENDING 1 /* result between steps 1 and 2 */

static void wg_keypair_open_one(void *arg, unsigned i)
{
	struct wg_keypair_open_job *job = arg;
	struct wg_open_item *it = &job->items[i];
	const struct wg_msg_transport *hdr = (const struct wg_msg_transport *)it->msg;
	uint8_t nonce[12];

	if (it->result != WG_OPEN_PENDING)
		return;
	it->counter = wg_le64(hdr->counter);
	wg_keypair_nonce(nonce, it->counter);
	if (wg_aead_ctx_open(&job->kp->recv, it->dst, nonce, hdr->encrypted,
			     it->len - WG_MSG_TRANSPORT_HEADER_LEN, NULL, 0) < 0)
		it->result = -EBADMSG;
	else
		it->result = (ssize_t)(it->len - WG_MSG_TRANSPORT_HEADER_LEN - WG_TAG_LEN);
}

static size_t wg_keypair_open_parallel(struct wg_keypair *kp, struct wg_open_item *items,
				       size_t n, struct wg_cpool *pool)
{
	struct wg_keypair_open_job job = { .kp = kp, .items = items };
	size_t ok = 0;

	pthread_mutex_lock(&kp->replay_lock);
	for (size_t i = 0; i < n; i++) {
		const struct wg_msg_transport *hdr = (const struct wg_msg_transport *)items[i].msg;

		if (items[i].len < WG_MSG_TRANSPORT_MIN_LEN ||
		    wg_msg_type(items[i].msg, items[i].len) != WG_MSG_TRANSPORT ||
		    hdr->receiver_index != kp->local_index)
			items[i].result = -EINVAL;
		else if (!wg_replay_would_accept(&kp->replay, wg_le64(hdr->counter),
						 WG_REJECT_AFTER_MESSAGES))
			items[i].result = -EALREADY;
		else
			items[i].result = WG_OPEN_PENDING;
	}
	pthread_mutex_unlock(&kp->replay_lock);
	wg_cpool_run(pool, wg_keypair_open_one, &job, (unsigned)n);
	pthread_mutex_lock(&kp->replay_lock);
	for (size_t i = 0; i < n; i++) {
		if (items[i].result < 0)
			continue;
		if (!wg_replay_check_and_update(&kp->replay, items[i].counter,
						WG_REJECT_AFTER_MESSAGES)) {
			items[i].result = -EALREADY;
			continue;
		}
		ok++;
	}
	pthread_mutex_unlock(&kp->replay_lock);
	return ok;
}

size_t wg_keypair_open_batch(struct wg_keypair *kp, struct wg_open_item *items, size_t n,
			     uint64_t now_ns, struct wg_cpool *pool)
{
	size_t ok = 0, bytes = 0;

	if (wg_keypair_expired(kp, now_ns)) {
		for (size_t i = 0; i < n; i++)
			items[i].result = -EKEYEXPIRED;
		return 0;
	}
	if (pool) {
		for (size_t i = 0; i < n; i++)
			bytes += items[i].len;
		if (wg_cpool_worth(pool, (unsigned)n, bytes))
			return wg_keypair_open_parallel(kp, items, n, pool);
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
	wg_keypair_open_batch(kp, &it, 1, now_ns, NULL);
	if (it.result >= 0 && counter_out)
		*counter_out = it.counter;
	return it.result;
}
