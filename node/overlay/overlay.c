/* The overlay inside constellad: bring-up, reconcile, allocation, views
 * (overlay.h). */
#include "overlay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allocate.h"
#include "cidr.h"
#include "desired.h"
#include "device.h"
#include "epcache.h"
#include "health.h"
#include "ipam.h"
#include "log.h"
#include "reconcile.h"
#include "resolve.h"
#include "tun.h"
#include "vpnconf.h"
#include "wgkey.h"

struct node_overlay {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state *st;
	char self[NODE_ID_HEX + 1];
	enum node_vpn_role role;
	struct node_vpnconf vc;
	struct node_cidr cidr;
	uint32_t self_addr;
	uint8_t self_pub[32];
	struct wg_device *dev;
	struct node_ipam resv;        /* hub */
	struct node_epcache eps;      /* hub */
	struct node_ovl_applied applied;
	struct node_resolve *res;
	struct rpc_client *cli;
	ev_timer tick, soon;
	char last_problem[512];       /* logged once until it changes */
	uint8_t hub_pub[32];          /* client: the hub peer, and since when (ev_now) */
	ev_tstamp hub_since;
};

static int ovl_device_up(struct node_overlay *ov, char *err, size_t errlen);
static void ovl_initiate_all(struct node_overlay *ov);

int node_overlay_is_hub(const struct node_state *st, const char *node_id)
{
	return st->vpn_cidr[0] && !strcmp(st->vpn_hub, node_id);
}

static const char *ovl_state_dir(const struct node_overlay *ov)
{
	return ov->cfg->state_dir;
}

/* A problem seen by a periodic reconcile is logged when it first appears
 * and when it changes, not every few seconds. */
static void ovl_problem(struct node_overlay *ov, const char *msg)
{
	if (!msg) {
		if (ov->last_problem[0])
			cst_info("overlay: ok again (%s)", ov->last_problem);
		ov->last_problem[0] = '\0';
		return;
	}
	if (strcmp(ov->last_problem, msg))
		cst_warn("overlay: %s", msg);
	snprintf(ov->last_problem, sizeof(ov->last_problem), "%s", msg);
}

/* Loads the private key from its file into the device; the copy in memory
 * is wiped at once. */
static int ovl_load_key(struct node_overlay *ov, uint16_t listen_port, char *err, size_t errlen)
{
	struct wg_uapi_set set;
	int r;

	memset(&set, 0, sizeof(set));
	if ((r = node_wgkey_load_private(ovl_state_dir(ov), set.private_key))) {
		snprintf(err, errlen, "%s/%s: %s", ovl_state_dir(ov), NODE_WGKEY_FILE,
			 r == -EPERM ? "readable by group or others: chmod 600 it" :
			 r == -EINVAL ? "not a base64 WireGuard private key" : strerror(-r));
		sodium_memzero(&set, sizeof(set));
		return r;
	}
	set.has_private_key = true;
	if (listen_port) {
		set.has_listen_port = true;
		set.listen_port = listen_port;
	}
	r = wg_device_set(ov->dev, &set);
	sodium_memzero(&set, sizeof(set));
	if (r)
		snprintf(err, errlen, r == -EADDRINUSE ? "UDP port %u is in use: choose another with "
			 "VPN_LISTEN_PORT (or listen_port in vpn.json)" :
			 "cannot configure the device (port %u): %s", listen_port, strerror(-r));
	return r;
}

static int ovl_keep_desired(void *ctx, const uint8_t pub[32])
{
	return node_ovl_desired_find(ctx, pub) != NULL;
}

/* The hub remembers where its peers are (restart: epcache.h). */
static void ovl_learn_endpoints(struct node_overlay *ov, const struct node_ovl_desired *want,
				const struct wg_device_info *info)
{
	int changed = 0, r;

	for (size_t i = 0; i < info->n_peers; i++) {
		const struct wg_device_peer_info *p = &info->peers[i];

		if (!p->has_endpoint || !node_ovl_desired_find(want, p->public_key))
			continue;
		if ((r = node_epcache_put(&ov->eps, p->public_key, &p->endpoint)) > 0)
			changed = 1;
	}
	if (node_epcache_retain(&ov->eps, ovl_keep_desired, (void *)want))
		changed = 1;
	if (changed && (r = node_epcache_save(ovl_state_dir(ov), &ov->eps)))
		cst_warn("overlay: cannot save %s/%s: %s", ovl_state_dir(ov), NODE_EPCACHE_FILE,
			 strerror(-r));
}

