/* Run inside a fresh network namespace (tun_netns.sh). Opens real TUN
 * devices, configures them over rtnetlink and checks the kernel's view
 * (ip -j JSON), then drives a real TCP connection through a vnet-header
 * TUN: a GRO super-packet written in must reach the socket intact, and the
 * kernel's TSO super-packets read out must split into valid segments. */
#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "tun.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* ---- helpers ---- */

static cJSON *ip_json(const char *cmd)
{
	static char out[65536];
	size_t n = 0;
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	while (n < sizeof(out) - 1) {
		size_t r = fread(out + n, 1, sizeof(out) - 1 - n, f);
		if (r == 0)
			break;
		n += r;
	}
	out[n] = 0;
	pclose(f);
	return cJSON_Parse(out);
}

static int json_has_addr(cJSON *links, const char *local, int prefixlen)
{
	cJSON *link, *ai;
	cJSON_ArrayForEach(link, links) {
		cJSON_ArrayForEach(ai, cJSON_GetObjectItem(link, "addr_info")) {
			cJSON *l = cJSON_GetObjectItem(ai, "local"), *p = cJSON_GetObjectItem(ai, "prefixlen");
			if (cJSON_IsString(l) && !strcmp(l->valuestring, local) && cJSON_IsNumber(p) &&
			    p->valueint == prefixlen)
				return 1;
		}
	}
	return 0;
}

static int json_has_flag(cJSON *link, const char *flag)
{
	cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(link, "flags"))
		if (cJSON_IsString(f) && !strcmp(f->valuestring, flag))
			return 1;
	return 0;
}

/* "dst" and "dev" of the single route `ip -j route show <what>` prints. */
static int route_is(const char *cmd, const char *dst, const char *dev)
{
	cJSON *j = ip_json(cmd), *r;
	int ok = 0;
	if (cJSON_GetArraySize(j) == 1) {
		r = cJSON_GetArrayItem(j, 0);
		ok = !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "dst")) ?: "", dst) &&
		     !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "dev")) ?: "", dev);
	}
	cJSON_Delete(j);
	return ok;
}

static uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Independent check of an IPv4 TCP/UDP checksum (pseudo-header by hand). */
static int ref_l4_ok4(const uint8_t *ip, size_t len)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, l4 = len - ihl;
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0; ph[9] = ip[9]; ph[10] = (uint8_t)(l4 >> 8); ph[11] = (uint8_t)l4;
	return ref_sum(ip + ihl, l4, ref_sum(ph, 12, 0)) == 0xffff && ref_sum(ip, ihl, 0) == 0xffff;
}

static void put16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IPv4/TCP packet with full checksums computed by the reference code. */
static size_t build_tcp4(uint8_t *b, const char *src, const char *dst, uint16_t sport,
			 uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
			 const uint8_t *opt, size_t optlen, const uint8_t *data, size_t dlen)
{
	size_t thl = 20 + optlen, len = 20 + thl + dlen;
	uint8_t ph[12];
	memset(b, 0, 20 + thl);
	b[0] = 0x45; put16(b + 2, len); put16(b + 4, 0x4242); b[6] = 0x40; b[8] = 64; b[9] = 6;
	inet_pton(AF_INET, src, b + 12);
	inet_pton(AF_INET, dst, b + 16);
	put16(b + 10, (uint16_t)~ref_sum(b, 20, 0));
	put16(b + 20, sport); put16(b + 22, dport); put32(b + 24, seq); put32(b + 28, ack);
	b[32] = (uint8_t)((thl / 4) << 4); b[33] = flags; put16(b + 34, win);
	if (optlen)
		memcpy(b + 40, opt, optlen);
	if (dlen)
		memcpy(b + 20 + thl, data, dlen);
	memcpy(ph, b + 12, 8);
	ph[8] = 0; ph[9] = 6; ph[10] = (uint8_t)((len - 20) >> 8); ph[11] = (uint8_t)(len - 20);
	put16(b + 36, (uint16_t)~ref_sum(b + 20, len - 20, ref_sum(ph, 12, 0)));
	return len;
}

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* ---- configuration ---- */

