#include <arpa/inet.h>
#include <errno.h>

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

int main(void)
{
	RUN_TEST(test_uapi_parses_every_key);
	RUN_TEST(test_uapi_rejects_malformed_requests);
	RUN_TEST(test_uapi_handle_get_and_set_replies);
	return TEST_DONE();
}
