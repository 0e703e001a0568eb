/* Speed tests of one node: at most one at a time, in any role (running a
 * node-to-node test, being the tested peer, or the internet test); a second
 * request is refused with "speed test already running", never queued. The
 * measuring runs on a worker thread (st_proto.c, st_inet.c) that reports
 * back through an ev_async, so the loop never waits on the network.
 * Results go into the time series (peer_*, inet_*) and stay as the last
 * result of their kind. Background internet tests (ENABLE_BG_SPEEDTEST, only
 * when SPEEDTEST_URL is set) run every TEL_BG_EVERY_S +-10 %, the first one
 * 10 minutes after start (CONSTELLA_TEST_BG_FIRST_S for tests), each bounded
 * by TEL_BG_SECONDS and TEL_BG_MAX_BYTES per direction.
 *
 * RPC (signed): RunSpeedtest {peer?, seconds?} and Speedtest.Open
 * {from, seconds, max_bytes} (docs/cli.md). */
#ifndef TEL_SPEEDTEST_H
#define TEL_SPEEDTEST_H

#include <cJSON.h>
#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "history.h"
#include "rpc.h"
#include "state.h"

#define TEL_ST_MAX_SECONDS 15
#define TEL_ST_DEFAULT_SECONDS 5
#define TEL_ST_ACCEPT_S 10.0           /* a token unused this long expires */
#define TEL_BG_EVERY_S (4 * 3600.0)    /* six background tests a day at most */
#define TEL_BG_SECONDS 5
#define TEL_BG_MAX_BYTES (10u * 1000 * 1000) /* 2 x 10 MB a test: <= 120 MB a day */

struct tel_st_result {
	int valid;
	int internet;
	char peer[64];        /* node-to-node: the member's name */
	char host[256];       /* internet: the URL's host */
	int64_t ts;           /* unix seconds at the end */
	double seconds;       /* the whole test */
	double down_rate, up_rate, rtt_ms; /* bytes/s, ms; NAN unknown */
	uint64_t down_bytes, up_bytes;
	int limited_by_bytes;
	char up_error[128];   /* internet: why the upload failed ("" = it did not) */
};

struct tel_speedtest;

struct tel_speedtest_env {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state *st;
	const char *self_id;
	struct rpc_client *cli;
	struct tel_history *hist;
};

int tel_speedtest_new(const struct tel_speedtest_env *env, struct tel_speedtest **out);
int tel_speedtest_register(struct tel_speedtest *s, struct rpc_server *srv);
/* Cancels a running test (the worker stops within ~100 ms), answers a
 * waiting RunSpeedtest with 503, joins the worker. */
void tel_speedtest_free(struct tel_speedtest *s);

/* The last result of a kind (internet or node-to-node), or NULL. */
const struct tel_st_result *tel_speedtest_last(const struct tel_speedtest *s, int internet);
/* NULL when idle, else "peer" or "internet". */
const char *tel_speedtest_running(const struct tel_speedtest *s);
cJSON *tel_speedtest_result_json(const struct tel_st_result *r);

/* Starts a test from the control socket: peer NULL = internet. 0 and the
 * test's *id, or -errno with a message in err and the HTTP-like status in
 * *status (409 running, 404 no such member, 400, 503). */
int tel_speedtest_start(struct tel_speedtest *s, const char *peer, double seconds, uint64_t *id,
			unsigned *status, char *err, size_t errlen);
/* {running, id, kind, peer, phase, elapsed_s, bytes, last: {id, ok, error, result}} */
cJSON *tel_speedtest_status_json(struct tel_speedtest *s);

#endif
