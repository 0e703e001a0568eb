#include "allowedips.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct wg_allowedips_node {
	struct wg_allowedips_node *child[2];
	void *peer;     /* NULL: an internal branching node */
	uint8_t bits[16];
	uint8_t cidr;   /* length of the prefix this node stands for */
};

static int wg_allowedips_bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static void wg_allowedips_mask(uint8_t *out, const uint8_t *in, unsigned cidr, unsigned len)
{
	memset(out, 0, 16);
	memcpy(out, in, len);
	for (unsigned i = cidr; i < len * 8; i++)
		out[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
}

/* Number of leading bits a and b share, at most max. Byte-wise first: this
 * runs once per trie level on every routed packet. */
static unsigned wg_allowedips_common(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned n = 0;
	while (n + 8 <= max && a[n / 8] == b[n / 8])
		n += 8;
	while (n < max && wg_allowedips_bit(a, n) == wg_allowedips_bit(b, n))
		n++;
	return n;
}

/* True when the first cidr bits of a and b are equal (the lookup test). */
static bool wg_allowedips_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned cidr)
{
	unsigned full = cidr / 8, rest = cidr % 8;
	if (memcmp(a, b, full))
		return false;
	return !rest || !((a[full] ^ b[full]) & (uint8_t)(0xff00u >> rest));
}

static int wg_allowedips_family_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
}

