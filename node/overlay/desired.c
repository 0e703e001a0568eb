/* The desired device configuration, from the state (desired.h). */
#include "desired.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgkey.h"

void node_ovl_desired_clear(struct node_ovl_desired *d)
{
	free(d->peers);
	memset(d, 0, sizeof(*d));
}

const struct node_ovl_peer *node_ovl_desired_find(const struct node_ovl_desired *d,
						  const uint8_t pub[32])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (!memcmp(d->peers[i].pub, pub, 32))
			return &d->peers[i];
	return NULL;
}

static struct node_ovl_peer *desired_push(struct node_ovl_desired *d, size_t *cap)
{
	if (d->n_peers == *cap) {
		size_t c = *cap ? 2 * *cap : 8;
		struct node_ovl_peer *v = realloc(d->peers, c * sizeof(*v));

		if (!v)
			return NULL;
		d->peers = v;
		*cap = c;
	}
	memset(&d->peers[d->n_peers], 0, sizeof(d->peers[0]));
	return &d->peers[d->n_peers++];
}

/* The hub: members and live reservations, one /32 each. */
static int desired_hub(const struct node_state *st, const char *self_id,
		       const struct node_ipam *resv, const struct node_epcache *hints,
		       node_ovl_resolve_fn resolve, void *rctx, int64_t now,
		       struct node_ovl_desired *d)
{
	size_t cap = 0;

	for (size_t i = 0; i < st->n_peers; i++) {
		const struct node_peer *p = &st->peers[i];
		struct node_ovl_peer *w;
		uint8_t pub[32];
		uint32_t a;

		if (!strcmp(p->node_id, self_id) || node_wgkey_from_b64(p->wg_pubkey, pub) ||
		    node_ip4_parse(p->overlay_addr, &a) || !node_cidr_contains(&d->cidr, a) ||
		    a == d->self_addr || !memcmp(pub, d->self_pub, 32) ||
		    node_ovl_desired_find(d, pub))
			continue; /* not in the overlay, or not a usable record */
		if (!(w = desired_push(d, &cap)))
			return -ENOMEM;
		memcpy(w->pub, pub, 32);
		snprintf(w->name, sizeof(w->name), "%s", p->name);
		memcpy(w->node_id, p->node_id, sizeof(w->node_id));
		w->allowed = a;
		w->allowed_prefix = 32;
		if (p->wg_endpoint[0] && resolve && !resolve(rctx, p->wg_endpoint, &w->endpoint))
			w->has_endpoint = true;
		if (hints && node_epcache_get(hints, pub)) {
			w->has_hint = true;
			w->hint = *node_epcache_get(hints, pub);
		}
	}
	for (size_t i = 0; resv && i < resv->n; i++) {
		const struct node_ipam_resv *r = &resv->v[i];
		struct node_ovl_peer *w;
		uint8_t pub[32];

		if (r->expires <= now || node_state_find_peer((struct node_state *)st, r->node_id) ||
		    node_state_is_removed(st, r->node_id) || node_wgkey_from_b64(r->wg_pubkey, pub) ||
		    node_ovl_desired_find(d, pub) || !node_cidr_contains(&d->cidr, r->addr))
			continue;
		if (!(w = desired_push(d, &cap)))
			return -ENOMEM;
		memcpy(w->pub, pub, 32);
		snprintf(w->name, sizeof(w->name), "%s", r->name);
		memcpy(w->node_id, r->node_id, sizeof(w->node_id));
		w->allowed = r->addr;
		w->allowed_prefix = 32;
		w->reserved = true;
		if (hints && node_epcache_get(hints, pub)) {
			w->has_hint = true;
			w->hint = *node_epcache_get(hints, pub);
		}
	}
	return 0;
}

