/* The embedding API of device.h on real devices: wg_device_set and
 * wg_device_get_info round trips (and that the UAPI socket sees the same
 * configuration), transactions refused whole, wg_device_initiate,
 * wg_device_ifindex, uapi_optional. The process moves into a network
 * namespace of its own (root), and every UAPI socket lives in a temporary
 * directory, so nothing it creates is visible outside. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto.h"
#include "device.h"
#include "log.h"
#include "test.h"

static char uapi_dir[64];

static struct wg_device *dev_new(const char *name, const char *dir, bool optional, int *err)
{
	struct wg_device_config cfg = { .ifname = name, .uapi_dir = dir,
					.uapi_optional = optional };
	struct wg_device *dev = NULL;

	wg_timer_config_default(&cfg.timers);
	*err = wg_device_new(&cfg, &dev);
	return dev;
}

static void aip(struct wg_uapi_allowed_ip *a, int family, const char *addr, uint8_t cidr)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	inet_pton(family, addr, a->addr);
	a->cidr = cidr;
}

static void endpoint4(struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, addr, &s->sin_addr);
}

/* One request on the device's UAPI socket; returns the reply (static). */
static const char *uapi_request(const char *ifname, const char *req)
{
	static char reply[8192];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	reply[0] = 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", uapi_dir, ifname);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		if (fd >= 0)
			close(fd);
		return reply;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r = read(fd, reply + n, sizeof(reply) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	reply[n] = 0;
	close(fd);
	return reply;
}

static void hex(char *out, const uint8_t *k)
{
	sodium_bin2hex(out, 2 * WG_KEY_LEN + 1, k, WG_KEY_LEN);
}

static void test_set_then_get_info_round_trip(void)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], p1[WG_KEY_LEN], p2[WG_KEY_LEN], psk[WG_KEY_LEN];
	struct wg_uapi_allowed_ip a1[3], a2[1], a3[1];
	struct wg_uapi_peer peers[2];
	struct wg_uapi_set set = { 0 };
	struct wg_device_info info;
	struct wg_device *dev;
	char line[128], hexkey[2 * WG_KEY_LEN + 1];
	const char *reply;
	int err;

	dev = dev_new("wge0", uapi_dir, false, &err);
	CHECK_EQ_INT(err, 0);
	if (!dev)
		return;
	CHECK_EQ_INT(wg_device_ifindex(dev), (int)if_nametoindex("wge0"));
	/* a fresh device: no key, no peers, counters at zero */
	CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
	CHECK(!info.has_private_key);
	CHECK_EQ_INT(info.n_peers, 0);
	CHECK(info.peers == NULL);
	CHECK(sodium_is_zero((const unsigned char *)&info.stats, sizeof(info.stats)));
	wg_device_info_free(&info);

	wg_key_generate_private(priv);
	CHECK_EQ_INT(wg_key_public_from_private(pub, priv), 0);
	randombytes_buf(p1, sizeof(p1));
	randombytes_buf(p2, sizeof(p2));
	randombytes_buf(psk, sizeof(psk));
	memset(peers, 0, sizeof(peers));
	memcpy(peers[0].public_key, p1, WG_KEY_LEN);
	peers[0].has_psk = true;
	memcpy(peers[0].psk, psk, WG_KEY_LEN);
	peers[0].has_endpoint = true;
	endpoint4(&peers[0].endpoint, "192.0.2.1", 51820); /* endpoint_len 0: derived */
	peers[0].has_keepalive = true;
	peers[0].keepalive = 25;
	aip(&a1[0], AF_INET, "10.1.2.3", 16); /* host bits: the table masks them */
	aip(&a1[1], AF_INET6, "fd00::", 64);
	aip(&a1[2], AF_INET, "10.9.0.1", 32);
	peers[0].allowed_ips = a1;
	peers[0].n_allowed_ips = 3;
	memcpy(peers[1].public_key, p2, WG_KEY_LEN);
	aip(&a2[0], AF_INET, "10.2.0.2", 32);
	peers[1].allowed_ips = a2;
	peers[1].n_allowed_ips = 1;
	set.has_private_key = true;
	memcpy(set.private_key, priv, WG_KEY_LEN);
	set.has_listen_port = true;
	set.listen_port = 51901;
	set.has_fwmark = true;
	set.fwmark = 0x42;
	set.peers = peers;
	set.n_peers = 2;
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);

	CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
	CHECK(info.has_private_key);
	CHECK_MEM(info.public_key, pub, WG_KEY_LEN);
	CHECK_EQ_INT(info.listen_port, 51901);
	CHECK_EQ_INT(info.fwmark, 0x42);
	CHECK_EQ_INT(info.n_peers, 2);
	if (info.n_peers == 2) {
		const struct wg_device_peer_info *q = &info.peers[0];
		const struct sockaddr_in *ep = (const struct sockaddr_in *)&q->endpoint;
		uint8_t net[4];

		CHECK_MEM(q->public_key, p1, WG_KEY_LEN); /* configuration order */
		CHECK(q->has_endpoint);
		CHECK_EQ_INT(ep->sin_family, AF_INET);
		CHECK_EQ_INT(ntohs(ep->sin_port), 51820);
		inet_pton(AF_INET, "192.0.2.1", net);
		CHECK_MEM(&ep->sin_addr, net, 4);
		CHECK_EQ_INT(q->persistent_keepalive, 25);
		CHECK_EQ_INT(q->last_handshake_wall_ns, 0);
		CHECK_EQ_INT(q->n_allowed_ips, 3);
		if (q->n_allowed_ips == 3) {
			/* IPv4 first, in address order, then IPv6 */
			inet_pton(AF_INET, "10.1.0.0", net);
			CHECK_EQ_INT(q->allowed_ips[0].family, AF_INET);
			CHECK_MEM(q->allowed_ips[0].addr, net, 4);
			CHECK_EQ_INT(q->allowed_ips[0].cidr, 16);
			CHECK_EQ_INT(q->allowed_ips[1].cidr, 32);
			CHECK_EQ_INT(q->allowed_ips[2].family, AF_INET6);
			CHECK_EQ_INT(q->allowed_ips[2].cidr, 64);
		}
		CHECK_MEM(info.peers[1].public_key, p2, WG_KEY_LEN);
		CHECK(!info.peers[1].has_endpoint);
		CHECK_EQ_INT(info.peers[1].persistent_keepalive, 0);
		CHECK_EQ_INT(info.peers[1].n_allowed_ips, 1);
	}
	wg_device_info_free(&info);
	CHECK(info.peers == NULL && info.n_peers == 0);

	/* The UAPI socket serves the configuration the API set. */
	reply = uapi_request("wge0", "get=1\n\n");
	CHECK(strstr(reply, "listen_port=51901\n") != NULL);
	CHECK(strstr(reply, "fwmark=66\n") != NULL);
	hex(hexkey, p1);
	snprintf(line, sizeof(line), "public_key=%s\n", hexkey);
	CHECK(strstr(reply, line) != NULL);
	hex(hexkey, psk);
	snprintf(line, sizeof(line), "preshared_key=%s\n", hexkey);
	CHECK(strstr(reply, line) != NULL);
	CHECK(strstr(reply, "endpoint=192.0.2.1:51820\n") != NULL);
	CHECK(strstr(reply, "allowed_ip=10.1.0.0/16\n") != NULL);
	CHECK(strstr(reply, "persistent_keepalive_interval=25\n") != NULL);
	CHECK(strstr(reply, "errno=0\n") != NULL);

	/* ...and the API sees what the UAPI set. */
	hex(hexkey, p2);
	snprintf(line, sizeof(line), "set=1\npublic_key=%s\nremove=true\n\n", hexkey);
	reply = uapi_request("wge0", line);
	CHECK(strstr(reply, "errno=0\n") != NULL);
	CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
	CHECK_EQ_INT(info.n_peers, 1);
	wg_device_info_free(&info);

	/* update_only skips an unknown peer; replace_allowed_ips replaces. */
	memset(peers, 0, sizeof(peers));
	memcpy(peers[0].public_key, p1, WG_KEY_LEN);
	peers[0].replace_allowed_ips = true;
	aip(&a3[0], AF_INET, "10.3.0.0", 24);
	peers[0].allowed_ips = a3;
	peers[0].n_allowed_ips = 1;
	memcpy(peers[1].public_key, p2, WG_KEY_LEN);
	peers[1].update_only = true;
	memset(&set, 0, sizeof(set));
	set.peers = peers;
	set.n_peers = 2;
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);
	CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
	CHECK_EQ_INT(info.n_peers, 1);
	CHECK_EQ_INT(info.listen_port, 51901); /* untouched fields stay */
	if (info.n_peers == 1) {
		CHECK_EQ_INT(info.peers[0].n_allowed_ips, 1);
		CHECK_EQ_INT(info.peers[0].allowed_ips[0].cidr, 24);
		CHECK(info.peers[0].has_endpoint);
	}
	wg_device_info_free(&info);

	/* replace_peers with nothing: no peers; a zero private key: no key */
	memset(&set, 0, sizeof(set));
	set.replace_peers = true;
	set.has_private_key = true;
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);
	CHECK_EQ_INT(wg_device_get_info(dev, &info), 0);
	CHECK_EQ_INT(info.n_peers, 0);
	CHECK(!info.has_private_key);
	wg_device_info_free(&info);
	sodium_memzero(priv, sizeof(priv));
	wg_device_free(dev);
}

