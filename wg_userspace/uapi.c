#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wg_uapi_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wg_uapi_parse_key(const char *hex, size_t len, uint8_t key[WG_KEY_LEN])
{
	if (len != 2 * WG_KEY_LEN)
		return -EINVAL;
	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		int hi = wg_uapi_hexval(hex[2 * i]), lo = wg_uapi_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			sodium_memzero(key, WG_KEY_LEN);
			return -EINVAL;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Unsigned decimal, no sign, no leading junk, at most max. */
static int wg_uapi_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int wg_uapi_parse_endpoint(const char *s, size_t len, struct sockaddr_storage *ss,
			   socklen_t *sslen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	size_t hlen;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (len < 3)
		return -EINVAL;
	if (s[0] == '[') {
		const char *end = memchr(s, ']', len);
		if (!end || end + 1 >= s + len || end[1] != ':')
			return -EINVAL;
		hlen = (size_t)(end - s - 1);
		colon = end + 1;
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hlen);
		host[hlen] = 0;
		{
			/* strip a zone (fe80::1%eth0) into scope id */
			char *pct = strchr(host, '%');
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
			if (pct) {
				*pct = 0;
				s6->sin6_scope_id = if_nametoindex(pct + 1);
				if (!s6->sin6_scope_id)
					return -EINVAL;
			}
			if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
				return -EINVAL;
			s6->sin6_family = AF_INET6;
		}
		*sslen = sizeof(struct sockaddr_in6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		colon = memchr(s, ':', len);
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hlen);
		host[hlen] = 0;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		*sslen = sizeof(struct sockaddr_in);
	}
	if (wg_uapi_parse_uint(colon + 1, (size_t)(s + len - colon - 1), 65535, &port) < 0 ||
	    port == 0)
		return -EINVAL;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}

int wg_uapi_parse_allowed_ip(const char *s, size_t len, struct wg_uapi_allowed_ip *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', len);
	size_t hlen;
	uint64_t cidr;

	memset(out, 0, sizeof(*out));
	if (!slash)
		return -EINVAL;
	hlen = (size_t)(slash - s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = 0;
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	if (wg_uapi_parse_uint(slash + 1, (size_t)(s + len - slash - 1),
			       out->family == AF_INET ? 32 : 128, &cidr) < 0)
		return -EINVAL;
	out->cidr = (uint8_t)cidr;
	return 0;
}

void wg_uapi_set_free(struct wg_uapi_set *set)
{
	for (size_t i = 0; i < set->n_peers; i++)
		free(set->peers[i].allowed_ips);
	if (set->peers)
		sodium_memzero(set->peers, set->cap_peers * sizeof(*set->peers));
	free(set->peers);
	sodium_memzero(set, sizeof(*set));
}

static int wg_uapi_grow(void **arr, size_t *cap, size_t need, size_t elem, size_t max)
{
	void *n;
	size_t c;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -EINVAL;
	c = *cap ? *cap * 2 : 4;
	while (c < need)
		c *= 2;
	n = realloc(*arr, c * elem);
	if (!n)
		return -ENOMEM;
	memset((char *)n + *cap * elem, 0, (c - *cap) * elem);
	*arr = n;
	*cap = c;
	return 0;
}

#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)

int wg_uapi_parse_set(const char *text, size_t len, struct wg_uapi_set *out)
{
	struct wg_uapi_peer *peer = NULL;
	const char *p = text, *end = text + len;
	bool terminated = false;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq, *key, *val;
		size_t klen, vlen;
		uint64_t num = 0;

		if (!nl) {
			ret = -EPROTO; /* unterminated line */
			goto out;
		}
		if (nl == p) { /* blank line: end of request */
			terminated = nl + 1 == end;
			if (!terminated)
				ret = -EPROTO;
			break;
		}
		eq = memchr(p, '=', (size_t)(nl - p));
		if (!eq) {
			ret = -EPROTO;
			goto out;
		}
		key = p;
		klen = (size_t)(eq - p);
		val = eq + 1;
		vlen = (size_t)(nl - val);
		p = nl + 1;

		if (KEY_IS("public_key")) {
			ret = wg_uapi_grow((void **)&out->peers, &out->cap_peers, out->n_peers + 1,
					   sizeof(*out->peers), WG_UAPI_MAX_PEERS);
			if (ret < 0)
				goto out;
			peer = &out->peers[out->n_peers++];
			ret = wg_uapi_parse_key(val, vlen, peer->public_key);
		} else if (!peer && KEY_IS("private_key")) {
			out->has_private_key = true;
			ret = wg_uapi_parse_key(val, vlen, out->private_key);
		} else if (!peer && KEY_IS("listen_port")) {
			ret = wg_uapi_parse_uint(val, vlen, 65535, &num);
			out->has_listen_port = true;
			out->listen_port = (uint16_t)num;
		} else if (!peer && KEY_IS("fwmark")) {
			ret = wg_uapi_parse_uint(val, vlen, UINT32_MAX, &num);
			out->has_fwmark = true;
			out->fwmark = (uint32_t)num;
		} else if (!peer && KEY_IS("replace_peers")) {
			if (vlen == 4 && memcmp(val, "true", 4) == 0)
				out->replace_peers = true;
			else
				ret = -EINVAL;
		} else if (peer && KEY_IS("remove")) {
			if (vlen == 4 && memcmp(val, "true", 4) == 0)
				peer->remove = true;
			else
				ret = -EINVAL;
		} else if (peer && KEY_IS("update_only")) {
			if (vlen == 4 && memcmp(val, "true", 4) == 0)
				peer->update_only = true;
			else
				ret = -EINVAL;
		} else if (peer && KEY_IS("preshared_key")) {
			peer->has_psk = true;
			ret = wg_uapi_parse_key(val, vlen, peer->psk);
		} else if (peer && KEY_IS("endpoint")) {
			peer->has_endpoint = true;
			ret = wg_uapi_parse_endpoint(val, vlen, &peer->endpoint, &peer->endpoint_len);
		} else if (peer && KEY_IS("persistent_keepalive_interval")) {
			ret = wg_uapi_parse_uint(val, vlen, 65535, &num);
			peer->has_keepalive = true;
			peer->keepalive = (uint16_t)num;
		} else if (peer && KEY_IS("replace_allowed_ips")) {
			if (vlen == 4 && memcmp(val, "true", 4) == 0)
				peer->replace_allowed_ips = true;
			else
				ret = -EINVAL;
		} else if (peer && KEY_IS("allowed_ip")) {
			ret = wg_uapi_grow((void **)&peer->allowed_ips, &peer->cap_allowed_ips,
					   peer->n_allowed_ips + 1, sizeof(*peer->allowed_ips),
					   WG_UAPI_MAX_ALLOWED_IPS);
			if (ret == 0)
				ret = wg_uapi_parse_allowed_ip(
					val, vlen, &peer->allowed_ips[peer->n_allowed_ips++]);
		} else if (peer && KEY_IS("protocol_version")) {
			if (vlen != 1 || val[0] != '1')
				ret = -EINVAL;
		} else {
			ret = -EPROTO; /* unknown key, or a device key after a peer */
		}
		if (ret < 0)
			goto out;
	}
	if (!terminated && ret == 0)
		ret = -EPROTO;
out:
	if (ret < 0)
		wg_uapi_set_free(out);
	return ret;
}