static void ovl_log_plan(const struct wg_uapi_set *set, const struct node_ovl_desired *want,
			 const char *why)
{
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct wg_uapi_peer *p = &set->peers[i];
		const struct node_ovl_peer *w = node_ovl_desired_find(want, p->public_key);
		char k[NODE_WGKEY_B64], a[NODE_IP4_STRLEN] = "", ep[80] = "";

		node_wgkey_to_b64(p->public_key, k);
		if (w)
			node_ip4_str(w->allowed, a);
		if (p->has_endpoint)
			node_sockaddr_str(&p->endpoint, ep, sizeof(ep));
		if (p->remove)
			cst_info("overlay: peer %.8s... removed (%s)", k, why);
		else if (!p->update_only)
			cst_info("overlay: peer %s (%s/%u, %.8s...)%s%s added (%s)", w ? w->name : "?", a,
				 w ? w->allowed_prefix : 0, k, ep[0] ? " at " : "", ep, why);
		else
			cst_info("overlay: peer %s updated:%s%s%s%s (%s)", w ? w->name : "?",
				 p->replace_allowed_ips ? " allowed-ips" : "",
				 p->has_keepalive ? " keepalive" : "", ep[0] ? " endpoint " : "", ep, why);
	}
}

/* A client: whether its tunnel to the hub is down (health.h), judged on the
 * device as reconcile found it. */
static int ovl_hub_down(struct node_overlay *ov, const struct node_ovl_desired *want,
			const struct wg_device_info *info, char *msg, size_t msglen)
{
	const struct node_ovl_peer *hub = want->n_peers == 1 ? &want->peers[0] : NULL;
	const struct wg_device_peer_info *d = NULL;
	char ep[80] = "?";

	if (!hub)
		return 0;
	if (memcmp(ov->hub_pub, hub->pub, 32)) { /* a new hub peer: its grace starts now */
		memcpy(ov->hub_pub, hub->pub, 32);
		ov->hub_since = ev_now(ov->loop);
		return 0;
	}
	for (size_t i = 0; i < info->n_peers && !d; i++)
		if (!memcmp(info->peers[i].public_key, hub->pub, 32))
			d = &info->peers[i];
	if (!d)
		return 0; /* added by this very reconcile */
	if (d->has_endpoint)
		node_sockaddr_str(&d->endpoint, ep, sizeof(ep));
	else if (hub->has_endpoint)
		node_sockaddr_str(&hub->endpoint, ep, sizeof(ep));
	return node_ovl_hub_health(hub->name, ep, (int64_t)(d->last_handshake_wall_ns / 1000000000ull),
				   (int64_t)time(NULL), ev_now(ov->loop) - ov->hub_since, msg, msglen);
}

/* The one path: desired from the state, the device as it is, the minimal
 * transaction between them. */
static void ovl_reconcile(struct node_overlay *ov, const char *why)
{
	struct node_ovl_desired want;
	struct wg_device_info info;
	struct node_ovl_plan_summary sum;
	struct wg_uapi_set set;
	int64_t now = (int64_t)time(NULL);
	char err[256], problem[sizeof(ov->last_problem)];
	bool again = false;
	int r;

	if (ov->dev && wg_device_dead(ov->dev)) {
		/* someone deleted the interface (`ip link del`): reconcile wins
		 * here too, with a new device and no sessions */
		cst_warn("overlay: interface %s was deleted: creating it again", ov->vc.interface);
		wg_device_free(ov->dev);
		ov->dev = NULL;
		node_ovl_applied_clear(&ov->applied);
		memset(ov->hub_pub, 0, sizeof(ov->hub_pub));
	}
	if (!ov->dev) {
		if (ovl_device_up(ov, err, sizeof(err))) {
			ovl_problem(ov, err); /* tried again at the next reconcile */
			return;
		}
		cst_info("overlay: interface %s is up again", ov->vc.interface);
		again = true;
	}
	if (ov->role == NODE_VPN_ROLE_HUB && node_ipam_prune(&ov->resv, ov->st, now) &&
	    (r = node_ipam_save(ovl_state_dir(ov), &ov->resv)))
		cst_warn("overlay: cannot save %s/%s: %s", ovl_state_dir(ov), NODE_IPAM_FILE,
			 strerror(-r));
	r = node_ovl_desired_compute(ov->st, ov->self, ov->role == NODE_VPN_ROLE_HUB ? &ov->resv : NULL,
				     ov->role == NODE_VPN_ROLE_HUB ? &ov->eps : NULL,
				     ov->vc.listen_port, node_resolve_get, ov->res, now, &want, err,
				     sizeof(err));
	if (r) {
		ovl_problem(ov, err);
		return;
	}
	if ((r = wg_device_get_info(ov->dev, &info))) {
		node_ovl_desired_clear(&want);
		return;
	}
	if (!want.removed && (!info.has_private_key || memcmp(info.public_key, want.self_pub, 32))) {
		/* someone cleared or replaced it (`wg set private-key`) */
		if (ovl_load_key(ov, 0, err, sizeof(err)))
			ovl_problem(ov, err);
		else
			cst_info("overlay: private key restored from %s (%s)", NODE_WGKEY_FILE, why);
	}
	if ((r = node_ovl_reconcile_plan(&want, &info, &ov->applied, &set, &sum)) == 0) {
		if (set.n_peers || set.has_listen_port) {
			ovl_log_plan(&set, &want, why);
			if ((r = wg_device_set(ov->dev, &set)))
				cst_warn("overlay: applying the configuration failed: %s", strerror(-r));
		}
		if (!r)
			node_ovl_applied_update(&ov->applied, &want);
		wg_uapi_set_free(&set);
	}
	if (ov->role == NODE_VPN_ROLE_HUB)
		ovl_learn_endpoints(ov, &want, &info);
	if (want.removed) {
		ovl_problem(ov, "this node was removed from the network: the device has no peers "
			    "any more");
	} else if (want.pending[0]) {
		snprintf(err, sizeof(err), "the hub's endpoint %.200s is not resolved yet", want.pending);
		ovl_problem(ov, err);
	} else if (ov->role == NODE_VPN_ROLE_CLIENT &&
		   ovl_hub_down(ov, &want, &info, problem, sizeof(problem))) {
		ovl_problem(ov, problem);
	} else {
		ovl_problem(ov, NULL);
	}
	wg_device_info_free(&info);
	node_ovl_desired_clear(&want);
	if (again)
		ovl_initiate_all(ov);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	ovl_reconcile(w->data, "periodic");
}

