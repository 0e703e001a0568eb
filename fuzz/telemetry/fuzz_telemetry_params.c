/* libFuzzer target for what the telemetry RPC methods read from the
 * network: the params of GetTS ({kind, hours, points}) and GetStats
 * ({hours}), and the hello of the speed test's data connection. The input
 * is the params' JSON text (any bytes); the same bytes are also a hello.
 * A refusal carries a reason and no document; an accepted GetTS has at most
 * `points` points, all inside the window asked for, in time order, and a
 * summary whose count is the raw points' count; an accepted hello is
 * exactly the magic and the token. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "st_proto.h"
#include "tel_json.h"

#define NOW 1764000000

static struct tel_history hist;
static const uint8_t token[TEL_ST_TOKEN_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static void boom(const char *why)
{
	fprintf(stderr, "%s\n", why);
	abort();
}

/* A node sampled every 10 s for the last 7 hours (the ring keeps 6), with
 * a few speed tests: every kind has points. */
static void setup(void)
{
	if (tel_history_init(&hist, 10, 6))
		boom("history init");
	for (int64_t ts = NOW - 7 * 3600; ts <= NOW; ts += 10)
		for (int k = 0; k < TEL_K_N_SAMPLED; k++)
			tel_history_add(&hist, (enum tel_kind)k, ts, (double)(ts % 97) + k);
	for (int i = 0; i < 5; i++)
		for (int k = TEL_K_N_SAMPLED; k < TEL_K_N; k++)
			tel_history_add(&hist, (enum tel_kind)k, NOW - 3600 * i, 1e6 * (i + 1));
}

static void check_series(const cJSON *params)
{
	const cJSON *jp = cJSON_GetObjectItemCaseSensitive(params, "points");
	const cJSON *pts, *sum, *p;
	char err[400] = "";
	cJSON *out = (cJSON *)1;
	double hours, count, prev = -1;
	uint32_t since;
	int n = 0;

	if (tel_json_series(&hist, params, NOW, &out, err, sizeof(err))) {
		if (out || !err[0])
			boom("GetTS refused without a reason or with a document");
		return;
	}
	if (!out || tel_json_hours(&hist, params, NOW, &hours, &since, err, sizeof(err)))
		boom("GetTS accepted what the hours check refuses");
	pts = cJSON_GetObjectItemCaseSensitive(out, "points");
	sum = cJSON_GetObjectItemCaseSensitive(out, "summary");
	count = cJSON_GetObjectItemCaseSensitive(sum, "count")->valuedouble;
	cJSON_ArrayForEach(p, pts) {
		double ts = cJSON_GetArrayItem(p, 0)->valuedouble;

		if (cJSON_GetArraySize(p) != 2 || ts < since || ts > NOW || ts < prev ||
		    !cJSON_IsNumber(cJSON_GetArrayItem(p, 1)))
			boom("GetTS point outside the window, out of order or malformed");
		prev = ts;
		n++;
	}
	if (cJSON_IsNumber(jp) ? n > jp->valuedouble || n > count : n != count)
		boom("GetTS: more points than asked for, or a count that does not match");
	cJSON_Delete(out);
}

static void check_hours(const cJSON *params)
{
	char err[200] = "";
	double hours = NAN;
	uint32_t since = 0;

	if (tel_json_hours(&hist, params, NOW, &hours, &since, err, sizeof(err))) {
		if (!err[0])
			boom("GetStats hours refused without a reason");
		return;
	}
	if (!(hours > 0 && hours <= hist.window_h) || since > NOW || since < NOW - hours * 3600 - 1)
		boom("GetStats hours accepted out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *params;

	if (!hist.window_h)
		setup();
	if (tel_st_check_hello(data, size, token) == 0 &&
	    (size != TEL_ST_HELLO_LEN || memcmp(data, "CSTSPD01", 8) || memcmp(data + 8, token, 32)))
		boom("a hello without the magic and the token accepted");
	if (!(params = cJSON_ParseWithLength((const char *)data, size)))
		return 0;
	if (cJSON_IsObject(params)) {
		check_series(params);
		check_hours(params);
	}
	cJSON_Delete(params);
	return 0;
}
