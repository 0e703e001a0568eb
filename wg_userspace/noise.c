#include "noise.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto.h"

static const char wg_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char wg_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* Ci = HASH(CONSTRUCTION), Hi = HASH(Ci ‖ IDENTIFIER): constants, computed
 * on first use (cheap, and idempotent if two threads race). */
static void wg_noise_initial(uint8_t ck[WG_HASH_LEN], uint8_t h[WG_HASH_LEN])
{
	wg_hash(ck, wg_construction, sizeof(wg_construction) - 1);
	wg_hash3(h, ck, WG_HASH_LEN, wg_identifier, sizeof(wg_identifier) - 1, NULL, 0);
}

static void wg_mix_hash(uint8_t h[WG_HASH_LEN], const void *in, size_t len)
{
	wg_hash3(h, h, WG_HASH_LEN, in, len, NULL, 0);
}

/* ck = KDF1(ck, in) */
static void wg_mix_key(uint8_t ck[WG_HASH_LEN], const void *in, size_t len)
{
	wg_kdf(ck, NULL, NULL, ck, in, len);
}

/* (ck, key) = KDF2(ck, DH(priv, pub)); fails on an all-zero DH. */
static int wg_mix_dh(uint8_t ck[WG_HASH_LEN], uint8_t key[WG_KEY_LEN],
		     const uint8_t priv[WG_KEY_LEN], const uint8_t pub[WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];

	if (wg_dh(dh, priv, pub) < 0)
		return -EINVAL;
	wg_kdf(ck, key, NULL, ck, dh, WG_KEY_LEN);
	sodium_memzero(dh, sizeof(dh));
	return 0;
}

static int wg_mix_precomputed(uint8_t ck[WG_HASH_LEN], uint8_t key[WG_KEY_LEN],
			      const uint8_t ss[WG_KEY_LEN])
{
	if (wg_key_is_zero(ss))
		return -EINVAL;
	wg_kdf(ck, key, NULL, ck, ss, WG_KEY_LEN);
	return 0;
}

int wg_identity_set_private_key(struct wg_identity *id, const uint8_t private_key[WG_KEY_LEN])
{
	struct wg_identity tmp;
	int ret;

	memcpy(tmp.private_key, private_key, WG_KEY_LEN);
	ret = wg_key_public_from_private(tmp.public_key, tmp.private_key);
	if (ret == 0) {
		tmp.has_key = true;
		*id = tmp;
	}
	sodium_memzero(&tmp, sizeof(tmp));
	return ret;
}

void wg_identity_clear(struct wg_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

void wg_noise_handshake_rekey_identity(struct wg_handshake *hs, const struct wg_identity *id)
{
	if (!id->has_key || wg_dh(hs->precomputed_static_static, id->private_key,
				  hs->remote_static) < 0)
		sodium_memzero(hs->precomputed_static_static, WG_KEY_LEN);
}

void wg_noise_handshake_set_psk(struct wg_handshake *hs, const uint8_t *psk)
{
	if (psk)
		memcpy(hs->preshared_key, psk, WG_KEY_LEN);
	else
		sodium_memzero(hs->preshared_key, WG_KEY_LEN);
}

void wg_noise_handshake_init(struct wg_handshake *hs, const struct wg_identity *id,
			     const uint8_t remote_static[WG_KEY_LEN], const uint8_t *psk)
{
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, WG_KEY_LEN);
	wg_noise_handshake_set_psk(hs, psk);
	wg_noise_handshake_rekey_identity(hs, id);
}

void wg_noise_handshake_clear(struct wg_handshake *hs)
{
	sodium_memzero(hs->ephemeral_private, WG_KEY_LEN);
	sodium_memzero(hs->remote_ephemeral, WG_KEY_LEN);
	sodium_memzero(hs->hash, WG_HASH_LEN);
	sodium_memzero(hs->chaining_key, WG_HASH_LEN);
	hs->remote_index = 0;
	hs->local_index = 0;
	hs->state = WG_HANDSHAKE_ZEROED;
}

