#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"
#include "uapi.h"

#define K1 "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define K2 "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"

static int parse(const char *s, struct wg_uapi_set *out)
{
	return wg_uapi_parse_set(s, strlen(s), out);
}

static void test_uapi_parses_every_key(void)
{
	struct wg_uapi_set s;
	const char *req = "private_key=" K1 "\nlisten_port=51820\nfwmark=7\nreplace_peers=true\n"
			  "public_key=" K2 "\npreshared_key=" K1 "\nendpoint=[fd00::1]:5\n"
			  "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
			  "allowed_ip=10.0.0.0/8\nallowed_ip=::/0\nprotocol_version=1\n"
			  "public_key=" K1 "\nremove=true\n"
			  "public_key=" K1 "\nupdate_only=true\nendpoint=1.2.3.4:51820\n\n";
	CHECK_EQ_INT(parse(req, &s), 0);
	CHECK(s.has_private_key && s.has_listen_port && s.listen_port == 51820);
	CHECK(s.has_fwmark && s.fwmark == 7 && s.replace_peers);
	CHECK_EQ_INT(s.n_peers, 3);
	CHECK(s.peers[0].has_psk && s.peers[0].has_keepalive && s.peers[0].keepalive == 25);
	CHECK_EQ_INT(s.peers[0].endpoint.ss_family, AF_INET6);
	CHECK(s.peers[0].replace_allowed_ips);
	CHECK_EQ_INT(s.peers[0].n_allowed_ips, 2);
	CHECK_EQ_INT(s.peers[0].allowed_ips[0].cidr, 8);
	CHECK_EQ_INT(s.peers[0].allowed_ips[1].family, AF_INET6);
	CHECK(s.peers[1].remove);
	CHECK(s.peers[2].update_only);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&s.peers[2].endpoint)->sin_port), 51820);
	wg_uapi_set_free(&s);
}

static void test_uapi_rejects_malformed_requests(void)
{
	static const char *bad[] = {
		"listen_port=65536\n\n",
		"listen_port=-1\n\n",
		"listen_port=\n\n",
		"private_key=abc\n\n",
		"private_key=" K1 "0\n\n",
		"private_key=zz4b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n\n",
		"endpoint=1.2.3.4:5\n\n",                    /* peer key before public_key */
		"public_key=" K1 "\nendpoint=1.2.3.4\n\n",
		"public_key=" K1 "\nendpoint=1.2.3.4:0\n\n",
		"public_key=" K1 "\nendpoint=[::1:5\n\n",
		"public_key=" K1 "\nendpoint=host.example:5\n\n",
		"public_key=" K1 "\nallowed_ip=10.0.0.0/33\n\n",
		"public_key=" K1 "\nallowed_ip=10.0.0.0\n\n",
		"public_key=" K1 "\nprotocol_version=2\n\n",
		"public_key=" K1 "\nremove=yes\n\n",
		"public_key=" K1 "\npersistent_keepalive_interval=70000\n\n",
		"public_key=" K1 "\nlisten_port=5\n\n",       /* device key after a peer */
		"bogus=1\n\n",
		"listen_port=5\n",                           /* no blank line */
		"listen_port=5",                             /* unterminated line */
		"listen_port=5\n\nlisten_port=6\n\n",        /* trailing junk */
		"noequals\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wg_uapi_set s;
		int r = parse(bad[i], &s);
		if (r != -EINVAL && r != -EPROTO)
			fprintf(stderr, "accepted bad request %zu: %s\n", i, bad[i]);
		CHECK(r == -EINVAL || r == -EPROTO);
		CHECK_EQ_INT(s.n_peers, 0);
		CHECK(!s.has_listen_port);
	}
}

static int fake_get(void *ctx, struct wg_uapi_writer *w)
{
	uint8_t key[32];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(51820) };
	uint8_t a[4] = { 10, 0, 0, 0 };
	(void)ctx;
	memset(key, 0xab, 32);
	wg_uapi_put_key(w, "private_key", key);
	wg_uapi_put_u64(w, "listen_port", 51820);
	inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
	wg_uapi_put_endpoint(w, (struct sockaddr *)&sa);
	wg_uapi_put_allowed_ip(w, AF_INET, a, 8);
	return 0;
}

static int set_called;
static int fake_set(void *ctx, const struct wg_uapi_set *s)
{
	(void)ctx;
	(void)s;
	set_called++;
	return 0;
}