void wg_allowedips_init(struct wg_allowedips *t)
{
	pthread_rwlockattr_t attr;

	memset(t, 0, sizeof(*t));
	/* glibc's default rwlock prefers readers: a busy data path could
	 * starve the control thread's (rare) updates forever. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&t->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
}

static void wg_allowedips_free_tree(struct wg_allowedips_node *n)
{
	if (!n)
		return;
	wg_allowedips_free_tree(n->child[0]);
	wg_allowedips_free_tree(n->child[1]);
	free(n);
}

void wg_allowedips_deinit(struct wg_allowedips *t)
{
	wg_allowedips_free_tree(t->root4);
	wg_allowedips_free_tree(t->root6);
	t->root4 = t->root6 = NULL;
	pthread_rwlock_destroy(&t->lock);
}

static struct wg_allowedips_node *wg_allowedips_node_new(const uint8_t *bits, uint8_t cidr,
							 void *peer)
{
	struct wg_allowedips_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	memcpy(n->bits, bits, 16);
	n->cidr = cidr;
	n->peer = peer;
	return n;
}

/* Inserts into the subtree at *slot. Invariant: every node's prefix extends
 * its parent's prefix, and a child's bit at parent->cidr selects the slot. */
static int wg_allowedips_add(struct wg_allowedips_node **slot, const uint8_t *key, uint8_t cidr,
			     void *peer, size_t *count)
{
	struct wg_allowedips_node *n = *slot, *fresh, *branch;
	unsigned common;

	if (!n) {
		fresh = wg_allowedips_node_new(key, cidr, peer);
		if (!fresh)
			return -ENOMEM;
		*slot = fresh;
		(*count)++;
		return 0;
	}
	common = wg_allowedips_common(n->bits, key, n->cidr < cidr ? n->cidr : cidr);
	if (common == n->cidr && n->cidr == cidr) {
		if (!n->peer)
			(*count)++;
		n->peer = peer; /* same prefix: ownership moves */
		return 0;
	}
	if (common == n->cidr) /* n's prefix contains key: descend */
		return wg_allowedips_add(&n->child[wg_allowedips_bit(key, n->cidr)], key, cidr,
					 peer, count);
	if (common == cidr) {
		/* key's prefix contains n: the new node becomes n's parent. */
		fresh = wg_allowedips_node_new(key, cidr, peer);
		if (!fresh)
			return -ENOMEM;
		fresh->child[wg_allowedips_bit(n->bits, cidr)] = n;
		*slot = fresh;
		(*count)++;
		return 0;
	}
	/* They diverge at bit `common`: a branching node holds both. */
	{
		uint8_t bbits[16];
		wg_allowedips_mask(bbits, key, common, 16);
		branch = wg_allowedips_node_new(bbits, (uint8_t)common, NULL);
	}
	fresh = wg_allowedips_node_new(key, cidr, peer);
	if (!branch || !fresh) {
		free(branch);
		free(fresh);
		return -ENOMEM;
	}
	branch->child[wg_allowedips_bit(n->bits, common)] = n;
	branch->child[wg_allowedips_bit(key, common)] = fresh;
	*slot = branch;
	(*count)++;
	return 0;
}

static struct wg_allowedips_node **wg_allowedips_root(struct wg_allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

/* Drops the node at *slot if it carries no peer and branches no more:
 * its single child (or nothing) takes its place. */
static void wg_allowedips_splice(struct wg_allowedips_node **slot)
{
	struct wg_allowedips_node *n = *slot;

	if (!n || n->peer || (n->child[0] && n->child[1]))
		return;
	*slot = n->child[0] ? n->child[0] : n->child[1];
	free(n);
}

int wg_allowedips_insert(struct wg_allowedips *t, int family, const void *addr, uint8_t cidr,
			 void *peer)
{
	int len = wg_allowedips_family_len(family), ret;
	uint8_t key[16];

	if (len < 0 || cidr > len * 8 || !peer)
		return -EINVAL;
	wg_allowedips_mask(key, addr, cidr, (unsigned)len);
	pthread_rwlock_wrlock(&t->lock);
	ret = wg_allowedips_add(wg_allowedips_root(t, family), key, cidr, peer, &t->count);
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

/* Removes nodes that no longer carry a peer and have < 2 children. */
static void wg_allowedips_compact(struct wg_allowedips_node **slot)
{
	struct wg_allowedips_node *n = *slot;

	if (!n)
		return;
	wg_allowedips_compact(&n->child[0]);
	wg_allowedips_compact(&n->child[1]);
	wg_allowedips_splice(slot);
}

int wg_allowedips_remove(struct wg_allowedips *t, int family, const void *addr, uint8_t cidr,
			 void *peer)
{
	int len = wg_allowedips_family_len(family), ret = -ENOENT;
	/* Slots from the root to the node: every cidr on a path is distinct,
	 * so a path has at most 129 nodes. */
	struct wg_allowedips_node **path[129], **slot, *n;
	unsigned depth = 0;
	uint8_t key[16];

	if (len < 0 || cidr > len * 8 || !peer)
		return -EINVAL;
	wg_allowedips_mask(key, addr, cidr, (unsigned)len);
	pthread_rwlock_wrlock(&t->lock);
	slot = wg_allowedips_root(t, family);
	while ((n = *slot) && n->cidr <= cidr && depth < 129) {
		if (wg_allowedips_common(n->bits, key, n->cidr) != n->cidr)
			break;
		path[depth++] = slot;
		if (n->cidr == cidr) {
			if (n->peer == peer) {
				n->peer = NULL;
				t->count--;
				ret = 0;
			}
			break;
		}
		slot = &n->child[wg_allowedips_bit(key, n->cidr)];
	}
	/* Only nodes on this path can have become redundant: prune bottom-up. */
	while (ret == 0 && depth > 0)
		wg_allowedips_splice(path[--depth]);
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

static size_t wg_allowedips_clear_peer(struct wg_allowedips_node *n, void *peer)
{
	size_t removed = 0;
	if (!n)
		return 0;
	if (n->peer == peer) {
		n->peer = NULL;
		removed++;
	}
	return removed + wg_allowedips_clear_peer(n->child[0], peer) +
	       wg_allowedips_clear_peer(n->child[1], peer);
}

size_t wg_allowedips_remove_by_peer(struct wg_allowedips *t, void *peer)
{
	size_t removed;

	if (!peer) /* internal nodes hold NULL: never match them */
		return 0;
	pthread_rwlock_wrlock(&t->lock);
	removed = wg_allowedips_clear_peer(t->root4, peer) + wg_allowedips_clear_peer(t->root6, peer);
	t->count -= removed;
	wg_allowedips_compact(&t->root4);
	wg_allowedips_compact(&t->root6);
	pthread_rwlock_unlock(&t->lock);
	return removed;
}

void *wg_allowedips_lookup(struct wg_allowedips *t, int family, const void *addr)
{
	return wg_allowedips_lookup_get(t, family, addr, NULL);
}

/* Called with the read lock held. */
static void *wg_allowedips_find(struct wg_allowedips *t, int family, const void *addr)
{
	int len = wg_allowedips_family_len(family);
	const struct wg_allowedips_node *n;
	void *best = NULL;
	uint8_t key[16] = { 0 };

	if (len < 0)
		return NULL;
	memcpy(key, addr, (size_t)len);
	n = *wg_allowedips_root(t, family);
	while (n && wg_allowedips_prefix_eq(n->bits, key, n->cidr)) {
		if (n->peer)
			best = n->peer;
		if (n->cidr == len * 8)
			break;
		n = n->child[wg_allowedips_bit(key, n->cidr)];
	}
	return best;
}

void *wg_allowedips_lookup_get(struct wg_allowedips *t, int family, const void *addr,
			       void *(*get)(void *peer))
{
	void *best;

	pthread_rwlock_rdlock(&t->lock);
	best = wg_allowedips_find(t, family, addr);
	if (best && get)
		best = get(best);
	pthread_rwlock_unlock(&t->lock);
	return best;
}

void wg_allowedips_read_lock(struct wg_allowedips *t)
{
	pthread_rwlock_rdlock(&t->lock);
}

void wg_allowedips_read_unlock(struct wg_allowedips *t)
{
	pthread_rwlock_unlock(&t->lock);
}

void *wg_allowedips_lookup_locked(struct wg_allowedips *t, int family, const void *addr)
{
	return wg_allowedips_find(t, family, addr);
}

static void wg_allowedips_walk(const struct wg_allowedips_node *n, int family, void *peer,
			       void (*fn)(void *, int, const uint8_t *, uint8_t), void *ctx)
{
	if (!n)
		return;
	if (n->peer == peer)
		fn(ctx, family, n->bits, n->cidr);
	wg_allowedips_walk(n->child[0], family, peer, fn, ctx);
	wg_allowedips_walk(n->child[1], family, peer, fn, ctx);
}

void wg_allowedips_walk_by_peer(struct wg_allowedips *t, void *peer,
				void (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
				void *ctx)
{
	if (!peer)
		return;
	pthread_rwlock_rdlock(&t->lock);
	wg_allowedips_walk(t->root4, AF_INET, peer, fn, ctx);
	wg_allowedips_walk(t->root6, AF_INET6, peer, fn, ctx);
	pthread_rwlock_unlock(&t->lock);
}

size_t wg_allowedips_count(struct wg_allowedips *t)
{
	size_t n;
	pthread_rwlock_rdlock(&t->lock);
	n = t->count;
	pthread_rwlock_unlock(&t->lock);
	return n;
}
