#include "timers.h"

#include <string.h>

void wg_timer_config_default(struct wg_timer_config *c)
{
	c->rekey_after_time = WG_REKEY_AFTER_TIME_NS;
	c->reject_after_time = WG_REJECT_AFTER_TIME_NS;
	c->rekey_attempt_time = WG_REKEY_ATTEMPT_TIME_NS;
	c->rekey_timeout = WG_REKEY_TIMEOUT_NS;
	c->keepalive_timeout = WG_KEEPALIVE_TIMEOUT_NS;
	c->jitter_max = WG_REKEY_TIMEOUT_JITTER_MAX_NS;
	c->rekey_after_messages = WG_REKEY_AFTER_MESSAGES;
}

void wg_timers_init(struct wg_timers *t, const struct wg_timer_config *cfg, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	if (cfg)
		t->cfg = *cfg;
	else
		wg_timer_config_default(&t->cfg);
	t->rng = seed ? seed : 0x2545f4914f6cdd1dULL;
}

static uint64_t wg_timers_jitter(struct wg_timers *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->cfg.jitter_max ? t->rng % t->cfg.jitter_max : 0;
}

/* Deadline 0 means "off", so a deadline that lands on 0 is nudged. */
static uint64_t wg_timers_at(uint64_t now, uint64_t delta)
{
	uint64_t at = now + delta;
	return at ? at : 1;
}

static uint32_t wg_timers_max_attempts(const struct wg_timers *t)
{
	return (uint32_t)(t->cfg.rekey_attempt_time / t->cfg.rekey_timeout);
}

void wg_timers_data_sent(struct wg_timers *t, uint64_t now)
{
	if (!t->new_handshake_at)
		t->new_handshake_at = wg_timers_at(now, t->cfg.keepalive_timeout +
							t->cfg.rekey_timeout +
							wg_timers_jitter(t));
}

void wg_timers_data_received(struct wg_timers *t, uint64_t now)
{
	if (!t->send_keepalive_at)
		t->send_keepalive_at = wg_timers_at(now, t->cfg.keepalive_timeout);
	else
		t->need_another_keepalive = true;
}

void wg_timers_any_authenticated_packet_sent(struct wg_timers *t, uint64_t now)
{
	(void)now;
	/* Anything we send already tells the peer we are alive. */
	t->send_keepalive_at = 0;
}

void wg_timers_any_authenticated_packet_received(struct wg_timers *t, uint64_t now)
{
	(void)now;
	t->new_handshake_at = 0;
}

void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t, uint64_t now)
{
	if (t->persistent_keepalive_interval)
		t->persistent_keepalive_at =
			wg_timers_at(now, (uint64_t)t->persistent_keepalive_interval * WG_NSEC_PER_SEC);
}

void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now)
{
	t->last_initiation_sent = now ? now : 1;
	t->retransmit_at = wg_timers_at(now, t->cfg.rekey_timeout + wg_timers_jitter(t));
}

void wg_timers_handshake_complete(struct wg_timers *t, uint64_t now)
{
	(void)now;
	t->retransmit_at = 0;
	t->handshake_attempts = 0;
	t->sent_lastminute_handshake = false;
}

void wg_timers_session_derived(struct wg_timers *t, uint64_t now)
{
	t->zero_keys_at = wg_timers_at(now, 3 * t->cfg.reject_after_time);
}

unsigned wg_timers_set_persistent_keepalive(struct wg_timers *t, uint16_t seconds, uint64_t now)
{
	bool was_off = !t->persistent_keepalive_interval;

	t->persistent_keepalive_interval = seconds;
	t->persistent_keepalive_at =
		seconds ? wg_timers_at(now, (uint64_t)seconds * WG_NSEC_PER_SEC) : 0;
	return was_off && seconds ? WG_TIMER_SEND_PERSISTENT_KEEPALIVE : 0;
}

