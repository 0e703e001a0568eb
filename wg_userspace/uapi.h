/* The cross-platform WireGuard UAPI (wireguard.com/xplatform), the text
 * protocol `wg` speaks over /var/run/wireguard/<if>.sock.
 *
 * A `set` request is parsed completely into a transaction and validated
 * before the device applies any of it: malformed input changes nothing. */
#ifndef WG_UAPI_H
#define WG_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wg_constants.h"

#define WG_UAPI_MAX_REQUEST (1u << 20)
#define WG_UAPI_MAX_PEERS 65536
#define WG_UAPI_MAX_ALLOWED_IPS (1u << 20)

/* Host bits are kept as sent (10.1.2.3/16 stays 10.1.2.3): masking is the
 * allowed-IPs table's job, as in the kernel, so `wg show` then shows
 * 10.1.0.0/16. */
struct wg_uapi_allowed_ip {
	int family;     /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
	uint8_t cidr;   /* <= 32 or <= 128 */
};

struct wg_uapi_peer {
	uint8_t public_key[WG_KEY_LEN];
	bool remove;
	bool update_only;
	bool has_psk;
	uint8_t psk[WG_KEY_LEN]; /* all zero = clear */
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	socklen_t endpoint_len;
	bool has_keepalive;
	uint16_t keepalive;
	bool replace_allowed_ips;
	struct wg_uapi_allowed_ip *allowed_ips;
	size_t n_allowed_ips;
	size_t cap_allowed_ips;
};

struct wg_uapi_set {
	bool has_private_key;
	uint8_t private_key[WG_KEY_LEN]; /* all zero = remove */
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;
	struct wg_uapi_peer *peers;
	size_t n_peers;
	size_t cap_peers;
};

/* Parses the lines that follow "set=1\n", up to and including the blank
 * line that ends the request (text need not be NUL-terminated). Returns 0,
 * or -EINVAL (a bad value, or more than WG_UAPI_MAX_PEERS peers /
 * WG_UAPI_MAX_ALLOWED_IPS per peer) / -EPROTO (bad structure: unknown key,
 * missing blank line, peer key before public_key), with *out empty: nothing
 * is applied unless the whole request is valid. `wg` only shows the code
 * (strerror), so the split follows wireguard-go loosely. Lines are bounded
 * by the request size the server accepts (WG_UAPI_MAX_REQUEST). */
int wg_uapi_parse_set(const char *text, size_t len, struct wg_uapi_set *out);
/* Frees the transaction, wiping the keys it carried. */
void wg_uapi_set_free(struct wg_uapi_set *set);

/* Reply builder for `get`. */
struct wg_uapi_writer {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};
void wg_uapi_put_str(struct wg_uapi_writer *w, const char *key, const char *value);
void wg_uapi_put_u64(struct wg_uapi_writer *w, const char *key, uint64_t value);
void wg_uapi_put_key(struct wg_uapi_writer *w, const char *key, const uint8_t k[WG_KEY_LEN]);
void wg_uapi_put_endpoint(struct wg_uapi_writer *w, const struct sockaddr *sa);
void wg_uapi_put_allowed_ip(struct wg_uapi_writer *w, int family, const uint8_t *addr,
			    uint8_t cidr);
void wg_uapi_writer_free(struct wg_uapi_writer *w);

/* Strict parsers shared with tests: 64 hex chars → key (either case, as
 * wireguard-go's hex decoding accepts; replies are lowercase); "a.b.c.d:port" or
 * "[v6]:port" (numeric) → sockaddr; "addr/cidr" → allowed IP. */
int wg_uapi_parse_key(const char *hex, size_t len, uint8_t key[WG_KEY_LEN]);
int wg_uapi_parse_endpoint(const char *s, size_t len, struct sockaddr_storage *ss,
			   socklen_t *sslen);
int wg_uapi_parse_allowed_ip(const char *s, size_t len, struct wg_uapi_allowed_ip *out);

/* What the device provides to serve requests (wg_uapi_handle, the server). */
struct wg_uapi_ops {
	/* Fills the reply; returns 0 or a positive errno. */
	int (*get)(void *ctx, struct wg_uapi_writer *w);
	/* Applies a validated transaction; returns 0 or a positive errno. */
	int (*set)(void *ctx, const struct wg_uapi_set *set);
};

/* Serves one request from buffer to writer (used by the server and tests):
 * text is the full request; returns the positive errno of the outcome (0 ok);
 * the reply carries it negated after a set, as wireguard-go and `wg` do. */
int wg_uapi_handle(const struct wg_uapi_ops *ops, void *ctx, const char *text, size_t len,
		   struct wg_uapi_writer *reply);

/* The socket server lives in uapi_server.h; included here because the
 * device includes only this header (device.c should include uapi_server.h
 * itself, then this line goes). */
#include "uapi_server.h"

#endif
