/* Endpoint names are resolved on a worker thread, never on the loop
 * (resolve.h): a numeric endpoint answers at once; a name answers -EAGAIN,
 * then the loop is told and the next call has the address; a name that does
 * not resolve answers -EHOSTUNREACH after its lookup; a malformed one
 * -EINVAL. */
#include <errno.h>
#include <sched.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "epcache.h"
#include "resolve.h"
#include "test.h"

static int done_calls;

static void on_done(void *user)
{
	(void)user;
	done_calls++;
}

/* Runs the loop until done ran n times (bounded: 10 s). */
static void wait_done(struct ev_loop *loop, int n)
{
	ev_tstamp t0 = ev_time();

	while (done_calls < n && ev_time() - t0 < 10)
		ev_run(loop, EVRUN_ONCE);
}

static void test_resolve_numeric_names_and_failures(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct node_resolve *r = NULL;
	struct sockaddr_storage ss, want;
	char s[80];

	CHECK_EQ_INT(node_resolve_new(loop, on_done, NULL, &r), 0);
	CHECK_EQ_INT(node_resolve_get(r, "192.0.2.1:51820", &ss), 0);
	node_sockaddr_parse("192.0.2.1:51820", &want);
	CHECK(node_sockaddr_equal(&ss, &want));
	CHECK_EQ_INT(done_calls, 0); /* numeric: no lookup */
	CHECK_EQ_INT(node_resolve_get(r, "[2001:db8::1]:1", &ss), 0);
	CHECK_EQ_INT(node_resolve_get(r, "no-port", &ss), -EINVAL);
	CHECK_EQ_INT(node_resolve_get(r, "[bad:1", &ss), -EINVAL);

	CHECK_EQ_INT(node_resolve_get(r, "localhost:51820", &ss), -EAGAIN);
	{
		/* again at once: still under way, or (a fast resolver) done */
		int again = node_resolve_get(r, "localhost:51820", &ss);

		CHECK(again == -EAGAIN || again == 0);
	}
	wait_done(loop, 1);
	CHECK_EQ_INT(done_calls, 1);
	CHECK_EQ_INT(node_resolve_get(r, "localhost:51820", &ss), 0);
	node_sockaddr_str(&ss, s, sizeof(s));
	CHECK(!strcmp(s, "127.0.0.1:51820") || !strcmp(s, "[::1]:51820"));

	/* A name that does not resolve, only where no DNS query can leave this
	 * machine: in a network namespace of our own (root) */
	if (unshare(CLONE_NEWNET) == 0) {
		CHECK_EQ_INT(node_resolve_get(r, "no-such-host.invalid:51820", &ss), -EAGAIN);
		wait_done(loop, 2);
		CHECK_EQ_INT(node_resolve_get(r, "no-such-host.invalid:51820", &ss), -EHOSTUNREACH);
	} else {
		fprintf(stderr, "no network namespace of our own: the failed lookup is not tried\n");
	}
	/* the answer for localhost is still there */
	CHECK_EQ_INT(node_resolve_get(r, "localhost:51820", &ss), 0);
	node_resolve_free(r);
	ev_loop_destroy(loop);
}

int main(void)
{
	RUN_TEST(test_resolve_numeric_names_and_failures);
	return TEST_DONE();
}
