/* The UAPI unix socket: its own thread, one client at a time (wg connects,
 * asks once, closes; the device callbacks take the device's own locks), every
 * request bounded in size (WG_UAPI_MAX_REQUEST) and time (5 s per request). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uapi_server.h"

#define WG_UAPI_DEFAULT_DIR "/var/run/wireguard"
#define WG_UAPI_CLIENT_TIMEOUT_MS 5000
#define WG_UAPI_MAX_REQUESTS_PER_CONN 1024

struct wg_uapi_server {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct wg_uapi_ops ops;
	void *ctx;
};

/* One client's input: requests are read in chunks, and bytes past the
 * blank line that ends one request are kept for the next (a client may
 * pipeline several on one connection). */
struct wg_uapi_conn {
	int fd;
	char *buf;
	size_t len;     /* bytes held */
	size_t scanned; /* prefix known to hold no request end */
};

static int64_t wg_uapi_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A request ends at its first empty line: "\n" at the very start, or
 * "\n\n". Returns its length including that line, 0 if not there yet. */
static size_t wg_uapi_request_end(struct wg_uapi_conn *c)
{
	for (size_t i = c->scanned; i < c->len; i++)
		if (c->buf[i] == '\n' && (i == 0 || c->buf[i - 1] == '\n'))
			return i + 1;
	c->scanned = c->len;
	return 0;
}

/* Waits for one whole request within WG_UAPI_CLIENT_TIMEOUT_MS (for the
 * whole request, so a client trickling a byte at a time cannot hold the
 * single server thread). Returns its length, 0 on clean EOF between
 * requests, or -errno (-EMSGSIZE past WG_UAPI_MAX_REQUEST). */
static ssize_t wg_uapi_read_request(struct wg_uapi_conn *c)
{
	int64_t deadline = wg_uapi_now_ms() + WG_UAPI_CLIENT_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		size_t end = wg_uapi_request_end(c);
		int64_t left;
		ssize_t n;

		if (end)
			return (ssize_t)end;
		if (c->len == WG_UAPI_MAX_REQUEST)
			return -EMSGSIZE;
		left = deadline - wg_uapi_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return -ETIMEDOUT;
		n = read(c->fd, c->buf + c->len, WG_UAPI_MAX_REQUEST - c->len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return c->len == 0 ? 0 : -EPROTO; /* EOF inside a request */
		c->len += (size_t)n;
	}
}

static void wg_uapi_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the client went away; nothing to tell it */
		p += w;
		n -= (size_t)w;
	}
}

static void wg_uapi_serve_client(struct wg_uapi_server *s, int fd)
{
	struct wg_uapi_conn c = { .fd = fd, .buf = malloc(WG_UAPI_MAX_REQUEST) };

	if (!c.buf)
		return;
	/* Bounded: a connection gets at most this many requests. */
	for (int i = 0; i < WG_UAPI_MAX_REQUESTS_PER_CONN; i++) {
		struct wg_uapi_writer reply = { 0 };
		ssize_t n = wg_uapi_read_request(&c);

		if (n <= 0) {
			if (n < 0) {
				/* A broken request is answered like a refused set. */
				char e[32];
				int m = snprintf(e, sizeof(e), "errno=%d\n\n", (int)n);
				wg_uapi_write_all(fd, e, (size_t)m);
			}
			break;
		}
		wg_uapi_handle(&s->ops, s->ctx, c.buf, (size_t)n, &reply);
		wg_uapi_write_all(fd, reply.buf, reply.len);
		wg_uapi_writer_free(&reply);
		/* The handled request may have carried a private key. */
		sodium_memzero(c.buf, (size_t)n);
		memmove(c.buf, c.buf + n, c.len - (size_t)n);
		c.len -= (size_t)n;
		c.scanned = 0;
	}
	sodium_memzero(c.buf, c.len);
	free(c.buf);
}

static void *wg_uapi_thread(void *arg)
{
	struct wg_uapi_server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->listen_fd, .events = POLLIN },
					 { .fd = s->stop_pipe[0], .events = POLLIN } };
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		wg_uapi_serve_client(s, fd);
		close(fd);
	}
	return NULL;
}

int wg_uapi_server_start(const char *dir, const char *ifname, const struct wg_uapi_ops *ops,
			 void *ctx, struct wg_uapi_server **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct wg_uapi_server *s;
	int ret, probe;

	*out = NULL;
	if (!dir)
		dir = WG_UAPI_DEFAULT_DIR;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->ops = *ops;
	s->ctx = ctx;
	if (snprintf(s->path, sizeof(s->path), "%s/%s.sock", dir, ifname) >= (int)sizeof(s->path)) {
		ret = -ENAMETOOLONG;
		goto fail;
	}
	memcpy(sun.sun_path, s->path, sizeof(s->path));
	/* A live server answers a connect: do not steal its socket. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int live = connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(probe);
		if (live) {
			ret = -EADDRINUSE;
			goto fail;
		}
	}
	unlink(s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		ret = -errno;
		goto fail;
	}
	{
		mode_t old = umask(0077);
		ret = bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
	}
	if (ret < 0 || listen(s->listen_fd, 16) < 0) {
		ret = -errno;
		goto fail;
	}
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		ret = -errno;
		goto fail_unlink;
	}
	ret = -pthread_create(&s->thread, NULL, wg_uapi_thread, s);
	if (ret < 0)
		goto fail_unlink;
	*out = s;
	return 0;
fail_unlink:
	unlink(s->path);
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_pipe[0] >= 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
	}
	free(s);
	return ret;
}

void wg_uapi_server_stop(struct wg_uapi_server *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0) {
		/* the pipe cannot be full: a single byte into an empty pipe */
	}
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	unlink(s->path);
	free(s);
}
