/* The node-to-node speed test's data connection (st_proto.h). Sockets are
 * non-blocking and every wait is a poll of at most 100 ms, so a cancel
 * (daemon stopping) or a deadline is noticed at once. */
#include "st_proto.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "rpc.h"

#define ST_MAGIC_HELLO "CSTSPD01"
#define ST_MAGIC_OK "CSTSPDOK"
#define ST_CHUNK (128u * 1024)
#define ST_SLICE_MS 100
#define ST_CONNECT_S 5.0
#define ST_SLACK_S 10.0 /* beyond the test's own time: connect, round trips, results */

struct st_io {
	int fd;
	uint64_t deadline_ns;
	const struct tel_st_ctl *ctl;
};

static double st_since(uint64_t t0)
{
	return (double)(cst_clock_mono_ns() - t0) / 1e9;
}

static int st_wait(struct st_io *io, short events)
{
	for (;;) {
		struct pollfd p = { .fd = io->fd, .events = events };
		uint64_t now = cst_clock_mono_ns();
		int ms, r;

		if (io->ctl && io->ctl->cancel && atomic_load(io->ctl->cancel))
			return -ECANCELED;
		if (now >= io->deadline_ns)
			return -ETIMEDOUT;
		ms = (int)((io->deadline_ns - now) / 1000000);
		r = poll(&p, 1, ms < ST_SLICE_MS ? ms + 1 : ST_SLICE_MS);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			return 0;
	}
}

static int st_read(struct st_io *io, void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t got = recv(io->fd, (char *)buf + off, n - off, MSG_DONTWAIT);
		int r;

		if (got > 0) {
			off += (size_t)got;
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((r = st_wait(io, POLLIN)))
			return r;
	}
	return 0;
}

static int st_write(struct st_io *io, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t put = send(io->fd, (const char *)buf + off, n - off,
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		int r;

		if (put > 0) {
			off += (size_t)put;
			continue;
		}
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((r = st_wait(io, POLLOUT)))
			return r;
	}
	return 0;
}

static void st_progress(const struct tel_st_ctl *ctl, const char *phase, uint64_t bytes,
			double elapsed)
{
	if (ctl && ctl->progress)
		ctl->progress(ctl->ctx, phase, bytes, elapsed);
}

static void st_put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static uint32_t st_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static void st_put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint64_t st_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

int tel_st_check_hello(const uint8_t *hello, size_t len, const uint8_t token[TEL_ST_TOKEN_LEN])
{
	if (len != TEL_ST_HELLO_LEN || memcmp(hello, ST_MAGIC_HELLO, 8))
		return -EACCES;
	return sodium_memcmp(hello + 8, token, TEL_ST_TOKEN_LEN) ? -EACCES : 0;
}

/* A frame buffer: 4 bytes of length, then ST_CHUNK bytes of random data
 * (incompressible, should any link compress). */
static uint8_t *st_frame_buf(void)
{
	uint8_t *b = malloc(4 + ST_CHUNK);

	if (b)
		randombytes_buf(b + 4, ST_CHUNK);
	return b;
}

/* Sends frames for at most secs and max bytes, then the end frame.
 * *sent is what was sent; *by_bytes whether the byte bound stopped it. */
static int st_send_frames(struct st_io *io, uint8_t *fb, double secs, uint64_t max,
			  const char *phase, uint64_t *sent, int *by_bytes)
{
	uint64_t t0 = cst_clock_mono_ns(), last = t0;
	uint8_t end[4] = { 0 };
	int r;

	*sent = 0;
	*by_bytes = 0;
	for (;;) {
		uint64_t now = cst_clock_mono_ns();
		uint32_t n;

		if ((double)(now - t0) / 1e9 >= secs)
			break;
		if (*sent >= max) {
			*by_bytes = 1;
			break;
		}
		n = max - *sent < ST_CHUNK ? (uint32_t)(max - *sent) : ST_CHUNK;
		st_put32(fb, n);
		if ((r = st_write(io, fb, 4 + (size_t)n)))
			return r;
		*sent += n;
		if (now - last >= 200000000ull) {
			last = now;
			st_progress(io->ctl, phase, *sent, (double)(now - t0) / 1e9);
		}
	}
	return st_write(io, end, sizeof(end));
}

/* Receives frames until the end frame; refuses more than max + one frame
 * or longer than max_s (the sender's bounds are checked, not trusted). */
static int st_recv_frames(struct st_io *io, uint8_t *scratch, double max_s, uint64_t max,
			  const char *phase, uint64_t *got, double *secs)
{
	uint64_t t0 = cst_clock_mono_ns(), last = t0;
	int r;

	*got = 0;
	for (;;) {
		uint8_t hdr[4];
		uint32_t n;
		uint64_t now;

		if ((r = st_read(io, hdr, 4)))
			return r;
		n = st_get32(hdr);
		if (n == 0)
			break;
		if (n > TEL_ST_MAX_FRAME || *got + n > max + TEL_ST_MAX_FRAME)
			return -EMSGSIZE;
		while (n) {
			uint32_t k = n < ST_CHUNK ? n : ST_CHUNK;

			if ((r = st_read(io, scratch, k)))
				return r;
			n -= k;
			*got += k;
		}
		now = cst_clock_mono_ns();
		if ((double)(now - t0) / 1e9 > max_s + 2.0)
			return -ETIME;
		if (now - last >= 200000000ull) {
			last = now;
			st_progress(io->ctl, phase, *got, (double)(now - t0) / 1e9);
		}
	}
	*secs = st_since(t0);
	return 0;
}

