/* The overlay's pure parts without a device: CIDR and IPv4 parsing, IPAM
 * (lowest free, exhaustion, reservations, persistence, idempotence), the key
 * file, vpn.json, the hub's endpoint cache, the state schema's new fields
 * (and old files still loading), the desired configuration of hub and
 * client, and when a client's tunnel to its hub counts as down. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidr.h"
#include "desired.h"
#include "epcache.h"
#include "health.h"
#include "ipam.h"
#include "state.h"
#include "test.h"
#include "vpnconf.h"
#include "wgkey.h"

static char dir[64];

static uint32_t ipv4(const char *s)
{
	uint32_t a = 0;

	CHECK_EQ_INT(node_ip4_parse(s, &a), 0);
	return a;
}

static void test_ip4_parse_is_strict(void)
{
	static const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
				     " 1.2.3.4", "1..2.3", "a.b.c.d", "1.2.3.-4", "1.2.3.4/24",
				     "1234.1.1.1" };
	char s[NODE_IP4_STRLEN];
	uint32_t a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(node_ip4_parse(bad[i], &a), -EINVAL);
	CHECK_EQ_INT(node_ip4_parse("10.42.0.255", &a), 0);
	CHECK_EQ_INT(a, 0x0a2a00ffu);
	node_ip4_str(a, s);
	CHECK_STR(s, "10.42.0.255");
	CHECK_EQ_INT(node_ip4_parse("0.0.0.0", &a), 0);
	CHECK_EQ_INT(a, 0);
}

static void test_cidr_parse_validates_with_reasons(void)
{
	struct node_cidr c;
	char err[160], s[NODE_CIDR_STRLEN];

	CHECK_EQ_INT(node_cidr_parse("10.42.0.0/24", &c, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.net, 0x0a2a0000u);
	CHECK_EQ_INT(c.prefix, 24);
	node_cidr_str(&c, s);
	CHECK_STR(s, "10.42.0.0/24");
	CHECK_EQ_INT(node_cidr_first_host(&c), ipv4("10.42.0.1"));
	CHECK_EQ_INT(node_cidr_last_host(&c), ipv4("10.42.0.254"));
	CHECK(node_cidr_contains(&c, ipv4("10.42.0.77")));
	CHECK(!node_cidr_contains(&c, ipv4("10.42.1.1")));
	CHECK_EQ_INT(node_cidr_parse("10.42.0.1/24", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "host bits are set: did you mean 10.42.0.0/24?") != NULL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/31", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "/31 out of range") != NULL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/7", &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(node_cidr_parse("fd00::/64", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "IPv4") != NULL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/", &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/024", &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/24x", &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0", &c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/30", &c, err, sizeof(err)), 0);
	CHECK_EQ_INT(node_cidr_last_host(&c) - node_cidr_first_host(&c), 1);
	CHECK_EQ_INT(node_cidr_parse("10.0.0.0/8", &c, err, sizeof(err)), 0);
	CHECK_EQ_INT(node_cidr_last_host(&c), ipv4("10.255.255.254"));
}

static void key_b64(char out[NODE_WGKEY_B64], uint8_t pub_out[32])
{
	uint8_t priv[32], pub[32];

	node_wgkey_generate(priv, pub);
	node_wgkey_to_b64(pub, out);
	if (pub_out)
		memcpy(pub_out, pub, 32);
}

static void add_member(struct node_state *st, const char *name, char id_fill, const char *addr,
		       enum node_vpn_role role, const char *endpoint)
{
	struct node_peer p = { 0 };

	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.addr, sizeof(p.addr), "192.0.2.%d:4747", id_fill - '0' + 1);
	memset(p.node_id, id_fill, NODE_ID_HEX);
	if (addr) {
		key_b64(p.wg_pubkey, NULL);
		snprintf(p.overlay_addr, sizeof(p.overlay_addr), "%s", addr);
	}
	if (endpoint)
		snprintf(p.wg_endpoint, sizeof(p.wg_endpoint), "%s", endpoint);
	p.vpn_role = role;
	CHECK_EQ_INT(node_state_upsert_peer(st, &p), 0);
}

/* A network with a hub (node "1...1") at 10.42.0.1 in cidr. */
static void hub_state(struct node_state *st, const char *cidr)
{
	memset(st, 0, sizeof(*st));
	memset(st->network_id, 'a', NODE_ID_HEX);
	memset(st->network_secret, '7', NODE_SECRET_HEX);
	snprintf(st->vpn_cidr, sizeof(st->vpn_cidr), "%s", cidr);
	memset(st->vpn_hub, '1', NODE_ID_HEX);
	{
		struct node_cidr c;
		char err[100], a[NODE_IP4_STRLEN];

		CHECK_EQ_INT(node_cidr_parse(cidr, &c, err, sizeof(err)), 0);
		node_ip4_str(node_cidr_first_host(&c), a);
		add_member(st, "hub", '1', a, NODE_VPN_ROLE_HUB, "198.51.100.1:51820");
	}
}