void wg_timers_stop(struct wg_timers *t)
{
	t->retransmit_at = t->send_keepalive_at = t->new_handshake_at = 0;
	t->zero_keys_at = t->persistent_keepalive_at = 0;
	t->handshake_attempts = 0;
	t->need_another_keepalive = false;
	t->sent_lastminute_handshake = false;
}

bool wg_timers_may_send_initiation(struct wg_timers *t, bool is_retry, uint64_t now)
{
	if (!is_retry)
		t->handshake_attempts = 0;
	return !t->last_initiation_sent || now - t->last_initiation_sent >= t->cfg.rekey_timeout;
}

unsigned wg_timers_tick(struct wg_timers *t, uint64_t now)
{
	unsigned actions = 0;

	if (t->retransmit_at && t->retransmit_at <= now) {
		t->retransmit_at = 0;
		if (t->handshake_attempts >= wg_timers_max_attempts(t)) {
			/* REKEY_ATTEMPT_TIME has passed: stop and drop the queue;
			 * keys die 3 x REJECT_AFTER_TIME later unless renewed. */
			actions |= WG_TIMER_GIVE_UP;
			t->send_keepalive_at = 0;
			t->handshake_attempts = 0;
			if (!t->zero_keys_at)
				t->zero_keys_at = wg_timers_at(now, 3 * t->cfg.reject_after_time);
		} else {
			t->handshake_attempts++;
			actions |= WG_TIMER_SEND_INITIATION;
			/* the device's wg_timers_handshake_initiated re-arms it */
		}
	}
	if (t->send_keepalive_at && t->send_keepalive_at <= now) {
		t->send_keepalive_at = 0;
		actions |= WG_TIMER_SEND_KEEPALIVE;
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			t->send_keepalive_at = wg_timers_at(now, t->cfg.keepalive_timeout);
		}
	}
	if (t->new_handshake_at && t->new_handshake_at <= now) {
		t->new_handshake_at = 0;
		actions |= WG_TIMER_NEW_HANDSHAKE;
	}
	if (t->zero_keys_at && t->zero_keys_at <= now) {
		t->zero_keys_at = 0;
		actions |= WG_TIMER_ZERO_KEYS;
	}
	if (t->persistent_keepalive_at && t->persistent_keepalive_at <= now) {
		t->persistent_keepalive_at = 0;
		if (t->persistent_keepalive_interval)
			actions |= WG_TIMER_SEND_PERSISTENT_KEEPALIVE;
	}
	return actions;
}

uint64_t wg_timers_next_deadline(const struct wg_timers *t)
{
	uint64_t d[] = { t->retransmit_at, t->send_keepalive_at, t->new_handshake_at,
			 t->zero_keys_at, t->persistent_keepalive_at };
	uint64_t best = UINT64_MAX;

	for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] && d[i] < best)
			best = d[i];
	return best;
}

bool wg_timers_should_rekey_on_send(const struct wg_timers *t, bool i_am_initiator,
				    uint64_t keypair_birth, uint64_t send_counter, uint64_t now)
{
	return send_counter >= t->cfg.rekey_after_messages ||
	       (i_am_initiator && now - keypair_birth >= t->cfg.rekey_after_time);
}

bool wg_timers_should_rekey_on_receive(const struct wg_timers *t, bool i_am_initiator,
				       uint64_t keypair_birth, uint64_t now)
{
	return i_am_initiator && now - keypair_birth >= t->cfg.reject_after_time -
							  t->cfg.keepalive_timeout -
							  t->cfg.rekey_timeout;
}

bool wg_timers_rekey_on_receive_once(struct wg_timers *t, bool i_am_initiator,
				     uint64_t keypair_birth, uint64_t now)
{
	if (t->sent_lastminute_handshake ||
	    !wg_timers_should_rekey_on_receive(t, i_am_initiator, keypair_birth, now))
		return false;
	t->sent_lastminute_handshake = true;
	return true;
}
