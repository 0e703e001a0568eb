/* libFuzzer target for the speed test's data connection (st_proto.h), both
 * ends, over a real loopback TCP connection: the end under test runs in the
 * harness's thread, a pump thread plays the other end with the input's
 * bytes. The first byte picks the end:
 *   0  the tested node (tel_st_serve): the pump sends the valid hello, then
 *      the input as the requests (pings, upload frames, download requests);
 *   1  the node running the test (tel_st_client_run), raw: the input is
 *      everything the server says, from its first byte;
 *   2  the same, scripted: the pump answers the hello and echoes the round
 *      trips as a server does, then sends the input (the upload's result,
 *      the download's frames), so the fuzzer gets past the timestamps.
 * Nothing may crash, leak, hang (every wait is bounded: 10 ms and 64 KiB a
 * direction here) or fail without a reason; a session the server calls a
 * success had the client's 'Q'; the client's figures respect the bounds
 * whatever the server claims. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "st_proto.h"

#define SECS 0.01
#define MAX_BYTES 65536u
#define PUMP_LIMIT_MS 5000

static const uint8_t token[TEL_ST_TOKEN_LEN] = { 0x5a, 0x17, 0x42 };

struct pump {
	int fd, lfd;               /* fd < 0: accept it from lfd first */
	const uint8_t *pre, *data; /* pre: sent first; then data */
	size_t npre, ndata;
	size_t echo_skip, echo_n;  /* scripted: echo bytes [skip, skip + n) of what arrives */
};

static long pump_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int accept_one(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	if (poll(&pfd, 1, 2000) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Full duplex: writes pre, the echoes and data as the peer lets it, reads
 * and drops everything else, until the peer closes (or PUMP_LIMIT_MS). */
static void *pump_run(void *arg)
{
	struct pump *p = arg;
	uint8_t in[65536], echo[TEL_ST_PINGS * 9];
	size_t seen = 0, echo_have = 0, echo_sent = 0, pre_off = 0, off = 0;
	long end = pump_ms() + PUMP_LIMIT_MS;
	int wr_open = 1;

	if (p->fd < 0 && (p->fd = accept_one(p->lfd)) < 0)
		return NULL;
	while (pump_ms() < end) {
		/* while round trips are owed, wait for them rather than spin */
		int want_out = wr_open && (pre_off < p->npre || echo_sent < echo_have ||
					   echo_sent >= p->echo_n);
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN | (want_out ? POLLOUT : 0) };
		ssize_t k;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			k = recv(p->fd, in, sizeof(in), MSG_DONTWAIT);
			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
				break;
			for (ssize_t i = 0; i < k; i++, seen++)
				if (seen >= p->echo_skip && seen < p->echo_skip + p->echo_n)
					echo[echo_have++] = in[i];
		}
		if (!want_out || !(pfd.revents & POLLOUT))
			continue;
		if (pre_off < p->npre) {
			k = send(p->fd, p->pre + pre_off, p->npre - pre_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				pre_off += (size_t)k;
		} else if (echo_sent < echo_have) {
			k = send(p->fd, echo + echo_sent, echo_have - echo_sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				echo_sent += (size_t)k;
		} else if (off < p->ndata) {
			k = send(p->fd, p->data + off, p->ndata - off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0)
				off += (size_t)k;
		} else {
			k = 0;
			shutdown(p->fd, SHUT_WR);
			wr_open = 0;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			wr_open = 0; /* the end under test has gone: keep reading to its close */
	}
	return NULL;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void check_reason(int r, const char *err)
{
	if (r && !err[0]) {
		fprintf(stderr, "failed (%d) without a reason\n", r);
		abort();
	}
}

static void fuzz_server(const uint8_t *data, size_t size)
{
	uint8_t hello[TEL_ST_HELLO_LEN];
	struct pump p = { .lfd = -1, .pre = hello, .npre = sizeof(hello), .data = data,
			  .ndata = size };
	char err[256] = "";
	pthread_t th;
	uint16_t port;
	int lfd, r;

	memcpy(hello, "CSTSPD01", 8);
	memcpy(hello + 8, token, TEL_ST_TOKEN_LEN);
	if (tel_st_listen("127.0.0.1:0", 0, &lfd, &port))
		return;
	if ((p.fd = connect_to(port)) < 0) {
		close(lfd);
		return;
	}
	if (pthread_create(&th, NULL, pump_run, &p)) {
		close(p.fd);
		close(lfd);
		return;
	}
	r = tel_st_serve(lfd, token, 2.0, SECS, MAX_BYTES, NULL, err, sizeof(err));
	pthread_join(th, NULL);
	close(p.fd);
	check_reason(r, err);
	/* a session ends well only with the client's 'Q' */
	if (!r && !memchr(data, 'Q', size)) {
		fprintf(stderr, "a session without 'Q' ended as a success\n");
		abort();
	}
}

static void fuzz_client(const uint8_t *data, size_t size, int scripted)
{
	struct pump p = { .fd = -1, .data = data, .ndata = size };
	struct tel_st_figures f;
	char err[256] = "";
	pthread_t th;
	uint16_t port;
	int r;

	if (scripted) {
		p.pre = (const uint8_t *)"CSTSPDOK";
		p.npre = 8;
		p.echo_skip = TEL_ST_HELLO_LEN;
		p.echo_n = TEL_ST_PINGS * 9;
	}
	if (tel_st_listen("127.0.0.1:0", 0, &p.lfd, &port))
		return;
	if (pthread_create(&th, NULL, pump_run, &p)) {
		close(p.lfd);
		return;
	}
	r = tel_st_client_run("127.0.0.1", port, token, SECS, MAX_BYTES, NULL, &f, err,
			      sizeof(err));
	pthread_join(th, NULL);
	if (p.fd >= 0)
		close(p.fd);
	close(p.lfd);
	check_reason(r, err);
	/* the upload as the server reports it cannot exceed what was sent; a
	 * download stops within the frame that crosses the bound */
	if (!r && (f.up_bytes > MAX_BYTES || f.down_bytes > MAX_BYTES + TEL_ST_MAX_FRAME)) {
		fprintf(stderr, "more bytes than the bound accepted\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_server(data + 1, size - 1);
		break;
	default:
		fuzz_client(data + 1, size - 1, data[0] % 3 == 2);
		break;
	}
	return 0;
}
