/* Packet I/O on a TUN queue: the virtio-net header travels in its own iovec
 * so packets never need to be moved to make room for it. */
#include "tun.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t tun_read(int fd, bool vnet, struct virtio_net_hdr *hdr, uint8_t *buf, size_t cap)
{
	struct iovec iov[2] = { { hdr, sizeof(*hdr) }, { buf, cap } };
	ssize_t n;

	memset(hdr, 0, sizeof(*hdr));
	do
		n = vnet ? readv(fd, iov, 2) : read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (!vnet)
		return n;
	if ((size_t)n < sizeof(*hdr))
		return -EINVAL;
	return n - (ssize_t)sizeof(*hdr);
}

int tun_write(int fd, bool vnet, const struct virtio_net_hdr *hdr, const uint8_t *pkt, size_t len)
{
	static const struct virtio_net_hdr zero;
	struct iovec iov[2] = { { (void *)(hdr ? hdr : &zero), sizeof(*hdr) },
				{ (void *)pkt, len } };
	ssize_t n;

	do
		n = vnet ? writev(fd, iov, 2) : write(fd, pkt, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int tun_read_batch(int fd, bool vnet, struct tun_pkt *pkts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ssize_t r = tun_read(fd, vnet, &pkts[i].hdr, pkts[i].data, pkts[i].cap);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return i ? (int)i : (int)r;
		pkts[i].len = (size_t)r;
	}
	return (int)i;
}

int tun_write_batch(int fd, bool vnet, const struct tun_pkt *pkts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret = tun_write(fd, vnet, &pkts[i].hdr, pkts[i].data, pkts[i].len);
		if (ret < 0)
			return i ? (int)i : ret;
	}
	return (int)n;
}