int wg_noise_create_initiation(const struct wg_identity *id, struct wg_handshake *hs,
			       struct wg_msg_initiation *msg, uint32_t local_index,
			       uint64_t wall_ns)
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], eph[WG_KEY_LEN];
	uint8_t ts[WG_TIMESTAMP_LEN];
	int ret = -EINVAL;

	if (!id->has_key || wg_key_is_zero(hs->precomputed_static_static))
		goto out;
	memset(msg, 0, sizeof(*msg));
	msg->type = wg_le32(WG_MSG_INITIATION);
	msg->sender_index = local_index;
	wg_noise_initial(ck, h);
	wg_mix_hash(h, hs->remote_static, WG_KEY_LEN);
	/* e */
	wg_key_generate_private(eph);
	if (wg_key_public_from_private(msg->ephemeral, eph) < 0)
		goto out;
	wg_mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	wg_mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* es */
	if (wg_mix_dh(ck, key, eph, hs->remote_static) < 0)
		goto out;
	/* s */
	wg_aead_seal(msg->enc_static, id->public_key, WG_KEY_LEN, h, WG_HASH_LEN, 0, key);
	wg_mix_hash(h, msg->enc_static, sizeof(msg->enc_static));
	/* ss */
	if (wg_mix_precomputed(ck, key, hs->precomputed_static_static) < 0)
		goto out;
	/* {t} */
	wg_tai64n(ts, wall_ns);
	wg_aead_seal(msg->enc_timestamp, ts, WG_TIMESTAMP_LEN, h, WG_HASH_LEN, 0, key);
	wg_mix_hash(h, msg->enc_timestamp, sizeof(msg->enc_timestamp));

	memcpy(hs->ephemeral_private, eph, WG_KEY_LEN);
	memcpy(hs->hash, h, WG_HASH_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	hs->local_index = local_index;
	hs->remote_index = 0;
	hs->state = WG_HANDSHAKE_CREATED_INITIATION;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(eph, sizeof(eph));
	return ret;
}

int wg_noise_consume_initiation_begin(const struct wg_identity *id,
				      const struct wg_msg_initiation *msg,
				      struct wg_noise_initiation_partial *p)
{
	uint8_t key[WG_KEY_LEN];
	int ret = -EINVAL;

	if (!id->has_key)
		goto out;
	wg_noise_initial(p->chaining_key, p->hash);
	wg_mix_hash(p->hash, id->public_key, WG_KEY_LEN);
	/* e */
	memcpy(p->remote_ephemeral, msg->ephemeral, WG_KEY_LEN);
	wg_mix_key(p->chaining_key, msg->ephemeral, WG_KEY_LEN);
	wg_mix_hash(p->hash, msg->ephemeral, WG_KEY_LEN);
	/* es */
	if (wg_mix_dh(p->chaining_key, key, id->private_key, msg->ephemeral) < 0)
		goto out;
	/* s */
	if (wg_aead_open(p->remote_static, msg->enc_static, sizeof(msg->enc_static), p->hash,
			 WG_HASH_LEN, 0, key) < 0)
		goto out;
	wg_mix_hash(p->hash, msg->enc_static, sizeof(msg->enc_static));
	ret = 0;
out:
	sodium_memzero(key, sizeof(key));
	if (ret < 0)
		sodium_memzero(p, sizeof(*p));
	return ret;
}

int wg_noise_consume_initiation_finish(struct wg_handshake *hs,
				       const struct wg_msg_initiation *msg,
				       struct wg_noise_initiation_partial *p, uint64_t now_ns)
{
	uint8_t key[WG_KEY_LEN], ts[WG_TIMESTAMP_LEN];
	bool replay, flood;
	int ret = -EINVAL;

	if (sodium_memcmp(p->remote_static, hs->remote_static, WG_KEY_LEN) != 0)
		goto out;
	/* ss */
	if (wg_mix_precomputed(p->chaining_key, key, hs->precomputed_static_static) < 0)
		goto out;
	/* {t} */
	if (wg_aead_open(ts, msg->enc_timestamp, sizeof(msg->enc_timestamp), p->hash,
			 WG_HASH_LEN, 0, key) < 0)
		goto out;
	wg_mix_hash(p->hash, msg->enc_timestamp, sizeof(msg->enc_timestamp));
	/* A captured initiation replayed later carries an old timestamp: only a
	 * strictly newer one may reset the session (big-endian compare). */
	replay = memcmp(ts, hs->latest_timestamp, WG_TIMESTAMP_LEN) <= 0;
	flood = hs->last_initiation_consumption_ns &&
		now_ns - hs->last_initiation_consumption_ns <
			WG_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND;
	if (replay) {
		ret = -EALREADY;
		goto out;
	}
	if (flood) {
		ret = -EBUSY;
		goto out;
	}
	memcpy(hs->remote_ephemeral, p->remote_ephemeral, WG_KEY_LEN);
	memcpy(hs->latest_timestamp, ts, WG_TIMESTAMP_LEN);
	memcpy(hs->hash, p->hash, WG_HASH_LEN);
	memcpy(hs->chaining_key, p->chaining_key, WG_HASH_LEN);
	sodium_memzero(hs->ephemeral_private, WG_KEY_LEN);
	hs->remote_index = msg->sender_index;
	hs->last_initiation_consumption_ns = now_ns ? now_ns : 1;
	hs->state = WG_HANDSHAKE_CONSUMED_INITIATION;
	ret = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ts, sizeof(ts));
	sodium_memzero(p, sizeof(*p));
	return ret;
}

