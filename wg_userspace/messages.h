/* Wire layouts of the four WireGuard messages (whitepaper §5.4). All
 * integers are little-endian; every struct is packed and its size asserted,
 * and nothing reads a field before the length has been checked. */
#ifndef WG_MESSAGES_H
#define WG_MESSAGES_H

#include <stdint.h>
#include <string.h>

#include "wg_constants.h"

struct wg_msg_macs {
	uint8_t mac1[WG_COOKIE_LEN];
	uint8_t mac2[WG_COOKIE_LEN];
} __attribute__((packed));

struct wg_msg_initiation {
	uint32_t type; /* 1, then 3 zero bytes: one LE word */
	uint32_t sender_index;
	uint8_t ephemeral[WG_KEY_LEN];
	uint8_t enc_static[WG_KEY_LEN + WG_TAG_LEN];
	uint8_t enc_timestamp[WG_TIMESTAMP_LEN + WG_TAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_response {
	uint32_t type;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t ephemeral[WG_KEY_LEN];
	uint8_t enc_nothing[WG_TAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_cookie_reply {
	uint32_t type;
	uint32_t receiver_index;
	uint8_t nonce[WG_COOKIE_NONCE_LEN];
	uint8_t enc_cookie[WG_COOKIE_LEN + WG_TAG_LEN];
} __attribute__((packed));

struct wg_msg_transport {
	uint32_t type;
	uint32_t receiver_index;
	uint64_t counter;
	uint8_t encrypted[]; /* ciphertext then 16-byte tag */
} __attribute__((packed));

_Static_assert(sizeof(struct wg_msg_initiation) == WG_MSG_INITIATION_LEN, "initiation size");
_Static_assert(sizeof(struct wg_msg_response) == WG_MSG_RESPONSE_LEN, "response size");
_Static_assert(sizeof(struct wg_msg_cookie_reply) == WG_MSG_COOKIE_REPLY_LEN, "cookie size");
_Static_assert(sizeof(struct wg_msg_transport) == WG_MSG_TRANSPORT_HEADER_LEN, "transport size");

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "wg_userspace assumes a little-endian host (fields are accessed in place)"
#endif

static inline uint32_t wg_le32(uint32_t v) { return v; }
static inline uint64_t wg_le64(uint64_t v) { return v; }

/* The message type word of a datagram, or 0 when it is too short to have
 * one or its reserved bytes are not zero. */
static inline uint32_t wg_msg_type(const uint8_t *buf, size_t len)
{
	uint32_t t;
	if (len < 4)
		return 0;
	memcpy(&t, buf, 4);
	t = wg_le32(t);
	return (t >= WG_MSG_INITIATION && t <= WG_MSG_TRANSPORT) ? t : 0;
}

#endif