static enum node_ipam_result alloc(struct node_ipam *ip, const struct node_state *st,
				   const char *cidr, char id_fill, const char *name, const char *key,
				   int64_t now, char out[NODE_IP4_STRLEN])
{
	struct node_cidr c;
	char id[NODE_ID_HEX + 1], err[100];
	uint32_t a = 0;
	int changed;
	enum node_ipam_result r;

	memset(id, id_fill, NODE_ID_HEX);
	id[NODE_ID_HEX] = 0;
	CHECK_EQ_INT(node_cidr_parse(cidr, &c, err, sizeof(err)), 0);
	r = node_ipam_allocate(ip, st, &c, id, name, key, now, &a, &changed);
	out[0] = 0;
	if (r == NODE_IPAM_OK) {
		node_ip4_str(a, out);
		CHECK(changed);
	}
	return r;
}

static void test_ipam_lowest_free_and_exhaustion(void)
{
	struct node_state st;
	struct node_ipam ip = { 0 };
	char k1[45], k2[45], k3[45], a[NODE_IP4_STRLEN];
	int64_t now = 1700000000;

	key_b64(k1, NULL);
	key_b64(k2, NULL);
	key_b64(k3, NULL);
	/* a /30 holds the hub (.1) and one member (.2): network .0, broadcast .3 */
	hub_state(&st, "10.9.0.0/30");
	CHECK_EQ_INT(alloc(&ip, &st, "10.9.0.0/30", '2', "a", k1, now, a), NODE_IPAM_OK);
	CHECK_STR(a, "10.9.0.2");
	CHECK_EQ_INT(alloc(&ip, &st, "10.9.0.0/30", '3', "b", k2, now, a), NODE_IPAM_EXHAUSTED);
	CHECK_STR(node_ipam_result_str(NODE_IPAM_EXHAUSTED), "overlay address pool exhausted");
	/* the reservation expires: its address is free again */
	CHECK_EQ_INT(alloc(&ip, &st, "10.9.0.0/30", '3', "b", k2, now + NODE_IPAM_RESV_TTL, a),
		     NODE_IPAM_OK);
	CHECK_STR(a, "10.9.0.2");
	CHECK_EQ_INT((int)ip.n, 1);
	node_ipam_clear(&ip);
	node_state_clear(&st);

	/* members' addresses are skipped wherever they are; the hole is used */
	hub_state(&st, "10.42.0.0/24");
	add_member(&st, "m2", '2', "10.42.0.2", NODE_VPN_ROLE_CLIENT, NULL);
	add_member(&st, "m4", '4', "10.42.0.4", NODE_VPN_ROLE_CLIENT, NULL);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "n5", k1, now, a), NODE_IPAM_OK);
	CHECK_STR(a, "10.42.0.3");
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '6', "n6", k2, now, a), NODE_IPAM_OK);
	CHECK_STR(a, "10.42.0.5");
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '7', "n7", k3, now, a), NODE_IPAM_OK);
	CHECK_STR(a, "10.42.0.6");
	node_ipam_clear(&ip);
	node_state_clear(&st);
}