int wg_noise_create_response(struct wg_handshake *hs, struct wg_msg_response *msg,
			     uint32_t local_index)
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], eph[WG_KEY_LEN];
	uint8_t tau[WG_HASH_LEN], dh[WG_KEY_LEN];
	int ret = -EINVAL;

	if (hs->state != WG_HANDSHAKE_CONSUMED_INITIATION)
		goto out;
	memcpy(ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(h, hs->hash, WG_HASH_LEN);
	memset(msg, 0, sizeof(*msg));
	msg->type = wg_le32(WG_MSG_RESPONSE);
	msg->sender_index = local_index;
	msg->receiver_index = hs->remote_index;
	/* e */
	wg_key_generate_private(eph);
	if (wg_key_public_from_private(msg->ephemeral, eph) < 0)
		goto out;
	wg_mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	wg_mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* ee */
	if (wg_dh(dh, eph, hs->remote_ephemeral) < 0)
		goto out;
	wg_mix_key(ck, dh, WG_KEY_LEN);
	/* se */
	if (wg_dh(dh, eph, hs->remote_static) < 0)
		goto out;
	wg_mix_key(ck, dh, WG_KEY_LEN);
	/* psk */
	wg_kdf(ck, tau, key, ck, hs->preshared_key, WG_KEY_LEN);
	wg_mix_hash(h, tau, WG_HASH_LEN);
	/* {} */
	wg_aead_seal(msg->enc_nothing, NULL, 0, h, WG_HASH_LEN, 0, key);
	wg_mix_hash(h, msg->enc_nothing, sizeof(msg->enc_nothing));

	memcpy(hs->hash, h, WG_HASH_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	hs->local_index = local_index;
	hs->state = WG_HANDSHAKE_CREATED_RESPONSE;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(eph, sizeof(eph));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

int wg_noise_consume_response(const struct wg_identity *id, struct wg_handshake *hs,
			      const struct wg_msg_response *msg)
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN];
	uint8_t tau[WG_HASH_LEN], dh[WG_KEY_LEN];
	int ret = -EINVAL;

	if (!id->has_key || hs->state != WG_HANDSHAKE_CREATED_INITIATION ||
	    msg->receiver_index != hs->local_index)
		goto out;
	memcpy(ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(h, hs->hash, WG_HASH_LEN);
	/* e */
	wg_mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	wg_mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* ee */
	if (wg_dh(dh, hs->ephemeral_private, msg->ephemeral) < 0)
		goto out;
	wg_mix_key(ck, dh, WG_KEY_LEN);
	/* se */
	if (wg_dh(dh, id->private_key, msg->ephemeral) < 0)
		goto out;
	wg_mix_key(ck, dh, WG_KEY_LEN);
	/* psk */
	wg_kdf(ck, tau, key, ck, hs->preshared_key, WG_KEY_LEN);
	wg_mix_hash(h, tau, WG_HASH_LEN);
	/* {} */
	if (wg_aead_open(NULL, msg->enc_nothing, sizeof(msg->enc_nothing), h, WG_HASH_LEN, 0,
			 key) < 0)
		goto out;
	wg_mix_hash(h, msg->enc_nothing, sizeof(msg->enc_nothing));

	memcpy(hs->remote_ephemeral, msg->ephemeral, WG_KEY_LEN);
	memcpy(hs->hash, h, WG_HASH_LEN);
	memcpy(hs->chaining_key, ck, WG_HASH_LEN);
	hs->remote_index = msg->sender_index;
	hs->state = WG_HANDSHAKE_CONSUMED_RESPONSE;
	ret = 0;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

int wg_noise_derive_keys(struct wg_handshake *hs, uint8_t send_key[WG_KEY_LEN],
			 uint8_t recv_key[WG_KEY_LEN], bool *i_am_initiator)
{
	uint8_t first[WG_KEY_LEN], second[WG_KEY_LEN];

	if (hs->state != WG_HANDSHAKE_CREATED_RESPONSE &&
	    hs->state != WG_HANDSHAKE_CONSUMED_RESPONSE)
		return -EINVAL;
	*i_am_initiator = hs->state == WG_HANDSHAKE_CONSUMED_RESPONSE;
	wg_kdf(first, second, NULL, hs->chaining_key, NULL, 0);
	memcpy(send_key, *i_am_initiator ? first : second, WG_KEY_LEN);
	memcpy(recv_key, *i_am_initiator ? second : first, WG_KEY_LEN);
	sodium_memzero(first, sizeof(first));
	sodium_memzero(second, sizeof(second));
	wg_noise_handshake_clear(hs);
	return 0;
}
