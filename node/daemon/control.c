/* Control socket server (on the daemon's loop) and blocking client. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MAX_CONNS 16

struct control_conn {
	struct node_control_server *s;
	ev_io io;
	ev_timer timer;
	char buf[NODE_CONTROL_MAX];
	size_t len;
	int used;
	int deferred;  /* answered later through a ticket */
	uint64_t gen;  /* tells a ticket whether this is still its request */
};

struct node_control_server {
	struct ev_loop *loop;
	ev_io accept_io;
	int fd;
	char path[108];
	node_control_fn fn;
	void *user;
	struct control_conn *cur; /* the request being handled */
	uint64_t gen;
	struct control_conn conns[MAX_CONNS];
};

static void conn_close(struct control_conn *c)
{
	ev_io_stop(c->s->loop, &c->io);
	ev_timer_stop(c->s->loop, &c->timer);
	close(c->io.fd);
	c->used = 0;
}

/* Writes rep (taken) and closes the connection. */
static void conn_reply(struct control_conn *c, cJSON *rep)
{
	char *text = rep ? cJSON_PrintUnformatted(rep) : NULL;
	int fl;

	cJSON_Delete(rep);
	if (text) {
		/* Small replies to a local client: write it out with a bounded wait. */
		size_t n = strlen(text), off = 0;

		fl = fcntl(c->io.fd, F_GETFL);
		fcntl(c->io.fd, F_SETFL, fl & ~O_NONBLOCK);
		while (off < n) {
			ssize_t w = write(c->io.fd, text + off, n - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if (off == n && write(c->io.fd, "\n", 1) != 1)
			cst_debug("control: client went away");
		free(text);
	}
	conn_close(c);
}

static void conn_answer(struct control_conn *c)
{
	cJSON *req = cJSON_ParseWithLength(c->buf, c->len), *rep;

	if (!cJSON_IsObject(req)) {
		rep = cJSON_CreateObject();
		cJSON_AddBoolToObject(rep, "ok", 0);
		cJSON_AddStringToObject(rep, "error", "control request must be a JSON object");
	} else {
		c->s->cur = c;
		rep = c->s->fn(c->s->user, req);
		c->s->cur = NULL;
	}
	cJSON_Delete(req);
	if (c->deferred) {
		cJSON_Delete(rep);
		ev_io_stop(c->s->loop, &c->io); /* the request is read; the timer runs */
		return;
	}
	conn_reply(c, rep);
}

int node_control_defer(struct node_control_server *s, struct node_control_ticket *t,
		       double timeout_s)
{
	struct control_conn *c = s->cur;

	if (!c || timeout_s <= 0)
		return -EINVAL;
	c->deferred = 1;
	ev_timer_stop(s->loop, &c->timer);
	ev_timer_set(&c->timer, timeout_s, 0);
	ev_timer_start(s->loop, &c->timer);
	t->s = s;
	t->slot = (int)(c - s->conns);
	t->gen = c->gen;
	return 0;
}

int node_control_answer(const struct node_control_ticket *t, cJSON *reply)
{
	struct control_conn *c;

	if (!t->s || t->slot < 0 || t->slot >= MAX_CONNS)
		goto gone;
	c = &t->s->conns[t->slot];
	if (!c->used || !c->deferred || c->gen != t->gen)
		goto gone;
	conn_reply(c, reply);
	return 0;
gone:
	cJSON_Delete(reply);
	return -ENOENT;
}

static void on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_conn *c = w->data;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = read(w->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0 && c->len)
			conn_answer(c);
		else
			conn_close(c);
		return;
	}
	c->len += (size_t)n;
	if (memchr(c->buf, '\n', c->len)) {
		conn_answer(c);
		return;
	}
	if (c->len >= sizeof(c->buf) - 1)
		conn_close(c); /* oversized: dropped */
}

static void on_conn_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control_conn *c = w->data;

	(void)loop;
	(void)revents;
	if (c->deferred) {
		cJSON *rep = cJSON_CreateObject();

		cJSON_AddBoolToObject(rep, "ok", 0);
		cJSON_AddStringToObject(rep, "error", "timed out");
		conn_reply(c, rep);
		return;
	}
	conn_close(c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct node_control_server *s = w->data;
	int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)revents;
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CONNS; i++) {
		struct control_conn *c = &s->conns[i];

		if (c->used)
			continue;
		c->used = 1;
		c->s = s;
		c->len = 0;
		c->deferred = 0;
		c->gen = ++s->gen;
		ev_io_init(&c->io, on_conn, fd, EV_READ);
		c->io.data = c;
		ev_timer_init(&c->timer, on_conn_timeout, 5.0, 0);
		c->timer.data = c;
		ev_io_start(loop, &c->io);
		ev_timer_start(loop, &c->timer);
		return;
	}
	close(fd); /* too many local clients at once */
}

int node_control_server_new(struct ev_loop *loop, const char *path, node_control_fn fn,
			    void *user, struct node_control_server **out)
{
	struct node_control_server *s;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->loop = loop;
	s->fn = fn;
	s->user = user;
	snprintf(s->path, sizeof(s->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	unlink(path); /* a stale socket from a killed daemon */
	old = umask(0177);
	r = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (!r && chmod(path, 0600) < 0)
		r = -errno;
	if (!r && listen(s->fd, 16) < 0)
		r = -errno;
	if (r) {
		close(s->fd);
		free(s);
		return r;
	}
	ev_io_init(&s->accept_io, on_accept, s->fd, EV_READ);
	s->accept_io.data = s;
	ev_io_start(loop, &s->accept_io);
	*out = s;
	return 0;
}

void node_control_server_free(struct node_control_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (s->conns[i].used)
			conn_close(&s->conns[i]);
	ev_io_stop(s->loop, &s->accept_io);
	close(s->fd);
	unlink(s->path);
	free(s);
}

int node_control_call(const char *path, const cJSON *req, double timeout_s, cJSON **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *text = NULL, *buf = NULL;
	size_t len = 0, off = 0;
	int fd, r;

	*reply = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	r = -ENOMEM;
	if (!(text = cJSON_PrintUnformatted(req)) || !(buf = malloc(4u << 20)))
		goto out;
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL: sent as one line */
	while (off < len + 1) {
		ssize_t w = write(fd, text + off, len + 1 - off);

		if (w <= 0) {
			r = -EIO;
			goto out;
		}
		off += (size_t)w;
	}
	off = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0) {
			r = -ETIMEDOUT;
			goto out;
		}
		n = read(fd, buf + off, (4u << 20) - 1 - off);
		if (n <= 0)
			break;
		off += (size_t)n;
		if (memchr(buf, '\n', off) || off >= (4u << 20) - 1)
			break;
	}
	*reply = cJSON_ParseWithLength(buf, off);
	r = *reply ? 0 : -EPROTO;
out:
	free(text);
	free(buf);
	close(fd);
	return r;
}
