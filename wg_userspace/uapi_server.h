/* The UAPI unix socket server: /var/run/wireguard/<ifname>.sock, served
 * from its own thread, one client at a time, each request bounded in size
 * (WG_UAPI_MAX_REQUEST) and time (5 s); get/set are dispatched to the
 * device's struct wg_uapi_ops callbacks through wg_uapi_handle(). */
#ifndef WG_UAPI_SERVER_H
#define WG_UAPI_SERVER_H

#include "uapi.h"

struct wg_uapi_server;
/* Listens on <dir>/<ifname>.sock (dir NULL = /var/run/wireguard, created
 * 0700). -EADDRINUSE when a live server already answers there; a stale
 * socket file is replaced. */
int wg_uapi_server_start(const char *dir, const char *ifname, const struct wg_uapi_ops *ops,
			 void *ctx, struct wg_uapi_server **out);
/* Stops the thread and removes the socket file. */
void wg_uapi_server_stop(struct wg_uapi_server *s);

#endif
