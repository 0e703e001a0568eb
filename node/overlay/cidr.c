/* IPv4 text and CIDR arithmetic (cidr.h). */
#include "cidr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Parses one octet at *p up to a '.', '/' or the end; advances *p. */
static int node_ip4_octet(const char **p, uint32_t *out)
{
	const char *s = *p;
	uint32_t v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 3)
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[n] - '0');
		n++;
	}
	if (n == 0 || v > 255 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	*out = v;
	*p = s + n;
	return 0;
}

/* Parses "a.b.c.d" at s, stopping at the first character after it. */
static int node_ip4_scan(const char *s, uint32_t *out, const char **end)
{
	uint32_t a = 0, o;

	for (int i = 0; i < 4; i++) {
		if (i && *s++ != '.')
			return -EINVAL;
		if (node_ip4_octet(&s, &o))
			return -EINVAL;
		a = a << 8 | o;
	}
	*out = a;
	*end = s;
	return 0;
}

int node_ip4_parse(const char *s, uint32_t *out)
{
	const char *end;
	uint32_t a;

	if (!s || node_ip4_scan(s, &a, &end) || *end)
		return -EINVAL;
	*out = a;
	return 0;
}

void node_ip4_str(uint32_t a, char out[NODE_IP4_STRLEN])
{
	snprintf(out, NODE_IP4_STRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		 a & 255);
}

static uint32_t node_cidr_mask(uint8_t prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

int node_cidr_parse(const char *s, struct node_cidr *out, char *err, size_t errlen)
{
	const char *end;
	uint32_t a, prefix = 0;
	size_t n = 0;

	if (!s || node_ip4_scan(s, &a, &end) || *end != '/') {
		snprintf(err, errlen, "want an IPv4 network such as 10.42.0.0/24");
		return -EINVAL;
	}
	end++;
	while (end[n] >= '0' && end[n] <= '9' && n < 3)
		prefix = prefix * 10 + (uint32_t)(end[n++] - '0');
	if (n == 0 || end[n] || (n > 1 && end[0] == '0')) {
		snprintf(err, errlen, "the prefix length after '/' must be a number");
		return -EINVAL;
	}
	if (prefix < NODE_CIDR_MIN_PREFIX || prefix > NODE_CIDR_MAX_PREFIX) {
		snprintf(err, errlen, "prefix /%u out of range: want /%d to /%d (a hub and at least one member)",
			 prefix, NODE_CIDR_MIN_PREFIX, NODE_CIDR_MAX_PREFIX);
		return -EINVAL;
	}
	if (a & ~node_cidr_mask((uint8_t)prefix)) {
		char net[NODE_IP4_STRLEN];

		node_ip4_str(a & node_cidr_mask((uint8_t)prefix), net);
		snprintf(err, errlen, "host bits are set: did you mean %s/%u?", net, prefix);
		return -EINVAL;
	}
	out->net = a;
	out->prefix = (uint8_t)prefix;
	return 0;
}

void node_cidr_str(const struct node_cidr *c, char out[NODE_CIDR_STRLEN])
{
	char a[NODE_IP4_STRLEN];

	node_ip4_str(c->net, a);
	snprintf(out, NODE_CIDR_STRLEN, "%s/%u", a, c->prefix);
}

int node_cidr_contains(const struct node_cidr *c, uint32_t a)
{
	return (a & node_cidr_mask(c->prefix)) == c->net;
}

uint32_t node_cidr_first_host(const struct node_cidr *c)
{
	return c->net + 1;
}

uint32_t node_cidr_last_host(const struct node_cidr *c)
{
	return (c->net | ~node_cidr_mask(c->prefix)) - 1;
}
