/* The JSON of the telemetry RPC methods (docs/cli.md, "RPC methods:
 * telemetry, speed tests, reboot"): GetStats's snapshot and summaries, and
 * GetTS's series. Unknown figures (NAN) become null. */
#ifndef TEL_JSON_H
#define TEL_JSON_H

#include <cJSON.h>
#include <stdint.h>

#include "history.h"
#include "sample.h"

#define TEL_JSON_MAX_POINTS 10000

/* Adds v rounded to `decimals` places, or null when NAN. */
void tel_json_add_num(cJSON *o, const char *key, double v, int decimals);

/* GetStats without "overlay.peers", "speedtest" and "summaries" (the
 * caller adds them). overlay_if "" = no overlay ("overlay": null). */
cJSON *tel_json_sample(const struct tel_sample *s, const char *name, unsigned sample_every_s,
		       const char *overlay_if);
cJSON *tel_json_summary(const struct tel_summary *s);
/* {kind: summary} for every kind over the points since `since`. */
cJSON *tel_json_summaries(const struct tel_history *h, uint32_t since);

/* Checks GetStats's / GetTS's "hours" (absent: the whole window). 0 or
 * -EINVAL with the reason in err; *since is the first timestamp inside. */
int tel_json_hours(const struct tel_history *h, const cJSON *params, int64_t now, double *hours,
		   uint32_t *since, char *err, size_t errlen);
/* GetTS: 0 and *out, or -EINVAL and a reason in err (a 400 for the caller). */
int tel_json_series(const struct tel_history *h, const cJSON *params, int64_t now, cJSON **out,
		    char *err, size_t errlen);

#endif
