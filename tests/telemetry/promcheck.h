/* A strict checker of the Prometheus text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats), with promtool's
 * lint rules on top, for testing /metrics without Prometheus installed:
 *   - every line ends with \n (the last one too); no NUL, no \r, no empty
 *     line (legal, but /metrics never writes one);
 *   - "# HELP name text" and "# TYPE name type" at most once per family,
 *     TYPE before the family's first sample, type one of counter, gauge,
 *     histogram, summary, untyped; HELP text escapes only \\ and \n;
 *   - samples: name{label="value",...} value [timestamp], names
 *     [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* not
 *     starting with __, no label twice, values escaping only \\ \" \n,
 *     values Go floats (NaN, +Inf, -Inf included), timestamps integers;
 *   - a family's samples are contiguous, and no series appears twice;
 *   - lint: every family has HELP and TYPE; counters end in _total and
 *     nothing else does; snake_case; base units only (no _milliseconds,
 *     _kilobytes, _percent...); with prefix set, every name starts with it. */
#ifndef PROMCHECK_H
#define PROMCHECK_H

#include <stddef.h>

/* 0, or -1 with "line N: reason" in err. prefix may be NULL. Also counts
 * the samples seen. */
int promcheck(const char *text, size_t len, const char *prefix, size_t *samples, char *err,
	      size_t errlen);

#endif
