/* Node-local overlay settings, not replicated: STATE_DIR/vpn.json (0600),
 * written by `constella init --vpn-mode hub` and `constella join`:
 * {"interface": "wg0", "listen_port": 51820, "mtu": 1420}. listen_port 0
 * lets the kernel choose (clients: the hub learns their endpoint).
 * VPN_INTERFACE_NAME and VPN_LISTEN_PORT override the file at start. */
#ifndef NODE_VPNCONF_H
#define NODE_VPNCONF_H

#include <stddef.h>
#include <stdint.h>

#define NODE_VPNCONF_FILE "vpn.json"
#define NODE_VPN_DEFAULT_IFNAME "wg0"
#define NODE_VPN_DEFAULT_PORT 51820
#define NODE_VPN_DEFAULT_MTU 1420

struct node_vpnconf {
	char interface[16];   /* 1-15 characters, a valid interface name */
	uint16_t listen_port; /* 0 = any */
	unsigned mtu;         /* 1280..9000 */
};

/* An interface name the kernel accepts: 1-15 characters, none of '/', ':',
 * whitespace or NUL, not "." or "..". */
int node_vpn_ifname_valid(const char *s);

void node_vpnconf_default(struct node_vpnconf *c);
/* Strict: unknown members are refused too (a typo must not be silently
 * ignored). 0 or -EINVAL with the reason; *c unchanged on error. */
int node_vpnconf_from_json(struct node_vpnconf *c, const char *text, size_t len, char *err,
			   size_t errlen);
int node_vpnconf_to_json(const struct node_vpnconf *c, char **out);
/* -ENOENT when absent. */
int node_vpnconf_load(const char *dir, struct node_vpnconf *c, char *err, size_t errlen);
int node_vpnconf_save(const char *dir, const struct node_vpnconf *c);

#endif
