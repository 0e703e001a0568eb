/* The two lookup tables of a device: peers by static public key, and
 * handshakes/keypairs by the random 32-bit index the remote puts in the
 * receiver_index of types 2, 3 and 4 (O(1) from a packet to its session).
 * Both are read-mostly and guarded by a rwlock; lookups return counted
 * references. */
#ifndef WG_PEERLOOKUP_H
#define WG_PEERLOOKUP_H

#include <pthread.h>
#include <stdint.h>

#include "wg_constants.h"

struct wg_peer;
struct wg_keypair;

#define WG_INDEX_BUCKETS 8192
#define WG_PUBKEY_BUCKETS 1024

struct wg_index_entry {
	uint32_t index;
	struct wg_peer *peer;         /* owner (handshake entries and keypairs) */
	struct wg_keypair *keypair;   /* NULL while it names an in-flight handshake */
	struct wg_index_entry *next;
};

struct wg_index_table {
	pthread_rwlock_t lock;
	uint8_t hash_key[16];
	struct wg_index_entry *buckets[WG_INDEX_BUCKETS];
	unsigned count;
};

int wg_index_table_init(struct wg_index_table *t);
void wg_index_table_deinit(struct wg_index_table *t);
/* Allocates a fresh random index, unique in the table, owned by peer's
 * handshake. Returns 0 and the index, or -ENOMEM. */
int wg_index_table_insert_handshake(struct wg_index_table *t, struct wg_peer *peer,
				    uint32_t *index_out);
/* The handshake entry `index` of peer now names keypair (the session takes
 * over the handshake's index, as in the Linux module). -ENOENT if gone. */
int wg_index_table_promote(struct wg_index_table *t, uint32_t index, struct wg_peer *peer,
			   struct wg_keypair *keypair);
/* Removes the entry `index` if it belongs to peer (handshake entry, keypair
 * NULL) or to keypair. */
void wg_index_table_remove(struct wg_index_table *t, uint32_t index, struct wg_peer *peer,
			   struct wg_keypair *keypair);
/* Finds the entry: returns a reference to its peer (wg_peer_put it) and, if
 * keypair_out is given and the entry is a keypair, a keypair reference. With
 * want_keypair the entry must be a keypair, otherwise must be a handshake
 * when want_handshake, or either when both are false. NULL when absent. */
struct wg_peer *wg_index_table_lookup(struct wg_index_table *t, uint32_t index,
				      int want /* 0 any, 1 handshake, 2 keypair */,
				      struct wg_keypair **keypair_out);
#define WG_INDEX_ANY 0
#define WG_INDEX_HANDSHAKE 1
#define WG_INDEX_KEYPAIR 2

struct wg_pubkey_table {
	pthread_rwlock_t lock;
	struct wg_peer *buckets[WG_PUBKEY_BUCKETS];
	unsigned count;
};

int wg_pubkey_table_init(struct wg_pubkey_table *t);
void wg_pubkey_table_deinit(struct wg_pubkey_table *t);
/* -EEXIST when a peer with that key is present. Takes a reference. */
int wg_pubkey_table_insert(struct wg_pubkey_table *t, struct wg_peer *peer);
/* Removes peer and drops the table's reference. */
void wg_pubkey_table_remove(struct wg_pubkey_table *t, struct wg_peer *peer);
struct wg_peer *wg_pubkey_table_lookup(struct wg_pubkey_table *t,
				       const uint8_t public_key[WG_KEY_LEN]);
/* Calls fn for every peer (under the read lock: fn must not modify the
 * table). Stops early when fn returns non-zero and returns that value. */
int wg_pubkey_table_foreach(struct wg_pubkey_table *t, int (*fn)(struct wg_peer *, void *),
			    void *ctx);

#endif