static int st_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- client ---- */

static int st_connect(const char *host, uint16_t port, const struct tel_st_ctl *ctl, int *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL, *a;
	char ps[8];
	int r = -EHOSTUNREACH;

	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai))
		return -EHOSTUNREACH;
	for (a = ai; a; a = a->ai_next) {
		struct st_io io = { .ctl = ctl };
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
		socklen_t el = sizeof(e);

		if (fd < 0)
			continue;
		io.fd = fd;
		io.deadline_ns = cst_clock_mono_ns() + (uint64_t)(ST_CONNECT_S * 1e9);
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			continue;
		}
		if ((r = st_wait(&io, POLLOUT)) ||
		    (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e && (r = -e))) {
			close(fd);
			if (r == -ECANCELED)
				break;
			continue;
		}
		*out = fd;
		r = 0;
		break;
	}
	freeaddrinfo(ai);
	return r;
}

int tel_st_client_run(const char *host, uint16_t port, const uint8_t token[TEL_ST_TOKEN_LEN],
		      double seconds, uint64_t max_bytes, const struct tel_st_ctl *ctl,
		      struct tel_st_figures *f, char *err, size_t errlen)
{
	struct st_io io = { .fd = -1, .ctl = ctl };
	uint8_t hello[TEL_ST_HELLO_LEN], ok[8], res[17], req[13], *fb = NULL;
	double rtt[TEL_ST_PINGS];
	const char *step = "connect";
	int r, one = 1, by_bytes;

	memset(f, 0, sizeof(*f));
	st_progress(ctl, "connect", 0, 0);
	if ((r = st_connect(host, port, ctl, &io.fd)))
		goto out;
	setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	io.deadline_ns = cst_clock_mono_ns() + (uint64_t)((2 * seconds + ST_SLACK_S) * 1e9);
	step = "hello";
	memcpy(hello, ST_MAGIC_HELLO, 8);
	memcpy(hello + 8, token, TEL_ST_TOKEN_LEN);
	if ((r = st_write(&io, hello, sizeof(hello))) || (r = st_read(&io, ok, sizeof(ok))))
		goto out;
	if (memcmp(ok, ST_MAGIC_OK, 8)) {
		r = -EPROTO;
		goto out;
	}
	step = "latency";
	st_progress(ctl, "latency", 0, 0);
	for (int i = 0; i < TEL_ST_PINGS; i++) {
		uint8_t ping[9], pong[9];
		uint64_t t0 = cst_clock_mono_ns();

		ping[0] = 'P';
		st_put64(ping + 1, t0);
		if ((r = st_write(&io, ping, 9)) || (r = st_read(&io, pong, 9)))
			goto out;
		if (memcmp(ping, pong, 9)) {
			r = -EPROTO;
			goto out;
		}
		rtt[i] = st_since(t0) * 1000.0;
	}
	qsort(rtt, TEL_ST_PINGS, sizeof(rtt[0]), st_cmp_double);
	f->rtt_ms = (rtt[TEL_ST_PINGS / 2 - 1] + rtt[TEL_ST_PINGS / 2]) / 2;
	step = "upload";
	if (!(fb = st_frame_buf())) {
		r = -ENOMEM;
		goto out;
	}
	st_progress(ctl, "upload", 0, 0);
	if ((r = st_write(&io, "U", 1)) ||
	    (r = st_send_frames(&io, fb, seconds, max_bytes, "upload", &f->up_bytes, &by_bytes)) ||
	    (r = st_read(&io, res, sizeof(res))))
		goto out;
	/* what arrived, as the receiver counted it: never more than was sent,
	 * in no longer than the session may last */
	if (res[0] != 'R' || st_get64(res + 1) > f->up_bytes ||
	    st_get64(res + 9) > (uint64_t)((2 * seconds + ST_SLACK_S) * 1e9)) {
		r = -EPROTO;
		goto out;
	}
	f->limited_by_bytes |= by_bytes;
	f->up_bytes = st_get64(res + 1);
	f->up_s = (double)st_get64(res + 9) / 1e9;
	step = "download";
	st_progress(ctl, "download", 0, 0);
	req[0] = 'D';
	st_put32(req + 1, (uint32_t)(seconds * 1000));
	st_put64(req + 5, max_bytes);
	if ((r = st_write(&io, req, sizeof(req))) ||
	    (r = st_recv_frames(&io, fb, seconds, max_bytes, "download", &f->down_bytes,
				&f->down_s)))
		goto out;
	if (f->down_bytes >= max_bytes)
		f->limited_by_bytes = 1;
	st_write(&io, "Q", 1);
	r = 0;
out:
	if (r)
		snprintf(err, errlen, "%s: %s", step,
			 r == -EPROTO ? "unexpected answer from the peer" :
			 r == -ECONNRESET ? "the peer closed the connection (token refused?)" :
			 strerror(-r));
	if (io.fd >= 0)
		close(io.fd);
	free(fb);
	return r;
}