static void test_ipam_refuses_and_is_idempotent(void)
{
	struct node_state st;
	struct node_ipam ip = { 0 };
	char k1[45], k2[45], a[NODE_IP4_STRLEN], b[NODE_IP4_STRLEN];
	int64_t now = 1700000000;

	key_b64(k1, NULL);
	key_b64(k2, NULL);
	hub_state(&st, "10.42.0.0/24");
	add_member(&st, "m2", '2', "10.42.0.2", NODE_VPN_ROLE_CLIENT, NULL);
	/* a member's key, a member's name or id */
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "n5", st.peers[1].wg_pubkey, now, a),
		     NODE_IPAM_PUBKEY_IN_USE);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "m2", k1, now, a), NODE_IPAM_MEMBER);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '2', "zz", k1, now, a), NODE_IPAM_MEMBER);
	CHECK_EQ_INT((int)ip.n, 0); /* refusals change nothing */
	/* the same request twice: the same address, one reservation */
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "n5", k1, now, a), NODE_IPAM_OK);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "n5", k1, now + 5, b), NODE_IPAM_OK);
	CHECK_STR(a, b);
	CHECK_EQ_INT((int)ip.n, 1);
	CHECK_EQ_INT(ip.v[0].expires, now + 5 + NODE_IPAM_RESV_TTL);
	/* ... but not with another key, and a reserved key or name is taken */
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "n5", k2, now, a), NODE_IPAM_KEY_MISMATCH);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '6', "n6", k1, now, a), NODE_IPAM_PUBKEY_IN_USE);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '6', "n5", k2, now, a), NODE_IPAM_MEMBER);
	/* two different joins (two seeds racing): two different addresses */
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '6', "n6", k2, now, b), NODE_IPAM_OK);
	CHECK(strcmp(a, b) != 0);
	node_ipam_clear(&ip);
	node_state_clear(&st);
}

static void test_ipam_reservations_persist_and_prune(void)
{
	struct node_state st;
	struct node_ipam ip = { 0 }, back = { 0 };
	char k1[45], k2[45], a[NODE_IP4_STRLEN], err[200], path[128], *text;
	int64_t now = 1700000000;
	struct stat sb;


	key_b64(k1, NULL);
	key_b64(k2, NULL);
	hub_state(&st, "10.42.0.0/24");
	CHECK_EQ_INT(node_ipam_load(dir, &back, err, sizeof(err)), 0); /* absent = empty */
	CHECK_EQ_INT((int)back.n, 0);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "n5", k1, now, a), NODE_IPAM_OK);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '6', "n6", k2, now + 100, a), NODE_IPAM_OK);
	CHECK_EQ_INT(node_ipam_save(dir, &ip), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, NODE_IPAM_FILE);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	CHECK_EQ_INT(node_ipam_load(dir, &back, err, sizeof(err)), 0);
	CHECK_EQ_INT((int)back.n, 2);
	CHECK_EQ_INT(back.v[1].addr, ip.v[1].addr);
	CHECK_STR(back.v[1].wg_pubkey, k2);
	CHECK_EQ_INT(back.v[1].expires, now + 100 + NODE_IPAM_RESV_TTL);
	/* a hub restarted with its reservations hands out neither address */
	{
		char k3[45];

		key_b64(k3, NULL);
		CHECK_EQ_INT(alloc(&back, &st, "10.42.0.0/24", '7', "n7", k3, now, a), NODE_IPAM_OK);
	}
	CHECK_STR(a, "10.42.0.4");
	/* the record arrives: n5's reservation ends; n6's expires */
	add_member(&st, "n5", '5', "10.42.0.2", NODE_VPN_ROLE_CLIENT, NULL);
	CHECK_EQ_INT((int)node_ipam_prune(&ip, &st, now + 1), 1);
	CHECK_EQ_INT((int)ip.n, 1);
	CHECK_EQ_INT((int)node_ipam_prune(&ip, &st, now + 100 + NODE_IPAM_RESV_TTL), 1);
	CHECK_EQ_INT((int)ip.n, 0);
	/* a malformed file is refused as a whole and changes nothing */
	CHECK_EQ_INT(node_ipam_to_json(&back, &text), 0);
	{
		static const char *bad[] = {
			"{}", "[]", "{\"reservations\":{}}",
			"{\"reservations\":[{\"node_id\":\"x\",\"name\":\"a\",\"addr\":\"10.0.0.1\","
			"\"wg_pubkey\":\"AAAA\",\"expires\":1}]}",
			"{\"reservations\":[{\"node_id\":\"11111111111111111111111111111111\",\"name\":\"a\","
			"\"addr\":\"10.0.0.300\",\"wg_pubkey\":\"HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\","
			"\"expires\":1}]}",
		};
		size_t before = back.n;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			CHECK_EQ_INT(node_ipam_from_json(&back, bad[i], strlen(bad[i]), err, sizeof(err)),
				     -EINVAL);
			CHECK_EQ_INT((int)back.n, (int)before);
		}
	}
	free(text);
	node_ipam_clear(&ip);
	node_ipam_clear(&back);
	node_state_clear(&st);
}