static void test_tun_open_configure_and_kernel_view(void)
{
	struct tun_dev d;
	uint8_t a4[4], a6[16], net4[4], net6[16], host4[4];
	unsigned mtu = 0;
	cJSON *j;

	CHECK_EQ_INT(tun_open("cstt0", 0, NULL, &d), 0);
	CHECK(d.fd >= 0 && d.ifindex > 0);
	CHECK_STR(d.name, "cstt0");
	CHECK_EQ_INT(d.offloads, 0);
	CHECK_EQ_INT(fcntl(d.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ_INT(fcntl(d.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	CHECK_EQ_INT(tun_set_mtu(d.ifindex, 1380), 0);
	CHECK_EQ_INT(tun_get_mtu(d.ifindex, &mtu), 0);
	CHECK_EQ_INT(mtu, 1380);
	CHECK_EQ_INT(tun_set_mtu(d.ifindex, 67), -EINVAL);
	CHECK_EQ_INT(tun_set_mtu(d.ifindex, 70000), -EINVAL);
	inet_pton(AF_INET, "10.240.0.1", a4);
	inet_pton(AF_INET6, "fd40::1", a6);
	inet_pton(AF_INET, "10.241.0.0", net4);
	inet_pton(AF_INET, "10.241.0.1", host4);
	inet_pton(AF_INET6, "fd41::", net6);
	CHECK_EQ_INT(tun_set_up(d.ifindex, 1), 0);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), 0);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), -EEXIST);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 33), -EINVAL);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET6, a6, 64), 0);
	CHECK_EQ_INT(tun_route_add(d.ifindex, AF_INET, net4, 16), 0);
	CHECK_EQ_INT(tun_route_add(d.ifindex, AF_INET, net4, 16), -EEXIST);
	CHECK_EQ_INT(tun_route_add(d.ifindex, AF_INET, host4, 16), -EINVAL); /* host bits */
	CHECK_EQ_INT(tun_route_add(d.ifindex, AF_INET6, net6, 48), 0);
	CHECK_EQ_INT(tun_route_add(d.ifindex, AF_UNIX, net6, 48), -EINVAL);

	j = ip_json("ip -j addr show dev cstt0");
	CHECK_EQ_INT(cJSON_GetArraySize(j), 1);
	CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "mtu")->valueint, 1380);
	CHECK(json_has_flag(cJSON_GetArrayItem(j, 0), "UP"));
	CHECK(json_has_addr(j, "10.240.0.1", 24));
	CHECK(json_has_addr(j, "fd40::1", 64));
	cJSON_Delete(j);
	CHECK(route_is("ip -j route show 10.241.0.0/16", "10.241.0.0/16", "cstt0"));
	CHECK(route_is("ip -j -6 route show fd41::/48", "fd41::/48", "cstt0"));

	CHECK_EQ_INT(tun_route_del(d.ifindex, AF_INET, net4, 16), 0);
	CHECK_EQ_INT(tun_route_del(d.ifindex, AF_INET, net4, 16), -ESRCH);
	CHECK_EQ_INT(tun_route_del(d.ifindex, AF_INET6, net6, 48), 0);
	CHECK_EQ_INT(tun_addr_del(d.ifindex, AF_INET, a4, 24), 0);
	CHECK_EQ_INT(tun_addr_del(d.ifindex, AF_INET, a4, 24), -EADDRNOTAVAIL);
	CHECK(route_is("ip -j route show 10.241.0.0/16", "", "") == 0);
	j = ip_json("ip -j addr show dev cstt0");
	CHECK(!json_has_addr(j, "10.240.0.1", 24));
	CHECK(json_has_addr(j, "fd40::1", 64));
	cJSON_Delete(j);
	CHECK_EQ_INT(tun_set_up(d.ifindex, 0), 0);
	j = ip_json("ip -j link show dev cstt0");
	CHECK(!json_has_flag(cJSON_GetArrayItem(j, 0), "UP"));
	cJSON_Delete(j);

	tun_close(&d);
	CHECK_EQ_INT(d.fd, -1);
	CHECK_EQ_INT(tun_exists("cstt0"), 0); /* a non-persistent device goes with its fd */
	CHECK_EQ_INT(tun_get_mtu(d.ifindex, &mtu), -ENODEV);
	tun_close(&d); /* twice is harmless */
}

