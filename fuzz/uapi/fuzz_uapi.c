/* libFuzzer target for the UAPI `set` parser: any input must parse or be
 * rejected cleanly (no crash, no leak), a rejected one leaves an empty
 * transaction, and an accepted one survives a round trip: written back with
 * the reply writer (the serializer the device's `get` uses) and parsed
 * again, it yields the same transaction. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uapi.h"

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "fuzz_uapi: %s\n", #c); abort(); } } while (0)

static void put_true(struct wg_uapi_writer *w, const char *key)
{
	wg_uapi_put_str(w, key, "true");
}

static void serialize_set(const struct wg_uapi_set *s, struct wg_uapi_writer *w)
{
	if (s->has_private_key)
		wg_uapi_put_key(w, "private_key", s->private_key);
	if (s->has_listen_port)
		wg_uapi_put_u64(w, "listen_port", s->listen_port);
	if (s->has_fwmark)
		wg_uapi_put_u64(w, "fwmark", s->fwmark);
	if (s->replace_peers)
		put_true(w, "replace_peers");
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct wg_uapi_peer *p = &s->peers[i];
		wg_uapi_put_key(w, "public_key", p->public_key);
		if (p->remove)
			put_true(w, "remove");
		if (p->update_only)
			put_true(w, "update_only");
		if (p->has_psk)
			wg_uapi_put_key(w, "preshared_key", p->psk);
		if (p->has_endpoint)
			wg_uapi_put_endpoint(w, (const struct sockaddr *)&p->endpoint);
		if (p->has_keepalive)
			wg_uapi_put_u64(w, "persistent_keepalive_interval", p->keepalive);
		if (p->replace_allowed_ips)
			put_true(w, "replace_allowed_ips");
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			wg_uapi_put_allowed_ip(w, p->allowed_ips[j].family, p->allowed_ips[j].addr,
					       p->allowed_ips[j].cidr);
	}
}

/* The writer shows a v4-mapped v6 endpoint as plain v4 and has no zone
 * syntax; compare what it can express. */
static void check_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		REQUIRE(b->ss_family == AF_INET);
		REQUIRE(x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr);
	} else {
		const struct sockaddr_in6 *x = (const void *)a;
		REQUIRE(a->ss_family == AF_INET6);
		if (IN6_IS_ADDR_V4MAPPED(&x->sin6_addr)) {
			const struct sockaddr_in *y = (const void *)b;
			REQUIRE(b->ss_family == AF_INET && x->sin6_port == y->sin_port);
			REQUIRE(memcmp(&x->sin6_addr.s6_addr[12], &y->sin_addr, 4) == 0);
		} else {
			const struct sockaddr_in6 *y = (const void *)b;
			REQUIRE(b->ss_family == AF_INET6 && x->sin6_port == y->sin6_port);
			REQUIRE(memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0);
		}
	}
}

static void check_same(const struct wg_uapi_set *a, const struct wg_uapi_set *b)
{
	REQUIRE(a->has_private_key == b->has_private_key);
	REQUIRE(!a->has_private_key || memcmp(a->private_key, b->private_key, WG_KEY_LEN) == 0);
	REQUIRE(a->has_listen_port == b->has_listen_port && a->listen_port == b->listen_port);
	REQUIRE(a->has_fwmark == b->has_fwmark && a->fwmark == b->fwmark);
	REQUIRE(a->replace_peers == b->replace_peers && a->n_peers == b->n_peers);
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct wg_uapi_peer *p = &a->peers[i], *q = &b->peers[i];
		REQUIRE(memcmp(p->public_key, q->public_key, WG_KEY_LEN) == 0);
		REQUIRE(p->remove == q->remove && p->update_only == q->update_only);
		REQUIRE(p->has_psk == q->has_psk);
		REQUIRE(!p->has_psk || memcmp(p->psk, q->psk, WG_KEY_LEN) == 0);
		REQUIRE(p->has_endpoint == q->has_endpoint);
		if (p->has_endpoint)
			check_endpoint(&p->endpoint, &q->endpoint);
		REQUIRE(p->has_keepalive == q->has_keepalive && p->keepalive == q->keepalive);
		REQUIRE(p->replace_allowed_ips == q->replace_allowed_ips);
		REQUIRE(p->n_allowed_ips == q->n_allowed_ips);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			const struct wg_uapi_allowed_ip *x = &p->allowed_ips[j], *y = &q->allowed_ips[j];
			REQUIRE(x->family == y->family && x->cidr == y->cidr);
			REQUIRE(memcmp(x->addr, y->addr, 16) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_uapi_set s, again;
	struct wg_uapi_writer w = { 0 };
	int r = wg_uapi_parse_set((const char *)data, size, &s);

	if (r < 0) {
		REQUIRE(!s.n_peers && !s.peers && !s.has_private_key);
		return 0;
	}
	serialize_set(&s, &w);
	if (!w.oom) {
		/* the lines, then the blank line that ends a request */
		char *req = malloc(w.len + 1);
		REQUIRE(req != NULL);
		if (w.len)
			memcpy(req, w.buf, w.len);
		req[w.len] = '\n';
		REQUIRE(wg_uapi_parse_set(req, w.len + 1, &again) == 0);
		check_same(&s, &again);
		wg_uapi_set_free(&again);
		free(req);
	}
	wg_uapi_writer_free(&w);
	wg_uapi_set_free(&s);
	return 0;
}
