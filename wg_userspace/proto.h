/* The protocol device without I/O: our identity, the peer and index tables,
 * the cookie checker and rate limiter, and one entry point that validates
 * and consumes any datagram. The real device (device.c) wraps it with
 * sockets, TUN and threads; tests, fuzzers and the interop test drive it
 * directly with a plain UDP socket and an injected clock. */
#ifndef WG_PROTO_H
#define WG_PROTO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cookie.h"
#include "keypair.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "peerlookup.h"

struct wg_proto {
	pthread_rwlock_t identity_lock;
	struct wg_identity identity;
	struct wg_index_table index;
	struct wg_pubkey_table peers;
	struct wg_cookie_checker cookie_checker;
	struct wg_ratelimiter ratelimiter;
};

enum wg_proto_event {
	WG_PROTO_NONE = 0,
	WG_PROTO_INITIATION,   /* consumed: answer with wg_proto_create_response */
	WG_PROTO_RESPONSE,     /* consumed: session established as initiator */
	WG_PROTO_COOKIE,       /* cookie reply consumed: retry the handshake with mac2 */
	WG_PROTO_DATA,         /* transport packet decrypted (plain_len 0 = keepalive) */
	WG_PROTO_SEND_COOKIE,  /* under load without mac2: send res->cookie_reply */
};

struct wg_proto_result {
	enum wg_proto_event event;
	struct wg_peer *peer;        /* a reference: wg_peer_put when done */
	struct wg_keypair *keypair;  /* DATA: the keypair used (reference) */
	size_t plain_len;            /* DATA */
	uint64_t counter;            /* DATA */
	bool keypair_confirmed;      /* DATA: a "next" keypair became current */
	struct wg_msg_cookie_reply cookie_reply; /* SEND_COOKIE */
};

int wg_proto_init(struct wg_proto *p);
void wg_proto_deinit(struct wg_proto *p);
/* Sets our private key (clamped); every peer's precomputed DH follows. */
int wg_proto_set_private_key(struct wg_proto *p, const uint8_t key[WG_KEY_LEN]);
bool wg_proto_get_identity(struct wg_proto *p, struct wg_identity *out);

/* Adds a peer (psk may be NULL); returns a reference in *out if out given.
 * -EEXIST when present, -EINVAL for a zero key or our own key. */
int wg_proto_add_peer(struct wg_proto *p, const uint8_t public_key[WG_KEY_LEN],
		      const uint8_t *psk, struct wg_peer **out);
/* A reference to the peer with this key, or NULL. */
struct wg_peer *wg_proto_find_peer(struct wg_proto *p, const uint8_t public_key[WG_KEY_LEN]);
/* Removes the peer from the tables and wipes its keys. */
void wg_proto_remove_peer(struct wg_proto *p, struct wg_peer *peer);
void wg_proto_set_psk(struct wg_proto *p, struct wg_peer *peer, const uint8_t *psk);

int wg_proto_create_initiation(struct wg_proto *p, struct wg_peer *peer,
			       struct wg_msg_initiation *msg, uint64_t now_ns, uint64_t wall_ns);
int wg_proto_create_response(struct wg_proto *p, struct wg_peer *peer,
			     struct wg_msg_response *msg, uint64_t now_ns, uint64_t wall_ns);

/* Validates and consumes one datagram from src. For transport data the
 * plaintext is written to plain (capacity plain_cap >= len - 32; plain may
 * be buf + 16 for in-place). Returns 0 with res filled, or a negative errno
 * with nothing changed: -EINVAL malformed (length, type, reserved bytes),
 * -EBADMSG failed mac1/AEAD, -ENOENT unknown receiver index, -ENOKEY unknown
 * peer, -EALREADY replayed, -EBUSY flood, -EKEYEXPIRED expired session,
 * -EAGAIN rate limited under load. Under load (the caller's decision) a
 * handshake message without a valid mac2 yields WG_PROTO_SEND_COOKIE. On
 * success the peer's endpoint follows src (roaming). */
int wg_proto_receive(struct wg_proto *p, const uint8_t *buf, size_t len,
		     const struct sockaddr *src, socklen_t srclen, bool under_load,
		     uint64_t now_ns, uint64_t wall_ns, uint8_t *plain, size_t plain_cap,
		     struct wg_proto_result *res);
void wg_proto_result_release(struct wg_proto_result *res);

/* Seals plaintext for peer with its current keypair. -ENOKEY when there is
 * no usable session (the caller starts a handshake and queues). */
ssize_t wg_proto_seal(struct wg_proto *p, struct wg_peer *peer, uint8_t *dst, size_t dst_cap,
		      const uint8_t *src, size_t len, size_t mtu, uint64_t now_ns);

#endif
