/* Per-peer timers (whitepaper §6, wireguard-go timers.go) as a state
 * machine: the device reports events with the current monotonic time and
 * asks wg_timers_tick() which actions are due; wg_timers_next_deadline()
 * says when to ask next. No threads, no sleeping: tests drive time by hand. */
#ifndef WG_TIMERS_H
#define WG_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "wg_constants.h"

/* Durations, defaulting to the protocol constants. Shorter values exist only
 * for tests (see constella-wg's CONSTELLA_WG_TEST_TIMERS, documented as
 * test-only); production code uses wg_timer_config_default(). */
struct wg_timer_config {
	uint64_t rekey_after_time;
	uint64_t reject_after_time;
	uint64_t rekey_attempt_time;
	uint64_t rekey_timeout;
	uint64_t keepalive_timeout;
	uint64_t jitter_max; /* retransmission jitter is in [0, jitter_max) */
	uint64_t rekey_after_messages;
};

void wg_timer_config_default(struct wg_timer_config *c);

enum wg_timer_action {
	WG_TIMER_SEND_INITIATION = 1 << 0,       /* retransmission (is_retry) */
	WG_TIMER_SEND_KEEPALIVE = 1 << 1,        /* passive keepalive */
	WG_TIMER_SEND_PERSISTENT_KEEPALIVE = 1 << 2,
	WG_TIMER_NEW_HANDSHAKE = 1 << 3,         /* sent data, heard nothing: new handshake */
	WG_TIMER_GIVE_UP = 1 << 4,               /* stop retrying, drop queued packets */
	WG_TIMER_ZERO_KEYS = 1 << 5,             /* wipe all session keys */
};

struct wg_timers {
	struct wg_timer_config cfg;
	/* Deadlines in monotonic ns; 0 = not armed. */
	uint64_t retransmit_at;
	uint64_t send_keepalive_at;
	uint64_t new_handshake_at;
	uint64_t zero_keys_at;
	uint64_t persistent_keepalive_at;
	uint32_t handshake_attempts;
	bool need_another_keepalive;
	bool sent_lastminute_handshake; /* see wg_timers_rekey_on_receive_once */
	uint16_t persistent_keepalive_interval; /* seconds */
	uint64_t last_initiation_sent; /* 0 = never */
	uint64_t rng;                  /* jitter source (xorshift), seeded */
};

void wg_timers_init(struct wg_timers *t, const struct wg_timer_config *cfg, uint64_t seed);

/* Events, as wireguard-go names them. */
void wg_timers_data_sent(struct wg_timers *t, uint64_t now);
void wg_timers_data_received(struct wg_timers *t, uint64_t now);
void wg_timers_any_authenticated_packet_sent(struct wg_timers *t, uint64_t now);
void wg_timers_any_authenticated_packet_received(struct wg_timers *t, uint64_t now);
void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t, uint64_t now);
/* An initiation went out (first or retry). */
void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now);
void wg_timers_handshake_complete(struct wg_timers *t, uint64_t now);
void wg_timers_session_derived(struct wg_timers *t, uint64_t now);
/* Sets the persistent keepalive interval (0 = off). Returns
 * WG_TIMER_SEND_PERSISTENT_KEEPALIVE when it was off and is now on: like
 * wireguard-go, a keepalive goes out at once so a NAT mapping exists before
 * the first interval passes. */
unsigned wg_timers_set_persistent_keepalive(struct wg_timers *t, uint16_t seconds, uint64_t now);
/* Peer removed or keys zeroed by hand: disarm everything. */
void wg_timers_stop(struct wg_timers *t);

/* Rate limit for initiations: false when one was sent less than
 * REKEY_TIMEOUT ago. A fresh (non-retry) attempt resets the retry count. */
bool wg_timers_may_send_initiation(struct wg_timers *t, bool is_retry, uint64_t now);

/* Fires every deadline <= now and returns the actions (a bitmask).
 * Retransmission: the first initiation is followed by at most
 * REKEY_ATTEMPT_TIME / REKEY_TIMEOUT (18) retries, each REKEY_TIMEOUT + jitter
 * after the previous; the expiry after the last retry returns GIVE_UP, so the
 * retries span REKEY_ATTEMPT_TIME (90 s plus the accumulated jitter) and the
 * queue is dropped about one REKEY_TIMEOUT later (wireguard-go and Linux
 * retry once more: their test is attempts > MAX_TIMER_HANDSHAKES). The device must call wg_timers_handshake_initiated
 * for each initiation it actually sends, which re-arms the retransmission. */
unsigned wg_timers_tick(struct wg_timers *t, uint64_t now);
/* Earliest armed deadline, or UINT64_MAX. */
uint64_t wg_timers_next_deadline(const struct wg_timers *t);

/* Rekey predicates (whitepaper §6.2). */
bool wg_timers_should_rekey_on_send(const struct wg_timers *t, bool i_am_initiator,
				    uint64_t keypair_birth, uint64_t send_counter, uint64_t now);
bool wg_timers_should_rekey_on_receive(const struct wg_timers *t, bool i_am_initiator,
				       uint64_t keypair_birth, uint64_t now);
/* The receive-side predicate as wireguard-go applies it: true at most once
 * until the next wg_timers_handshake_complete, so a stream of incoming
 * packets on an ageing keypair triggers one initiation, not one per packet
 * (each of which would also reset the retry count and defeat GIVE_UP).
 * Mutates t: call it where the other events are called (peer lock held). */
bool wg_timers_rekey_on_receive_once(struct wg_timers *t, bool i_am_initiator,
				     uint64_t keypair_birth, uint64_t now);

#endif
