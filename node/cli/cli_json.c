/* Reading the daemon's JSON answers in the CLI (cli.h): absent or mistyped
 * members read as "" and NAN, so printing code needs no checks. */
#include "cli.h"

#include <math.h>
#include <stdio.h>

const cJSON *node_cli_jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

double node_cli_jnum(const cJSON *o, const char *k)
{
	const cJSON *v = node_cli_jget(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

double node_cli_jnum0(const cJSON *o, const char *k)
{
	const cJSON *v = node_cli_jget(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

const char *node_cli_jstr(const cJSON *o, const char *k)
{
	const cJSON *v = node_cli_jget(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

const char *node_cli_jmbit(const cJSON *o, const char *k, const char *unknown, char *buf,
			   size_t cap)
{
	double v = node_cli_jnum(o, k);

	if (isnan(v))
		snprintf(buf, cap, "%s", unknown);
	else
		snprintf(buf, cap, "%.1f Mbit/s", v * 8 / 1e6);
	return buf;
}
