#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

static struct {
	char name[64];
	enum cst_log_level level;
} cst_log_ctx = { "constella", CST_LOG_INFO };

static const char *const cst_log_names[] = { "error", "warn", "info", "debug" };

void cst_log_init(const char *name, enum cst_log_level level)
{
	snprintf(cst_log_ctx.name, sizeof(cst_log_ctx.name), "%s", name ? name : "constella");
	cst_log_ctx.level = level;
}

void cst_log_set_level(enum cst_log_level level) { cst_log_ctx.level = level; }
enum cst_log_level cst_log_get_level(void) { return cst_log_ctx.level; }

int cst_log_parse_level(const char *s, enum cst_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (s && strcmp(s, cst_log_names[i]) == 0) {
			*out = (enum cst_log_level)i;
			return 0;
		}
	}
	if (s && strcmp(s, "warning") == 0) {
		*out = CST_LOG_WARN;
		return 0;
	}
	return -1;
}

void cst_log(enum cst_log_level level, const char *fmt, ...)
{
	char msg[1024], stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > cst_log_ctx.level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line: embedded newlines would let input forge entries. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* A single fprintf is one write on a line-buffered stderr: lines from
	 * threads do not interleave. */
	fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, ts.tv_nsec / 1000000,
		cst_log_names[level], cst_log_ctx.name, msg);
}