/* ---- server ---- */

int tel_st_listen(const char *listen_addr, uint16_t port, int *fd, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s, one = 1, r;

	if (rpc_parse_addr(listen_addr, &ss, &sl) < 0)
		return -EINVAL;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, sl) < 0 || listen(s, 4) < 0 ||
	    getsockname(s, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		close(s);
		return r;
	}
	*bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
			((struct sockaddr_in6 *)&ss)->sin6_port);
	*fd = s;
	return 0;
}

/* Waits for the connection that shows the token. */
static int st_accept_token(int lfd, const uint8_t *token, double accept_s,
			   const struct tel_st_ctl *ctl, int *out)
{
	struct st_io lio = { .fd = lfd, .ctl = ctl };
	int r;

	lio.deadline_ns = cst_clock_mono_ns() + (uint64_t)(accept_s * 1e9);
	for (;;) {
		struct st_io io = { .ctl = ctl };
		uint8_t hello[TEL_ST_HELLO_LEN];
		int fd;

		if ((r = st_wait(&lio, POLLIN)))
			return r;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* a stranger gets 2 s to show the token, then the door again */
		io.fd = fd;
		io.deadline_ns = cst_clock_mono_ns() + 2000000000ull;
		if (io.deadline_ns > lio.deadline_ns)
			io.deadline_ns = lio.deadline_ns;
		r = st_read(&io, hello, sizeof(hello));
		if (r == -ECANCELED) {
			close(fd);
			return r;
		}
		if (r == 0 && tel_st_check_hello(hello, sizeof(hello), token) == 0) {
			*out = fd;
			return 0;
		}
		close(fd);
	}
}

int tel_st_serve(int lfd, const uint8_t token[TEL_ST_TOKEN_LEN], double accept_s,
		 double max_seconds, uint64_t max_bytes, const struct tel_st_ctl *ctl, char *err,
		 size_t errlen)
{
	struct st_io io = { .fd = -1, .ctl = ctl };
	uint8_t *fb = NULL, cmd;
	const char *step = "accept";
	int r, one = 1;

	r = st_accept_token(lfd, token, accept_s, ctl, &io.fd);
	close(lfd); /* one test per token */
	if (r)
		goto out;
	setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	io.deadline_ns = cst_clock_mono_ns() + (uint64_t)((2 * max_seconds + ST_SLACK_S) * 1e9);
	step = "hello";
	if ((r = st_write(&io, ST_MAGIC_OK, 8)))
		goto out;
	if (!(fb = st_frame_buf())) {
		r = -ENOMEM;
		goto out;
	}
	for (int pings = 0;;) {
		step = "request";
		if ((r = st_read(&io, &cmd, 1)))
			goto out;
		if (cmd == 'P') {
			uint8_t ping[9] = { 'P' };

			step = "latency";
			if (++pings > TEL_ST_PINGS) {
				r = -EPROTO; /* more round trips than a test makes */
				goto out;
			}
			if ((r = st_read(&io, ping + 1, 8)) || (r = st_write(&io, ping, 9)))
				goto out;
		} else if (cmd == 'U') {
			uint8_t res[17] = { 'R' };
			uint64_t got;
			double secs;

			step = "upload";
			if ((r = st_recv_frames(&io, fb, max_seconds, max_bytes, "serve", &got, &secs)))
				goto out;
			st_put64(res + 1, got);
			st_put64(res + 9, (uint64_t)(secs * 1e9));
			if ((r = st_write(&io, res, sizeof(res))))
				goto out;
		} else if (cmd == 'D') {
			uint8_t req[12];
			double secs;
			uint64_t want, sent;
			int by_bytes;

			step = "download";
			if ((r = st_read(&io, req, sizeof(req))))
				goto out;
			secs = st_get32(req) / 1000.0;
			want = st_get64(req + 4);
			if (secs > max_seconds)
				secs = max_seconds;
			if (want > max_bytes)
				want = max_bytes;
			if ((r = st_send_frames(&io, fb, secs, want, "serve", &sent, &by_bytes)))
				goto out;
		} else if (cmd == 'Q') {
			r = 0;
			goto out;
		} else {
			r = -EPROTO;
			goto out;
		}
	}
out:
	if (r)
		snprintf(err, errlen, "%s: %s", step,
			 r == -EPROTO ? "unexpected request" :
			 r == -ETIMEDOUT && !strcmp(step, "accept") ? "nobody came with the token" :
			 strerror(-r));
	if (io.fd >= 0)
		close(io.fd);
	free(fb);
	return r;
}
