/* Creating and closing TUN devices and their queues. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_DEFAULT_PATH "/dev/net/tun"

/* Newer than the distribution's linux/if_tun.h (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

int tun_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

/* IFNAMSIZ-1 bytes of anything the kernel's dev_valid_name accepts, and at
 * most one "%d" (the kernel's pattern for "next free number"). */
static bool tun_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	const char *pct;

	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == ':' || name[i] <= ' ' || name[i] == 0x7f)
			return false;
	pct = strchr(name, '%');
	return !pct || (pct[1] == 'd' && !strchr(pct + 1, '%'));
}

/* Opens the node and binds the fd to interface `name`. excl: create only. */
static int tun_attach(const char *dev_path, const char *name, unsigned flags, bool excl,
		      int *fd_out, char *name_out)
{
	struct ifreq ifr;
	int fd, ret = 0;

	fd = open(dev_path ? dev_path : TUN_DEFAULT_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (excl)
		ifr.ifr_flags |= IFF_TUN_EXCL; /* -EBUSY if the name exists: atomic */
	if (flags & TUN_F_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (flags & TUN_F_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	if (flags & TUN_F_VNET_HDR) {
		int sz = (int)sizeof(struct virtio_net_hdr);
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
			ret = -errno;
			goto out;
		}
	}
	/* TUNSETIFF wrote the final name back (patterns resolved) */
	snprintf(name_out, IFNAMSIZ, "%s", ifr.ifr_name);
	*fd_out = fd;
out:
	if (ret < 0)
		close(fd);
	return ret;
}

/* Asks for the most we can use; a kernel that does not know a flag refuses
 * the whole set with -EINVAL, so step down. The order matters: without
 * CSUM the kernel must not give us TSO. */
static unsigned tun_negotiate_offloads(int fd)
{
	static const struct {
		unsigned kernel, ours;
	} tries[] = {
		{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
		  TUN_OFF_CSUM | TUN_OFF_TSO | TUN_OFF_USO },
		{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_OFF_CSUM | TUN_OFF_TSO },
		{ TUN_F_CSUM, TUN_OFF_CSUM },
	};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		if (ioctl(fd, TUNSETOFFLOAD, tries[i].kernel) == 0)
			return tries[i].ours;
	ioctl(fd, TUNSETOFFLOAD, 0);
	return 0;
}

int tun_open(const char *name, unsigned flags, const char *dev_path, struct tun_dev *dev)
{
	char got[IFNAMSIZ];
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	if (!tun_name_valid(name) || (flags & ~(TUN_F_MULTI_QUEUE | TUN_F_VNET_HDR)))
		return -EINVAL;
	ret = tun_attach(dev_path, name, flags, true, &dev->fd, got);
	if (ret < 0)
		return ret;
	memcpy(dev->name, got, sizeof(dev->name));
	dev->flags = flags;
	dev->ifindex = (int)if_nametoindex(dev->name);
	if (dev->ifindex == 0) {
		ret = -ENODEV;
		goto out;
	}
	if (flags & TUN_F_VNET_HDR)
		dev->offloads = tun_negotiate_offloads(dev->fd);
	/* Our callers size their split buffers for TUN_GSO_MAX_SEGS: if the
	 * kernel will not cap super-packets there, take none. */
	if ((dev->offloads & (TUN_OFF_TSO | TUN_OFF_USO)) &&
	    tun_set_gso_max_segs(dev->ifindex, TUN_GSO_MAX_SEGS) < 0) {
		if (ioctl(dev->fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0)
			dev->offloads = TUN_OFF_CSUM;
		else
			ret = -errno;
	}
out:
	if (ret < 0)
		tun_close(dev);
	return ret;
}

int tun_open_queue(struct tun_dev *dev, int *fd_out)
{
	char got[IFNAMSIZ];
	int fd, ret;

	if (dev->fd < 0 || !(dev->flags & TUN_F_MULTI_QUEUE))
		return -EINVAL;
	if (dev->nqueues >= TUN_MAX_QUEUES - 1)
		return -ENOSPC;
	ret = tun_attach(NULL, dev->name, dev->flags, false, &fd, got);
	if (ret < 0)
		return ret;
	/* attaching by name: make sure it is still our interface */
	if ((int)if_nametoindex(got) != dev->ifindex) {
		close(fd);
		return -ENODEV;
	}
	dev->queue_fd[dev->nqueues++] = fd;
	*fd_out = fd;
	return 0;
}

void tun_close(struct tun_dev *dev)
{
	for (unsigned i = 0; i < dev->nqueues; i++)
		close(dev->queue_fd[i]);
	dev->nqueues = 0;
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}