static void on_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	ovl_reconcile(w->data, "membership");
}

void node_overlay_changed(struct node_overlay *ov)
{
	if (ov && !ev_is_active(&ov->soon)) {
		ev_timer_set(&ov->soon, 0.0, 0.0);
		ev_timer_start(ov->loop, &ov->soon);
	}
}

static void on_resolved(void *user)
{
	node_overlay_changed(user);
}

/* ---- allocation (the hub) ---- */

/* Runs at the hub, on its loop: reserve, persist, then add the peer to the
 * live device before answering. 0 with out, or -errno and a message. */
static int ovl_allocate_local(struct node_overlay *ov, const struct node_ovl_alloc_req *req,
			      char out[NODE_IP4_STRLEN], char *msg, size_t msglen)
{
	struct node_ipam before = { 0 };
	enum node_ipam_result res;
	uint32_t a = 0;
	int changed = 0, r;

	if (ov->resv.n && !(before.v = malloc(ov->resv.n * sizeof(*before.v)))) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	if (before.v)
		memcpy(before.v, ov->resv.v, ov->resv.n * sizeof(*before.v));
	before.n = before.cap = ov->resv.n;
	node_ipam_prune(&ov->resv, ov->st, (int64_t)time(NULL));
	res = node_ipam_allocate(&ov->resv, ov->st, &ov->cidr, req->node_id, req->name,
				 req->wg_pubkey, (int64_t)time(NULL), &a, &changed);
	if (res != NODE_IPAM_OK) {
		char c[NODE_CIDR_STRLEN];

		node_cidr_str(&ov->cidr, c);
		if (res == NODE_IPAM_EXHAUSTED)
			snprintf(msg, msglen, "overlay address pool exhausted: every host address of %s "
				 "is taken by a member or a join in progress", c);
		else
			snprintf(msg, msglen, "%s", node_ipam_result_str(res));
		node_ipam_clear(&ov->resv);
		ov->resv = before;
		return res == NODE_IPAM_EXHAUSTED ? -ENOSPC : res == NODE_IPAM_NOMEM ? -ENOMEM : -EEXIST;
	}
	/* persisted BEFORE the answer: the address is never handed out twice */
	if (changed && (r = node_ipam_save(ovl_state_dir(ov), &ov->resv))) {
		snprintf(msg, msglen, "the hub cannot persist the reservation: %s", strerror(-r));
		node_ipam_clear(&ov->resv);
		ov->resv = before;
		return r;
	}
	node_ipam_clear(&before);
	node_ip4_str(a, out);
	cst_info("overlay: %s (%.8s, RPC %s) gets %s", req->name, req->node_id, req->addr, out);
	ovl_reconcile(ov, "allocation"); /* the peer is in the device now */
	return 0;
}

