#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TUN_DEFAULT_PATH "/dev/net/tun"

int tun_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static int tun_attach(const char *dev_path, const char *name, unsigned flags, int *fd_out)
{
	struct ifreq ifr;
	int fd;

	fd = open(dev_path ? dev_path : TUN_DEFAULT_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == EACCES ? -EPERM : -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (flags & TUN_F_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (flags & TUN_F_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (flags & TUN_F_VNET_HDR) {
		int sz = sizeof(struct virtio_net_hdr);
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	*fd_out = fd;
	return 0;
}

/* Asks for checksum and TSO offloads; an older kernel may refuse TSO, in
 * which case packets still carry a (zero) vnet header. */
static unsigned tun_negotiate_offloads(int fd)
{
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0)
		return TUN_OFF_CSUM | TUN_OFF_TSO;
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0)
		return TUN_OFF_CSUM;
	return 0;
}

int tun_open(const char *name, unsigned flags, const char *dev_path, struct tun_dev *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') ||
	    strchr(name, ' '))
		return -EINVAL;
	/* TUNSETIFF on an existing tun device of the same name would attach us
	 * to it (e.g. a running wireguard-go's): refuse instead. */
	if (!strchr(name, '%') && tun_exists(name))
		return -EBUSY;
	ret = tun_attach(dev_path, name, flags, &out->fd);
	if (ret < 0)
		return ret;
	{
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		if (ioctl(out->fd, TUNGETIFF, &ifr) == 0)
			snprintf(out->name, sizeof(out->name), "%s", ifr.ifr_name);
		else
			snprintf(out->name, sizeof(out->name), "%s", name);
	}
	out->ifindex = (int)if_nametoindex(out->name);
	out->flags = flags;
	if (flags & TUN_F_VNET_HDR)
		out->offloads = tun_negotiate_offloads(out->fd);
	if (!out->ifindex) {
		tun_close(out);
		return -ENODEV;
	}
	return 0;
}

int tun_open_queue(const struct tun_dev *dev, int *fd_out)
{
	if (!(dev->flags & TUN_F_MULTI_QUEUE))
		return -EINVAL;
	return tun_attach(NULL, dev->name, dev->flags, fd_out);
}

void tun_close(struct tun_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

/* Sends one request and waits for the kernel's ack; returns -errno of it. */
static int tun_nl_talk(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned seq = (unsigned)time(NULL), portid;
	int ret;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	ret = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	ret = mnl_cb_run(buf, (size_t)ret, seq, portid, NULL, NULL);
	ret = ret < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return ret;
}

static int tun_link_change(int ifindex, unsigned change, unsigned flags, const unsigned *mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_change = change;
	ifm->ifi_flags = flags;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
	return tun_nl_talk(nlh);
}

int tun_set_mtu(int ifindex, unsigned mtu)
{
	if (mtu < 576 || mtu > 65535)
		return -EINVAL;
	return tun_link_change(ifindex, 0, 0, &mtu);
}

int tun_get_mtu(int ifindex, unsigned *mtu)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname((unsigned)ifindex, ifr.ifr_name) || ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		ret = -errno;
	else
		*mtu = (unsigned)ifr.ifr_mtu;
	close(fd);
	return ret;
}

int tun_set_up(int ifindex, int up)
{
	return tun_link_change(ifindex, IFF_UP, up ? IFF_UP : 0, NULL);
}

static int tun_addr_op(int type, int ifindex, int family, const void *addr, uint8_t prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	if (!alen || prefix > alen * 8)
		return -EINVAL;
	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	return tun_nl_talk(nlh);
}

int tun_addr_add(int ifindex, int family, const void *addr, uint8_t prefix)
{
	return tun_addr_op(RTM_NEWADDR, ifindex, family, addr, prefix);
}

int tun_addr_del(int ifindex, int family, const void *addr, uint8_t prefix)
{
	return tun_addr_op(RTM_DELADDR, ifindex, family, addr, prefix);
}

static int tun_route_op(int type, int ifindex, int family, const void *dst, uint8_t prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	if (!alen || prefix > alen * 8)
		return -EINVAL;
	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return tun_nl_talk(nlh);
}

int tun_route_add(int ifindex, int family, const void *dst, uint8_t prefix)
{
	return tun_route_op(RTM_NEWROUTE, ifindex, family, dst, prefix);
}

int tun_route_del(int ifindex, int family, const void *dst, uint8_t prefix)
{
	return tun_route_op(RTM_DELROUTE, ifindex, family, dst, prefix);
}
