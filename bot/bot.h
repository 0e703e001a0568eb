/* The Telegram bot: what the fenced bot lease starts and stops (it takes the
 * place of the stand-in runner that came first, with the same two calls).
 *
 * While this node holds the lease the bot long-polls getUpdates with the
 * network's token, answers the owner (node list, node card, stats, speed
 * test, metrics chart, reboot, invite, remove) and refuses everyone else.
 * On losing the lease it stops at once: every Bot API call in flight is
 * cancelled. Nothing here blocks the loop: Bot API calls go through libcurl's
 * multi interface (api.c), node data through the signed RPC.
 *
 * For tests, with CONSTELLA_TEST_RUNNER_LOG=FILE it appends
 *     start <node name> <epoch> <CLOCK_MONOTONIC ns>
 *     stop <node name> <epoch> <CLOCK_MONOTONIC ns>
 * one O_APPEND write per line (the start line before the runner starts,
 * the stop line after it stopped; docs/cluster.md). */
#ifndef BOT_BOT_H
#define BOT_BOT_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

struct node_daemon;
struct bot;

struct bot_config {
	const char *api_url;       /* TELEGRAM_API_URL; NULL = https://api.telegram.org */
	double poll_timeout;       /* getUpdates long-poll seconds; 0 = 25 */
	const char *runner_log;    /* CONSTELLA_TEST_RUNNER_LOG; may be NULL */
};

/* 0, -EINVAL (a bad TELEGRAM_API_URL), -errno (runner log). */
int bot_new(struct ev_loop *loop, const struct bot_config *cfg, struct bot **out);
/* The daemon the bot serves; call before the loop runs. */
void bot_attach(struct bot *b, struct node_daemon *d, const char *node_name);
/* Shaped for struct node_cluster_runner (ctx = the bot). */
int bot_runner_start(void *ctx, uint64_t epoch);
void bot_runner_stop(void *ctx, uint64_t epoch);
/* {"state": "stopped"|"starting"|"running"|"backoff"|"rate_limited"|
 *  "conflict"|"bad_token"|"no_token", "since", "epoch", "bot_username",
 *  "last_error", "updates", "conflicts", "rate_limited"}: never the token. */
cJSON *bot_runner_status(void *ctx);
/* After the daemon is freed. */
void bot_free(struct bot *b);

#endif
