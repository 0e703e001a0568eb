/* constella ping NAME [-c N]: round trips to a member over the overlay and
 * over its RPC address, side by side, like `tailscale ping`. The probe is an
 * ICMP echo through an unprivileged ping socket where the system permits it
 * (net.ipv4.ping_group_range), else a TCP connect to the member's RPC port
 * (SYN to SYN-ACK is one round trip); the output says which. */
#include "cli.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "state.h"

#define PING_TIMEOUT_MS 2000
#define PING_MAX_COUNT 1000

static int usage(const char *why)
{
	fprintf(stderr, "constella ping: %s\nusage: constella ping NAME [-c COUNT]\n", why);
	return 2;
}

struct ping_target {
	const char *what;            /* "overlay" or "RPC address" */
	char shown[300];             /* what we print */
	struct sockaddr_storage ss;  /* ICMP: the host; TCP: host and port */
	socklen_t sl;
	int ok;                      /* resolved */
	unsigned sent, got;
	double min, max, sum;
};

/* "host:port" / "[v6]:port" -> socket address (blocking lookup: a CLI). */
static int resolve(const char *hp, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	const char *colon = strrchr(hp, ':');
	char host[280];

	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -EHOSTUNREACH;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* An ICMP echo over a ping socket: the RTT in ms, or -1 (timeout). */
static double probe_icmp(const struct ping_target *t, unsigned seq)
{
	int v6 = t->ss.ss_family == AF_INET6;
	int fd = socket(t->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
			v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	struct icmphdr h = { .type = v6 ? 128 : ICMP_ECHO };
	uint64_t t0;
	double rtt = -1;

	if (fd < 0)
		return -1;
	h.un.echo.sequence = htons((uint16_t)seq);
	t0 = cst_clock_mono_ns();
	if (sendto(fd, &h, sizeof(h), 0, (const struct sockaddr *)&t->ss, t->sl) < 0)
		goto out;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = PING_TIMEOUT_MS - (int)((cst_clock_mono_ns() - t0) / 1000000);
		struct icmphdr r;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = recv(fd, &r, sizeof(r), 0);
		if (n >= (ssize_t)sizeof(r) && r.type == (v6 ? 129 : ICMP_ECHOREPLY) &&
		    ntohs(r.un.echo.sequence) == (uint16_t)seq) {
			rtt = (double)(cst_clock_mono_ns() - t0) / 1e6;
			break;
		}
	}
out:
	close(fd);
	return rtt;
}

/* A TCP connect: SYN out, SYN-ACK (or RST: a refusal is a round trip too)
 * back. The RTT in ms, or -1. */
static double probe_tcp(const struct ping_target *t)
{
	int fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	uint64_t t0 = cst_clock_mono_ns();
	double rtt = -1;
	int e = 0;
	socklen_t el = sizeof(e);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->sl) == 0 ||
	    (errno == EINPROGRESS && poll(&p, 1, PING_TIMEOUT_MS) == 1 &&
	     !getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) && (!e || e == ECONNREFUSED)))
		rtt = (double)(cst_clock_mono_ns() - t0) / 1e6;
	close(fd);
	return rtt;
}

static int icmp_permitted(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC,
			family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* The member's record, from the daemon when it runs, else the state file. */
static int find_member(const char *state_dir, const char *name, char addr[280],
		       char overlay[64], char self_name[64])
{
	struct node_state st = { 0 };
	char err[256], id[NODE_ID_HEX + 1] = "";
	const struct node_peer *p;
	cJSON *rep = NULL;
	const cJSON *e;
	int r = -ENOENT;

	if (node_cli_ask(state_dir, "status", &rep) == 0) {
		const cJSON *doc = cJSON_GetObjectItemCaseSensitive(rep, "status");
		const cJSON *self = cJSON_GetObjectItemCaseSensitive(doc, "self");

		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "peers")) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "addr");
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "overlay_addr");
			const cJSON *i = cJSON_GetObjectItemCaseSensitive(e, "node_id");

			if (cJSON_IsString(i) && cJSON_IsString(self) && cJSON_IsString(n) &&
			    !strcmp(i->valuestring, self->valuestring))
				snprintf(self_name, 64, "%s", n->valuestring);
			if (cJSON_IsString(n) && !strcmp(n->valuestring, name) && cJSON_IsString(a) &&
			    cJSON_IsString(o)) {
				snprintf(addr, 280, "%s", a->valuestring);
				snprintf(overlay, 64, "%s", o->valuestring);
				r = 0;
			}
		}
		goto out;
	}
	if (node_state_load(state_dir, &st, err, sizeof(err))) {
		fprintf(stderr, "constella ping: no network here (%s)\n", err);
		r = -EINVAL;
		goto out;
	}
	node_state_read_node_id(state_dir, id);
	if ((p = node_state_find_peer(&st, id)))
		snprintf(self_name, 64, "%s", p->name);
	if ((p = node_state_find_peer_by_name(&st, name))) {
		snprintf(addr, 280, "%s", p->addr);
		snprintf(overlay, 64, "%s", p->overlay_addr);
		r = 0;
	}
