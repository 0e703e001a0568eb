/* Levelled, one-line-per-event logging with the node (or interface) name.
 * One process-wide sink: the level and name are set once at startup. */
#ifndef CST_LOG_H
#define CST_LOG_H

enum cst_log_level { CST_LOG_ERROR = 0, CST_LOG_WARN = 1, CST_LOG_INFO = 2, CST_LOG_DEBUG = 3 };

void cst_log_init(const char *name, enum cst_log_level level);
void cst_log_set_level(enum cst_log_level level);
enum cst_log_level cst_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int cst_log_parse_level(const char *s, enum cst_log_level *out);

void cst_log(enum cst_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define cst_err(...)   cst_log(CST_LOG_ERROR, __VA_ARGS__)
#define cst_warn(...)  cst_log(CST_LOG_WARN, __VA_ARGS__)
#define cst_info(...)  cst_log(CST_LOG_INFO, __VA_ARGS__)
#define cst_debug(...) do { if (cst_log_get_level() >= CST_LOG_DEBUG) \
		cst_log(CST_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