static void m_allocate(void *user, const cJSON *params, struct rpc_call *call)
{
	struct node_overlay *ov = user;
	struct node_ovl_alloc_req req;
	char err[300], a[NODE_IP4_STRLEN];
	cJSON *o;
	int r;

	if (ov->role != NODE_VPN_ROLE_HUB) {
		rpc_call_error(call, 409, "this node is not the overlay hub");
		return;
	}
	if (node_ovl_alloc_req_parse(params, &req, err, sizeof(err))) {
		rpc_call_error(call, 400, err);
		return;
	}
	if ((r = ovl_allocate_local(ov, &req, a, err, sizeof(err)))) {
		cst_info("overlay: allocation for %s refused: %s", req.name, err);
		rpc_call_error(call, r == -EEXIST || r == -ENOSPC ? 409 : 500, err);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "overlay_addr", a);
	rpc_call_reply(call, o);
}

struct ovl_alloc_call {
	struct node_overlay *ov;
	node_join_alloc_done_fn done;
	void *user;
	char hub[64], hub_addr[280];
};

static void on_alloc_reply(void *user, int err, const cJSON *result, const char *message)
{
	struct ovl_alloc_call *k = user;
	char msg[512], a[NODE_IP4_STRLEN];
	uint32_t ip;

	if (err == -EREMOTEIO) {
		snprintf(msg, sizeof(msg), "the overlay hub %s refused: %s", k->hub,
			 message && *message ? message : "no reason given");
		k->done(k->user, -EPERM, NULL, msg);
	} else if (err) {
		snprintf(msg, sizeof(msg), "the overlay hub %s (%s) is unreachable from this seed (%s): "
			 "join refused, nothing was admitted", k->hub, k->hub_addr,
			 message && *message ? message : strerror(-err));
		k->done(k->user, -EHOSTUNREACH, NULL, msg);
	} else if (node_ovl_alloc_reply_parse(result, a, sizeof(a)) || node_ip4_parse(a, &ip) ||
		   !node_cidr_contains(&k->ov->cidr, ip)) {
		snprintf(msg, sizeof(msg), "the overlay hub %s answered no usable address", k->hub);
		k->done(k->user, -EPROTO, NULL, msg);
	} else {
		k->done(k->user, 0, a, NULL);
	}
	free(k);
}

int node_overlay_allocate(void *ctx, const struct node_peer *joiner, node_join_alloc_done_fn done,
			  void *user)
{
	struct node_overlay *ov = ctx;
	struct node_ovl_alloc_req req = { 0 };
	const struct node_peer *hub;
	struct ovl_alloc_call *k;
	char msg[300], a[NODE_IP4_STRLEN];
	int r;

	snprintf(req.node_id, sizeof(req.node_id), "%s", joiner->node_id);
	snprintf(req.name, sizeof(req.name), "%s", joiner->name);
	snprintf(req.wg_pubkey, sizeof(req.wg_pubkey), "%s", joiner->wg_pubkey);
	snprintf(req.addr, sizeof(req.addr), "%s", joiner->addr);
	if (ov->role == NODE_VPN_ROLE_HUB) {
		r = ovl_allocate_local(ov, &req, a, msg, sizeof(msg));
		done(user, r, r ? NULL : a, r ? msg : NULL);
		return 0;
	}
	if (!(hub = node_state_vpn_hub(ov->st))) {
		done(user, -ENOENT, NULL, "this seed does not know the overlay hub's address");
		return 0;
	}
	if (!ov->cli)
		return -ENOTCONN;
	if (!(k = calloc(1, sizeof(*k))))
		return -ENOMEM;
	k->ov = ov;
	k->done = done;
	k->user = user;
	snprintf(k->hub, sizeof(k->hub), "%s", hub->name);
	snprintf(k->hub_addr, sizeof(k->hub_addr), "%s", hub->addr);
	if ((r = rpc_client_call(ov->cli, hub->addr, "Overlay.Allocate", node_ovl_alloc_req_json(&req),
				 ov->cfg->rpc_timeout, on_alloc_reply, k))) {
		free(k);
		return r;
	}
	return 0;
}

int node_overlay_attach(struct node_overlay *ov, struct rpc_server *srv, struct rpc_client *cli)
{
	ov->cli = cli;
	return rpc_server_register(srv, "Overlay.Allocate", m_allocate, ov);
}

/* ---- bring-up ---- */

/* Which interface already holds addr (host order), if any. */
static int ovl_addr_owner(uint32_t addr, char ifname[IF_NAMESIZE])
{
	uint32_t be = htonl(addr);
	int ifindex = 0;

	if (tun_addr_owner(AF_INET, &be, &ifindex))
		return 0;
	if (!if_indextoname((unsigned)ifindex, ifname))
		snprintf(ifname, IF_NAMESIZE, "#%d", ifindex);
	return 1;
}

