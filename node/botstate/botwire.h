/* The bot's network-level settings and update cursor, as values and on the
 * wire: pure, strict parsers (fuzzed by fuzz/node/fuzz_node_botwire.c) and
 * the sealing of settings for gossip.
 *
 * Two settings are replicated to every member, each with its own version
 * (ver, origin): the bot token and the owner binding (OWNER_USERNAME bound
 * to the owner's numeric Telegram user id at first contact). A change makes
 * ver + 1 with this node as origin; of two versions the greater ver wins,
 * and on a tie the smaller origin id, so concurrent changes converge.
 * Between members (GetSettings) a setting travels sealed with
 * XChaCha20-Poly1305 under K = BLAKE2b-256(key = network secret,
 * "constella settings key"), AD = "<name>|<ver>|<origin>|<network_id>": the
 * signed RPC authenticates but does not encrypt, and the token must never be
 * in clear on the wire. Inside the join reply (itself sealed under the
 * invite-derived key) they travel as plain values.
 *
 * The cursor is the last Telegram update_id the bot holder committed to
 * (update_id) and the last whose answers were all sent (answered), for the
 * token version it belongs to (update ids are per bot), stamped with the
 * lease epoch of the holder that committed it. */
#ifndef NODE_BOTWIRE_H
#define NODE_BOTWIRE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define NODE_BOT_TOKEN_MAX 127
#define NODE_BOT_SETTINGS_KEY 32

struct node_bot_cursor {
	uint64_t token_ver;
	int64_t update_id; /* committed: never answered again */
	int64_t answered;  /* every update <= answered was answered */
	uint64_t epoch;    /* lease epoch of the holder that committed it */
};

struct node_bot_settings {
	uint64_t token_ver;
	char token_origin[NODE_ID_HEX + 1];
	char token[NODE_BOT_TOKEN_MAX + 1]; /* secret; "" when none */
	uint64_t owner_ver;
	char owner_origin[NODE_ID_HEX + 1];
	char owner_username[64];            /* as bound, with its @ */
	int64_t owner_id;                   /* 0: not bound */
	struct node_bot_cursor cursor;
};

#define NODE_BOT_HAVE_TOKEN 0x1u
#define NODE_BOT_HAVE_OWNER 0x2u

/* > 0 when (va, oa) is newer than (vb, ob). */
int node_botwire_newer(uint64_t va, const char *oa, uint64_t vb, const char *ob);
/* Telegram tokens go into URL paths: 1-127 of [A-Za-z0-9:_-]. */
int node_botwire_token_ok(const char *t);
/* "@name" or "name", 1-32 of [A-Za-z0-9_] after the @. */
int node_botwire_username_ok(const char *u);
/* Same user name, ignoring a leading @ and case (Telegram's rule). */
int node_botwire_username_eq(const char *a, const char *b);

void node_botwire_key(const char *network_secret_hex, uint8_t key[NODE_BOT_SETTINGS_KEY]);

/* {"token": {ver, origin}, "owner": {ver, origin}}: the versions only. */
cJSON *node_botwire_digest(const struct node_bot_settings *s);
/* Parses a digest into the ver/origin fields of out (others zeroed). */
int node_botwire_parse_digest(const cJSON *d, struct node_bot_settings *out);

/* GetSettings' result: each present setting sealed. NULL on -ENOMEM. */
cJSON *node_botwire_seal(const struct node_bot_settings *s, const uint8_t key[NODE_BOT_SETTINGS_KEY],
			 const char *network_id);
/* Opens it: *have gets the settings present and valid. A malformed member
 * or one that does not open makes the whole document -EINVAL. */
int node_botwire_open(const cJSON *doc, const uint8_t key[NODE_BOT_SETTINGS_KEY],
		      const char *network_id, struct node_bot_settings *out, unsigned *have);

/* The join reply's "bot" member (plain: the reply is sealed as a whole). */
cJSON *node_botwire_plain(const struct node_bot_settings *s);
int node_botwire_parse_plain(const cJSON *doc, struct node_bot_settings *out, unsigned *have);

cJSON *node_botwire_cursor_json(const struct node_bot_cursor *c);
int node_botwire_parse_cursor(const cJSON *o, struct node_bot_cursor *out);
/* Merges in into *into: a newer token version replaces it, the same one
 * takes the maxima. Returns 1 when *into changed. */
int node_botwire_cursor_merge(struct node_bot_cursor *into, const struct node_bot_cursor *in);

/* state/bot.json: everything but the token (which is state/bot_token). */
char *node_botwire_file_json(const struct node_bot_settings *s);
int node_botwire_file_parse(const char *text, size_t len, struct node_bot_settings *out, char *err,
			    size_t errlen);

#endif
