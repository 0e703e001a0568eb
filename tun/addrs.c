/* The addresses of this network namespace over rtnetlink: a dump of every
 * interface's addresses, which interface holds a given one, and a socket
 * that becomes readable when any of them changes. A relay needs to know
 * whether a destination is local (the kernel would deliver it here); a
 * daemon needs to say which interface already holds an address. */
#include "tun.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A dump reply comes in chunks the kernel sizes after the reader's buffer;
 * 32 KiB is what libmnl later named MNL_SOCKET_DUMP_SIZE. */
#define TUN_ADDRS_DUMP_BUF 32768

struct tun_addrs_dump {
	struct tun_local_addr *out;
	size_t cap;
	size_t n; /* addresses seen, even past cap */
};

struct tun_addrs_attrs {
	const struct nlattr *local, *address;
};

static int tun_addrs_attr(const struct nlattr *a, void *data)
{
	struct tun_addrs_attrs *at = data;

	if (mnl_attr_get_type(a) == IFA_LOCAL)
		at->local = a;
	else if (mnl_attr_get_type(a) == IFA_ADDRESS)
		at->address = a;
	return MNL_CB_OK;
}

static int tun_addrs_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct tun_addrs_dump *d = data;
	struct tun_addrs_attrs at = { 0 };
	const struct nlattr *a;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return MNL_CB_OK;
	alen = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
	if (!alen || mnl_attr_parse(nlh, sizeof(*ifa), tun_addrs_attr, &at) < 0)
		return MNL_CB_OK;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's
	 * on a point-to-point link, and the only one IPv6 sends. */
	a = at.local ? at.local : at.address;
	if (!a || mnl_attr_get_payload_len(a) != alen)
		return MNL_CB_OK;
	if (d->n < d->cap) {
		struct tun_local_addr *o = &d->out[d->n];
		memset(o, 0, sizeof(*o));
		o->family = ifa->ifa_family;
		o->ifindex = (int)ifa->ifa_index;
		o->prefix = ifa->ifa_prefixlen;
		memcpy(o->addr, mnl_attr_get_payload(a), alen);
	}
	d->n++;
	return MNL_CB_OK;
}

int tun_addr_list(struct tun_local_addr *out, size_t cap, size_t *total)
{
	char *buf = malloc(TUN_ADDRS_DUMP_BUF);
	struct tun_addrs_dump d = { .out = out, .cap = out ? cap : 0 };
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	struct rtgenmsg *rt;
	unsigned portid, seq = 1;
	int ret;

	if (!buf)
		return -ENOMEM;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl) {
		ret = -errno;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, TUN_ADDRS_DUMP_BUF);
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, tun_addrs_cb, &d);
	} while (ret > MNL_CB_STOP);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	if (total)
		*total = d.n;
	ret = (int)(d.n < d.cap ? d.n : d.cap);
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return ret;
}

int tun_addr_owner(int family, const void *addr, int *ifindex)
{
	struct tun_local_addr *list = NULL;
	size_t total = 0, cap = 64, alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
	int n, ret = -ENOENT;

	if (!alen || !addr)
		return -EINVAL;
	/* Twice at most: the first dump says how many there are. */
	for (int attempt = 0; attempt < 2; attempt++) {
		free(list);
		list = calloc(cap, sizeof(*list));
		if (!list)
			return -ENOMEM;
		n = tun_addr_list(list, cap, &total);
		if (n < 0) {
			ret = n;
			goto out;
		}
		if (total <= cap)
			break;
		cap = total + 16; /* room for a few added meanwhile */
	}
	for (int i = 0; i < n; i++) {
		if (list[i].family == family && memcmp(list[i].addr, addr, alen) == 0) {
			if (ifindex)
				*ifindex = list[i].ifindex;
			ret = 0;
			break;
		}
	}
out:
	free(list);
	return ret;
}

int tun_addr_watch_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int tun_addr_watch_drain(int fd)
{
	char buf[4096];
	int changed = 0;

	/* Bounded: a flood of changes is reported as one, on the next call too. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return changed;
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost, so anything may have changed */
			if (errno == ENOBUFS)
				return 1;
			return -errno;
		}
		if (n > 0)
			changed = 1;
	}
	return changed;
}