static void ovl_device_error(const struct node_overlay *ov, int r, char *err, size_t errlen)
{
	const char *tun = ov->cfg->vpn_tun_path[0] ? ov->cfg->vpn_tun_path : "/dev/net/tun";

	if (r == -ENOENT)
		snprintf(err, errlen, "TUN device %s is missing (load the tun module; in a container "
			 "pass --device /dev/net/tun; VPN_TUN_PATH names another device node)", tun);
	else if (r == -EPERM || r == -EACCES)
		snprintf(err, errlen, "TUN device %s: not permitted (constellad needs CAP_NET_ADMIN in "
			 "its network namespace and read/write access to %s; in a container: "
			 "--cap-add NET_ADMIN --device /dev/net/tun; VPN_TUN_PATH names another "
			 "device node)", tun, tun);
	else if (r == -EADDRINUSE)
		snprintf(err, errlen, "UDP port %u is in use: choose another with VPN_LISTEN_PORT (or "
			 "listen_port in vpn.json)", ov->vc.listen_port);
	else if (r == -EBUSY)
		snprintf(err, errlen, "interface name %s is in use (an interface, or another "
			 "WireGuard device's UAPI socket): choose another with VPN_INTERFACE_NAME "
			 "(or \"interface\" in %s/%s; `constella join --vpn-interface`)",
			 ov->vc.interface, ov->cfg->state_dir, NODE_VPNCONF_FILE);
	else
		snprintf(err, errlen, "cannot create the WireGuard device %s: %s", ov->vc.interface,
			 strerror(-r));
}

/* Address/prefix, link up, the CIDR route (the kernel's prefix route for
 * the address usually is it already). */
static int ovl_configure_link(struct node_overlay *ov, char *err, size_t errlen)
{
	int ifindex = wg_device_ifindex(ov->dev), r;
	uint32_t a = htonl(ov->self_addr), net = htonl(ov->cidr.net);
	char s[NODE_IP4_STRLEN];

	node_ip4_str(ov->self_addr, s);
	if ((r = tun_addr_add(ifindex, AF_INET, &a, ov->cidr.prefix))) {
		snprintf(err, errlen, "cannot add %s/%u to %s: %s", s, ov->cidr.prefix,
			 ov->vc.interface, strerror(-r));
		return r;
	}
	if ((r = tun_set_up(ifindex, 1))) {
		snprintf(err, errlen, "cannot set %s up: %s", ov->vc.interface, strerror(-r));
		return r;
	}
	if ((r = tun_route_add(ifindex, AF_INET, &net, ov->cidr.prefix)) && r != -EEXIST) {
		snprintf(err, errlen, "cannot route %s/%u through %s: %s", s, ov->cidr.prefix,
			 ov->vc.interface, strerror(-r));
		return r;
	}
	return 0;
}

/* The device with its key and port, address, link and route: at start, and
 * again when someone deleted the interface. On failure nothing is left and
 * ov->dev is NULL. */
static int ovl_device_up(struct node_overlay *ov, char *err, size_t errlen)
{
	struct wg_device_config dc = { 0 };
	int r;

	dc.ifname = ov->vc.interface;
	dc.mtu = ov->vc.mtu;
	dc.uapi_dir = ov->cfg->vpn_uapi_dir[0] ? ov->cfg->vpn_uapi_dir : NULL;
	dc.tun_path = ov->cfg->vpn_tun_path[0] ? ov->cfg->vpn_tun_path : NULL;
	dc.relay = ov->role == NODE_VPN_ROLE_HUB;
	dc.uapi_optional = true;
	dc.listen_port = ov->vc.listen_port; /* the hub's at once, not a random one first */
	if ((r = wg_device_new(&dc, &ov->dev))) {
		ov->dev = NULL;
		ovl_device_error(ov, r, err, errlen);
		return r;
	}
	if ((r = ovl_load_key(ov, ov->vc.listen_port, err, errlen)) ||
	    (r = ovl_configure_link(ov, err, errlen))) {
		wg_device_free(ov->dev);
		ov->dev = NULL;
	}
	return r;
}

/* This node's record as the overlay needs it: the key of the key file, the
 * hub's endpoint with the port it listens on. A change is a new version,
 * spread by gossip. */
static int ovl_update_record(struct node_overlay *ov, struct node_peer *me, const char *pub_b64)
{
	char ep[sizeof(me->wg_endpoint)];
	int changed = 0;

	if (strcmp(me->wg_pubkey, pub_b64)) {
		cst_info("overlay: this node's WireGuard public key is now %s (key file changed)",
			 pub_b64);
		snprintf(me->wg_pubkey, sizeof(me->wg_pubkey), "%s", pub_b64);
		changed = 1;
	}
	if (ov->role == NODE_VPN_ROLE_HUB && me->wg_endpoint[0]) {
		const char *colon = strrchr(me->wg_endpoint, ':');

		snprintf(ep, sizeof(ep), "%.*s:%u", (int)(colon - me->wg_endpoint), me->wg_endpoint,
			 ov->vc.listen_port);
		if (strcmp(ep, me->wg_endpoint)) {
			cst_info("overlay: hub endpoint is now %s", ep);
			memcpy(me->wg_endpoint, ep, sizeof(ep));
			changed = 1;
		}
	}
	if (me->vpn_role != ov->role) {
		me->vpn_role = ov->role;
		changed = 1;
	}
	if (!changed)
		return 0;
	me->ver++;
	return node_state_save(ov->cfg->state_dir, ov->st);
}