static void test_tun_addr_list_owner_and_watch(void)
{
	struct tun_local_addr list[32];
	struct tun_dev d;
	uint8_t a4[4], a6[16], other[4], lo4[4];
	size_t total = 0;
	int fd, n, ifindex = 0, found4 = 0, found6 = 0, changed = 0;

	inet_pton(AF_INET, "10.243.0.7", a4);
	inet_pton(AF_INET6, "fd43::7", a6);
	inet_pton(AF_INET, "10.243.0.8", other);
	inet_pton(AF_INET, "127.0.0.1", lo4);
	CHECK_EQ_INT(tun_open("cstaddr0", 0, NULL, &d), 0);
	fd = tun_addr_watch_open();
	CHECK(fd >= 0);
	CHECK_EQ_INT(tun_addr_watch_drain(fd), 0); /* nothing happened yet */
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), 0);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET6, a6, 64), 0);
	/* the notification is queued by the time the ack came back */
	CHECK_EQ_INT(tun_addr_watch_drain(fd), 1);
	CHECK_EQ_INT(tun_addr_watch_drain(fd), 0);

	n = tun_addr_list(list, 32, &total);
	CHECK(n >= 3); /* 127.0.0.1 (lo is up), ours, ours */
	CHECK_EQ_INT((size_t)n, total);
	for (int i = 0; i < n; i++) {
		if (list[i].family == AF_INET && !memcmp(list[i].addr, a4, 4) &&
		    list[i].ifindex == d.ifindex && list[i].prefix == 24)
			found4 = 1;
		if (list[i].family == AF_INET6 && !memcmp(list[i].addr, a6, 16) &&
		    list[i].ifindex == d.ifindex && list[i].prefix == 64)
			found6 = 1;
	}
	CHECK(found4 && found6);
	/* counting only, and a short buffer: the total still says how many */
	CHECK_EQ_INT(tun_addr_list(NULL, 0, &total), 0);
	CHECK_EQ_INT(total, (size_t)n);
	CHECK_EQ_INT(tun_addr_list(list, 1, &total), 1);
	CHECK_EQ_INT(total, (size_t)n);

	CHECK_EQ_INT(tun_addr_owner(AF_INET, a4, &ifindex), 0);
	CHECK_EQ_INT(ifindex, d.ifindex);
	CHECK_EQ_INT(tun_addr_owner(AF_INET6, a6, &ifindex), 0);
	CHECK_EQ_INT(ifindex, d.ifindex);
	CHECK_EQ_INT(tun_addr_owner(AF_INET, lo4, &ifindex), 0);
	CHECK_EQ_INT(ifindex, 1);
	CHECK_EQ_INT(tun_addr_owner(AF_INET, other, &ifindex), -ENOENT);
	CHECK_EQ_INT(tun_addr_owner(AF_UNIX, other, &ifindex), -EINVAL);

	CHECK_EQ_INT(tun_addr_del(d.ifindex, AF_INET, a4, 24), 0);
	for (int i = 0; i < 20 && !changed; i++) {
		changed = tun_addr_watch_drain(fd);
		if (!changed)
			usleep(10000);
	}
	CHECK_EQ_INT(changed, 1);
	CHECK_EQ_INT(tun_addr_owner(AF_INET, a4, NULL), -ENOENT);
	close(fd);
	tun_close(&d);
}

static void test_tun_open_refuses_existing_interfaces(void)
{
	struct tun_dev d, d2;

	CHECK_EQ_INT(tun_open("cstt1", 0, NULL, &d), 0);
	CHECK_EQ_INT(tun_open("cstt1", 0, NULL, &d2), -EBUSY);             /* ours, busy */
	CHECK_EQ_INT(d2.fd, -1);
	CHECK_EQ_INT(tun_open("lo", 0, NULL, &d2), -EBUSY);                /* not a tun */
	CHECK_EQ_INT(system("ip link add cstveth0 type veth peer name cstveth1"), 0);
	CHECK_EQ_INT(tun_open("cstveth0", 0, NULL, &d2), -EBUSY);
	/* a persistent tun nobody has open: attaching would be allowed by the
	 * kernel; we still refuse */
	CHECK_EQ_INT(system("ip tuntap add dev cstpers0 mode tun"), 0);
	CHECK_EQ_INT(tun_open("cstpers0", 0, NULL, &d2), -EBUSY);
	CHECK_EQ_INT(system("ip link del cstpers0 && ip link del cstveth0"), 0);
	tun_close(&d);
}

