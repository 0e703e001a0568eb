/* A WireGuard peer and the handshake/session operations on it.
 *
 * Locking rules:
 *  - peer->lock guards the handshake, the three keypair slots, the cookie
 *    maker and the endpoint. It is never held while taking a table lock
 *    for writing in the other order (tables first, then peer).
 *  - keypairs are reference counted: wg_peer_current_keypair() returns a
 *    reference that stays valid after the slots rotate.
 *  - peers are reference counted too: the pubkey table holds one reference,
 *    every lookup returns another (wg_peer_put when done).
 *  - statistics are atomics, readable without the lock. */
#ifndef WG_PEER_H
#define WG_PEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cookie.h"
#include "keypair.h"
#include "noise.h"
#include "peerlookup.h"

struct wg_peer {
	uint8_t public_key[WG_KEY_LEN];
	pthread_mutex_t lock;
	struct wg_handshake handshake;
	struct wg_cookie_maker cookie;
	struct wg_keypair *keypair_previous;
	struct wg_keypair *keypair_current;
	struct wg_keypair *keypair_next; /* responder's, until confirmed */
	struct sockaddr_storage endpoint;
	bool has_endpoint;
	uint16_t persistent_keepalive_interval; /* seconds, 0 = off */
	_Atomic uint64_t rx_bytes;
	_Atomic uint64_t tx_bytes;
	_Atomic uint64_t last_handshake_wall_ns; /* 0 = never */
	_Atomic int refcount;
	bool removed;
	struct wg_index_table *index_table;
	struct wg_peer *hash_next; /* pubkey table chain */
	void *user;                /* the device's per-peer state */
	void (*user_free)(void *user); /* called when the last reference goes */
};

/* Creates a peer (refcount 1, owned by the caller). */
int wg_peer_new(const struct wg_identity *id, const uint8_t public_key[WG_KEY_LEN],
		const uint8_t *psk, struct wg_index_table *index_table, struct wg_peer **out);
struct wg_peer *wg_peer_get(struct wg_peer *peer);
void wg_peer_put(struct wg_peer *peer);

/* Drops every keypair and the handshake, wiping the keys (the "zero keys
 * after 3 x REJECT_AFTER_TIME" action, and peer removal). */
void wg_peer_zero_keys(struct wg_peer *peer);

/* A counted reference to the current keypair if it may send (initiator's,
 * or responder's once confirmed), else NULL. */
struct wg_keypair *wg_peer_current_keypair(struct wg_peer *peer);

/* Initiator: a complete initiation message (macs included). */
int wg_peer_create_initiation(struct wg_peer *peer, const struct wg_identity *id,
			      struct wg_msg_initiation *msg, uint64_t now_ns, uint64_t wall_ns);

/* Responder: consumes an initiation whose macs the caller validated. On
 * success returns the peer (a reference) in CONSUMED_INITIATION state. */
int wg_peer_consume_initiation(const struct wg_identity *id, struct wg_pubkey_table *peers,
			       const struct wg_msg_initiation *msg, uint64_t now_ns,
			       struct wg_peer **peer_out);

/* Responder: builds the response (macs included) and begins the session;
 * the new keypair waits in the "next" slot until the initiator's first data
 * packet confirms it. */
int wg_peer_create_response(struct wg_peer *peer, const struct wg_identity *id,
			    struct wg_msg_response *msg, uint64_t now_ns, uint64_t wall_ns);

/* Initiator: consumes a response (macs validated by the caller), begins the
 * session (new keypair becomes current). Returns the peer (a reference). */
int wg_peer_consume_response(const struct wg_identity *id, struct wg_index_table *index,
			     const struct wg_msg_response *msg, uint64_t now_ns,
			     uint64_t wall_ns, struct wg_peer **peer_out);

/* Consumes a cookie reply for a handshake or session of ours. */
int wg_peer_consume_cookie_reply(struct wg_index_table *index,
				 const struct wg_msg_cookie_reply *reply, uint64_t now_ns);

/* Called after a data packet authenticated under kp: confirms a pending
 * "next" keypair (key confirmation, whitepaper §5.4.7). Returns true when
 * that rotated the slots. */
bool wg_peer_received_with_keypair(struct wg_peer *peer, struct wg_keypair *kp);

/* Endpoint update (roaming): the source of the latest authenticated packet. */
void wg_peer_set_endpoint(struct wg_peer *peer, const struct sockaddr *sa, socklen_t len);
bool wg_peer_get_endpoint(struct wg_peer *peer, struct sockaddr_storage *out);

#endif
