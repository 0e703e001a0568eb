/* The bot's replicated state inside constellad: the network's bot token and
 * owner binding (versioned settings spread by gossip, see botwire.h) and the
 * update cursor that travels with the bot lease.
 *
 * Files (state directory, 0600): bot_token (the token, as `constella init
 * --bot-token` writes it) and bot.json (the versions, the owner binding and
 * the cursor). Written atomically, bot_token first: a crash between the two
 * leaves a new token under an old version, which the next gossip round
 * repairs.
 *
 * Spreading: every heartbeat carries the two versions ("bot" member); a node
 * that sees a newer one pulls the settings, sealed, with the signed RPC
 * GetSettings. A joiner gets them inside the join reply.
 *
 * Exactly once across handovers: before the holder answers a batch of
 * updates it commits the batch's last update_id to every member it does not
 * count down (BotCursor, fenced: a member that knows a greater lease refuses
 * it) and waits for their answers; after the answers are sent it records
 * them as answered. The next holder takes the greatest cursor it and its
 * peers know (GetBotCursor) and polls from update_id + 1. So an update
 * answered before a crash is never fetched again, and one not yet committed
 * is fetched by the next holder. See docs/bot.md for the residual window.
 *
 * RPC methods (signed):
 *   GetSettings   {} -> {token?: sealed, owner?: sealed}
 *   BotCursor     {holder, epoch, cursor} -> {cursor} | 409 stale lease
 *   GetBotCursor  {} -> {cursor}
 * Control socket: {"cmd": "bot-token-set", "token": T}. */
#ifndef NODE_BOTSTATE_H
#define NODE_BOTSTATE_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

#include "botwire.h"
#include "cluster.h"
#include "config.h"
#include "rpc.h"
#include "state.h"

struct node_botstate;

#define NODE_BOTSTATE_TOKEN 0x1u
#define NODE_BOTSTATE_OWNER 0x2u
typedef void (*node_botstate_change_fn)(void *ctx, unsigned what);
/* err: 0 committed (every member that answered took it), -ESTALE a member
 * knows a greater lease (do not answer), -ECANCELED shutting down. */
typedef void (*node_botstate_done_fn)(void *user, int err);
typedef void (*node_botstate_cursor_fn)(void *user, const struct node_bot_cursor *c);

/* Loads the files (or adopts BOT_TOKEN from cfg when the network has no
 * token yet), registers the RPC methods and the gossip hook. */
int node_botstate_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		      const char *self_id, struct rpc_server *srv, struct rpc_client *cli,
		      struct node_cluster *cl, struct node_botstate **out, char *err, size_t errlen);
void node_botstate_free(struct node_botstate *bs);

/* Told after a setting changed (locally or from a peer). One listener. */
void node_botstate_on_change(struct node_botstate *bs, node_botstate_change_fn fn, void *ctx);

/* Copies the token into out (cap >= NODE_BOT_TOKEN_MAX + 1): 0, -ENOENT. */
int node_botstate_token(const struct node_botstate *bs, char *out, size_t cap, uint64_t *ver);
/* A new version of the token, saved and spread now. 0, -EINVAL, -EIO. */
int node_botstate_token_set(struct node_botstate *bs, const char *token);

/* The owner's @username as configured (network state owner_username, else
 * OWNER_USERNAME). */
const char *node_botstate_owner_username(const struct node_botstate *bs);
/* The bound user id, 0 when not bound yet. */
int64_t node_botstate_owner_id(const struct node_botstate *bs);
/* Binds the owner (first contact): a new version, saved and spread. */
int node_botstate_owner_bind(struct node_botstate *bs, const char *username, int64_t user_id);

void node_botstate_cursor(const struct node_botstate *bs, struct node_bot_cursor *out);
/* Merges c locally (saved) and sends it to every member not counted down;
 * done runs once all answered (or timed out), possibly before this returns. */
void node_botstate_cursor_commit(struct node_botstate *bs, const struct node_bot_cursor *c,
				 node_botstate_done_fn done, void *user);
/* Asks every member not counted down for its cursor, merges, and gives the
 * result (possibly before this returns). */
void node_botstate_cursor_gather(struct node_botstate *bs, node_botstate_cursor_fn done,
				 void *user);

/* Adds {token_set, token_version, owner, owner_bound, update_id} to o (never
 * the token itself). */
void node_botstate_status_fill(const struct node_botstate *bs, cJSON *o);
/* The join reply's "bot" member (plain values: the reply is sealed). */
cJSON *node_botstate_join_json(const struct node_botstate *bs);
/* Joiner: stores the join reply's "bot" member (may be NULL) into dir. */
int node_botstate_store_join(const char *dir, const cJSON *bot);
/* The control command "bot-token-set". */
cJSON *node_botstate_control(struct node_botstate *bs, const cJSON *req);

#endif
