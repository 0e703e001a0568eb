/* Parsers of rpc/ that touch no socket: listen/peer addresses and the
 * POST /rpc request body. Pure, so unit tests and fuzzers drive them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

/* 1-5 decimal digits, nothing else (strtol alone would take " 80" or
 * "+80"), at most max. -1 when not a port. */
static long rpc_parse_port(const char *s, long max)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

int rpc_parse_addr(const char *str, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = str;
	size_t hl;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!str)
		return -EINVAL;
	if (*str == '[') {
		const char *rb = strchr(str, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		hs = str + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		/* An IPv6 address needs brackets: "::1:4747" is ambiguous. */
		colon = strchr(str, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		hl = (size_t)(colon - str);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = 0;
	if ((port = rpc_parse_port(colon + 1, 65535)) < 0)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

/* A DNS name as RFC 1123 allows it: labels of letters, digits and '-', not
 * starting or ending with '-', joined by dots; nothing a URL would read
 * differently (no '@', '/', '%', spaces). */
static int rpc_valid_dns_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-') ||
		    (ch == '-' && label == 0) || ++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

int rpc_check_host_port(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *colon;
	long port;

	if (!s)
		return -EINVAL;
	if (rpc_parse_addr(s, &ss, &sl) == 0)
		return ((struct sockaddr_in *)&ss)->sin_port ? 0 : -EINVAL;
	colon = strrchr(s, ':');
	if (!colon || !rpc_valid_dns_name(s, (size_t)(colon - s)))
		return -EINVAL;
	port = rpc_parse_port(colon + 1, 65535);
	return port >= 1 ? 0 : -EINVAL;
}

int rpc_parse_request(const char *body, size_t len, cJSON **doc_out, const char **method,
		      const cJSON **params, char *err, size_t errlen)
{
	cJSON *doc, *m, *p;

	*doc_out = NULL;
	*method = NULL;
	*params = NULL;
	doc = cJSON_ParseWithLength(body, len);
	if (!doc) {
		snprintf(err, errlen, "malformed request: not JSON");
		return -EINVAL;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "malformed request: want {\"method\": string, \"params\": object}");
		goto fail;
	}
	m = cJSON_GetObjectItemCaseSensitive(doc, "method");
	if (!cJSON_IsString(m) || !m->valuestring[0] || strlen(m->valuestring) > 64) {
		snprintf(err, errlen, "malformed request: \"method\" must be a name of 1..64 characters");
		goto fail;
	}
	p = cJSON_GetObjectItemCaseSensitive(doc, "params");
	if (p && !cJSON_IsObject(p)) {
		snprintf(err, errlen, "malformed request: \"params\" must be an object");
		goto fail;
	}
	if (!p) {
		p = cJSON_AddObjectToObject(doc, "params");
		if (!p) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	*doc_out = doc;
	*method = m->valuestring;
	*params = p;
	return 0;
fail:
	cJSON_Delete(doc);
	return -EINVAL;
}
