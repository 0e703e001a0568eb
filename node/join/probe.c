/* The seed's reachability probe of a joiner, and the proof line (probe.h). */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_TAG "CONSTELLA-PROBE1 "

void node_join_probe_line(const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN],
			  char out[NODE_JOIN_PROBE_LINE_MAX])
{
	char hex[2 * NODE_JOIN_PROBE_NONCE_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), nonce, NODE_JOIN_PROBE_NONCE_LEN);
	snprintf(out, NODE_JOIN_PROBE_LINE_MAX, PROBE_TAG "%s\n", hex);
}

int node_join_probe_check(const char *buf, size_t len,
			  const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN])
{
	char want[NODE_JOIN_PROBE_LINE_MAX];
	size_t wl;

	node_join_probe_line(nonce, want);
	wl = strlen(want);
	/* the length is public (fixed); the nonce part is compared in constant time */
	if (len != wl || !buf)
		return -EPROTO;
	return sodium_memcmp(buf, want, wl) ? -EPROTO : 0;
}

struct node_join_probe {
	struct ev_loop *loop;
	ev_io io;
	ev_timer timer;
	int fd, connected, err;
	double timeout;
	size_t got;
	char buf[NODE_JOIN_PROBE_LINE_MAX];
	uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN];
	node_join_probe_done_fn done;
	void *user;
};

static void probe_stop(struct node_join_probe *p)
{
	ev_io_stop(p->loop, &p->io);
	ev_timer_stop(p->loop, &p->timer);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void probe_finish(struct node_join_probe *p, int err, const char *why)
{
	node_join_probe_done_fn done = p->done;
	void *user = p->user;

	probe_stop(p);
	sodium_memzero(p->nonce, sizeof(p->nonce));
	free(p);
	done(user, err, why);
}

/* The reason for an errno, worded for the joiner's message. */
static const char *probe_why(int err, char *buf, size_t cap)
{
	switch (err) {
	case -ECONNREFUSED: return "connection refused";
	case -EPROTO: return "something answered there, but not this joiner";
	case -ECONNRESET: return "connection reset";
	case -EHOSTUNREACH: return "host unreachable";
	case -ENETUNREACH: return "network unreachable";
	default: snprintf(buf, cap, "%s", strerror(-err)); return buf;
	}
}

static void probe_fail(struct node_join_probe *p, int err)
{
	char b[128];

	probe_finish(p, err, probe_why(err, b, sizeof(b)));
}

static void on_probe_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node_join_probe *p = w->data;
	char why[96];

	(void)loop;
	(void)revents;
	if (p->err) { /* the connect failed at once: reported from the loop */
		probe_fail(p, p->err);
		return;
	}
	snprintf(why, sizeof(why), "%s after %g s", p->connected ? "no answer" : "connection timed out",
		 p->timeout);
	probe_finish(p, -ETIMEDOUT, why);
}

static void on_probe_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_join_probe *p = w->data;
	socklen_t sl = sizeof(int);
	int e = 0;
	ssize_t n;

	(void)revents;
	if (!p->connected) {
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
			e = errno;
		if (e) {
			probe_fail(p, -e);
			return;
		}
		p->connected = 1;
		ev_io_stop(loop, &p->io);
		ev_io_set(&p->io, p->fd, EV_READ);
		ev_io_start(loop, &p->io);
		return;
	}
	n = read(p->fd, p->buf + p->got, sizeof(p->buf) - p->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		probe_fail(p, -errno);
		return;
	}
	p->got += (size_t)n;
	/* judged at the line's end, at EOF, or when more than a line came */
	if (n > 0 && p->got < sizeof(p->buf) && !memchr(p->buf, '\n', p->got))
		return;
	if (node_join_probe_check(p->buf, p->got, p->nonce))
		probe_fail(p, -EPROTO);
	else
		probe_finish(p, 0, "answered");
}

int node_join_probe_start(struct ev_loop *loop, const char *ip, unsigned port,
			  const uint8_t nonce[NODE_JOIN_PROBE_NONCE_LEN], double timeout,
			  node_join_probe_done_fn done, void *user, struct node_join_probe **out)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct node_join_probe *p;
	socklen_t sl;

	*out = NULL;
	if (!port || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->loop = loop;
	p->done = done;
	p->user = user;
	p->timeout = timeout;
	memcpy(p->nonce, nonce, sizeof(p->nonce));
	p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		int e = -errno;

		free(p);
		return e;
	}
	ev_io_init(&p->io, on_probe_io, p->fd, EV_WRITE);
	p->io.data = p;
	ev_timer_init(&p->timer, on_probe_timer, timeout, 0.);
	p->timer.data = p;
	if (connect(p->fd, (struct sockaddr *)&ss, sl) == 0 || errno == EINPROGRESS) {
		ev_io_start(loop, &p->io);
	} else {
		/* failed at once (e.g. refused on loopback): done runs from the loop */
		p->err = -errno;
		ev_timer_set(&p->timer, 0., 0.);
	}
	ev_timer_start(loop, &p->timer);
	*out = p;
	return 0;
}

void node_join_probe_cancel(struct node_join_probe *p)
{
	if (!p)
		return;
	probe_stop(p);
	sodium_memzero(p->nonce, sizeof(p->nonce));
	free(p);
}
