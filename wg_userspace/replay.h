/* Anti-replay sliding window (RFC 6479 style, as in wireguard-go and the
 * Linux module): a ring of 64-bit blocks keeps WG_REPLAY_WINDOW counters of
 * history. A counter is recorded only after its packet authenticated, so a
 * forged packet cannot move the window. Not thread-safe: the keypair that
 * owns a window serialises access. */
#ifndef WG_REPLAY_H
#define WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "wg_constants.h"

struct wg_replay {
	uint64_t last;
	uint64_t blocks[WG_REPLAY_BLOCKS];
};

void wg_replay_init(struct wg_replay *r);
/* True (and recorded) when counter is below limit, inside the window and not
 * seen before; false otherwise, with the window unchanged. */
bool wg_replay_check_and_update(struct wg_replay *r, uint64_t counter, uint64_t limit);
/* True when counter would be accepted (no change): a cheap pre-check before
 * spending a decryption on an obvious replay. */
bool wg_replay_would_accept(const struct wg_replay *r, uint64_t counter, uint64_t limit);

#endif
