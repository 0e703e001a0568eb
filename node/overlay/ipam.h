/* The hub's address management for the overlay. Only the hub allocates, on
 * its one event loop, so allocations are serialised by construction; a seed
 * that is not the hub asks it (Overlay.Allocate, overlay.h).
 *
 * An address is handed out as a reservation (node_id, name, address,
 * public key, expiry) that the hub persists in STATE_DIR/vpn_reservations.json
 * (0600) BEFORE it answers, so an address is never given twice, not even
 * before the new member's record reaches the hub by gossip or across a hub
 * restart. A reservation ends when the member's record arrives, or after
 * NODE_IPAM_RESV_TTL seconds without one (a join that failed after the
 * allocation). */
#ifndef NODE_IPAM_H
#define NODE_IPAM_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "state.h"

#define NODE_IPAM_RESV_TTL 600
#define NODE_IPAM_FILE "vpn_reservations.json"
#define NODE_IPAM_MAX 65536

struct node_ipam_resv {
	char node_id[NODE_ID_HEX + 1];
	char name[64];
	uint32_t addr;          /* host order */
	char wg_pubkey[45];
	int64_t expires;        /* unix s */
};

struct node_ipam {
	struct node_ipam_resv *v;
	size_t n, cap;
};

enum node_ipam_result {
	NODE_IPAM_OK = 0,
	NODE_IPAM_EXHAUSTED,      /* no free host address in the CIDR */
	NODE_IPAM_PUBKEY_IN_USE,  /* another member (or reservation) has this key */
	NODE_IPAM_MEMBER,         /* node_id or name already a member */
	NODE_IPAM_KEY_MISMATCH,   /* node_id reserved earlier with another key */
	NODE_IPAM_NOMEM,
};
const char *node_ipam_result_str(enum node_ipam_result r);

/* The document of vpn_reservations.json: {"reservations": [{node_id, name,
 * addr, wg_pubkey, expires}]}. Strict: a bad entry rejects the whole file
 * (-EINVAL with the reason) and leaves *ip unchanged. */
int node_ipam_from_json(struct node_ipam *ip, const char *text, size_t len, char *err,
			size_t errlen);
int node_ipam_to_json(const struct node_ipam *ip, char **out);
/* dir/vpn_reservations.json: absent = no reservations. */
int node_ipam_load(const char *dir, struct node_ipam *ip, char *err, size_t errlen);
int node_ipam_save(const char *dir, const struct node_ipam *ip);
void node_ipam_clear(struct node_ipam *ip);

/* Allocates for a joining node: idempotent for a node_id already reserved
 * with the same key (same address, expiry renewed); otherwise the lowest
 * host address of cidr that is not the network or broadcast address, not a
 * member's overlay_addr (the hub's included) and not reserved. *changed is
 * set when ip changed (the caller persists it before answering). */
enum node_ipam_result node_ipam_allocate(struct node_ipam *ip, const struct node_state *st,
					 const struct node_cidr *cidr, const char *node_id,
					 const char *name, const char *wg_pubkey, int64_t now,
					 uint32_t *addr, int *changed);
/* Drops reservations whose member record has arrived, whose node was
 * removed, or that expired. Returns how many were dropped. */
size_t node_ipam_prune(struct node_ipam *ip, const struct node_state *st, int64_t now);

#endif