static void test_wgkey_file_and_base64(void)
{
	uint8_t priv[32], pub[32], back[32], pub2[32];
	char b64[NODE_WGKEY_B64], path[128];
	struct stat sb;

	node_wgkey_generate(priv, pub);
	CHECK_EQ_INT(priv[0] & 7, 0);
	CHECK_EQ_INT(priv[31] & 0xc0, 0x40);
	node_wgkey_to_b64(pub, b64);
	CHECK_EQ_INT((int)strlen(b64), 44);
	CHECK_EQ_INT(node_wgkey_from_b64(b64, back), 0);
	CHECK_MEM(back, pub, 32);
	CHECK_EQ_INT(node_wgkey_from_b64("AAAA", back), -EINVAL);
	CHECK_EQ_INT(node_wgkey_from_b64("HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw", back), -EINVAL);
	CHECK_EQ_INT(node_wgkey_from_b64("HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw==", back), -EINVAL);
	CHECK_EQ_INT(node_wgkey_from_b64("HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8yk!=", back), -EINVAL);
	CHECK_EQ_INT(node_wgkey_save_private(dir, priv), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, NODE_WGKEY_FILE);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	CHECK_EQ_INT(node_wgkey_load_private(dir, back), 0);
	CHECK_MEM(back, priv, 32);
	CHECK_EQ_INT(node_wgkey_public(back, pub2), 0);
	CHECK_MEM(pub2, pub, 32);
	chmod(path, 0644);
	CHECK_EQ_INT(node_wgkey_load_private(dir, back), -EPERM);
	unlink(path);
	CHECK_EQ_INT(node_wgkey_load_private(dir, back), -ENOENT);
}

static void test_vpnconf_round_trip_and_strictness(void)
{
	struct node_vpnconf c, back;
	char err[160], *text;
	static const char *bad[] = {
		"[]", "{\"interface\":\"\"}", "{\"interface\":\"a/b\"}",
		"{\"interface\":\"abcdefghijklmnop\"}", "{\"listen_port\":70000}",
		"{\"listen_port\":1.5}", "{\"mtu\":100}", "{\"mtu\":\"1420\"}", "{\"interfac\":\"wg0\"}",
	};

	node_vpnconf_default(&c);
	CHECK_STR(c.interface, "wg0");
	CHECK_EQ_INT(c.mtu, 1420);
	snprintf(c.interface, sizeof(c.interface), "wgh1");
	c.listen_port = 51999;
	CHECK_EQ_INT(node_vpnconf_save(dir, &c), 0);
	CHECK_EQ_INT(node_vpnconf_load(dir, &back, err, sizeof(err)), 0);
	CHECK_STR(back.interface, "wgh1");
	CHECK_EQ_INT(back.listen_port, 51999);
	CHECK_EQ_INT(back.mtu, 1420);
	CHECK_EQ_INT(node_vpnconf_to_json(&c, &text), 0);
	free(text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(node_vpnconf_from_json(&back, bad[i], strlen(bad[i]), err, sizeof(err)),
			     -EINVAL);
		CHECK_STR(back.interface, "wgh1");
	}
	CHECK(node_vpn_ifname_valid("wg0"));
	CHECK(!node_vpn_ifname_valid(".."));
	CHECK(!node_vpn_ifname_valid("a b"));
	CHECK(!node_vpn_ifname_valid("0123456789abcdef"));
}