static void wg_uapi_append(struct wg_uapi_writer *w, const char *s, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t c = w->cap ? w->cap * 2 : 1024;
		char *b;
		while (c < w->len + n + 1)
			c *= 2;
		b = realloc(w->buf, c);
		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->cap = c;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = 0;
}

void wg_uapi_put_str(struct wg_uapi_writer *w, const char *key, const char *value)
{
	wg_uapi_append(w, key, strlen(key));
	wg_uapi_append(w, "=", 1);
	wg_uapi_append(w, value, strlen(value));
	wg_uapi_append(w, "\n", 1);
}

void wg_uapi_put_u64(struct wg_uapi_writer *w, const char *key, uint64_t value)
{
	char v[24];
	snprintf(v, sizeof(v), "%" PRIu64, value);
	wg_uapi_put_str(w, key, v);
}

void wg_uapi_put_key(struct wg_uapi_writer *w, const char *key, const uint8_t k[WG_KEY_LEN])
{
	char hex[2 * WG_KEY_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), k, WG_KEY_LEN);
	wg_uapi_put_str(w, key, hex);
	sodium_memzero(hex, sizeof(hex));
}

void wg_uapi_put_endpoint(struct wg_uapi_writer *w, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN], v[INET6_ADDRSTRLEN + 16];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(v, sizeof(v), "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		/* A v4-mapped source (dual-stack socket) is shown as plain v4. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof(host));
			snprintf(v, sizeof(v), "%s:%u", host, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			snprintf(v, sizeof(v), "[%s]:%u", host, ntohs(s6->sin6_port));
		}
	} else {
		return;
	}
	wg_uapi_put_str(w, "endpoint", v);
}

void wg_uapi_put_allowed_ip(struct wg_uapi_writer *w, int family, const uint8_t *addr,
			    uint8_t cidr)
{
	char host[INET6_ADDRSTRLEN], v[INET6_ADDRSTRLEN + 8];
	inet_ntop(family, addr, host, sizeof(host));
	snprintf(v, sizeof(v), "%s/%u", host, cidr);
	wg_uapi_put_str(w, "allowed_ip", v);
}

void wg_uapi_writer_free(struct wg_uapi_writer *w)
{
	if (w->buf)
		sodium_memzero(w->buf, w->cap); /* replies carry private keys */
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int wg_uapi_handle(const struct wg_uapi_ops *ops, void *ctx, const char *text, size_t len,
		   struct wg_uapi_writer *reply)
{
	bool is_get = len == 7 && memcmp(text, "get=1\n\n", 7) == 0;
	char tail[32];
	int err;

	if (is_get) {
		err = ops->get(ctx, reply);
		if (err) {
			/* Never hand back a half-written dump. */
			reply->len = 0;
		}
	} else if (len >= 6 && memcmp(text, "set=1\n", 6) == 0) {
		struct wg_uapi_set set;
		int r = wg_uapi_parse_set(text + 6, len - 6, &set);
		if (r < 0) {
			err = -r;
		} else {
			err = ops->set(ctx, &set);
			wg_uapi_set_free(&set);
		}
	} else {
		err = EPROTO;
	}
	if (reply->oom) {
		reply->oom = false;
		reply->len = 0;
		err = ENOMEM;
	}
	/* The sign differs by direction because `wg` reads them differently
	 * (wireguard-tools ipc-uapi.h): after a set it does errno = -N, so a
	 * failure must be negative, as wireguard-go sends it, for `wg set` to
	 * print "Invalid argument"; a get reply's errno must be all digits,
	 * and wg negates it itself. */
	snprintf(tail, sizeof(tail), "errno=%d\n\n", is_get ? err : -err);
	wg_uapi_append(reply, tail, strlen(tail));
	return err;
}
