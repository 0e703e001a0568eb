/* An in-memory reference configuration model served over the real UAPI
 * socket, so the unmodified `wg` tool can be pointed at it: it applies
 * transactions with the semantics of wireguard-go / the kernel (replace_peers,
 * remove, update_only, replace_allowed_ips, PSK set/clear, keepalive, an
 * allowed IP moving between peers) without any crypto or network.
 *
 * Usage: uapi_model_server DIR IFNAME — serves until stdin reaches EOF, so
 * the driving script controls its lifetime with a pipe and the socket is
 * removed on exit. Prints "ready" once listening. */
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uapi_server.h"

#define MODEL_MAX_PEERS 64
#define MODEL_MAX_IPS 64

struct model_peer {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t psk[WG_KEY_LEN];
	struct sockaddr_storage endpoint;
	bool has_endpoint;
	uint16_t keepalive;
	struct wg_uapi_allowed_ip ips[MODEL_MAX_IPS];
	size_t n_ips;
};

struct model {
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct model_peer peers[MODEL_MAX_PEERS];
	size_t n_peers;
};

static struct model_peer *model_find(struct model *m, const uint8_t *pub)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (memcmp(m->peers[i].public_key, pub, WG_KEY_LEN) == 0)
			return &m->peers[i];
	return NULL;
}

static void model_remove(struct model *m, struct model_peer *p)
{
	size_t i = (size_t)(p - m->peers);
	memmove(&m->peers[i], &m->peers[i + 1], (m->n_peers - i - 1) * sizeof(*p));
	m->n_peers--;
}

static bool model_same_prefix(const struct wg_uapi_allowed_ip *a, const struct wg_uapi_allowed_ip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* Like the kernel's allowedips trie: one prefix belongs to one peer, so
 * adding it to a peer takes it from whoever had it. */
static int model_add_ip(struct model *m, struct model_peer *p, const struct wg_uapi_allowed_ip *given)
{
	struct wg_uapi_allowed_ip masked = *given, *ip = &masked;
	size_t nbytes = ip->family == AF_INET ? 4 : 16;

	/* The parser keeps host bits as sent; the kernel and wireguard-go
	 * store the network (10.1.2.3/16 shows as 10.1.0.0/16), so do we. */
	for (size_t b = 0; b < nbytes; b++) {
		unsigned keep = ip->cidr >= 8 * (b + 1) ? 8 : ip->cidr > 8 * b ? ip->cidr - 8 * b : 0;
		ip->addr[b] &= (uint8_t)(0xff00u >> keep);
	}
	for (size_t i = 0; i < m->n_peers; i++) {
		struct model_peer *q = &m->peers[i];
		for (size_t j = 0; j < q->n_ips; j++) {
			if (!model_same_prefix(&q->ips[j], ip))
				continue;
			if (q == p)
				return 0;
			memmove(&q->ips[j], &q->ips[j + 1], (q->n_ips - j - 1) * sizeof(*ip));
			q->n_ips--;
			break;
		}
	}
	if (p->n_ips == MODEL_MAX_IPS)
		return ENOSPC;
	p->ips[p->n_ips++] = *ip;
	return 0;
}

/* The transaction is already validated; capacity is checked up front so
 * that a refused transaction changes nothing here either. */
static int model_set(void *ctx, const struct wg_uapi_set *set)
{
	struct model *m = ctx;

	if (set->n_peers > MODEL_MAX_PEERS)
		return ENOSPC;
	for (size_t i = 0; i < set->n_peers; i++)
		if (set->peers[i].n_allowed_ips > MODEL_MAX_IPS)
			return ENOSPC;
	if (set->has_private_key) {
		static const uint8_t zero[WG_KEY_LEN];
		m->has_private_key = sodium_memcmp(set->private_key, zero, WG_KEY_LEN) != 0;
		memcpy(m->private_key, set->private_key, WG_KEY_LEN);
	}
	if (set->has_listen_port)
		m->listen_port = set->listen_port;
	if (set->has_fwmark)
		m->fwmark = set->fwmark;
	if (set->replace_peers)
		m->n_peers = 0;
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct wg_uapi_peer *up = &set->peers[i];
		struct model_peer *p = model_find(m, up->public_key);

		if (up->remove) {
			if (p)
				model_remove(m, p);
			continue;
		}
		if (!p) {
			if (up->update_only)
				continue;
			if (m->n_peers == MODEL_MAX_PEERS)
				return ENOSPC;
			p = &m->peers[m->n_peers++];
			memset(p, 0, sizeof(*p));
			memcpy(p->public_key, up->public_key, WG_KEY_LEN);
		}
		if (up->has_psk)
			memcpy(p->psk, up->psk, WG_KEY_LEN);
		if (up->has_endpoint) {
			p->endpoint = up->endpoint;
			p->has_endpoint = true;
		}
		if (up->has_keepalive)
			p->keepalive = up->keepalive;
		if (up->replace_allowed_ips)
			p->n_ips = 0;
		for (size_t j = 0; j < up->n_allowed_ips; j++) {
			int r = model_add_ip(m, p, &up->allowed_ips[j]);
			if (r)
				return r;
		}
	}
	return 0;
}

static int model_get(void *ctx, struct wg_uapi_writer *w)
{
	struct model *m = ctx;

	if (m->has_private_key)
		wg_uapi_put_key(w, "private_key", m->private_key);
	wg_uapi_put_u64(w, "listen_port", m->listen_port);
	if (m->fwmark)
		wg_uapi_put_u64(w, "fwmark", m->fwmark);
	for (size_t i = 0; i < m->n_peers; i++) {
		const struct model_peer *p = &m->peers[i];
		wg_uapi_put_key(w, "public_key", p->public_key);
		wg_uapi_put_key(w, "preshared_key", p->psk);
		wg_uapi_put_u64(w, "protocol_version", 1);
		if (p->has_endpoint)
			wg_uapi_put_endpoint(w, (const struct sockaddr *)&p->endpoint);
		/* No handshakes: `wg show` then keeps our order (glibc's qsort is
		 * stable); distinct counters show which peer is which in a dump. */
		wg_uapi_put_u64(w, "last_handshake_time_sec", 0);
		wg_uapi_put_u64(w, "last_handshake_time_nsec", 0);
		wg_uapi_put_u64(w, "tx_bytes", 1000 * (i + 1));
		wg_uapi_put_u64(w, "rx_bytes", 2000 * (i + 1));
		wg_uapi_put_u64(w, "persistent_keepalive_interval", p->keepalive);
		for (size_t j = 0; j < p->n_ips; j++)
			wg_uapi_put_allowed_ip(w, p->ips[j].family, p->ips[j].addr, p->ips[j].cidr);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct wg_uapi_ops ops = { .get = model_get, .set = model_set };
	struct wg_uapi_server *srv = NULL;
	struct model *m;
	char c;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DIR IFNAME\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return 1;
	ret = wg_uapi_server_start(argv[1], argv[2], &ops, m, &srv);
	if (ret < 0) {
		fprintf(stderr, "uapi_model_server: start: %s\n", strerror(-ret));
		free(m);
		return ret == -EADDRINUSE ? 3 : 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0) {
		/* run until the driver closes our stdin */
	}
	wg_uapi_server_stop(srv);
	sodium_memzero(m, sizeof(*m));
	free(m);
	return 0;
}
