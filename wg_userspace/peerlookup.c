#include "peerlookup.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "keypair.h"
#include "peer.h"

static unsigned wg_index_bucket(const struct wg_index_table *t, uint32_t index)
{
	/* Indices are random, but an attacker controls the ones it sends:
	 * hashing with a secret key keeps chains short for lookups. */
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const uint8_t *)&index, sizeof(index), t->hash_key);
	memcpy(&v, h, sizeof(v));
	return (unsigned)(v % WG_INDEX_BUCKETS);
}

int wg_index_table_init(struct wg_index_table *t)
{
	memset(t, 0, sizeof(*t));
	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	return -pthread_rwlock_init(&t->lock, NULL);
}

void wg_index_table_deinit(struct wg_index_table *t)
{
	for (unsigned i = 0; i < WG_INDEX_BUCKETS; i++) {
		struct wg_index_entry *e = t->buckets[i];
		while (e) {
			struct wg_index_entry *n = e->next;
			free(e);
			e = n;
		}
		t->buckets[i] = NULL;
	}
	pthread_rwlock_destroy(&t->lock);
}

static struct wg_index_entry *wg_index_find(struct wg_index_table *t, uint32_t index,
					    struct wg_index_entry ***link)
{
	struct wg_index_entry **pp = &t->buckets[wg_index_bucket(t, index)];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->index == index) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

int wg_index_table_insert_handshake(struct wg_index_table *t, struct wg_peer *peer,
				    uint32_t *index_out)
{
	struct wg_index_entry *e = calloc(1, sizeof(*e));
	unsigned b;

	if (!e)
		return -ENOMEM;
	e->peer = peer;
	pthread_rwlock_wrlock(&t->lock);
	do {
		randombytes_buf(&e->index, sizeof(e->index));
	} while (e->index == 0 || wg_index_find(t, e->index, NULL));
	b = wg_index_bucket(t, e->index);
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->count++;
	pthread_rwlock_unlock(&t->lock);
	*index_out = e->index;
	return 0;
}

int wg_index_table_promote(struct wg_index_table *t, uint32_t index, struct wg_peer *peer,
			   struct wg_keypair *keypair)
{
	struct wg_index_entry *e;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&t->lock);
	e = wg_index_find(t, index, NULL);
	if (e && e->peer == peer && !e->keypair) {
		e->keypair = keypair;
		keypair->local_index = index;
		keypair->index_table = t;
		ret = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

void wg_index_table_remove(struct wg_index_table *t, uint32_t index, struct wg_peer *peer,
			   struct wg_keypair *keypair)
{
	struct wg_index_entry *e, **link = NULL;

	pthread_rwlock_wrlock(&t->lock);
	e = wg_index_find(t, index, &link);
	if (e && ((keypair && e->keypair == keypair) ||
		  (!keypair && !e->keypair && e->peer == peer))) {
		*link = e->next;
		t->count--;
		free(e);
	}
	pthread_rwlock_unlock(&t->lock);
}

struct wg_peer *wg_index_table_lookup(struct wg_index_table *t, uint32_t index, int want,
				      struct wg_keypair **keypair_out)
{
	struct wg_index_entry *e;
	struct wg_peer *peer = NULL;

	if (keypair_out)
		*keypair_out = NULL;
	pthread_rwlock_rdlock(&t->lock);
	e = wg_index_find(t, index, NULL);
	if (!e || (want == WG_INDEX_KEYPAIR && !e->keypair) ||
	    (want == WG_INDEX_HANDSHAKE && e->keypair))
		goto out;
	/* A keypair whose last reference is being dropped is still listed
	 * until its free removes it; do not resurrect it. */
	if (e->keypair && keypair_out) {
		int r = atomic_load(&e->keypair->refcount);
		do {
			if (r == 0)
				goto out;
		} while (!atomic_compare_exchange_weak(&e->keypair->refcount, &r, r + 1));
		*keypair_out = e->keypair;
	}
	peer = wg_peer_get(e->peer);
out:
	pthread_rwlock_unlock(&t->lock);
	return peer;
}

static unsigned wg_pubkey_bucket(const uint8_t key[WG_KEY_LEN])
{
	/* Public keys are uniformly random and chosen by the owner, who gains
	 * nothing from colliding with itself: the first bytes are a fine hash. */
	uint32_t v;
	memcpy(&v, key, sizeof(v));
	return v % WG_PUBKEY_BUCKETS;
}

int wg_pubkey_table_init(struct wg_pubkey_table *t)
{
	memset(t, 0, sizeof(*t));
	return -pthread_rwlock_init(&t->lock, NULL);
}

void wg_pubkey_table_deinit(struct wg_pubkey_table *t)
{
	for (unsigned i = 0; i < WG_PUBKEY_BUCKETS; i++) {
		while (t->buckets[i]) {
			struct wg_peer *p = t->buckets[i];
			t->buckets[i] = p->hash_next;
			wg_peer_put(p);
		}
	}
	pthread_rwlock_destroy(&t->lock);
}

int wg_pubkey_table_insert(struct wg_pubkey_table *t, struct wg_peer *peer)
{
	unsigned b = wg_pubkey_bucket(peer->public_key);
	int ret = 0;

	pthread_rwlock_wrlock(&t->lock);
	for (struct wg_peer *p = t->buckets[b]; p; p = p->hash_next) {
		if (memcmp(p->public_key, peer->public_key, WG_KEY_LEN) == 0) {
			ret = -EEXIST;
			goto out;
		}
	}
	peer->hash_next = t->buckets[b];
	t->buckets[b] = wg_peer_get(peer);
	t->count++;
out:
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

void wg_pubkey_table_remove(struct wg_pubkey_table *t, struct wg_peer *peer)
{
	struct wg_peer **pp;
	bool found = false;

	pthread_rwlock_wrlock(&t->lock);
	for (pp = &t->buckets[wg_pubkey_bucket(peer->public_key)]; *pp; pp = &(*pp)->hash_next) {
		if (*pp == peer) {
			*pp = peer->hash_next;
			peer->hash_next = NULL;
			t->count--;
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (found)
		wg_peer_put(peer);
}

struct wg_peer *wg_pubkey_table_lookup(struct wg_pubkey_table *t,
				       const uint8_t public_key[WG_KEY_LEN])
{
	struct wg_peer *found = NULL;

	pthread_rwlock_rdlock(&t->lock);
	for (struct wg_peer *p = t->buckets[wg_pubkey_bucket(public_key)]; p; p = p->hash_next) {
		if (sodium_memcmp(p->public_key, public_key, WG_KEY_LEN) == 0) {
			found = wg_peer_get(p);
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return found;
}

int wg_pubkey_table_foreach(struct wg_pubkey_table *t, int (*fn)(struct wg_peer *, void *),
			    void *ctx)
{
	int ret = 0;

	pthread_rwlock_rdlock(&t->lock);
	for (unsigned i = 0; i < WG_PUBKEY_BUCKETS && !ret; i++)
		for (struct wg_peer *p = t->buckets[i]; p && !ret; p = p->hash_next)
			ret = fn(p, ctx);
	pthread_rwlock_unlock(&t->lock);
	return ret;
}
