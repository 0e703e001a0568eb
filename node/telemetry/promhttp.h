/* GET /metrics: the Prometheus endpoint, off unless METRICS_LISTEN is set.
 * libmicrohttpd in external epoll mode on the daemon's libev loop, as
 * rpc/server.c serves the RPC: no thread of its own, and the exposition is
 * rendered on the loop from the last sample (microseconds). Only GET and
 * HEAD of /metrics are answered; everything else is 404 or 405. When the
 * address is not up yet (the overlay address before the device is up),
 * binding is retried every TEL_PROMHTTP_RETRY_S with one log line; any other
 * failure (the port in use) is refused at once. */
#ifndef TEL_PROMHTTP_H
#define TEL_PROMHTTP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define TEL_PROMHTTP_RETRY_S 5.0
#define TEL_PROMHTTP_MAX_CONNS 16

/* Renders the document (malloc'd); 0 or -errno. */
typedef int (*tel_promhttp_render_fn)(void *ctx, char **out, size_t *len);

struct tel_promhttp;

/* listen: "IP:PORT" or "[IPv6]:PORT" (numeric). 0 when serving or waiting
 * for the address to come up; -errno otherwise (-EADDRINUSE...). */
int tel_promhttp_new(struct ev_loop *loop, const char *listen, tel_promhttp_render_fn render,
		     void *ctx, struct tel_promhttp **out);
/* The bound port, 0 while not bound. */
uint16_t tel_promhttp_port(const struct tel_promhttp *p);
void tel_promhttp_free(struct tel_promhttp *p);

#endif
