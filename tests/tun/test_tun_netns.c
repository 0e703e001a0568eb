/* Run inside a fresh network namespace (tun_netns.sh): opens a TUN device,
 * configures it over rtnetlink and checks the kernel's view. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "tun.h"

static void test_tun_open_configure_and_refuse_duplicate(void)
{
	struct tun_dev d, d2;
	uint8_t a4[4], a6[16], net[4];
	unsigned mtu = 0;
	char cmd[256];

	CHECK_EQ_INT(tun_open("cstt0", 0, NULL, &d), 0);
	CHECK(d.ifindex > 0);
	CHECK_STR(d.name, "cstt0");
	CHECK_EQ_INT(tun_set_mtu(d.ifindex, 1380), 0);
	CHECK_EQ_INT(tun_get_mtu(d.ifindex, &mtu), 0);
	CHECK_EQ_INT(mtu, 1380);
	CHECK_EQ_INT(tun_set_mtu(d.ifindex, 100), -EINVAL);
	inet_pton(AF_INET, "10.240.0.1", a4);
	inet_pton(AF_INET6, "fd40::1", a6);
	inet_pton(AF_INET, "10.241.0.0", net);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), 0);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET, a4, 24), -EEXIST);
	CHECK_EQ_INT(tun_set_up(d.ifindex, 1), 0);
	CHECK_EQ_INT(tun_addr_add(d.ifindex, AF_INET6, a6, 64), 0);
	CHECK_EQ_INT(tun_route_add(d.ifindex, AF_INET, net, 16), 0);
	snprintf(cmd, sizeof(cmd), "ip -4 addr show dev cstt0 | grep -q 'inet 10.240.0.1/24'");
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(system("ip route show 10.241.0.0/16 | grep -q 'dev cstt0'"), 0);
	CHECK_EQ_INT(system("ip link show cstt0 | grep -q 'mtu 1380'"), 0);
	CHECK_EQ_INT(tun_route_del(d.ifindex, AF_INET, net, 16), 0);
	CHECK_EQ_INT(tun_addr_del(d.ifindex, AF_INET, a4, 24), 0);
	/* never attach to an existing interface */
	CHECK_EQ_INT(tun_open("cstt0", 0, NULL, &d2), -EBUSY);
	CHECK_EQ_INT(tun_open("lo", 0, NULL, &d2), -EBUSY);
	CHECK_EQ_INT(tun_open("bad/name", 0, NULL, &d2), -EINVAL);
	CHECK_EQ_INT(tun_open("x", 0, "/nonexistent/tun", &d2), -ENOENT);
	tun_close(&d);
	CHECK_EQ_INT(system("ip link show cstt0 >/dev/null 2>&1"), 256); /* gone */
}

static void test_tun_vnet_hdr_offloads_negotiated(void)
{
	struct tun_dev d;
	CHECK_EQ_INT(tun_open("cstt1", TUN_F_VNET_HDR, NULL, &d), 0);
	CHECK(d.offloads & TUN_OFF_TSO);
	tun_close(&d);
}

int main(void)
{
	RUN_TEST(test_tun_open_configure_and_refuse_duplicate);
	RUN_TEST(test_tun_vnet_hdr_offloads_negotiated);
	return TEST_DONE();
}