static void test_uapi_handle_get_and_set_replies(void)
{
	struct wg_uapi_ops ops = { .get = fake_get, .set = fake_set };
	struct wg_uapi_writer w = { 0 };
	const char *want = "private_key=abababababababababababababababababababababababababababababababab\n"
			   "listen_port=51820\nendpoint=192.0.2.1:51820\nallowed_ip=10.0.0.0/8\n"
			   "errno=0\n\n";
	CHECK_EQ_INT(wg_uapi_handle(&ops, NULL, "get=1\n\n", 7, &w), 0);
	CHECK_STR(w.buf, want);
	wg_uapi_writer_free(&w);
	CHECK_EQ_INT(wg_uapi_handle(&ops, NULL, "set=1\nlisten_port=x\n\n", 21, &w), EINVAL);
	CHECK_STR(w.buf, "errno=-22\n\n"); /* negative after set, as wg expects */
	CHECK_EQ_INT(set_called, 0); /* nothing applied */
	wg_uapi_writer_free(&w);
	CHECK_EQ_INT(wg_uapi_handle(&ops, NULL, "set=1\nlisten_port=9\n\n", 21, &w), 0);
	CHECK_EQ_INT(set_called, 1);
	wg_uapi_writer_free(&w);
	CHECK_EQ_INT(wg_uapi_handle(&ops, NULL, "hello\n\n", 7, &w), EPROTO);
	wg_uapi_writer_free(&w);
}

static void test_writer_emits_exact_peer_lines(void)
{
	struct wg_uapi_writer w = { 0 };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(51820) };
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6, .sin6_port = htons(7) };
	uint8_t key[WG_KEY_LEN], v4[4] = { 10, 1, 0, 0 }, v6[16] = { 0xfd, 0 };

	CHECK_EQ_INT(test_unhex(K2, key, sizeof(key)), WG_KEY_LEN);
	inet_pton(AF_INET6, "2001:db8::5", &s6.sin6_addr);
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &mapped.sin6_addr);
	wg_uapi_put_key(&w, "public_key", key);
	wg_uapi_put_u64(&w, "protocol_version", 1);
	wg_uapi_put_endpoint(&w, (struct sockaddr *)&s6);
	wg_uapi_put_endpoint(&w, (struct sockaddr *)&mapped);
	wg_uapi_put_u64(&w, "tx_bytes", UINT64_MAX);
	wg_uapi_put_allowed_ip(&w, AF_INET, v4, 16);
	wg_uapi_put_allowed_ip(&w, AF_INET6, v6, 8);
	CHECK_STR(w.buf, "public_key=" K2 "\nprotocol_version=1\n"
			 "endpoint=[2001:db8::5]:51820\nendpoint=192.0.2.9:7\n"
			 "tx_bytes=18446744073709551615\nallowed_ip=10.1.0.0/16\nallowed_ip=fd00::/8\n");
	wg_uapi_writer_free(&w);
}

/* --- the socket server, in a private directory (no root needed) --- */

struct port_model {
	uint16_t port;
	int sets;
};

static int port_get(void *ctx, struct wg_uapi_writer *w)
{
	wg_uapi_put_u64(w, "listen_port", ((struct port_model *)ctx)->port);
	return 0;
}

static int port_set(void *ctx, const struct wg_uapi_set *set)
{
	struct port_model *m = ctx;
	m->sets++;
	if (set->has_listen_port)
		m->port = set->listen_port;
	return 0;
}

static const struct wg_uapi_ops port_ops = { .get = port_get, .set = port_set };

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends req, half-closes, reads the whole answer (the server closes after
 * EOF), bounded by the server's own per-request timeout. */