/* The device starts talking at once: towards the endpoints we know (a
 * restarted hub to its clients' last endpoints, a client to its hub), so
 * sessions are back in about a round trip instead of a timer period. */
static void ovl_initiate_all(struct node_overlay *ov)
{
	struct wg_device_info info;

	if (wg_device_get_info(ov->dev, &info))
		return;
	for (size_t i = 0; i < info.n_peers; i++)
		if (info.peers[i].has_endpoint)
			wg_device_initiate(ov->dev, info.peers[i].public_key);
	wg_device_info_free(&info);
}

int node_overlay_new(struct ev_loop *loop, const struct node_config *cfg, struct node_state *st,
		     const char *self_id, struct node_overlay **out, char *err, size_t errlen)
{
	struct node_overlay *ov;
	struct node_peer *me = node_state_find_peer(st, self_id);
	uint8_t priv[32];
	char why[200], pub_b64[NODE_WGKEY_B64], holder[IF_NAMESIZE];
	int r;

	*out = NULL;
	if (!st->vpn_cidr[0])
		return 0;
	if (!me || !me->overlay_addr[0]) {
		cst_warn("overlay: this network has a hub but this node has no overlay address "
			 "(it joined before the overlay existed): running without the overlay");
		return 0;
	}
	if (!(ov = calloc(1, sizeof(*ov))))
		return -ENOMEM;
	ov->loop = loop;
	ov->cfg = cfg;
	ov->st = st;
	memcpy(ov->self, self_id, sizeof(ov->self));
	ov->role = node_overlay_is_hub(st, self_id) ? NODE_VPN_ROLE_HUB : NODE_VPN_ROLE_CLIENT;
	ev_timer_init(&ov->tick, on_tick, NODE_OVERLAY_RECONCILE_S, NODE_OVERLAY_RECONCILE_S);
	ov->tick.data = ov;
	ev_timer_init(&ov->soon, on_soon, 0.0, 0.0);
	ov->soon.data = ov;
	r = -EINVAL;
	if (node_cidr_parse(st->vpn_cidr, &ov->cidr, why, sizeof(why)) ||
	    node_ip4_parse(me->overlay_addr, &ov->self_addr) ||
	    !node_cidr_contains(&ov->cidr, ov->self_addr)) {
		snprintf(err, errlen, "this node's overlay address %s is not in %s", me->overlay_addr,
			 st->vpn_cidr);
		goto fail;
	}
	/* node-local settings: vpn.json, then the environment */
	r = node_vpnconf_load(cfg->state_dir, &ov->vc, why, sizeof(why));
	if (r == -ENOENT) {
		node_vpnconf_default(&ov->vc);
		ov->vc.listen_port = ov->role == NODE_VPN_ROLE_HUB ? NODE_VPN_DEFAULT_PORT : 0;
	} else if (r) {
		snprintf(err, errlen, "%s", why);
		goto fail;
	}
	if (cfg->vpn_interface[0])
		snprintf(ov->vc.interface, sizeof(ov->vc.interface), "%s", cfg->vpn_interface);
	if (cfg->vpn_listen_port)
		ov->vc.listen_port = cfg->vpn_listen_port;
	if ((r = node_wgkey_load_private(cfg->state_dir, priv))) {
		snprintf(err, errlen, "%s/%s: %s", cfg->state_dir, NODE_WGKEY_FILE,
			 r == -EPERM ? "readable by group or others: chmod 600 it" :
			 r == -EINVAL ? "not a base64 WireGuard private key" : strerror(-r));
		goto fail;
	}
	r = node_wgkey_public(priv, ov->self_pub);
	sodium_memzero(priv, sizeof(priv));
	if (r) {
		snprintf(err, errlen, "%s/%s: not a usable private key", cfg->state_dir,
			 NODE_WGKEY_FILE);
		goto fail;
	}
	node_wgkey_to_b64(ov->self_pub, pub_b64);
	if (ovl_addr_owner(ov->self_addr, holder)) {
		snprintf(err, errlen, "overlay address %s is already on interface %s: remove it there "
			 "(or run this node in its own network namespace)", me->overlay_addr, holder);
		r = -EADDRINUSE;
		goto fail;
	}
	if (ov->role == NODE_VPN_ROLE_HUB) {
		if ((r = node_ipam_load(cfg->state_dir, &ov->resv, why, sizeof(why))) ||
		    (r = node_epcache_load(cfg->state_dir, &ov->eps, why, sizeof(why)))) {
			snprintf(err, errlen, "%s", why);
			goto fail;
		}
	}
	if ((r = node_resolve_new(loop, on_resolved, ov, &ov->res)))
		goto fail;
	if ((r = ovl_device_up(ov, err, errlen)))
		goto fail;
	if ((r = ovl_update_record(ov, me, pub_b64))) {
		snprintf(err, errlen, "cannot save the state: %s", strerror(-r));
		goto fail;
	}
	ovl_reconcile(ov, "start");
	ovl_initiate_all(ov);
	ev_timer_start(loop, &ov->tick);
	{
		struct wg_device_info info;
		uint16_t port = ov->vc.listen_port;

		if (!wg_device_get_info(ov->dev, &info)) {
			port = info.listen_port;
			wg_device_info_free(&info);
		}
		cst_info("overlay: %s %s/%u on %s, UDP port %u, public key %s%s", 
			 ov->role == NODE_VPN_ROLE_HUB ? "hub" : "client", me->overlay_addr,
			 ov->cidr.prefix, ov->vc.interface, port, pub_b64,
			 ov->role == NODE_VPN_ROLE_HUB ? ", relaying client to client" : "");
	}
	*out = ov;
	return 0;
fail:
	node_overlay_free(ov);
	return r;
}