/* Counts peers and reads the port: what a refused transaction must keep. */
static void snapshot(struct wg_device *dev, size_t *n_peers, uint16_t *port, size_t *n_aips)
{
	struct wg_device_info info;

	*n_peers = 0;
	*port = 0;
	*n_aips = 0;
	if (wg_device_get_info(dev, &info) < 0)
		return;
	*n_peers = info.n_peers;
	*port = info.listen_port;
	for (size_t i = 0; i < info.n_peers; i++)
		*n_aips += info.peers[i].n_allowed_ips;
	wg_device_info_free(&info);
}

static void test_set_refuses_a_bad_transaction_whole(void)
{
	struct wg_uapi_allowed_ip good[1], bad[1];
	struct wg_uapi_peer peers[2];
	struct wg_uapi_set set;
	struct wg_device *dev;
	size_t n0, n1, a0, a1;
	uint16_t port0, port1;
	int err, busy;

	dev = dev_new("wge1", uapi_dir, false, &err);
	CHECK_EQ_INT(err, 0);
	if (!dev)
		return;
	memset(peers, 0, sizeof(peers));
	randombytes_buf(peers[0].public_key, WG_KEY_LEN);
	aip(&good[0], AF_INET, "10.4.0.1", 32);
	peers[0].allowed_ips = good;
	peers[0].n_allowed_ips = 1;
	memset(&set, 0, sizeof(set));
	set.peers = peers;
	set.n_peers = 1;
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);
	snapshot(dev, &n0, &port0, &a0);
	CHECK_EQ_INT(n0, 1);

	/* a good first peer, then a bad second one: nothing of it applied */
	randombytes_buf(peers[1].public_key, WG_KEY_LEN);
	peers[1].allowed_ips = bad;
	peers[1].n_allowed_ips = 1;
	set.n_peers = 2;
	set.has_listen_port = true;
	set.listen_port = 51902;
	aip(&bad[0], AF_INET, "10.4.0.2", 33);
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	aip(&bad[0], AF_INET6, "fd00::", 129);
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	bad[0].family = AF_UNIX;
	bad[0].cidr = 8;
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	aip(&bad[0], AF_INET, "10.4.0.2", 32);
	peers[1].allowed_ips = NULL; /* a count without an array */
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	peers[1].allowed_ips = bad;
	peers[1].has_endpoint = true;
	memset(&peers[1].endpoint, 0, sizeof(peers[1].endpoint));
	peers[1].endpoint.ss_family = AF_UNIX;
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	endpoint4(&peers[1].endpoint, "192.0.2.2", 1);
	peers[1].endpoint_len = 4; /* shorter than a sockaddr_in */
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	peers[1].endpoint_len = sizeof(struct sockaddr_in);
	set.peers = NULL;
	CHECK_EQ_INT(wg_device_set(dev, &set), -EINVAL);
	set.peers = peers;
	snapshot(dev, &n1, &port1, &a1);
	CHECK_EQ_INT(n1, n0);
	CHECK_EQ_INT(a1, a0);
	CHECK_EQ_INT(port1, port0);

	/* a port someone else holds: the bind fails, nothing applied */
	busy = socket(AF_INET, SOCK_DGRAM, 0);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(51902) };
		CHECK_EQ_INT(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	CHECK_EQ_INT(wg_device_set(dev, &set), -EADDRINUSE);
	snapshot(dev, &n1, &port1, &a1);
	CHECK_EQ_INT(n1, n0);
	CHECK_EQ_INT(port1, port0);
	close(busy);
	/* the same transaction applies once the port is free */
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);
	snapshot(dev, &n1, &port1, &a1);
	CHECK_EQ_INT(n1, 2);
	CHECK_EQ_INT(port1, 51902);
	wg_device_free(dev);
}