static void test_sockaddr_and_epcache(void)
{
	struct sockaddr_storage a, b;
	struct node_epcache c = { 0 }, back = { 0 };
	uint8_t pub[32], pub2[32];
	char k[45], s[80], err[160];

	CHECK_EQ_INT(node_sockaddr_parse("192.0.2.7:51820", &a), 0);
	node_sockaddr_str(&a, s, sizeof(s));
	CHECK_STR(s, "192.0.2.7:51820");
	CHECK_EQ_INT(node_sockaddr_parse("[::ffff:192.0.2.7]:51820", &b), 0);
	CHECK_EQ_INT(b.ss_family, AF_INET); /* v4-mapped comes back as IPv4 */
	CHECK(node_sockaddr_equal(&a, &b));
	CHECK_EQ_INT(node_sockaddr_parse("[2001:db8::1]:1", &b), 0);
	node_sockaddr_str(&b, s, sizeof(s));
	CHECK_STR(s, "[2001:db8::1]:1");
	CHECK(!node_sockaddr_equal(&a, &b));
	CHECK_EQ_INT(node_sockaddr_parse("host.example:51820", &b), -EINVAL);
	CHECK_EQ_INT(node_sockaddr_parse("192.0.2.7:0", &b), -EINVAL);
	CHECK_EQ_INT(node_sockaddr_parse("192.0.2.7:65536", &b), -EINVAL);
	CHECK_EQ_INT(node_sockaddr_parse("192.0.2.7: 1", &b), -EINVAL);
	CHECK_EQ_INT(node_sockaddr_parse("2001:db8::1:1", &b), -EINVAL);

	key_b64(k, pub);
	key_b64(k, pub2);
	CHECK_EQ_INT(node_epcache_put(&c, pub, &a), 1);
	CHECK_EQ_INT(node_epcache_put(&c, pub, &a), 0);
	CHECK_EQ_INT(node_sockaddr_parse("192.0.2.8:4000", &b), 0);
	CHECK_EQ_INT(node_epcache_put(&c, pub, &b), 1);
	CHECK_EQ_INT(node_epcache_put(&c, pub2, &a), 1);
	CHECK_EQ_INT(node_epcache_save(dir, &c), 0);
	CHECK_EQ_INT(node_epcache_load(dir, &back, err, sizeof(err)), 0);
	CHECK_EQ_INT((int)back.n, 2);
	CHECK(node_epcache_get(&back, pub) && node_sockaddr_equal(node_epcache_get(&back, pub), &b));
	CHECK_EQ_INT(node_epcache_from_json(&back, "{\"endpoints\":[{\"wg_pubkey\":\"x\",\"endpoint\":\"1.2.3.4:5\"}]}",
					    70, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT((int)back.n, 2);
	node_epcache_clear(&c);
	node_epcache_clear(&back);
}

static void test_state_schema_round_trip_and_old_files(void)
{
	struct node_state st, back = { 0 };
	char *text, err[200];
	/* a file written before the overlay: no vpn, no wg_endpoint/vpn_role */
	static const char old[] =
		"{\"network_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"owner_username\":\"@o\","
		"\"network_secret\":\"7777777777777777777777777777777777777777777777777777777777777777\","
		"\"peers\":[{\"name\":\"a\",\"addr\":\"1.2.3.4:4747\",\"node_id\":"
		"\"11111111111111111111111111111111\",\"status\":\"alive\",\"last_seen\":0,"
		"\"priority\":0,\"wg_pubkey\":\"\",\"overlay_addr\":\"\",\"ver\":3}],"
		"\"removed\":[],\"bot_lease\":{\"owner\":\"\",\"until\":0,\"epoch\":0},\"generation\":5}";

	CHECK_EQ_INT(node_state_from_json(&back, old, strlen(old), err, sizeof(err)), 0);
	CHECK_EQ_INT(back.vpn_cidr[0], 0);
	CHECK_EQ_INT(back.peers[0].vpn_role, NODE_VPN_ROLE_NONE);
	CHECK(node_state_vpn_hub(&back) == NULL);
	hub_state(&st, "10.42.0.0/24");
	add_member(&st, "c", '2', "10.42.0.2", NODE_VPN_ROLE_CLIENT, NULL);
	CHECK_EQ_INT(node_state_to_json(&st, &text), 0);
	CHECK(strstr(text, "\"vpn\"") && strstr(text, "\"cidr\":\t\"10.42.0.0/24\""));
	CHECK_EQ_INT(node_state_from_json(&back, text, strlen(text), err, sizeof(err)), 0);
	free(text);
	CHECK_STR(back.vpn_cidr, "10.42.0.0/24");
	CHECK_STR(back.vpn_hub, st.vpn_hub);
	CHECK(node_state_vpn_hub(&back) && !strcmp(node_state_vpn_hub(&back)->name, "hub"));
	CHECK_STR(back.peers[0].wg_endpoint, "198.51.100.1:51820");
	CHECK_EQ_INT(back.peers[0].vpn_role, NODE_VPN_ROLE_HUB);
	CHECK_EQ_INT(back.peers[1].vpn_role, NODE_VPN_ROLE_CLIENT);
	CHECK_STR(back.peers[1].wg_pubkey, st.peers[1].wg_pubkey);
	CHECK_STR(back.peers[1].overlay_addr, "10.42.0.2");
	/* each bad overlay field rejects the document and changes nothing */
	{
		static const struct { const char *from, *to; } muts[] = {
			{ "\"cidr\":\t\"10.42.0.0/24\"", "\"cidr\":\t\"10.42.0.1/24\"" },
			{ "\"cidr\":\t\"10.42.0.0/24\"", "\"cidr\":\t\"10.42.0.0/31\"" },
			{ "\"hub\":\t\"1111", "\"hub\":\t\"zzzz" },
			{ "\"vpn_role\":\t\"client\"", "\"vpn_role\":\t\"boss\"" },
			{ "\"overlay_addr\":\t\"10.42.0.2\"", "\"overlay_addr\":\t\"10.42.0\"" },
			{ "\"wg_endpoint\":\t\"198.51.100.1:51820\"", "\"wg_endpoint\":\t\"198.51.100.1\"" },
			{ "\"wg_pubkey\":\t\"", "\"wg_pubkey\":\t\"!" },
		};
		char *good;

		CHECK_EQ_INT(node_state_to_json(&st, &good), 0);
		for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
			char buf[8192], *at = strstr(good, muts[i].from);

			CHECK(at != NULL);
			if (!at)
				continue;
			snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - good), good, muts[i].to,
				 at + strlen(muts[i].from));
			CHECK_EQ_INT(node_state_from_json(&back, buf, strlen(buf), err, sizeof(err)),
				     -EINVAL);
			CHECK_STR(back.vpn_cidr, "10.42.0.0/24");
		}
		free(good);
	}
	node_state_clear(&st);
	node_state_clear(&back);
}

