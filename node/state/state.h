/* The persistent network state: state/network_state.json (the original's
 * fields plus priority, WireGuard public key and overlay address per peer)
 * and state/node_id. network_state.json holds the network secret, so it is
 * written 0600 and the state directory 0700. Every write is atomic
 * (cst_file_write_atomic): a daemon killed at any instant restarts with
 * either the old or the new file, never a torn one. */
#ifndef NODE_STATE_H
#define NODE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#define NODE_ID_HEX 32      /* 16 random bytes, hex */
#define NODE_SECRET_HEX 64  /* 32 random bytes, hex */

enum node_peer_status { NODE_PEER_ALIVE = 0, NODE_PEER_DOWN };
/* A member's place in the WireGuard overlay ("vpn_role" in its record). */
enum node_vpn_role { NODE_VPN_ROLE_NONE = 0, NODE_VPN_ROLE_HUB, NODE_VPN_ROLE_CLIENT };

struct node_peer {
	char name[64];
	char addr[280];               /* host:port of its RPC endpoint */
	char node_id[NODE_ID_HEX + 1];
	enum node_peer_status status;
	int64_t last_seen;            /* unix seconds, 0 = never */
	int priority;                 /* the smallest (priority, node_id) alive leads */
	uint64_t ver;                 /* version of this record, bumped by its node */
	/* The overlay (docs/overlay.md); all may be empty (no overlay). */
	char wg_pubkey[45];           /* base64 WireGuard public key */
	char overlay_addr[64];        /* bare IPv4 address in the overlay CIDR */
	char wg_endpoint[280];        /* public UDP HOST:PORT of its WireGuard (the hub) */
	enum node_vpn_role vpn_role;
};

struct node_state {
	char network_id[NODE_ID_HEX + 1];
	char owner_username[64];
	char network_secret[NODE_SECRET_HEX + 1]; /* secret */
	struct node_peer *peers;
	size_t n_peers, cap_peers;
	char lease_owner[NODE_ID_HEX + 1];        /* bot_lease.owner, may be empty */
	int64_t lease_until;                      /* bot_lease.until, unix s (informative) */
	uint64_t lease_epoch;                     /* bot_lease.epoch: fencing token */
	uint64_t generation;                      /* this node's last run (membership gen) */
	/* node_ids removed from the network ("removed" in the file): never
	 * re-added from a stale announcement or a rejoin with the same id. */
	char (*removed)[NODE_ID_HEX + 1];
	size_t n_removed;
	/* "vpn": {"cidr", "hub"}: the network's overlay, set by `init --vpn-mode
	 * hub` and carried to joiners; vpn_cidr empty = no overlay. */
	char vpn_cidr[32];
	char vpn_hub[NODE_ID_HEX + 1];
};

/* Creates dir (0700) if needed and checks it is a directory. */
int node_state_dir_ensure(const char *dir);

/* Parses network_state.json text. Returns 0 or -EINVAL with a reason. */
int node_state_from_json(struct node_state *st, const char *text, size_t len,
			 char *err, size_t errlen);
/* Serialises to a malloc'd string (caller wipes and frees it: it holds the
 * secret). Returns 0 or -ENOMEM. */
int node_state_to_json(const struct node_state *st, char **out);

/* Loads dir/network_state.json: -ENOENT when absent, -EINVAL when invalid. */
int node_state_load(const char *dir, struct node_state *st, char *err, size_t errlen);
/* Atomically writes dir/network_state.json with mode 0600. */
int node_state_save(const char *dir, const struct node_state *st);

/* dir/node_id: read (-ENOENT when absent) and atomic write (0600). */
int node_state_read_node_id(const char *dir, char out[NODE_ID_HEX + 1]);
int node_state_write_node_id(const char *dir, const char *node_id);

/* s is exactly len lowercase hex digits (ids, secrets). */
int node_state_is_hex(const char *s, size_t len);

/* Fills out with n random bytes as lowercase hex (out holds 2n+1). */
void node_random_hex(char *out, size_t n);

struct node_peer *node_state_find_peer(struct node_state *st, const char *node_id);
struct node_peer *node_state_find_peer_by_name(struct node_state *st, const char *name);
/* Inserts or replaces the peer with the same node_id. 0 or -ENOMEM. */
int node_state_upsert_peer(struct node_state *st, const struct node_peer *p);
/* Removes by node_id. Returns 0 or -ENOENT. */
int node_state_remove_peer(struct node_state *st, const char *node_id);
/* Records a tombstone (idempotent). 0 or -ENOMEM. */
int node_state_add_removed(struct node_state *st, const char *node_id);
int node_state_is_removed(const struct node_state *st, const char *node_id);

/* "hub", "client" or "" (none). */
const char *node_vpn_role_str(enum node_vpn_role r);
/* The overlay hub's record, or NULL (no overlay, or the hub is unknown). */
struct node_peer *node_state_vpn_hub(struct node_state *st);

/* One peer as JSON (the peers[] entries of network_state.json). */
int node_peer_from_json(const cJSON *p, struct node_peer *out, char *err, size_t errlen);
cJSON *node_peer_to_json(const struct node_peer *p);

/* Wipes the secret and frees the peer table. */
void node_state_clear(struct node_state *st);

#endif
