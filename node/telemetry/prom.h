/* The Prometheus text exposition (format 0.0.4) of a node's figures, for
 * GET /metrics. Names follow Prometheus conventions: a constella_ prefix,
 * base units in the name (_bytes, _seconds, _ratio), _total for counters,
 * lower-case snake_case labels. A figure that is unknown is left out, not
 * exported as NaN. */
#ifndef TEL_PROM_H
#define TEL_PROM_H

#include <stddef.h>

#include "sample.h"
#include "speedtest.h"
#include "telemetry.h"

struct tel_prom_input {
	const struct tel_sample *s;
	const char *name, *version;
	long clk_tck;                 /* USER_HZ: /proc/stat ticks per second */
	const struct node_telemetry_overlay_peer *peers; /* NULL: no embedded device */
	size_t n_peers;
	const struct tel_st_result *last_peer, *last_inet; /* may be NULL */
	double sample_cost_s;         /* last sampling round, NAN unknown */
	size_t history_bytes;
};

/* The document as a NUL-terminated malloc'd string. 0 or -ENOMEM. */
int tel_prom_render(const struct tel_prom_input *in, char **out, size_t *len);

#endif