/* The test resolver: numeric only; "pending.example:1" is still resolving. */
static int resolve(void *ctx, const char *hp, struct sockaddr_storage *out)
{
	(void)ctx;
	if (!strncmp(hp, "pending.", 8))
		return -EAGAIN;
	return node_sockaddr_parse(hp, out);
}

static void test_desired_hub_and_client(void)
{
	struct node_state st;
	struct node_ipam ip = { 0 };
	struct node_epcache hints = { 0 };
	struct node_ovl_desired d;
	struct sockaddr_storage ss;
	char k[45], a[NODE_IP4_STRLEN], err[200], hubid[NODE_ID_HEX + 1];
	uint8_t pub[32];
	int64_t now = 1700000000;

	hub_state(&st, "10.42.0.0/24");
	memcpy(hubid, st.vpn_hub, sizeof(hubid));
	add_member(&st, "usa", '2', "10.42.0.2", NODE_VPN_ROLE_CLIENT, "203.0.113.9:40000");
	add_member(&st, "home", '3', "10.42.0.3", NODE_VPN_ROLE_CLIENT, NULL);
	add_member(&st, "old", '4', NULL, NODE_VPN_ROLE_NONE, NULL);  /* no overlay fields */
	key_b64(k, pub);
	CHECK_EQ_INT(alloc(&ip, &st, "10.42.0.0/24", '5', "new", k, now, a), NODE_IPAM_OK);
	CHECK_EQ_INT(node_wgkey_from_b64(st.peers[2].wg_pubkey, pub), 0);
	CHECK_EQ_INT(node_sockaddr_parse("192.0.2.50:33333", &ss), 0);
	CHECK_EQ_INT(node_epcache_put(&hints, pub, &ss), 1);

	CHECK_EQ_INT(node_ovl_desired_compute(&st, hubid, &ip, &hints, 51820, resolve, NULL, now, &d,
					      err, sizeof(err)), 0);
	CHECK_EQ_INT(d.role, NODE_VPN_ROLE_HUB);
	CHECK_EQ_INT(d.listen_port, 51820);
	CHECK_EQ_INT(d.self_addr, ipv4("10.42.0.1"));
	CHECK_EQ_INT((int)d.n_peers, 3); /* usa, home, the reservation; not "old" */
	CHECK_STR(d.peers[0].name, "usa");
	CHECK_EQ_INT(d.peers[0].allowed, ipv4("10.42.0.2"));
	CHECK_EQ_INT(d.peers[0].allowed_prefix, 32);
	CHECK(d.peers[0].has_endpoint && !d.peers[0].has_hint);
	CHECK_EQ_INT(d.peers[0].keepalive, 0);
	CHECK_STR(d.peers[1].name, "home");
	CHECK(!d.peers[1].has_endpoint && d.peers[1].has_hint);
	CHECK(node_sockaddr_equal(&d.peers[1].hint, &ss));
	CHECK_STR(d.peers[2].name, "new");
	CHECK(d.peers[2].reserved);
	CHECK_EQ_INT(d.peers[2].allowed, ipv4(a));
	node_ovl_desired_clear(&d);
	/* an expired reservation is no peer */
	CHECK_EQ_INT(node_ovl_desired_compute(&st, hubid, &ip, &hints, 51820, resolve, NULL,
					      now + NODE_IPAM_RESV_TTL, &d, err, sizeof(err)), 0);
	CHECK_EQ_INT((int)d.n_peers, 2);
	node_ovl_desired_clear(&d);

	/* a client: the hub alone, the whole CIDR, keepalive 25 */
	{
		char id[NODE_ID_HEX + 1];

		memset(id, '3', NODE_ID_HEX);
		id[NODE_ID_HEX] = 0;
		CHECK_EQ_INT(node_ovl_desired_compute(&st, id, NULL, NULL, 0, resolve, NULL, now, &d,
						      err, sizeof(err)), 0);
		CHECK_EQ_INT(d.role, NODE_VPN_ROLE_CLIENT);
		CHECK_EQ_INT((int)d.n_peers, 1);
		CHECK_STR(d.peers[0].name, "hub");
		CHECK_EQ_INT(d.peers[0].allowed, ipv4("10.42.0.0"));
		CHECK_EQ_INT(d.peers[0].allowed_prefix, 24);
		CHECK_EQ_INT(d.peers[0].keepalive, NODE_OVL_KEEPALIVE);
		CHECK(d.peers[0].has_endpoint);
		CHECK_EQ_INT(node_sockaddr_parse("198.51.100.1:51820", &ss), 0);
		CHECK(node_sockaddr_equal(&d.peers[0].endpoint, &ss));
		CHECK_EQ_INT(d.self_addr, ipv4("10.42.0.3"));
		node_ovl_desired_clear(&d);
		/* the hub's name still resolving: no endpoint yet, said so */
		snprintf(st.peers[0].wg_endpoint, sizeof(st.peers[0].wg_endpoint), "pending.example:1");
		CHECK_EQ_INT(node_ovl_desired_compute(&st, id, NULL, NULL, 0, resolve, NULL, now, &d,
						      err, sizeof(err)), 0);
		CHECK(!d.peers[0].has_endpoint);
		CHECK_STR(d.pending, "pending.example:1");
		node_ovl_desired_clear(&d);
		/* removed (its own tombstone, record kept or gone): no peers at
		 * all, so the device stops knocking at the hub */
		CHECK_EQ_INT(node_state_add_removed(&st, id), 0);
		CHECK_EQ_INT(node_ovl_desired_compute(&st, id, NULL, NULL, 0, resolve, NULL, now, &d,
						      err, sizeof(err)), 0);
		CHECK(d.removed);
		CHECK_EQ_INT(d.role, NODE_VPN_ROLE_CLIENT);
		CHECK_EQ_INT((int)d.n_peers, 0);
		node_ovl_desired_clear(&d);
		memset(id, '9', NODE_ID_HEX);
		CHECK_EQ_INT(node_state_add_removed(&st, id), 0);
		CHECK_EQ_INT(node_ovl_desired_compute(&st, id, NULL, NULL, 0, resolve, NULL, now, &d,
						      err, sizeof(err)), 0);
		CHECK(d.removed && d.n_peers == 0);
		node_ovl_desired_clear(&d);
		/* a member without overlay fields has no overlay */
		memset(id, '4', NODE_ID_HEX);
		CHECK_EQ_INT(node_ovl_desired_compute(&st, id, NULL, NULL, 0, resolve, NULL, now, &d,
						      err, sizeof(err)), -ENOENT);
	}
	/* no vpn at all */
	st.vpn_cidr[0] = 0;
	CHECK_EQ_INT(node_ovl_desired_compute(&st, hubid, NULL, NULL, 0, resolve, NULL, now, &d, err,
					      sizeof(err)), -ENOENT);
	node_ipam_clear(&ip);
	node_epcache_clear(&hints);
	node_state_clear(&st);
}