static void test_tun_open_rejects_bad_names_and_missing_node(void)
{
	struct tun_dev d;

	CHECK_EQ_INT(tun_open("bad/name", 0, NULL, &d), -EINVAL);
	CHECK_EQ_INT(tun_open("", 0, NULL, &d), -EINVAL);
	CHECK_EQ_INT(tun_open("a b", 0, NULL, &d), -EINVAL);
	CHECK_EQ_INT(tun_open("0123456789abcdef", 0, NULL, &d), -EINVAL); /* 16 > IFNAMSIZ-1 */
	CHECK_EQ_INT(tun_open("x%s", 0, NULL, &d), -EINVAL);
	CHECK_EQ_INT(tun_open("x", 0x80, NULL, &d), -EINVAL);
	CHECK_EQ_INT(tun_open("cstx0", 0, "/nonexistent/net/tun", &d), -ENOENT);
	CHECK_EQ_INT(d.fd, -1);
	CHECK_EQ_INT(tun_exists("cstx0"), 0);
}

static void test_tun_open_pattern_name_and_multi_queue(void)
{
	struct tun_dev d;
	int q1 = -1, q2 = -1;

	CHECK_EQ_INT(tun_open("cstq%d", TUN_F_MULTI_QUEUE | TUN_F_VNET_HDR, NULL, &d), 0);
	CHECK_STR(d.name, "cstq0");
	CHECK_EQ_INT(tun_open_queue(&d, &q1), 0);
	CHECK_EQ_INT(tun_open_queue(&d, &q2), 0);
	CHECK(q1 >= 0 && q2 >= 0 && q1 != q2 && q1 != d.fd);
	CHECK_EQ_INT(d.nqueues, 2);
	tun_close(&d);
	CHECK_EQ_INT(tun_exists("cstq0"), 0); /* every queue closed */
	CHECK_EQ_INT(fcntl(q1, F_GETFD), -1);
	CHECK_EQ_INT(tun_open("cstq1", 0, NULL, &d), 0);
	CHECK_EQ_INT(tun_open_queue(&d, &q1), -EINVAL); /* not multi-queue */
	tun_close(&d);
}

