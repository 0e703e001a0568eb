#include "replay.h"

#include <string.h>

#define WG_REPLAY_MASK (WG_REPLAY_BLOCKS - 1)

void wg_replay_init(struct wg_replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool wg_replay_would_accept(const struct wg_replay *r, uint64_t counter, uint64_t limit)
{
	uint64_t block, bit;

	if (counter >= limit)
		return false;
	if (counter > r->last)
		return true;
	if (r->last - counter > WG_REPLAY_WINDOW)
		return false;
	block = (counter >> 6) & WG_REPLAY_MASK;
	bit = counter & 63;
	return !(r->blocks[block] & (1ULL << bit));
}

bool wg_replay_check_and_update(struct wg_replay *r, uint64_t counter, uint64_t limit)
{
	uint64_t index = counter >> 6, bit = counter & 63, old;

	if (counter >= limit)
		return false;
	if (counter > r->last) {
		/* Moving forward: clear the blocks the window slides over, at
		 * most the whole ring, so a far jump costs O(ring). */
		uint64_t current = r->last >> 6, diff = index - current;
		if (diff > WG_REPLAY_BLOCKS)
			diff = WG_REPLAY_BLOCKS;
		for (uint64_t i = current + 1; i <= current + diff; i++)
			r->blocks[i & WG_REPLAY_MASK] = 0;
		r->last = counter;
	} else if (r->last - counter > WG_REPLAY_WINDOW) {
		return false;
	}
	index &= WG_REPLAY_MASK;
	old = r->blocks[index];
	r->blocks[index] = old | (1ULL << bit);
	return !(old & (1ULL << bit));
}
