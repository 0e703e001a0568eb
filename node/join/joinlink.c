#include "joinlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define FAIL(msg) do { *err = (msg); ret = -EINVAL; goto out; } while (0)

static int node_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int node_duration_parse(const char *s, uint64_t *seconds)
{
	size_t n = s ? strlen(s) : 0;
	uint64_t v, mul = 1;

	if (n == 0)
		return -EINVAL;
	switch (s[n - 1]) {
	case 's': mul = 1; n--; break;
	case 'm': mul = 60; n--; break;
	case 'h': mul = 3600; n--; break;
	case 'd': mul = 86400; n--; break;
	default: break;
	}
	if (node_parse_uint(s, n, 30ULL * 86400, &v) < 0 || v == 0 || v * mul > 30ULL * 86400)
		return -EINVAL;
	*seconds = v * mul;
	return 0;
}

static int node_valid_dns_name(const char *h, size_t n)
{
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.' || h[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return 0;
		if (c == '.' && i + 1 < n && h[i + 1] == '.')
			return 0;
	}
	return 1;
}

static int node_valid_network_id(const char *s, size_t n)
{
	if (n == 0 || n > NODE_NETWORK_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int node_joinlink_parse(const char *link, struct node_joinlink *out, const char **err)
{
	static const char scheme[] = "join://";
	const char *p, *q, *end, *hostend, *portstart;
	int have_net = 0, have_token = 0, have_ttl = 0, ret = 0;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (!link || strncmp(link, scheme, sizeof(scheme) - 1) != 0)
		FAIL("join link must start with join://");
	p = link + sizeof(scheme) - 1;
	end = p + strlen(p);
	q = strchr(p, '?');
	if (!q)
		FAIL("join link has no ?net=...&token=... part");
	/* host and port */
	if (*p == '[') {
		char v6[INET6_ADDRSTRLEN];
		uint8_t bin[16];
		hostend = memchr(p, ']', (size_t)(q - p));
		if (!hostend || (size_t)(hostend - p - 1) >= sizeof(v6) || hostend + 1 >= q ||
		    hostend[1] != ':')
			FAIL("join link: bad [IPv6]:port");
		memcpy(v6, p + 1, (size_t)(hostend - p - 1));
		v6[hostend - p - 1] = 0;
		if (inet_pton(AF_INET6, v6, bin) != 1)
			FAIL("join link: bad IPv6 address");
		snprintf(out->host, sizeof(out->host), "%s", v6);
		portstart = hostend + 2;
	} else {
		const char *colon = memchr(p, ':', (size_t)(q - p));
		size_t hl;
		if (!colon)
			FAIL("join link: missing :port after the host");
		hl = (size_t)(colon - p);
		if (!node_valid_dns_name(p, hl))
			FAIL("join link: bad host name");
		memcpy(out->host, p, hl);
		out->host[hl] = 0;
		portstart = colon + 1;
	}
	if (node_parse_uint(portstart, (size_t)(q - portstart), 65535, &v) < 0 || v == 0)
		FAIL("join link: bad port");
	out->port = (uint16_t)v;
	/* query: exactly net, token and optionally ttl, once each */
	for (p = q + 1; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		const char *vend = amp ? amp : end;
		size_t klen, vlen;

		eq = memchr(p, '=', (size_t)(vend - p));
		if (!eq)
			FAIL("join link: query parameter without '='");
		klen = (size_t)(eq - p);
		vlen = (size_t)(vend - eq - 1);
		if (klen == 3 && !memcmp(p, "net", 3)) {
			if (have_net++ || !node_valid_network_id(eq + 1, vlen))
				FAIL("join link: bad or repeated net=");
			memcpy(out->network_id, eq + 1, vlen);
			out->network_id[vlen] = 0;
		} else if (klen == 5 && !memcmp(p, "token", 5)) {
			size_t bl = 0;
			if (have_token++ ||
			    sodium_base642bin(out->token, sizeof(out->token), eq + 1, vlen, NULL, &bl,
					      NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
			    bl != NODE_TOKEN_LEN)
				FAIL("join link: bad or repeated token= (want 32 bytes, base64url)");
		} else if (klen == 3 && !memcmp(p, "ttl", 3)) {
			char t[24];
			if (have_ttl++ || vlen == 0 || vlen >= sizeof(t))
				FAIL("join link: bad or repeated ttl=");
			memcpy(t, eq + 1, vlen);
			t[vlen] = 0;
			if (node_duration_parse(t, &out->ttl_s) < 0)
				FAIL("join link: bad ttl=");
		} else {
			FAIL("join link: unknown query parameter");
		}
		p = amp ? amp + 1 : end;
		if (amp && p == end)
			FAIL("join link: trailing '&'");
	}
	if (!have_net)
		FAIL("join link: missing net=");
	if (!have_token)
		FAIL("join link: missing token=");
out:
	if (ret < 0)
		node_joinlink_clear(out);
	return ret;
}

int node_joinlink_format(const struct node_joinlink *l, char *buf, size_t len)
{
	char tok[sodium_base64_ENCODED_LEN(NODE_TOKEN_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	int n;

	sodium_bin2base64(tok, sizeof(tok), l->token, NODE_TOKEN_LEN,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = snprintf(buf, len, strchr(l->host, ':') ? "join://[%s]:%u?net=%s&token=%s"
						     : "join://%s:%u?net=%s&token=%s",
		     l->host, l->port, l->network_id, tok);
	if (n > 0 && (size_t)n < len && l->ttl_s)
		n += snprintf(buf + n, len - (size_t)n, "&ttl=%llus", (unsigned long long)l->ttl_s);
	sodium_memzero(tok, sizeof(tok));
	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}

void node_joinlink_clear(struct node_joinlink *l)
{
	sodium_memzero(l, sizeof(*l));
}
