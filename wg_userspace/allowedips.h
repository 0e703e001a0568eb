/* Cryptokey routing table (whitepaper §2): longest-prefix match from an
 * IPv4/IPv6 address to a peer. A binary trie per family with path
 * compression: each node stores its full prefix, so a lookup visits at most
 * one node per distinct prefix length on the path.
 *
 * Concurrency: lookups (data path, many threads) take the read lock;
 * insert/remove (control thread, rare) take the write lock, which is
 * writer-preferring so a busy data path cannot starve configuration. Lookup
 * never allocates. Because of writer preference the read lock is not
 * recursive: callbacks (lookup_get's get, walk's fn) must not call back into
 * the same table. A peer pointer returned by plain lookup is only valid while
 * the caller otherwise guarantees the peer outlives it; use lookup_get to
 * take a reference under the lock. */
#ifndef WG_ALLOWEDIPS_H
#define WG_ALLOWEDIPS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct wg_allowedips_node;

struct wg_allowedips {
	pthread_rwlock_t lock;
	struct wg_allowedips_node *root4;
	struct wg_allowedips_node *root6;
	size_t count;
};

void wg_allowedips_init(struct wg_allowedips *t);
void wg_allowedips_deinit(struct wg_allowedips *t);

/* family AF_INET (addr 4 bytes) or AF_INET6 (16 bytes). Host bits past cidr
 * are cleared. Re-inserting a prefix moves it to the new peer. -EINVAL for
 * a bad family/cidr or a NULL peer, -ENOMEM. */
int wg_allowedips_insert(struct wg_allowedips *t, int family, const void *addr, uint8_t cidr,
			 void *peer);
/* Removes the exact prefix (host bits masked) if it belongs to peer;
 * -ENOENT otherwise, -EINVAL for a bad family/cidr or a NULL peer. */
int wg_allowedips_remove(struct wg_allowedips *t, int family, const void *addr, uint8_t cidr,
			 void *peer);
/* Removes every prefix of peer. Returns how many (0 for a NULL peer). */
size_t wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer);
/* The peer owning the longest prefix that contains addr, or NULL. */
void *wg_allowedips_lookup(struct wg_allowedips *t, int family, const void *addr);
/* Like lookup, but calls get(peer) under the read lock so the caller can
 * take a reference before a concurrent remove can drop the peer. */
void *wg_allowedips_lookup_get(struct wg_allowedips *t, int family, const void *addr,
			       void *(*get)(void *peer));
/* Many lookups under one read lock (the data path's batches): between
 * read_lock and read_unlock the caller may only use lookup_locked on t (the
 * lock is not recursive) and must not wait for a thread that could be
 * inserting or removing. A returned peer is valid while the lock is held. */
void wg_allowedips_read_lock(struct wg_allowedips *t);
void wg_allowedips_read_unlock(struct wg_allowedips *t);
void *wg_allowedips_lookup_locked(struct wg_allowedips *t, int family, const void *addr);
/* Calls fn for each prefix of peer under the read lock: IPv4 first, then
 * IPv6, each in address order; addr is in network order (4 or 16 bytes). */
void wg_allowedips_walk_by_peer(struct wg_allowedips *t, void *peer,
				void (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
				void *ctx);
size_t wg_allowedips_count(struct wg_allowedips *t);

#endif