static void test_initiate_sends_an_initiation_to_the_endpoint(void)
{
	struct wg_uapi_peer peers[2];
	struct wg_uapi_set set;
	struct wg_device *dev;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	uint8_t unknown[WG_KEY_LEN], buf[512];
	struct pollfd pfd;
	int err, rx;

	dev = dev_new("wge2", uapi_dir, false, &err);
	CHECK_EQ_INT(err, 0);
	if (!dev)
		return;
	rx = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	CHECK_EQ_INT(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(rx, (struct sockaddr *)&sa, &sl);

	memset(peers, 0, sizeof(peers));
	randombytes_buf(peers[0].public_key, WG_KEY_LEN);
	randombytes_buf(peers[1].public_key, WG_KEY_LEN);
	peers[0].has_endpoint = true;
	endpoint4(&peers[0].endpoint, "127.0.0.1", ntohs(sa.sin_port));
	memset(&set, 0, sizeof(set));
	set.peers = peers;
	set.n_peers = 2;
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);
	randombytes_buf(unknown, sizeof(unknown));
	CHECK_EQ_INT(wg_device_initiate(dev, unknown), -ENOENT);
	CHECK_EQ_INT(wg_device_initiate(dev, peers[0].public_key), -ENOKEY); /* no private key */

	memset(&set, 0, sizeof(set));
	set.has_private_key = true;
	wg_key_generate_private(set.private_key);
	CHECK_EQ_INT(wg_device_set(dev, &set), 0);
	sodium_memzero(set.private_key, sizeof(set.private_key));
	CHECK_EQ_INT(wg_device_initiate(dev, peers[1].public_key), -EDESTADDRREQ);
	CHECK_EQ_INT(wg_device_initiate(dev, peers[0].public_key), 0);
	pfd = (struct pollfd){ .fd = rx, .events = POLLIN };
	CHECK_EQ_INT(poll(&pfd, 1, 2000), 1);
	CHECK_EQ_INT(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), 148);
	CHECK_EQ_INT(buf[0], 1); /* a handshake initiation */
	/* the protocol's own rate limit: one per REKEY_TIMEOUT */
	CHECK_EQ_INT(wg_device_initiate(dev, peers[0].public_key), -EALREADY);
	close(rx);
	wg_device_free(dev);
}