static char *roundtrip(const char *path, const char *req, size_t reqlen)
{
	static char out[4096];
	size_t len = 0;
	int fd = connect_to(path);

	if (fd < 0)
		return NULL;
	if (write(fd, req, reqlen) != (ssize_t)reqlen) {
		close(fd);
		return NULL;
	}
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 1000 && len < sizeof(out) - 1; i++) {
		ssize_t n = read(fd, out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = 0;
	close(fd);
	return out;
}

static void test_server_creates_private_dir_and_socket(void)
{
	char base[] = "/tmp/uapi_test.XXXXXX", dir[64], path[96];
	struct port_model m = { 0 };
	struct wg_uapi_server *s = NULL;
	struct stat st;

	CHECK(mkdtemp(base) != NULL);
	snprintf(dir, sizeof(dir), "%s/wireguard", base);
	snprintf(path, sizeof(path), "%s/cstt0.sock", dir);
	CHECK_EQ_INT(wg_uapi_server_start(dir, "cstt0", &port_ops, &m, &s), 0);
	CHECK_EQ_INT(stat(dir, &st), 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
	CHECK_EQ_INT(stat(path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 077, 0);
	wg_uapi_server_stop(s);
	CHECK(access(path, F_OK) < 0); /* removed on shutdown */
	rmdir(dir);
	rmdir(base);
}

static void test_server_refuses_live_socket_and_replaces_stale_one(void)
{
	char dir[] = "/tmp/uapi_test.XXXXXX", path[64];
	struct port_model m = { .port = 7 };
	struct wg_uapi_server *s1 = NULL, *s2 = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/cstt1.sock", dir);
	CHECK_EQ_INT(wg_uapi_server_start(dir, "cstt1", &port_ops, &m, &s1), 0);
	CHECK_EQ_INT(wg_uapi_server_start(dir, "cstt1", &port_ops, &m, &s2), -EADDRINUSE);
	CHECK(s2 == NULL);
	CHECK_STR(roundtrip(path, "get=1\n\n", 7), "listen_port=7\nerrno=0\n\n");
	wg_uapi_server_stop(s1);

	/* a socket file nobody listens on, as left by a crash */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	CHECK_EQ_INT(wg_uapi_server_start(dir, "cstt1", &port_ops, &m, &s2), 0);
	CHECK_STR(roundtrip(path, "get=1\n\n", 7), "listen_port=7\nerrno=0\n\n");
	wg_uapi_server_stop(s2);
	rmdir(dir);
}

static void test_server_answers_pipelined_requests_and_refuses_bad_ones(void)
{
	char dir[] = "/tmp/uapi_test.XXXXXX", path[64];
	struct port_model m = { .port = 1 };
	struct wg_uapi_server *s = NULL;
	static const char two[] = "set=1\nlisten_port=9\n\nget=1\n\n";
	static const char bad[] = "set=1\nlisten_port=10\nlisten_port=70000\n\n";

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/cstt2.sock", dir);
	CHECK_EQ_INT(wg_uapi_server_start(dir, "cstt2", &port_ops, &m, &s), 0);
	CHECK_STR(roundtrip(path, two, sizeof(two) - 1),
		  "errno=0\n\nlisten_port=9\nerrno=0\n\n");
	/* the valid first line is not applied either */
	CHECK_STR(roundtrip(path, bad, sizeof(bad) - 1), "errno=-22\n\n");
	CHECK_STR(roundtrip(path, "set=1\nlisten_port=10\n", 21), "errno=-71\n\n"); /* EOF, no blank line */
	CHECK_STR(roundtrip(path, "get=1\n\n", 7), "listen_port=9\nerrno=0\n\n");
	CHECK_EQ_INT(m.sets, 1);
	wg_uapi_server_stop(s);
	rmdir(dir);
}

static void test_server_refuses_oversized_request(void)
{
	char dir[] = "/tmp/uapi_test.XXXXXX", path[64];
	struct port_model m = { 0 };
	struct wg_uapi_server *s = NULL;
	size_t n = WG_UAPI_MAX_REQUEST + 4096;
	char *big = malloc(n);
	const char *reply;

	CHECK(big != NULL);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/cstt3.sock", dir);
	memcpy(big, "set=1\n", 6);
	memset(big + 6, 'x', n - 6);
	CHECK_EQ_INT(wg_uapi_server_start(dir, "cstt3", &port_ops, &m, &s), 0);
	/* The server answers once its buffer is full; our write may then see
	 * the connection closed, so only the answer is checked. */
	{
		int fd = connect_to(path);
		char out[64] = { 0 };
		size_t off = 0, len = 0;
		CHECK(fd >= 0);
		while (off < n) {
			ssize_t w = send(fd, big + off, n - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		for (int i = 0; i < 100 && len < sizeof(out) - 1; i++) {
			ssize_t r = read(fd, out + len, sizeof(out) - 1 - len);
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		reply = out;
		CHECK_STR(reply, "errno=-90\n\n"); /* EMSGSIZE */
		close(fd);
	}
	CHECK_EQ_INT(m.sets, 0);
	wg_uapi_server_stop(s);
	free(big);
	rmdir(dir);
}

int main(void)
{
	RUN_TEST(test_uapi_parses_every_key);
	RUN_TEST(test_uapi_rejects_malformed_requests);
	RUN_TEST(test_uapi_handle_get_and_set_replies);
	RUN_TEST(test_writer_emits_exact_peer_lines);
	RUN_TEST(test_server_creates_private_dir_and_socket);
	RUN_TEST(test_server_refuses_live_socket_and_replaces_stale_one);
	RUN_TEST(test_server_answers_pipelined_requests_and_refuses_bad_ones);
	RUN_TEST(test_server_refuses_oversized_request);
	return TEST_DONE();
}
