/* The joiner's side of the reachability probe: while `constella join` waits
 * for the seed, it answers every connection on the port its daemon will
 * listen on with the proof line (probe.h). */
#include "probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct node_join_probe_listener {
	struct ev_loop *loop;
	ev_io io;
	int fd;
	unsigned served;
	char line[NODE_JOIN_PROBE_LINE_MAX];
};

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_join_probe_listener *l = w->data;

	(void)loop;
	(void)revents;
	/* bounded per wakeup: a flood cannot hold the join's loop */
	for (int i = 0; i < 16; i++) {
		int c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		ssize_t n;

		if (c < 0)
			return;
		/* a fresh socket's send buffer holds 50 bytes: one write, no waiting */
		n = send(c, l->line, strlen(l->line), MSG_NOSIGNAL);
		if (n == (ssize_t)strlen(l->line))
			l->served++;
		close(c);
	}
}

static int listen_on(int family, unsigned port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT,
				   .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY),
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, zero = 0;
	int r;

	if (fd < 0)
		return -errno;
	/* the daemon binds the same port right after: no TIME_WAIT in its way */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	r = family == AF_INET6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6)) :
				 bind(fd, (struct sockaddr *)&a4, sizeof(a4));
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int node_join_probe_listen(struct ev_loop *loop, unsigned port,
			   const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN],
			   struct node_join_probe_listener **out)
{
	struct node_join_probe_listener *l;
	int fd;

	*out = NULL;
	if (!port || port > 65535)
		return -EINVAL;
	fd = listen_on(AF_INET6, port);
	if (fd == -EAFNOSUPPORT)
		fd = listen_on(AF_INET, port); /* a host without IPv6 */
	if (fd < 0)
		return fd;
	if (!(l = calloc(1, sizeof(*l)))) {
		close(fd);
		return -ENOMEM;
	}
	l->loop = loop;
	l->fd = fd;
	node_join_probe_line(nonce, l->line);
	ev_io_init(&l->io, on_accept, fd, EV_READ);
	l->io.data = l;
	ev_io_start(loop, &l->io);
	*out = l;
	return 0;
}

unsigned node_join_probe_listener_served(const struct node_join_probe_listener *l)
{
	return l ? l->served : 0;
}

void node_join_probe_listener_free(struct node_join_probe_listener *l)
{
	if (!l)
		return;
	ev_io_stop(l->loop, &l->io);
	close(l->fd);
	sodium_memzero(l->line, sizeof(l->line));
	free(l);
}
