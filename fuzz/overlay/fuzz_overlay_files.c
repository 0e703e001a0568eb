/* libFuzzer target for the overlay's local files: vpn.json (vpnconf.h), the
 * hub's vpn_reservations.json (ipam.h) and vpn_endpoints.json (epcache.h).
 * The first byte picks the parser. An accepted document serialises and
 * parses back to the same content; a rejected one changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epcache.h"
#include "ipam.h"
#include "vpnconf.h"

static void vpnconf(const char *t, size_t n)
{
	struct node_vpnconf c, d, keep;
	char err[200], *text = NULL;

	node_vpnconf_default(&c);
	snprintf(c.interface, sizeof(c.interface), "keep");
	keep = c;
	if (node_vpnconf_from_json(&c, t, n, err, sizeof(err)) == 0) {
		if (node_vpnconf_to_json(&c, &text) ||
		    node_vpnconf_from_json(&d, text, strlen(text), err, sizeof(err)) ||
		    strcmp(c.interface, d.interface) || c.listen_port != d.listen_port ||
		    c.mtu != d.mtu || !node_vpn_ifname_valid(c.interface))
			abort();
	} else if (memcmp(&c, &keep, sizeof(c))) {
		abort();
	}
	free(text);
}

static void ipam(const char *t, size_t n)
{
	struct node_ipam a = { 0 }, b = { 0 };
	char err[200], *text = NULL;

	if (node_ipam_from_json(&a, t, n, err, sizeof(err)) == 0) {
		if (node_ipam_to_json(&a, &text) ||
		    node_ipam_from_json(&b, text, strlen(text), err, sizeof(err)) || a.n != b.n ||
		    (a.n && memcmp(a.v, b.v, a.n * sizeof(*a.v))))
			abort();
	} else if (a.n || a.v) {
		abort();
	}
	free(text);
	node_ipam_clear(&a);
	node_ipam_clear(&b);
}

static void epcache(const char *t, size_t n)
{
	struct node_epcache a = { 0 }, b = { 0 };
	char err[200], *text = NULL;

	if (node_epcache_from_json(&a, t, n, err, sizeof(err)) == 0) {
		if (node_epcache_to_json(&a, &text) ||
		    node_epcache_from_json(&b, text, strlen(text), err, sizeof(err)) || a.n != b.n)
			abort();
		for (size_t i = 0; i < a.n; i++)
			if (!node_epcache_get(&b, a.v[i].pub) ||
			    !node_sockaddr_equal(node_epcache_get(&b, a.v[i].pub), &a.v[i].ep))
				abort();
	} else if (a.n || a.v) {
		abort();
	}
	free(text);
	node_epcache_clear(&a);
	node_epcache_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data + 1;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: vpnconf(t, size - 1); break;
	case 1: ipam(t, size - 1); break;
	default: epcache(t, size - 1); break;
	}
	return 0;
}
