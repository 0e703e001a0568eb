/* rpc_probe: sends one POST /rpc to a daemon, signed correctly or in one of
 * the ways an attacker would try, and prints "HTTP_STATUS BODY" per request
 * sent. cluster_security.sh asserts on the output; the probe itself judges
 * nothing, so every rejection reason stays visible in the test log.
 *
 * usage: rpc_probe --url http://IP:PORT/rpc --state FILE --method NAME
 *                  [--mode ok|forged|stale|future|replay|unsigned] [--params JSON]
 * FILE is a network_state.json: the secret is read from it rather than from
 * the command line, where ps would show it. JSON (default {}) is the method's
 * params object, sent as given.
 *
 * modes:
 *   ok       signed now with the network secret
 *   forged   signed now with a random secret
 *   stale    signed with a timestamp 60 s in the past
 *   future   signed with a timestamp 60 s ahead
 *   replay   signed once, the identical request and headers sent twice
 *   unsigned no authentication headers at all
 */
#include <curl/curl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "auth.h"

#define PROBE_SKEW_S 60      /* well outside the default CLOCK_SKEW of 15 s */
#define PROBE_SECRET_MAX 64
#define PROBE_BODY_MAX 65536

struct probe_buf {
	char data[PROBE_BODY_MAX + 1];
	size_t len;
};

static size_t probe_write(char *p, size_t size, size_t n, void *user)
{
	struct probe_buf *b = user;
	size_t len = size * n, room = PROBE_BODY_MAX - b->len;

	/* Keep what fits; the status line matters more than a long body. */
	if (len > room)
		len = room;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return size * n;
}

/* Reads network_secret (hex) out of a network_state.json. */
static int probe_read_secret(const char *path, uint8_t *secret, size_t *secret_len)
{
	FILE *f = NULL;
	char *text = NULL;
	cJSON *doc = NULL;
	const cJSON *hex;
	long size;
	int ret = -1;

	f = fopen(path, "r");
	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || size > (1 << 20) ||
	    fseek(f, 0, SEEK_SET))
		goto out;
	text = calloc(1, (size_t)size + 1);
	if (!text || fread(text, 1, (size_t)size, f) != (size_t)size)
		goto out;
	doc = cJSON_Parse(text);
	hex = cJSON_GetObjectItemCaseSensitive(doc, "network_secret");
	if (!cJSON_IsString(hex) ||
	    sodium_hex2bin(secret, PROBE_SECRET_MAX, hex->valuestring, strlen(hex->valuestring),
			   NULL, secret_len, NULL) != 0 ||
	    *secret_len < RPC_SECRET_MIN)
		goto out;
	ret = 0;
out:
	cJSON_Delete(doc);
	if (text) {
		sodium_memzero(text, (size_t)size);
		free(text);
	}
	if (f)
		fclose(f);
	return ret;
}

/* One POST; prints "STATUS BODY" (STATUS 0 when no HTTP answer came). */
static int probe_send(const char *url, const char *body, const struct rpc_auth_headers *h)
{
	struct curl_slist *hdrs = NULL;
	struct probe_buf *buf = NULL;
	CURL *c = NULL;
	char line[128];
	long status = 0;
	CURLcode cr;
	int ret = -1;

	buf = calloc(1, sizeof(*buf));
	c = curl_easy_init();
	if (!buf || !c)
		goto out;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h) {
		snprintf(line, sizeof(line), "%s: %s", RPC_HDR_TIMESTAMP, h->timestamp);
		hdrs = curl_slist_append(hdrs, line);
		snprintf(line, sizeof(line), "%s: %s", RPC_HDR_NONCE, h->nonce);
		hdrs = curl_slist_append(hdrs, line);
		snprintf(line, sizeof(line), "%s: %s", RPC_HDR_SIGNATURE, h->signature);
		hdrs = curl_slist_append(hdrs, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, probe_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* A fresh connection per request: a replay must not ride on the
	 * connection state of the original. */
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		printf("0 %s\n", curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	/* One line per answer: the test greps it. */
	for (char *p = buf->data; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("%ld %s\n", status, buf->data);
	ret = 0;
out:
	fflush(stdout);
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
	free(buf);
	return ret;
}

static int usage(void)
{
	fprintf(stderr, "usage: rpc_probe --url URL --state NETWORK_STATE_JSON --method NAME\n"
		"                 [--mode ok|forged|stale|future|replay|unsigned] [--params JSON]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		{ "method", required_argument, NULL, 'm' },
		{ "mode", required_argument, NULL, 'o' },
		{ "params", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *state = NULL, *method = NULL, *mode = "ok", *params = "{}";
	uint8_t secret[PROBE_SECRET_MAX];
	size_t secret_len = 0;
	struct rpc_auth_headers h;
	uint64_t now;
	char body[4096], path[256];
	const char *p;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 's': state = optarg; break;
		case 'm': method = optarg; break;
		case 'o': mode = optarg; break;
		case 'p': params = optarg; break;
		default: return usage();
		}
	}
	if (!url || !state || !method || optind != argc)
		return usage();
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "rpc_probe: library initialisation failed\n");
		return 1;
	}
	/* The signature covers the URL path, so sign exactly what curl sends. */
	p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	snprintf(path, sizeof(path), "%s", p ? p : "/");
	if (snprintf(body, sizeof(body), "{\"method\":\"%s\",\"params\":%s}", method, params) >=
	    (int)sizeof(body)) {
		fprintf(stderr, "rpc_probe: --params too long\n");
		rc = 2;
		goto out;
	}
	if (probe_read_secret(state, secret, &secret_len) < 0) {
		fprintf(stderr, "rpc_probe: no network_secret in %s\n", state);
		goto out;
	}
	now = (uint64_t)time(NULL);
	if (!strcmp(mode, "forged"))
		randombytes_buf(secret, secret_len);
	else if (!strcmp(mode, "stale"))
		now -= PROBE_SKEW_S;
	else if (!strcmp(mode, "future"))
		now += PROBE_SKEW_S;
	else if (strcmp(mode, "ok") && strcmp(mode, "replay") && strcmp(mode, "unsigned")) {
		rc = usage();
		goto out;
	}
	if (rpc_auth_sign(secret, secret_len, "POST", path, body, strlen(body), now, &h) < 0) {
		fprintf(stderr, "rpc_probe: signing failed\n");
		goto out;
	}
	if (probe_send(url, body, strcmp(mode, "unsigned") ? &h : NULL) < 0)
		goto out;
	if (!strcmp(mode, "replay") && probe_send(url, body, &h) < 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	curl_global_cleanup();
	return rc;
}
