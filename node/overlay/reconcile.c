/* The reconcile diff: desired configuration vs the live device (reconcile.h). */
#include "reconcile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "epcache.h"

static const struct node_ovl_applied_entry *applied_find(const struct node_ovl_applied *a,
							 const uint8_t pub[32])
{
	for (size_t i = 0; a && i < a->n; i++)
		if (!memcmp(a->v[i].pub, pub, 32))
			return &a->v[i];
	return NULL;
}

static struct wg_uapi_peer *plan_peer(struct wg_uapi_set *set, const uint8_t pub[32])
{
	struct wg_uapi_peer *p;

	if (set->n_peers == set->cap_peers) {
		size_t cap = set->cap_peers ? 2 * set->cap_peers : 8;
		struct wg_uapi_peer *v = realloc(set->peers, cap * sizeof(*v));

		if (!v)
			return NULL;
		memset(v + set->cap_peers, 0, (cap - set->cap_peers) * sizeof(*v));
		set->peers = v;
		set->cap_peers = cap;
	}
	p = &set->peers[set->n_peers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, pub, 32);
	return p;
}

static socklen_t plan_sslen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void plan_endpoint(struct wg_uapi_peer *p, const struct sockaddr_storage *ep)
{
	p->has_endpoint = true;
	node_sockaddr_normalize(ep, &p->endpoint);
	p->endpoint_len = plan_sslen(&p->endpoint);
}

static int plan_allowed(struct wg_uapi_peer *p, const struct node_ovl_peer *w)
{
	uint32_t be = htonl(w->allowed);

	p->replace_allowed_ips = true;
	if (!(p->allowed_ips = calloc(1, sizeof(*p->allowed_ips))))
		return -ENOMEM;
	p->n_allowed_ips = p->cap_allowed_ips = 1;
	p->allowed_ips[0].family = AF_INET;
	memcpy(p->allowed_ips[0].addr, &be, 4);
	p->allowed_ips[0].cidr = w->allowed_prefix;
	return 0;
}

/* The device's allowed IPs are exactly the desired one (host bits masked,
 * as the device's trie keeps them). */
static bool plan_allowed_same(const struct wg_device_peer_info *d, const struct node_ovl_peer *w)
{
	uint32_t a;

	if (d->n_allowed_ips != 1 || d->allowed_ips[0].family != AF_INET ||
	    d->allowed_ips[0].cidr != w->allowed_prefix)
		return false;
	memcpy(&a, d->allowed_ips[0].addr, 4);
	a = ntohl(a);
	if (w->allowed_prefix < 32)
		a &= w->allowed_prefix ? 0xffffffffu << (32 - w->allowed_prefix) : 0;
	return a == w->allowed;
}

int node_ovl_reconcile_plan(const struct node_ovl_desired *want,
			    const struct wg_device_info *info,
			    const struct node_ovl_applied *applied, struct wg_uapi_set *set,
			    struct node_ovl_plan_summary *sum)
{
	memset(set, 0, sizeof(*set));
	memset(sum, 0, sizeof(*sum));
	if (want->listen_port && info->listen_port != want->listen_port) {
		set->has_listen_port = true;
		set->listen_port = want->listen_port;
		sum->listen_port = true;
	}
	for (size_t i = 0; i < info->n_peers; i++) {
		struct wg_uapi_peer *p;

		if (node_ovl_desired_find(want, info->peers[i].public_key))
			continue;
		if (!(p = plan_peer(set, info->peers[i].public_key)))
			goto nomem;
		p->remove = true;
		sum->removed++;
	}
	for (size_t i = 0; i < want->n_peers; i++) {
		const struct node_ovl_peer *w = &want->peers[i];
		const struct wg_device_peer_info *d = NULL;
		const struct node_ovl_applied_entry *ap = applied_find(applied, w->pub);
		bool ep = false, aips, ka;
		struct wg_uapi_peer *p;

		for (size_t j = 0; j < info->n_peers && !d; j++)
			if (!memcmp(info->peers[j].public_key, w->pub, 32))
				d = &info->peers[j];
		if (!d) {
			if (!(p = plan_peer(set, w->pub)) || plan_allowed(p, w))
				goto nomem;
			if (w->has_endpoint)
				plan_endpoint(p, &w->endpoint);
			else if (w->has_hint)
				plan_endpoint(p, &w->hint);
			if (w->keepalive) {
				p->has_keepalive = true;
				p->keepalive = w->keepalive;
			}
			sum->added++;
			continue;
		}
		aips = !plan_allowed_same(d, w);
		ka = d->persistent_keepalive != w->keepalive;
		if (w->has_endpoint)
			ep = !d->has_endpoint || !ap || !node_sockaddr_equal(&ap->ep, &w->endpoint);
		else if (w->has_hint)
			ep = !d->has_endpoint;
		if (!aips && !ka && !ep)
			continue;
		if (!(p = plan_peer(set, w->pub)))
			goto nomem;
		p->update_only = true; /* never re-add one removed meanwhile */
		if (aips && plan_allowed(p, w))
			goto nomem;
		if (ka) {
			p->has_keepalive = true;
			p->keepalive = w->keepalive;
		}
		if (ep)
			plan_endpoint(p, w->has_endpoint ? &w->endpoint : &w->hint);
		sum->updated++;
	}
	return 0;
nomem:
	wg_uapi_set_free(set);
	return -ENOMEM;
}

int node_ovl_applied_update(struct node_ovl_applied *a, const struct node_ovl_desired *want)
{
	struct node_ovl_applied next = { 0 };

	for (size_t i = 0; i < want->n_peers; i++) {
		const struct node_ovl_peer *w = &want->peers[i];

		if (!w->has_endpoint)
			continue;
		if (next.n == next.cap) {
			size_t cap = next.cap ? 2 * next.cap : 8;
			struct node_ovl_applied_entry *v = realloc(next.v, cap * sizeof(*v));

			if (!v) {
				node_ovl_applied_clear(&next);
				return -ENOMEM;
			}
			next.v = v;
			next.cap = cap;
		}
		memcpy(next.v[next.n].pub, w->pub, 32);
		next.v[next.n++].ep = w->endpoint;
	}
	node_ovl_applied_clear(a);
	*a = next;
	return 0;
}

void node_ovl_applied_clear(struct node_ovl_applied *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}