out:
	cJSON_Delete(rep);
	node_state_clear(&st);
	return r;
}

static void summary(const struct ping_target *t, const char *probe)
{
	if (!t->ok)
		return;
	printf("--- %s %s (%s): %u sent, %u answered", t->what, t->shown, probe, t->sent, t->got);
	if (t->got)
		printf(", rtt min/avg/max %.3f/%.3f/%.3f ms", t->min, t->sum / t->got, t->max);
	printf("\n");
}

int node_cli_ping(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct ping_target tg[2];
	char addr[280] = "", overlay[64] = "", self_name[64] = "", hp[300], *end;
	const char *name, *probe;
	long count = 3;
	int c, icmp, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c != 'c')
			return usage("unknown option or missing value");
		errno = 0;
		count = strtol(optarg, &end, 10);
		if (errno || *end || !optarg[0] || count < 1 || count > PING_MAX_COUNT)
			return usage("-c must be 1-1000");
	}
	if (optind != argc - 1)
		return usage("one member NAME is required");
	name = argv[optind];
	if (find_member(state_dir, name, addr, overlay, self_name)) {
		fprintf(stderr, "constella ping: no member named %s\n", name);
		return 1;
	}
	memset(tg, 0, sizeof(tg));
	tg[0].what = "overlay";
	tg[1].what = "RPC address";
	/* ICMP wherever a ping socket may be opened; else TCP to the RPC port */
	icmp = icmp_permitted(AF_INET);
	probe = icmp ? "ICMP echo" : "TCP connect to the RPC port";
	if (overlay[0]) {
		const char *port = strrchr(addr, ':');

		snprintf(hp, sizeof(hp), "%s:%s", overlay, port ? port + 1 : "4747");
		tg[0].ok = !resolve(hp, &tg[0].ss, &tg[0].sl);
		snprintf(tg[0].shown, sizeof(tg[0].shown), "%s", icmp ? overlay : hp);
	} else {
		printf("%s has no overlay address: RPC address only\n", name);
	}
	tg[1].ok = !resolve(addr, &tg[1].ss, &tg[1].sl);
	if (!tg[1].ok)
		fprintf(stderr, "constella ping: cannot resolve %s\n", addr);
	if (icmp) {
		char host[INET6_ADDRSTRLEN] = "?";
		const void *a = tg[1].ss.ss_family == AF_INET6 ?
			(const void *)&((struct sockaddr_in6 *)&tg[1].ss)->sin6_addr :
			(const void *)&((struct sockaddr_in *)&tg[1].ss)->sin_addr;

		inet_ntop(tg[1].ss.ss_family, a, host, sizeof(host));
		snprintf(tg[1].shown, sizeof(tg[1].shown), "%s (of %.200s)", host, addr);
	} else {
		snprintf(tg[1].shown, sizeof(tg[1].shown), "%s", addr);
	}
	printf("PING %s from %s: over the overlay (%s) and over its RPC address (%s), probe: %s\n",
	       name, self_name[0] ? self_name : "this node", overlay[0] ? overlay : "none", addr,
	       probe);
	for (long i = 0; i < count; i++) {
		for (int k = 0; k < 2; k++) {
			struct ping_target *t = &tg[k];
			double rtt;

			if (!t->ok)
				continue;
			rtt = icmp ? probe_icmp(t, (unsigned)(i * 2 + k)) : probe_tcp(t);
			t->sent++;
			if (rtt < 0) {
				printf("%-12s %-32s seq=%ld timeout\n", t->what, t->shown, i);
				continue;
			}
			if (!t->got || rtt < t->min)
				t->min = rtt;
			if (rtt > t->max)
				t->max = rtt;
			t->sum += rtt;
			t->got++;
			printf("%-12s %-32s seq=%ld time=%.3f ms\n", t->what, t->shown, i, rtt);
		}
		if (i + 1 < count) {
			struct timespec ts = { 0, 200 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	summary(&tg[0], probe);
	summary(&tg[1], probe);
	/* success: the member answered on every path we could try */
	rc = (tg[0].ok && !tg[0].got) || (tg[1].ok && !tg[1].got) || (!tg[0].ok && !tg[1].ok);
	return rc;
}