void node_overlay_free(struct node_overlay *ov)
{
	if (!ov)
		return;
	if (ev_is_active(&ov->tick))
		ev_timer_stop(ov->loop, &ov->tick);
	if (ev_is_active(&ov->soon))
		ev_timer_stop(ov->loop, &ov->soon);
	/* the interface, its address and route go with the device */
	wg_device_free(ov->dev);
	node_resolve_free(ov->res);
	node_ipam_clear(&ov->resv);
	node_epcache_clear(&ov->eps);
	node_ovl_applied_clear(&ov->applied);
	sodium_memzero(ov, sizeof(*ov));
	free(ov);
}

/* ---- views ---- */

const char *node_overlay_interface(const struct node_overlay *ov)
{
	return ov ? ov->vc.interface : "";
}

cJSON *node_overlay_status_json(const struct node_overlay *ov)
{
	cJSON *o = cJSON_CreateObject();
	char a[NODE_IP4_STRLEN + 4], k[NODE_WGKEY_B64];
	uint16_t port;

	if (!o)
		return NULL;
	if (!ov) {
		cJSON_AddStringToObject(o, "mode", "none");
		return o;
	}
	node_ip4_str(ov->self_addr, a);
	snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u", ov->cidr.prefix);
	node_wgkey_to_b64(ov->self_pub, k);
	port = ov->vc.listen_port;
	if (ov->dev) {
		struct wg_device_info info;

		if (!wg_device_get_info(ov->dev, &info)) {
			port = info.listen_port;
			wg_device_info_free(&info);
		}
	}
	cJSON_AddStringToObject(o, "mode", node_vpn_role_str(ov->role));
	cJSON_AddStringToObject(o, "interface", ov->vc.interface);
	cJSON_AddStringToObject(o, "address", a);
	cJSON_AddNumberToObject(o, "listen_port", port);
	cJSON_AddStringToObject(o, "public_key", k);
	return o;
}

static const struct wg_device_peer_info *ovl_info_find(const struct wg_device_info *info,
						       const uint8_t pub[32])
{
	for (size_t i = 0; i < info->n_peers; i++)
		if (!memcmp(info->peers[i].public_key, pub, 32))
			return &info->peers[i];
	return NULL;
}

static void ovl_show_peer(cJSON *o, const struct wg_device_peer_info *d)
{
	char ep[80] = "";

	if (d->has_endpoint)
		node_sockaddr_str(&d->endpoint, ep, sizeof(ep));
	cJSON_AddStringToObject(o, "endpoint", ep);
	cJSON_AddNumberToObject(o, "latest_handshake",
				(double)(d->last_handshake_wall_ns / 1000000000ull));
	cJSON_AddNumberToObject(o, "rx_bytes", (double)d->rx_bytes);
	cJSON_AddNumberToObject(o, "tx_bytes", (double)d->tx_bytes);
	cJSON_AddNumberToObject(o, "persistent_keepalive", d->persistent_keepalive);
}