/* A client: the hub alone, for the whole CIDR. */
static int desired_client(const struct node_state *st, node_ovl_resolve_fn resolve, void *rctx,
			  struct node_ovl_desired *d, char *err, size_t errlen)
{
	const struct node_peer *hub = node_state_vpn_hub((struct node_state *)st);
	struct node_ovl_peer *w;
	size_t cap = 0;
	int r;

	if (!hub) {
		snprintf(err, errlen, "the overlay hub (%.8s) is not in the peer table", st->vpn_hub);
		return -EINVAL;
	}
	if (!(w = desired_push(d, &cap)))
		return -ENOMEM;
	if (node_wgkey_from_b64(hub->wg_pubkey, w->pub)) {
		snprintf(err, errlen, "the hub's record (%s) has no WireGuard public key", hub->name);
		d->n_peers = 0;
		return -EINVAL;
	}
	snprintf(w->name, sizeof(w->name), "%s", hub->name);
	memcpy(w->node_id, hub->node_id, sizeof(w->node_id));
	w->allowed = d->cidr.net;
	w->allowed_prefix = d->cidr.prefix;
	w->keepalive = NODE_OVL_KEEPALIVE;
	if (!hub->wg_endpoint[0]) {
		snprintf(err, errlen, "the hub's record (%s) has no WireGuard endpoint", hub->name);
		d->n_peers = 0;
		return -EINVAL;
	}
	r = resolve ? resolve(rctx, hub->wg_endpoint, &w->endpoint) : -EAGAIN;
	if (r == 0)
		w->has_endpoint = true;
	else
		snprintf(d->pending, sizeof(d->pending), "%s", hub->wg_endpoint);
	return 0;
}

int node_ovl_desired_compute(const struct node_state *st, const char *self_id,
			     const struct node_ipam *resv, const struct node_epcache *hints,
			     uint16_t listen_port, node_ovl_resolve_fn resolve, void *resolve_ctx,
			     int64_t now, struct node_ovl_desired *out, char *err, size_t errlen)
{
	const struct node_peer *self = node_state_find_peer((struct node_state *)st, self_id);
	char why[128];
	int r;

	memset(out, 0, sizeof(*out));
	if (!st->vpn_cidr[0]) {
		snprintf(err, errlen, "this network has no overlay");
		return -ENOENT;
	}
	if (node_cidr_parse(st->vpn_cidr, &out->cidr, why, sizeof(why))) {
		snprintf(err, errlen, "vpn.cidr %s: %s", st->vpn_cidr, why);
		return -EINVAL;
	}
	if (node_state_is_removed(st, self_id)) {
		/* removed from the network: no peer left to talk to, so the device
		 * falls silent instead of knocking at the hub forever */
		out->role = strcmp(st->vpn_hub, self_id) ? NODE_VPN_ROLE_CLIENT : NODE_VPN_ROLE_HUB;
		out->removed = true;
		return 0;
	}
	if (!self || !self->wg_pubkey[0] || !self->overlay_addr[0]) {
		snprintf(err, errlen, "this node has no overlay address or key in its record "
			 "(it joined before the network had an overlay)");
		return -ENOENT;
	}
	if (node_wgkey_from_b64(self->wg_pubkey, out->self_pub) ||
	    node_ip4_parse(self->overlay_addr, &out->self_addr) ||
	    !node_cidr_contains(&out->cidr, out->self_addr)) {
		snprintf(err, errlen, "this node's overlay address %s is not in %s",
			 self->overlay_addr, st->vpn_cidr);
		return -EINVAL;
	}
	if (!strcmp(st->vpn_hub, self_id)) {
		out->role = NODE_VPN_ROLE_HUB;
		out->listen_port = listen_port;
		r = desired_hub(st, self_id, resv, hints, resolve, resolve_ctx, now, out);
	} else {
		out->role = NODE_VPN_ROLE_CLIENT;
		r = desired_client(st, resolve, resolve_ctx, out, err, errlen);
	}
	if (r)
		node_ovl_desired_clear(out);
	return r;
}
