/* Two in-process protocol devices that know each other as peers. */
#ifndef WG_TEST_FIXTURE_H
#define WG_TEST_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "crypto.h"
#include "proto.h"

struct side {
	struct wg_proto proto;
	uint8_t priv[32], pub[32];
	struct wg_peer *peer; /* the other side, as our peer */
	struct sockaddr_in addr;
};

static inline void side_keys(struct side *s)
{
	wg_key_generate_private(s->priv);
	wg_key_public_from_private(s->pub, s->priv);
}

static inline void pair_init(struct side *a, struct side *b, const uint8_t *psk)
{
	struct side *s[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		memset(s[i], 0, sizeof(*s[i]));
		wg_proto_init(&s[i]->proto);
		side_keys(s[i]);
		wg_proto_set_private_key(&s[i]->proto, s[i]->priv);
		s[i]->addr.sin_family = AF_INET;
		s[i]->addr.sin_port = htons((uint16_t)(51820 + i));
		s[i]->addr.sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)i);
	}
	wg_proto_add_peer(&a->proto, b->pub, psk, &a->peer);
	wg_proto_add_peer(&b->proto, a->pub, psk, &b->peer);
}

static inline void pair_free(struct side *a, struct side *b)
{
	wg_peer_put(a->peer);
	wg_peer_put(b->peer);
	wg_proto_deinit(&a->proto);
	wg_proto_deinit(&b->proto);
}

static inline int side_receive(struct side *to, struct side *from, const void *buf, size_t len,
			       uint64_t now, uint8_t *plain, size_t cap, struct wg_proto_result *res)
{
	return wg_proto_receive(&to->proto, buf, len, (const struct sockaddr *)&from->addr,
				sizeof(from->addr), false, now, 1700000000ULL * WG_NSEC_PER_SEC + now,
				plain, cap, res);
}

/* Full handshake a → b at time now; returns 0 when both have sessions. */
static inline int pair_handshake(struct side *a, struct side *b, uint64_t now)
{
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	struct wg_proto_result r;
	uint64_t wall = 1700000000ULL * WG_NSEC_PER_SEC + now;
	int ret;

	ret = wg_proto_create_initiation(&a->proto, a->peer, &init, now, wall);
	if (ret < 0)
		return ret;
	ret = side_receive(b, a, &init, sizeof(init), now, NULL, 0, &r);
	if (ret < 0)
		return ret;
	if (r.event != WG_PROTO_INITIATION || r.peer != b->peer) {
		wg_proto_result_release(&r);
		return -EPROTO;
	}
	ret = wg_proto_create_response(&b->proto, r.peer, &resp, now, wall);
	wg_proto_result_release(&r);
	if (ret < 0)
		return ret;
	ret = side_receive(a, b, &resp, sizeof(resp), now, NULL, 0, &r);
	if (ret == 0 && r.event != WG_PROTO_RESPONSE)
		ret = -EPROTO;
	wg_proto_result_release(&r);
	return ret;
}

#endif
