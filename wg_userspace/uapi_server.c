/* The UAPI unix socket: one thread, one client at a time (wg connects,
 * asks once, closes), every read bounded in size and time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi.h"

#define WG_UAPI_DEFAULT_DIR "/var/run/wireguard"
#define WG_UAPI_CLIENT_TIMEOUT_MS 5000

struct wg_uapi_server {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct wg_uapi_ops ops;
	void *ctx;
};

/* Reads one request: "get=1\n\n" or "set=1\n...\n\n". Returns its length,
 * 0 on clean EOF before any byte, or -errno. */
static ssize_t wg_uapi_read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
			return (ssize_t)len;
		if (len >= 7 && memcmp(buf, "get=1\n", 6) == 0 && buf[6] != '\n')
			return -EPROTO;
		if (len == cap)
			return -EMSGSIZE;
		if (poll(&pfd, 1, WG_UAPI_CLIENT_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		/* One byte at a time past the end would be slow; requests are
		 * small, and reading in chunks could swallow a pipelined next
		 * request, so read up to the blank line only. */
		n = read(fd, buf + len, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return len == 0 ? 0 : -EPROTO;
		len++;
	}
}

static void wg_uapi_serve_client(struct wg_uapi_server *s, int fd)
{
	char *buf = malloc(WG_UAPI_MAX_REQUEST);

	if (!buf)
		return;
	for (int i = 0; i < 64; i++) {
		struct wg_uapi_writer reply = { 0 };
		ssize_t n = wg_uapi_read_request(fd, buf, WG_UAPI_MAX_REQUEST);
		size_t off = 0;

		if (n <= 0) {
			if (n < 0) {
				char e[32];
				int m = snprintf(e, sizeof(e), "errno=%d\n\n", (int)n);
				if (write(fd, e, (size_t)m) < 0)
					break;
			}
			break;
		}
		wg_uapi_handle(&s->ops, s->ctx, buf, (size_t)n, &reply);
		while (off < reply.len) {
			ssize_t w = write(fd, reply.buf + off, reply.len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		wg_uapi_writer_free(&reply);
	}
	/* The request may have carried a private key. */
	explicit_bzero(buf, WG_UAPI_MAX_REQUEST);
	free(buf);
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
