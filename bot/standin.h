/* The stand-in bot runner: what the bot lease starts and stops until the
 * Telegram bot lands (it will take this place with the same two calls). It
 * logs its runs, and for tests appends them to CONSTELLA_TEST_RUNNER_LOG:
 *     start <node name> <epoch> <CLOCK_MONOTONIC ns>
 *     stop <node name> <epoch> <CLOCK_MONOTONIC ns>
 * one O_APPEND write per line, so several daemons can share one file and a
 * test can check that no two runs ever overlap. */
#ifndef BOT_STANDIN_H
#define BOT_STANDIN_H

#include <stdint.h>

struct bot_standin {
	char node[64];
	uint64_t epoch; /* 0: not running */
	int log_fd;     /* -1: no test log */
};

/* log_path NULL or empty: no test log. 0 or -errno (cannot open the log). */
int bot_standin_init(struct bot_standin *b, const char *node_name, const char *log_path);
void bot_standin_deinit(struct bot_standin *b);
/* Shaped for struct node_cluster_runner (ctx = the bot_standin). */
int bot_standin_start(void *ctx, uint64_t epoch);
void bot_standin_stop(void *ctx, uint64_t epoch);

#endif
