/* Interface configuration over rtnetlink with libmnl: link MTU/state,
 * addresses, routes. Each call opens its own NETLINK_ROUTE socket, sends
 * one request with NLM_F_ACK and returns the kernel's verdict. */
#include "tun.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

struct tun_nl_reply {
	int ifindex;
	unsigned mtu;
	bool have_mtu;
};

static int tun_nl_link_attr(const struct nlattr *a, void *data)
{
	struct tun_nl_reply *r = data;

	if (mnl_attr_get_type(a) == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
		r->mtu = mnl_attr_get_u32(a);
		r->have_mtu = true;
	}
	return MNL_CB_OK;
}

static int tun_nl_link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct tun_nl_reply *r = data;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifm)) ||
	    ifm->ifi_index != r->ifindex)
		return MNL_CB_OK;
	return mnl_attr_parse(nlh, sizeof(*ifm), tun_nl_link_attr, r);
}

/* Sends nlh and reads until the ack (or error) for it. cb sees any data
 * messages of the reply. */
static int tun_nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned portid, seq = 1;
	int ret;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	/* our own socket: the first sequence number is as good as any */
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	} while (ret > MNL_CB_STOP);
	ret = ret < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return ret;
}

static int tun_link_change(int ifindex, unsigned change, unsigned flags, const unsigned *mtu,
			   const unsigned *gso_segs)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	if (ifindex <= 0)
		return -EINVAL;
	nlh->nlmsg_type = RTM_NEWLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_change = change;
	ifm->ifi_flags = flags;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
	if (gso_segs)
		mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, *gso_segs);
	return tun_nl_talk(nlh, NULL, NULL);
}

int tun_set_mtu(int ifindex, unsigned mtu)
{
	if (mtu < 68 || mtu > 65535)
		return -EINVAL;
	return tun_link_change(ifindex, 0, 0, &mtu, NULL);
}

int tun_set_gso_max_segs(int ifindex, unsigned segs)
{
	if (segs == 0 || segs > 65535)
		return -EINVAL;
	return tun_link_change(ifindex, 0, 0, NULL, &segs);
}

int tun_get_mtu(int ifindex, unsigned *mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tun_nl_reply r = { .ifindex = ifindex };
	struct ifinfomsg *ifm;
	int ret;

	if (ifindex <= 0)
		return -EINVAL;
	nlh->nlmsg_type = RTM_GETLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ret = tun_nl_talk(nlh, tun_nl_link_cb, &r);
	if (ret < 0)
		return ret;
	if (!r.have_mtu)
		return -EPROTO;
	*mtu = r.mtu;
	return 0;
}

int tun_set_up(int ifindex, int up)
{
	return tun_link_change(ifindex, IFF_UP, up ? IFF_UP : 0, NULL, NULL);
}

static size_t tun_addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int tun_addr_op(uint16_t type, int ifindex, int family, const void *addr, uint8_t prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	size_t alen = tun_addr_len(family);
	struct ifaddrmsg *ifa;

	if (!alen || !addr || prefix > alen * 8 || ifindex <= 0)
		return -EINVAL;
	nlh->nlmsg_type = type;
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	return tun_nl_talk(nlh, NULL, NULL);
}

int tun_addr_add(int ifindex, int family, const void *addr, uint8_t prefix)
{
	return tun_addr_op(RTM_NEWADDR, ifindex, family, addr, prefix);
}

int tun_addr_del(int ifindex, int family, const void *addr, uint8_t prefix)
{
	return tun_addr_op(RTM_DELADDR, ifindex, family, addr, prefix);
}

/* True when no bit beyond prefix is set: a route names a network. */
static bool tun_prefix_clean(const uint8_t *a, size_t alen, uint8_t prefix)
{
	for (size_t bit = prefix; bit < alen * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

static int tun_route_op(uint16_t type, int ifindex, int family, const void *dst, uint8_t prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	size_t alen = tun_addr_len(family);
	struct rtmsg *rtm;

	if (!alen || !dst || prefix > alen * 8 || ifindex <= 0 ||
	    !tun_prefix_clean(dst, alen, prefix))
		return -EINVAL;
	nlh->nlmsg_type = type;
	if (type == RTM_NEWROUTE)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	/* a device route; deletes match any scope (RT_SCOPE_NOWHERE), like ip(8) */
	if (type == RTM_NEWROUTE)
		rtm->rtm_scope = family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	else
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	if (prefix)
		mnl_attr_put(nlh, RTA_DST, alen, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return tun_nl_talk(nlh, NULL, NULL);
}

int tun_route_add(int ifindex, int family, const void *dst, uint8_t prefix)
{
	return tun_route_op(RTM_NEWROUTE, ifindex, family, dst, prefix);
}

int tun_route_del(int ifindex, int family, const void *dst, uint8_t prefix)
{
	return tun_route_op(RTM_DELROUTE, ifindex, family, dst, prefix);
}
