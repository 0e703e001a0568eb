/* Names resolved on a worker thread (resolve.h). One lookup at a time: a
 * node has one name to follow (its hub), rarely more. */
#include "resolve.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epcache.h"
#include "log.h"

#define RESOLVE_MAX 32
#define RESOLVE_RETRY 5.0 /* after a failure */

struct resolve_entry {
	char host_port[300];
	bool ok;
	struct sockaddr_storage ss;
	ev_tstamp when;     /* last answer (ok or not), 0 = never */
	int err;
};

struct node_resolve {
	struct ev_loop *loop;
	ev_async wake;
	void (*done)(void *user);
	void *user;
	struct resolve_entry e[RESOLVE_MAX];
	size_t n;
	/* the lookup in flight: fields below are the worker's until it sets
	 * finished (under lock) */
	pthread_mutex_t lock;
	pthread_t thread;
	bool busy, finished;
	char q_host[300], q_port[8];
	size_t q_index;
	int q_err;
	struct sockaddr_storage q_ss;
};

static void *resolve_worker(void *arg)
{
	struct node_resolve *r = arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *res = NULL;
	struct sockaddr_storage ss = { 0 };
	int e = getaddrinfo(r->q_host, r->q_port, &hints, &res);

	if (!e) {
		/* IPv4 first: the overlay's examples and most VPS are IPv4 */
		const struct addrinfo *pick = res;

		for (const struct addrinfo *a = res; a; a = a->ai_next)
			if (a->ai_family == AF_INET) {
				pick = a;
				break;
			}
		memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
		freeaddrinfo(res);
	}
	pthread_mutex_lock(&r->lock);
	r->q_err = e ? -EHOSTUNREACH : 0;
	r->q_ss = ss;
	r->finished = true;
	pthread_mutex_unlock(&r->lock);
	ev_async_send(r->loop, &r->wake);
	return NULL;
}

/* On the loop: takes the finished answer into its entry. */
static void resolve_collect(struct node_resolve *r)
{
	struct resolve_entry *e;
	bool fin;

	if (!r->busy)
		return;
	pthread_mutex_lock(&r->lock);
	fin = r->finished;
	pthread_mutex_unlock(&r->lock);
	if (!fin)
		return;
	pthread_join(r->thread, NULL);
	r->busy = false;
	e = &r->e[r->q_index];
	e->when = ev_now(r->loop);
	e->err = r->q_err;
	if (!r->q_err) {
		char s[80];

		node_sockaddr_normalize(&r->q_ss, &e->ss);
		node_sockaddr_str(&e->ss, s, sizeof(s));
		if (!e->ok)
			cst_info("overlay: %s resolves to %s", e->host_port, s);
		e->ok = true;
	} else {
		cst_warn("overlay: cannot resolve %s (retrying)", e->host_port);
	}
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	struct node_resolve *r = w->data;

	(void)loop;
	(void)revents;
	resolve_collect(r);
	if (r->done)
		r->done(r->user);
}

int node_resolve_new(struct ev_loop *loop, void (*done)(void *user), void *user,
		     struct node_resolve **out)
{
	struct node_resolve *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->done = done;
	r->user = user;
	pthread_mutex_init(&r->lock, NULL);
	ev_async_init(&r->wake, on_wake);
	r->wake.data = r;
	ev_async_start(loop, &r->wake);
	*out = r;
	return 0;
}

/* Starts a lookup of entry i; 0 or -EAGAIN (one already under way). */
static int resolve_start(struct node_resolve *r, size_t i)
{
	const char *hp = r->e[i].host_port, *colon = strrchr(hp, ':');

	if (r->busy)
		return -EAGAIN;
	snprintf(r->q_host, sizeof(r->q_host), "%.*s", (int)(colon - hp), hp);
	snprintf(r->q_port, sizeof(r->q_port), "%s", colon + 1);
	r->q_index = i;
	r->finished = false;
	if (pthread_create(&r->thread, NULL, resolve_worker, r))
		return -EAGAIN;
	r->busy = true;
	return 0;
}

int node_resolve_get(void *ctx, const char *host_port, struct sockaddr_storage *out)
{
	struct node_resolve *r = ctx;
	const char *colon = host_port ? strrchr(host_port, ':') : NULL;
	ev_tstamp now = ev_now(r->loop);
	struct resolve_entry *e = NULL;
	size_t i;

	if (!node_sockaddr_parse(host_port, out))
		return 0;
	if (!colon || colon == host_port || strlen(host_port) >= sizeof(r->e[0].host_port) ||
	    host_port[0] == '[')
		return -EINVAL;
	resolve_collect(r);
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->e[i].host_port, host_port)) {
			e = &r->e[i];
			break;
		}
	if (!e) {
		if (r->n == RESOLVE_MAX)
			return -EAGAIN;
		i = r->n++;
		e = &r->e[i];
		memset(e, 0, sizeof(*e));
		snprintf(e->host_port, sizeof(e->host_port), "%s", host_port);
	}
	if (!e->when || now - e->when > (e->ok ? NODE_RESOLVE_TTL : RESOLVE_RETRY))
		resolve_start(r, i);
	if (e->ok) {
		*out = e->ss;
		return 0;
	}
	return e->when && !(r->busy && r->q_index == i) ? -EHOSTUNREACH : -EAGAIN;
}

void node_resolve_free(struct node_resolve *r)
{
	if (!r)
		return;
	if (r->busy)
		pthread_join(r->thread, NULL);
	ev_async_stop(r->loop, &r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