/* A client's tunnel to the hub: down after the grace without any handshake,
 * or when the last one is older than REJECT_AFTER_TIME; the message names
 * the hub and its endpoint and stays the same while the trouble lasts. */
static void test_hub_health(void)
{
	char m1[512] = "", m2[512] = "";
	int64_t now = 1700000000;

	/* never a handshake: fine during the grace, then down */
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", 0, now, 0, m1, sizeof(m1)), 0);
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", 0, now,
					 NODE_OVL_HUB_GRACE_S - 0.5, m1, sizeof(m1)), 0);
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", 0, now, NODE_OVL_HUB_GRACE_S,
					 m1, sizeof(m1)), 1);
	CHECK(strstr(m1, "no WireGuard handshake with the hub hub at 198.51.100.1:51820") != NULL);
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", 0, now + 30,
					 NODE_OVL_HUB_GRACE_S + 30, m2, sizeof(m2)), 1);
	CHECK_STR(m1, m2); /* logged once, not every reconcile */
	/* a session: fine up to REJECT_AFTER_TIME, then down */
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", now - 5, now, 1000, m1,
					 sizeof(m1)), 0);
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", now - NODE_OVL_SESSION_DEAD_S,
					 now, 1000, m1, sizeof(m1)), 0);
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", 1699999000, now, 1000, m1,
					 sizeof(m1)), 1);
	CHECK(strstr(m1, "no WireGuard session with the hub hub at 198.51.100.1:51820: the last "
		      "handshake was at 2023-11-14T21:56:40Z") != NULL);
	CHECK_EQ_INT(node_ovl_hub_health("hub", "198.51.100.1:51820", 1699999000, now + 60, 1060, m2,
					 sizeof(m2)), 1);
	CHECK_STR(m1, m2);
}

int main(void)
{
	char cmd[128];

	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/test_overlay_ipam.%d", (int)getpid());
	CHECK_EQ_INT(node_state_dir_ensure(dir), 0);
	RUN_TEST(test_ip4_parse_is_strict);
	RUN_TEST(test_cidr_parse_validates_with_reasons);
	RUN_TEST(test_ipam_lowest_free_and_exhaustion);
	RUN_TEST(test_ipam_refuses_and_is_idempotent);
	RUN_TEST(test_ipam_reservations_persist_and_prune);
	RUN_TEST(test_wgkey_file_and_base64);
	RUN_TEST(test_vpnconf_round_trip_and_strictness);
	RUN_TEST(test_sockaddr_and_epcache);
	RUN_TEST(test_state_schema_round_trip_and_old_files);
	RUN_TEST(test_desired_hub_and_client);
	RUN_TEST(test_hub_health);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
	return TEST_DONE();
}
