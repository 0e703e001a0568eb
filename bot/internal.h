/* Shared by the bot's own files (runner.c, send.c, ui.c, actions.c): the
 * runner's state. Nothing outside bot/ includes this. */
#ifndef BOT_INTERNAL_H
#define BOT_INTERNAL_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

#include "api.h"
#include "bot.h"
#include "botwire.h"
#include "update.h"

#define BOT_MAX_CHATS 8
#define BOT_MAX_STRANGERS 256

enum bot_state {
	BOT_STOPPED = 0, BOT_STARTING, BOT_RUNNING, BOT_BACKOFF, BOT_RATE_LIMITED, BOT_CONFLICT,
	BOT_BAD_TOKEN, BOT_NO_TOKEN,
};

enum bot_screen_kind {
	BOT_SCR_NONE = 0, BOT_SCR_LIST, BOT_SCR_CARD, BOT_SCR_REBOOT_ASK, BOT_SCR_REMOVE_ASK,
};

/* One chat's screen: the one message edited in place. */
struct bot_chat {
	int64_t chat_id;       /* 0: free slot */
	int64_t screen_msg;    /* message id of the screen, 0 while none (or being sent) */
	uint32_t gen;          /* generation of what the screen shows now */
	enum bot_screen_kind screen;
	char node[NODE_ID_HEX + 1]; /* card / confirmation: which node */
	unsigned page;
	double used;           /* for reuse of the least recently used slot */
};

/* The updates of one getUpdates answer, committed before they are answered;
 * when every first answer is out, they are recorded as answered. */
struct bot_batch {
	struct bot *b;
	uint32_t run;
	int64_t last_id;
	unsigned pending; /* first answers still in flight, +1 while dispatching */
};

struct bot {
	struct ev_loop *loop;
	struct node_daemon *d;
	struct bot_api *api;
	char node_name[64];
	double poll_timeout;
	int runlog_fd;

	/* the lease run */
	uint64_t epoch;         /* 0: not running */
	uint32_t run;           /* bumped at every start and stop: late callbacks compare */
	enum bot_state state;
	double state_since;     /* unix s */
	char last_error[200];
	char username[40];      /* the bot's own, from getMe */
	uint64_t token_ver;
	int64_t offset;         /* next getUpdates offset */
	int polling;
	double backoff;         /* next network back-off, s */
	double poll_started;
	ev_timer wait;          /* back-off, yield, rate limit, bad-token recheck */
	void (*wait_fn)(struct bot *b);
	struct bot_batch *cur;  /* the batch being dispatched: its first answers */
	unsigned long n_updates, n_conflicts, n_rate_limited;

	struct bot_chat chats[BOT_MAX_CHATS];
	int64_t strangers[BOT_MAX_STRANGERS]; /* refused once per run */
	unsigned n_strangers;
};

/* ---- send.c: Bot API calls with the runner's retry rules ---- */
typedef void (*bot_sent_fn)(struct bot *b, void *user, const struct bot_api_result *res);
/* method with params (taken). 429 is retried after retry_after; a refused
 * connection always; other network errors only for idempotent methods
 * (edits, answers, deletes). done (may be NULL) runs exactly once; with
 * err -ECANCELED when the run ended (then it only frees). A call made while a batch is dispatched counts as its answer. */
void bot_send(struct bot *b, const char *method, cJSON *params, bot_sent_fn done, void *user);
void bot_send_photo(struct bot *b, int64_t chat_id, const void *png, size_t len,
		    const char *caption, cJSON *markup, bot_sent_fn done, void *user);
/* sendMessage in HTML with an optional keyboard (taken) and reply. */
void bot_send_text(struct bot *b, int64_t chat_id, const char *html, cJSON *markup,
		   int64_t reply_to, bot_sent_fn done, void *user);
void bot_batch_put(struct bot_batch *bt);

/* ---- ui.c: the owner's screens ---- */
struct bot_node_view;
void bot_ui_handle(struct bot *b, const struct bot_update *u);
void bot_ui_reset(struct bot *b);
/* A note to the owner (e.g. after a handover in the middle of an answer). */
void bot_ui_notify_owner(struct bot *b, const char *html);
struct bot_chat *bot_ui_chat(struct bot *b, int64_t chat_id);
/* A member by full id or the 16-hex prefix of a button. 0 or -ENOENT. */
int bot_ui_node(struct bot *b, const char *id, struct bot_node_view *out);
/* Shows node's card (with body, HTML) as the chat's screen: edits the
 * screen message, or sends a new one when there is none. Returns the
 * screen's new generation. */
uint32_t bot_ui_card(struct bot *b, struct bot_chat *c, const char *node_id, const char *body);
/* The card again as a new message below (after a chart), the old screen
 * message deleted. */
void bot_ui_card_below(struct bot *b, struct bot_chat *c, const char *node_id, const char *body);

/* ---- actions.c: what buttons and commands ask of the nodes ---- */
void bot_act_stats(struct bot *b, struct bot_chat *c, const struct bot_node_view *v);
void bot_act_speedtest(struct bot *b, struct bot_chat *c, const struct bot_node_view *v);
void bot_act_metrics(struct bot *b, struct bot_chat *c, const struct bot_node_view *v);
void bot_act_reboot(struct bot *b, struct bot_chat *c, const struct bot_node_view *v);
/* /stats [NAME]: name NULL = every node. */
void bot_act_stats_command(struct bot *b, int64_t chat_id, int64_t reply_to, const char *name);

/* ---- runner.c ---- */
double bot_now_wall(void);
const char *bot_state_str(enum bot_state s);

#endif
