/* GET /metrics over libmicrohttpd on the libev loop (promhttp.h). */
#include "promhttp.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "rpc.h"

struct tel_promhttp {
	struct ev_loop *loop;
	char listen[80];
	tel_promhttp_render_fn render;
	void *ctx;
	struct MHD_Daemon *daemon;
	uint16_t port;
	ev_io io;
	ev_timer timer, retry;
	int retry_err; /* the last bind failure logged while retrying */
};

/* body is ours to free with MHD_RESPMEM_MUST_FREE, a constant otherwise. */
static enum MHD_Result ph_send(struct MHD_Connection *conn, unsigned status, const char *type,
			       const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result ph_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct tel_promhttp *p = cls;
	static const char *text = "text/plain; charset=utf-8";
	char *body;
	size_t len;

	(void)version;
	(void)upload_data;
	if (!*con_cls) { /* first call: headers only */
		*con_cls = p;
		return MHD_YES;
	}
	if (*upload_data_size) { /* a body we do not want */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics"))
		return ph_send(conn, MHD_HTTP_NOT_FOUND, text, "not found: try /metrics\n", 24,
			       MHD_RESPMEM_PERSISTENT);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return ph_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "use GET\n", 8,
			       MHD_RESPMEM_PERSISTENT);
	if (p->render(p->ctx, &body, &len))
		return ph_send(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "cannot render\n", 14,
			       MHD_RESPMEM_PERSISTENT);
	return ph_send(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		       MHD_RESPMEM_MUST_FREE);
}

static void ph_run(struct tel_promhttp *p)
{
	MHD_UNSIGNED_LONG_LONG to;

	MHD_run(p->daemon);
	ev_timer_stop(p->loop, &p->timer);
	if (MHD_get_timeout(p->daemon, &to) == MHD_YES) {
		ev_timer_set(&p->timer, (double)to / 1000.0, 0.);
		ev_timer_start(p->loop, &p->timer);
	}
}

static void ph_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	ph_run(w->data);
}

static void ph_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	ph_run(w->data);
}

/* Why binding the address fails, if it does: MHD_start_daemon does not
 * say, and "the address is not up yet" (retried) must be told apart from
 * "the port is taken" (refused at start). The probe's socket is closed at
 * once; MHD then binds its own with SO_REUSEADDR as this one does. */
static int ph_probe(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) < 0 || listen(fd, 1) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* 0 when bound and serving; -EADDRNOTAVAIL while the address is not up. */
static int ph_bind(struct tel_promhttp *p)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL;
	int r;

	if (rpc_parse_addr(p->listen, &ss, &sl) < 0)
		return -EINVAL;
	if ((r = ph_probe(&ss, sl)))
		return r;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	p->daemon = MHD_start_daemon(flags, 0, NULL, NULL, ph_access, p,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)TEL_PROMHTTP_MAX_CONNS,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				     MHD_OPTION_END);
	if (!p->daemon)
		return -EIO;
	info = MHD_get_daemon_info(p->daemon, MHD_DAEMON_INFO_BIND_PORT);
	p->port = info ? info->port : 0;
	info = MHD_get_daemon_info(p->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(p->daemon);
		p->daemon = NULL;
		return -EIO;
	}
	ev_io_init(&p->io, ph_io_cb, info->epoll_fd, EV_READ);
	p->io.data = p;
	ev_io_start(p->loop, &p->io);
	ph_run(p);
	cst_info("metrics: serving http://%s/metrics", p->listen);
	return 0;
}

static void ph_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tel_promhttp *p = w->data;
	int r;

	(void)revents;
	if ((r = ph_bind(p)) == 0) {
		ev_timer_stop(loop, w);
	} else if (r != p->retry_err) {
		/* the address came up, but something else is wrong: say so once */
		cst_warn("metrics: cannot listen on %s: %s: still retrying every %.0f s", p->listen,
			 strerror(-r), TEL_PROMHTTP_RETRY_S);
		p->retry_err = r;
	}
}

int tel_promhttp_new(struct ev_loop *loop, const char *listen, tel_promhttp_render_fn render,
		     void *ctx, struct tel_promhttp **out)
{
	struct tel_promhttp *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	snprintf(p->listen, sizeof(p->listen), "%s", listen);
	p->render = render;
	p->ctx = ctx;
	ev_timer_init(&p->timer, ph_timer_cb, 0., 0.);
	p->timer.data = p;
	ev_timer_init(&p->retry, ph_retry_cb, TEL_PROMHTTP_RETRY_S, TEL_PROMHTTP_RETRY_S);
	p->retry.data = p;
	r = ph_bind(p);
	if (r && r != -EADDRNOTAVAIL) {
		/* a port in use or not ours to take will not fix itself */
		free(p);
		return r;
	}
	if (r) {
		cst_warn("metrics: cannot listen on %s yet (the address is not up): retrying every "
			 "%.0f s", listen, TEL_PROMHTTP_RETRY_S);
		p->retry_err = r;
		ev_timer_start(loop, &p->retry);
	}
	*out = p;
	return 0;
}

uint16_t tel_promhttp_port(const struct tel_promhttp *p)
{
	return p->daemon ? p->port : 0;
}

void tel_promhttp_free(struct tel_promhttp *p)
{
	if (!p)
		return;
	ev_timer_stop(p->loop, &p->retry);
	ev_timer_stop(p->loop, &p->timer);
	if (p->daemon) {
		ev_io_stop(p->loop, &p->io);
		MHD_stop_daemon(p->daemon);
	}
	free(p);
}
