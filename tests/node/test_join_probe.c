/* The join's reachability probe (node/join/probe.h) over loopback: the
 * joiner's listener proves itself, and each way of not answering (nothing
 * listening, another service, a silent one, a wrong nonce) is told apart. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"
#include "test.h"

struct result {
	int done, err;
	char why[128];
};

static void on_done(void *user, int err, const char *why)
{
	struct result *r = user;

	r->done++;
	r->err = err;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

/* A TCP socket listening on a free loopback port (fd, *port). */
static int listen_free(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&a, &sl))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* Runs the loop until r is done, at most ~5 s. */
static void run(struct ev_loop *loop, struct result *r)
{
	for (int i = 0; i < 500 && !r->done; i++)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(10000);
}

static void test_line(void)
{
	uint8_t n[NODE_JOIN_PROBE_NONCE_LEN], m[NODE_JOIN_PROBE_NONCE_LEN];
	char line[NODE_JOIN_PROBE_LINE_MAX];

	memset(n, 0xab, sizeof(n));
	memcpy(m, n, sizeof(m));
	m[15] ^= 1;
	node_join_probe_line(n, line);
	CHECK_STR(line, "CONSTELLA-PROBE1 abababababababababababababababab\n");
	CHECK_EQ_INT(node_join_probe_check(line, strlen(line), n), 0);
	CHECK_EQ_INT(node_join_probe_check(line, strlen(line), m), -EPROTO);
	CHECK_EQ_INT(node_join_probe_check(line, strlen(line) - 1, n), -EPROTO);
	CHECK_EQ_INT(node_join_probe_check(line, 0, n), -EPROTO);
	CHECK_EQ_INT(node_join_probe_check("HTTP/1.1 400 Bad Request\r\n", 26, n), -EPROTO);
}

static void test_answered(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct node_join_probe_listener *l = NULL, *l2 = NULL;
	struct node_join_probe *p = NULL;
	uint8_t n[NODE_JOIN_PROBE_NONCE_LEN], m[NODE_JOIN_PROBE_NONCE_LEN];
	struct result r = { 0 }, r2 = { 0 };
	unsigned port;
	int fd = listen_free(&port);

	randombytes_buf(n, sizeof(n));
	memcpy(m, n, sizeof(m));
	m[0] ^= 0x80;
	close(fd); /* the port is free again: the joiner's listener takes it */
	CHECK_EQ_INT(node_join_probe_listen(loop, port, n, &l), 0);
	/* a second listener (e.g. a running constellad) is told apart */
	CHECK_EQ_INT(node_join_probe_listen(loop, port, n, &l2), -EADDRINUSE);
	CHECK_EQ_INT(node_join_probe_start(loop, "127.0.0.1", port, n, 3.0, on_done, &r, &p), 0);
	CHECK_EQ_INT(r.done, 0); /* never from inside start */
	run(loop, &r);
	CHECK_EQ_INT(r.done, 1);
	CHECK_EQ_INT(r.err, 0);
	CHECK_EQ_INT(node_join_probe_listener_served(l), 1);
	/* a wrong nonce: someone answers, but not this joiner */
	CHECK_EQ_INT(node_join_probe_start(loop, "127.0.0.1", port, m, 3.0, on_done, &r2, &p), 0);
	run(loop, &r2);
	CHECK_EQ_INT(r2.done, 1);
	CHECK_EQ_INT(r2.err, -EPROTO);
	CHECK_STR(r2.why, "something answered there, but not this joiner");
	node_join_probe_listener_free(l);
	ev_loop_destroy(loop);
}

static void test_refused_silent_cancel(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct node_join_probe *p = NULL;
	uint8_t n[NODE_JOIN_PROBE_NONCE_LEN] = { 1 };
	struct result r = { 0 }, r2 = { 0 }, r3 = { 0 };
	unsigned port, silent_port;
	int fd = listen_free(&port), silent = listen_free(&silent_port);

	close(fd);
	CHECK_EQ_INT(node_join_probe_start(loop, "127.0.0.1", port, n, 3.0, on_done, &r, &p), 0);
	run(loop, &r);
	CHECK_EQ_INT(r.done, 1);
	CHECK_EQ_INT(r.err, -ECONNREFUSED);
	CHECK_STR(r.why, "connection refused");
	/* accepted by the kernel, never answered: the timeout says so */
	CHECK_EQ_INT(node_join_probe_start(loop, "127.0.0.1", silent_port, n, 0.3, on_done, &r2,
					   &p), 0);
	run(loop, &r2);
	CHECK_EQ_INT(r2.done, 1);
	CHECK_EQ_INT(r2.err, -ETIMEDOUT);
	CHECK_STR(r2.why, "no answer after 0.3 s");
	/* cancelled: its done never runs */
	CHECK_EQ_INT(node_join_probe_start(loop, "127.0.0.1", silent_port, n, 0.1, on_done, &r3,
					   &p), 0);
	node_join_probe_cancel(p);
	for (int i = 0; i < 30; i++)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(10000);
	CHECK_EQ_INT(r3.done, 0);
	CHECK_EQ_INT(node_join_probe_start(loop, "not-an-ip", 1, n, 1, on_done, &r3, &p), -EINVAL);
	CHECK_EQ_INT(node_join_probe_start(loop, "127.0.0.1", 0, n, 1, on_done, &r3, &p), -EINVAL);
	close(silent);
	ev_loop_destroy(loop);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN_TEST(test_line);
	RUN_TEST(test_answered);
	RUN_TEST(test_refused_silent_cancel);
	return TEST_DONE();
}
