/* The stand-in bot runner (standin.h). */
#include "standin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

int bot_standin_init(struct bot_standin *b, const char *node_name, const char *log_path)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->node, sizeof(b->node), "%s", node_name);
	b->log_fd = -1;
	if (log_path && *log_path &&
	    (b->log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -errno;
	return 0;
}

void bot_standin_deinit(struct bot_standin *b)
{
	if (b->epoch)
		bot_standin_stop(b, b->epoch);
	if (b->log_fd >= 0)
		close(b->log_fd);
	b->log_fd = -1;
}

static void standin_event(struct bot_standin *b, const char *what, uint64_t epoch)
{
	char line[160];
	int n;

	if (b->log_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %s %llu %llu\n", what, b->node,
		     (unsigned long long)epoch, (unsigned long long)cst_clock_mono_ns());
	/* one write: lines from several daemons never interleave */
	if (n > 0 && write(b->log_fd, line, (size_t)n) != n)
		cst_warn("runner log: %s", strerror(errno));
}

int bot_standin_start(void *ctx, uint64_t epoch)
{
	struct bot_standin *b = ctx;

	/* Logged before the start is reported: a test then never sees a
	 * start later than the moment the runner was in fact running. */
	standin_event(b, "start", epoch);
	b->epoch = epoch;
	cst_info("stand-in bot runner: polling would start here (epoch %llu)",
		 (unsigned long long)epoch);
	return 0;
}

void bot_standin_stop(void *ctx, uint64_t epoch)
{
	struct bot_standin *b = ctx;

	b->epoch = 0;
	/* after the runner has stopped: a stop line is never early */
	standin_event(b, "stop", epoch);
}