static void test_uapi_optional_makes_a_missing_socket_a_warning(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct wg_device_info info;
	struct wg_device *dev;
	int err, fd;

	/* a directory that cannot be created */
	dev = dev_new("wge3", "/proc/no-such-dir/wireguard", false, &err);
	CHECK(dev == NULL);
	CHECK(err < 0);
	CHECK(!if_nametoindex("wge3")); /* nothing half-done */
	dev = dev_new("wge3", "/proc/no-such-dir/wireguard", true, &err);
	CHECK_EQ_INT(err, 0);
	CHECK(dev != NULL);
	if (dev) {
		CHECK_EQ_INT(wg_device_get_info(dev, &info), 0); /* the API works */
		wg_device_info_free(&info);
		wg_device_free(dev);
	}
	/* a live socket of that name is another device's: still refused */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/wge4.sock", uapi_dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	CHECK_EQ_INT(listen(fd, 1), 0);
	dev = dev_new("wge4", uapi_dir, true, &err);
	CHECK(dev == NULL);
	CHECK_EQ_INT(err, -EBUSY);
	close(fd);
	unlink(sun.sun_path);
}

int main(void)
{
	if (getuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		fprintf(stderr, "SKIP: needs root and /dev/net/tun\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	if (system("ip link set lo up") != 0)
		return 1;
	snprintf(uapi_dir, sizeof(uapi_dir), "/tmp/wg-embed-XXXXXX");
	if (!mkdtemp(uapi_dir))
		return 1;
	cst_log_init("test_embed", CST_LOG_ERROR);
	if (wg_crypto_init() < 0)
		return 1;
	RUN_TEST(test_set_then_get_info_round_trip);
	RUN_TEST(test_set_refuses_a_bad_transaction_whole);
	RUN_TEST(test_initiate_sends_an_initiation_to_the_endpoint);
	RUN_TEST(test_uapi_optional_makes_a_missing_socket_a_warning);
	rmdir(uapi_dir);
	return TEST_DONE();
}