static void test_tun_open_without_cap_net_admin_is_eperm(void)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		struct tun_dev d;
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		int r = tun_open("cstperm0", 0, NULL, &d);

		/* EPERM from TUNSETIFF without CAP_NET_ADMIN, or EACCES
		 * already at open() where /dev/net/tun is 0600. */
		_exit(r == -EPERM || r == -EACCES ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

/* ---- offloads against the real kernel ---- */

static uint8_t rbuf[65536], segbuf[64 * 2048];
static size_t seglen[64];

static void test_vnet_udp_partial_checksum_and_uso_split(void)
{
	struct tun_dev d;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct virtio_net_hdr h;
	uint8_t a4[4], msg[2500];
	int s, seen_plain = 0, datagrams = 0, gso_reads = 0;
	ssize_t n;

	CHECK_EQ_INT(tun_open("cstv0", TUN_F_VNET_HDR, NULL, &d), 0);
	CHECK_EQ_INT(d.offloads & (TUN_OFF_CSUM | TUN_OFF_TSO), TUN_OFF_CSUM | TUN_OFF_TSO);
	fprintf(stderr, "offloads granted: %s%s%s\n", d.offloads & TUN_OFF_CSUM ? "csum " : "",
		d.offloads & TUN_OFF_TSO ? "tso " : "", d.offloads & TUN_OFF_USO ? "uso" : "");
	{
		cJSON *j = ip_json("ip -d -j link show dev cstv0");
		CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "gso_max_segs")->valueint,
			     TUN_GSO_MAX_SEGS);
		cJSON_Delete(j);
	}
	CHECK_EQ_INT(tun_set_gso_max_segs(d.ifindex, 0), -EINVAL);
	inet_pton(AF_INET, "10.250.0.1", a4);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), 0);
	CHECK_EQ_INT(tun_set_up(d.ifindex, 1), 0);
	inet_pton(AF_INET, "10.250.0.9", &to.sin_addr);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 13);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	CHECK_EQ_INT(sendto(s, msg, 100, 0, (struct sockaddr *)&to, sizeof(to)), 100);
	{
		int gso = 1000;
		CHECK_EQ_INT(setsockopt(s, SOL_UDP, UDP_SEGMENT, &gso, sizeof(gso)), 0);
	}
	CHECK_EQ_INT(sendto(s, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)), 2500);
	for (int tries = 0; tries < 50 && datagrams < 4; tries++) {
		if (!wait_readable(d.fd, 200))
			break;
		n = tun_read(d.fd, true, &h, rbuf, sizeof(rbuf));
		if (n < 20 || rbuf[0] != 0x45 || rbuf[9] != IPPROTO_UDP)
			continue; /* IPv6 chatter and the like */
		int k = tun_gso_split(rbuf, (size_t)n, &h, segbuf, 2048, 64, seglen);
		CHECK(k >= 1);
		if (h.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4)
			gso_reads++;
		for (int i = 0; i < k; i++) {
			uint8_t *p = segbuf + (size_t)i * 2048;
			size_t want = datagrams == 0 ? 100 : datagrams < 3 ? 1000 : 500;
			CHECK(ref_l4_ok4(p, seglen[i]));
			CHECK_EQ_INT(seglen[i], 28 + want);
			CHECK_MEM(p + 28, msg + (datagrams == 0 ? 0 : (size_t)(datagrams - 1) * 1000), want);
			if (datagrams == 0 && !(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
				seen_plain = 1;
			datagrams++;
		}
	}
	CHECK_EQ_INT(datagrams, 4);
	/* with USO granted the kernel hands the 3 datagrams over as one */
	CHECK_EQ_INT(gso_reads, (d.offloads & TUN_OFF_USO) ? 1 : 0);
	(void)seen_plain;
	close(s);
	tun_close(&d);
}

struct emit_ctx {
	int fd, frames;
	struct virtio_net_hdr last;
};

static int emit_to_tun(void *ctx, const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len)
{
	struct emit_ctx *e = ctx;
	e->frames++;
	e->last = *h;
	return tun_write(e->fd, true, h, pkt, len);
}

static void test_vnet_tcp_gro_write_and_tso_read_through_kernel(void)
{
	enum { SEGS = 20, MSS = 1400, SEND = 60000 };
	static uint8_t data[SEGS * MSS], sent[SEND], got[SEND], tbufs[TUN_GRO_FLOWS * TUN_GRO_BUF_LEN];
	static struct tun_gro_table t;
	static const uint8_t synopt[8] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 }; /* MSS 1460, WS 7 */
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(5001) };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct emit_ctx e = { 0 };
	struct tun_dev d;
	struct virtio_net_hdr h;
	uint8_t a4[4], pkt[2048];
	uint32_t isn = 0, next;
	int ls, cs = -1, ps, one = 1, synack = 0, gso_reads = 0, pkts = 0, found_super = 0;
	size_t len, have = 0, total_tso = 0;
	ssize_t n;

	CHECK_EQ_INT(tun_open("cstv1", TUN_F_VNET_HDR, NULL, &d), 0);
	e.fd = d.fd;
	inet_pton(AF_INET, "10.251.0.1", a4);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), 0);
	CHECK_EQ_INT(tun_set_up(d.ifindex, 1), 0);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	la.sin_addr.s_addr = *(uint32_t *)a4;
	CHECK_EQ_INT(bind(ls, (struct sockaddr *)&la, sizeof(la)), 0);
	CHECK_EQ_INT(listen(ls, 4), 0);
	ps = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	ll.sll_ifindex = d.ifindex;
	CHECK_EQ_INT(bind(ps, (struct sockaddr *)&ll, sizeof(ll)), 0);

	/* handshake from userspace: SYN in, SYN-ACK out of the TUN, ACK in */
	len = build_tcp4(pkt, "10.251.0.2", "10.251.0.1", 40000, 5001, 1000, 0, 0x02, 65535,
			 synopt, sizeof(synopt), NULL, 0);
	CHECK_EQ_INT(tun_write(d.fd, true, NULL, pkt, len), 0);
	for (int tries = 0; tries < 50 && !synack; tries++) {
		if (!wait_readable(d.fd, 200))
			break;
		n = tun_read(d.fd, true, &h, rbuf, sizeof(rbuf));
		if (n < 40 || rbuf[0] != 0x45 || rbuf[9] != IPPROTO_TCP)
			continue;
		CHECK_EQ_INT(tun_gso_split(rbuf, (size_t)n, &h, segbuf, 2048, 64, seglen), 1);
		CHECK(ref_l4_ok4(segbuf, seglen[0]));
		if (segbuf[33] == 0x12 && get32(segbuf + 28) == 1001) {
			isn = get32(segbuf + 24);
			synack = 1;
		}
	}
	CHECK(synack);
	len = build_tcp4(pkt, "10.251.0.2", "10.251.0.1", 40000, 5001, 1001, isn + 1, 0x10, 65535,
			 NULL, 0, NULL, 0);
	CHECK_EQ_INT(tun_write(d.fd, true, NULL, pkt, len), 0);
	CHECK(wait_readable(ls, 2000));
	cs = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	CHECK(cs >= 0);

	/* GRO: 20 segments coalesce into one super-packet, one write */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + (i >> 9));
	tun_gro_table_init(&t, tbufs);
	for (int i = 0; i < SEGS; i++) {
		len = build_tcp4(pkt, "10.251.0.2", "10.251.0.1", 40000, 5001,
				 1001 + (uint32_t)(i * MSS), isn + 1, i == SEGS - 1 ? 0x18 : 0x10,
				 65535, NULL, 0, data + i * MSS, MSS);
		CHECK_EQ_INT(tun_gro_table_add(&t, pkt, len, emit_to_tun, &e), 0);
	}
	CHECK_EQ_INT(e.frames, 0);
	CHECK_EQ_INT(tun_gro_table_flush(&t, emit_to_tun, &e), 0);
	CHECK_EQ_INT(e.frames, 1);
	CHECK_EQ_INT(e.last.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ_INT(e.last.gso_size, MSS);
	/* the stack got it as one packet of the full size ... */
	for (int tries = 0; tries < 20 && !found_super; tries++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		if (!wait_readable(ps, 200))
			break;
		n = recvfrom(ps, rbuf, sizeof(rbuf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n > 0 && from.sll_pkttype == PACKET_HOST && n > 1000) {
			CHECK_EQ_INT(n, 40 + SEGS * MSS);
			found_super = 1;
		}
	}
	CHECK(found_super);
	/* ... and TCP delivered every byte in order */
	while (have < sizeof(data) && wait_readable(cs, 2000)) {
		n = recv(cs, got + have, sizeof(data) - have, MSG_DONTWAIT);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	CHECK_EQ_INT(have, sizeof(data));
	CHECK_MEM(got, data, sizeof(data));

	/* TSO: the kernel's first flight comes out as super-packets that split
	 * into valid MSS-sized segments carrying the stream */
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 17 + 5);
	CHECK_EQ_INT(send(cs, sent, sizeof(sent), MSG_DONTWAIT) > 0, 1);
	next = isn + 1;
	for (int tries = 0; tries < 100 && total_tso < 4 * 1460; tries++) {
		if (!wait_readable(d.fd, 200))
			break;
		n = tun_read(d.fd, true, &h, rbuf, sizeof(rbuf));
		if (n < 40 || rbuf[0] != 0x45 || rbuf[9] != IPPROTO_TCP || get16(rbuf + 20) != 5001)
			continue;
		int k = tun_gso_split(rbuf, (size_t)n, &h, segbuf, 2048, 64, seglen);
		CHECK(k >= 1);
		if (h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
			gso_reads++;
			CHECK_EQ_INT(h.gso_size, 1460);
		}
		for (int i = 0; i < k; i++) {
			uint8_t *p = segbuf + (size_t)i * 2048;
			size_t thl = (size_t)(p[32] >> 4) * 4, pl = seglen[i] - 20 - thl;
			CHECK(ref_l4_ok4(p, seglen[i]));
			if (!pl)
				continue;
			CHECK_EQ_INT(get32(p + 24), next);
			CHECK(pl <= 1460);
			CHECK(get32(p + 24) - (isn + 1) + pl <= sizeof(sent));
			CHECK_MEM(p + 20 + thl, sent + (get32(p + 24) - (isn + 1)), pl);
			next += (uint32_t)pl;
			total_tso += pl;
			pkts++;
		}
	}
	fprintf(stderr, "TSO: %zu bytes in %d segments from %d super-packets\n", total_tso, pkts,
		gso_reads);
	CHECK(total_tso >= 4 * 1460);
	CHECK(gso_reads >= 1);
	close(cs);
	close(ls);
	close(ps);
	tun_close(&d);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root\n");
		return 77;
	}
	RUN_TEST(test_tun_open_configure_and_kernel_view);
	RUN_TEST(test_tun_addr_list_owner_and_watch);
	RUN_TEST(test_tun_open_refuses_existing_interfaces);
	RUN_TEST(test_tun_open_rejects_bad_names_and_missing_node);
	RUN_TEST(test_tun_open_pattern_name_and_multi_queue);
	RUN_TEST(test_tun_open_without_cap_net_admin_is_eperm);
	RUN_TEST(test_vnet_udp_partial_checksum_and_uso_split);
	RUN_TEST(test_vnet_tcp_gro_write_and_tso_read_through_kernel);
	return TEST_DONE();
}