int node_overlay_each_peer(struct node_overlay *ov, node_overlay_peer_fn fn, void *ctx)
{
	struct wg_device_info info;
	int n = 0;

	if (!ov || !ov->dev)
		return 0;
	if (wg_device_get_info(ov->dev, &info))
		return -ENOMEM;
	for (size_t i = 0; i < info.n_peers; i++) {
		const struct wg_device_peer_info *d = &info.peers[i];
		const char *name = "";
		char k[NODE_WGKEY_B64];

		node_wgkey_to_b64(d->public_key, k);
		for (size_t j = 0; j < ov->st->n_peers; j++)
			if (!strcmp(ov->st->peers[j].wg_pubkey, k)) {
				name = ov->st->peers[j].name;
				break;
			}
		fn(ctx, name, k, d->rx_bytes, d->tx_bytes,
		   (int64_t)(d->last_handshake_wall_ns / 1000000000ull));
		n++;
	}
	wg_device_info_free(&info);
	return n;
}

cJSON *node_overlay_show_json(struct node_overlay *ov)
{
	struct wg_device_info info;
	const struct node_peer *hub;
	cJSON *o = node_overlay_status_json(ov), *peers, *s;

	if (!o || !ov)
		return o;
	memset(&info, 0, sizeof(info)); /* no device while it cannot be created again */
	if (ov->dev && wg_device_get_info(ov->dev, &info)) {
		cJSON_Delete(o);
		return NULL;
	}
	hub = node_state_vpn_hub(ov->st);
	{
		const struct node_peer *me = node_state_find_peer(ov->st, ov->self);
		char c[NODE_CIDR_STRLEN];

		node_cidr_str(&ov->cidr, c);
		cJSON_AddStringToObject(o, "name", me ? me->name : "?");
		cJSON_AddStringToObject(o, "cidr", c);
		cJSON_AddStringToObject(o, "hub", hub ? hub->name : "");
		cJSON_AddStringToObject(o, "problem", ov->last_problem);
	}
	s = cJSON_AddObjectToObject(o, "stats");
	cJSON_AddNumberToObject(s, "rx_unknown_index", (double)info.stats.rx_unknown_index);
	cJSON_AddNumberToObject(s, "rx_handshake_rejected", (double)info.stats.rx_handshake_rejected);
	cJSON_AddNumberToObject(s, "rx_bad_source", (double)info.stats.rx_bad_source);
	cJSON_AddNumberToObject(s, "rx_auth_failed", (double)info.stats.rx_auth_failed);
	cJSON_AddNumberToObject(s, "relay_packets", (double)info.stats.relay_packets);
	cJSON_AddNumberToObject(s, "relay_bytes", (double)info.stats.relay_bytes);
	cJSON_AddNumberToObject(s, "relay_dropped", (double)info.stats.relay_dropped);
	peers = cJSON_AddArrayToObject(o, "peers");
	/* every member, then the device peers no member explains (joins in
	 * progress, or a manual `wg set` not yet undone) */
	for (size_t i = 0; i < ov->st->n_peers; i++) {
		const struct node_peer *p = &ov->st->peers[i];
		const struct wg_device_peer_info *d = NULL;
		cJSON *e;
		uint8_t pub[32];
		bool self = !strcmp(p->node_id, ov->self);

		if (!node_wgkey_from_b64(p->wg_pubkey, pub))
			d = ovl_info_find(&info, pub);
		e = cJSON_CreateObject();
		cJSON_AddItemToArray(peers, e);
		cJSON_AddStringToObject(e, "name", p->name);
		cJSON_AddStringToObject(e, "node_id", p->node_id);
		cJSON_AddStringToObject(e, "overlay_addr", p->overlay_addr);
		cJSON_AddStringToObject(e, "role", node_vpn_role_str(p->vpn_role));
		cJSON_AddStringToObject(e, "public_key", p->wg_pubkey);
		cJSON_AddStringToObject(e, "status", p->status == NODE_PEER_DOWN ? "down" : "alive");
		/* a client reaches the others through the hub's relay */
		cJSON_AddStringToObject(e, "via", self ? "self" : d ? "direct" :
					!p->overlay_addr[0] ? "none" : hub ? hub->name : "?");
		if (d)
			ovl_show_peer(e, d);
	}
	for (size_t i = 0; i < info.n_peers; i++) {
		const struct wg_device_peer_info *d = &info.peers[i];
		bool member = false;
		char k[NODE_WGKEY_B64];
		cJSON *e;

		node_wgkey_to_b64(d->public_key, k);
		for (size_t j = 0; j < ov->st->n_peers && !member; j++)
			member = !strcmp(ov->st->peers[j].wg_pubkey, k);
		if (member)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddItemToArray(peers, e);
		cJSON_AddStringToObject(e, "name", "");
		cJSON_AddStringToObject(e, "public_key", k);
		cJSON_AddStringToObject(e, "via", "direct");
		cJSON_AddStringToObject(e, "role", "reserved");
		ovl_show_peer(e, d);
	}
	wg_device_info_free(&info);
	return o;
}
