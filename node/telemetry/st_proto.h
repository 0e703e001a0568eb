/* The node-to-node speed test's data connection: both ends, blocking, for
 * the worker threads of speedtest.c (never the loop). Like iperf3, the test
 * runs on a TCP connection of its own, not on the RPC channel; unlike
 * iperf3's, the connection is only accepted with a one-time token that the
 * tested node handed out in answer to a signed RPC (Speedtest.Open), so a
 * node cannot be used as a traffic generator by whoever reaches its port.
 *
 * Wire format (integers big-endian), client = the node running the test:
 *   C->S  "CSTSPD01" token[32]                  hello; S closes on a bad token
 *   S->C  "CSTSPDOK"
 *   10x   C->S 'P' u64, S->C the same 9 bytes    round trips (the median is rtt)
 *   C->S  'U' then frames {u32 len (1..1 MiB), len bytes}, a frame of 0 ends
 *   S->C  'R' u64 bytes u64 ns                   what S received, in how long
 *   C->S  'D' u32 ms u64 max_bytes               S sends frames as above
 *   C->S  'Q'                                    done
 * Each direction lasts at most the asked seconds and bytes; the server caps
 * both by its own limits, and the whole session by a deadline. */
#ifndef TEL_ST_PROTO_H
#define TEL_ST_PROTO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TEL_ST_TOKEN_LEN 32
#define TEL_ST_HELLO_LEN 40
#define TEL_ST_MAX_FRAME (1u << 20)
#define TEL_ST_PINGS 10

/* What a worker shares with the loop: a cancel flag it polls, and a
 * progress callback (called from the worker thread). */
struct tel_st_ctl {
	atomic_int *cancel;
	void (*progress)(void *ctx, const char *phase, uint64_t bytes, double elapsed_s);
	void *ctx;
};

struct tel_st_figures {
	double rtt_ms;                /* median of the round trips */
	uint64_t up_bytes, down_bytes;
	double up_s, down_s;          /* each measured by its receiver */
	int limited_by_bytes;
};

/* Checks a hello: 0 when it carries the magic and this token (compared in
 * constant time), -EACCES otherwise. Pure; fuzzed. */
int tel_st_check_hello(const uint8_t *hello, size_t len, const uint8_t token[TEL_ST_TOKEN_LEN]);

/* Client: connects to host:port (numeric or a name, resolved here: we are
 * on a worker), runs the test, fills *f. 0 or -errno with a reason in err. */
int tel_st_client_run(const char *host, uint16_t port, const uint8_t token[TEL_ST_TOKEN_LEN],
		      double seconds, uint64_t max_bytes, const struct tel_st_ctl *ctl,
		      struct tel_st_figures *f, char *err, size_t errlen);

/* Server: a listening socket on the address of listen_addr (LISTEN_ADDR's
 * form, "0.0.0.0:4747", "[::]:4747") with the given port (0 = ephemeral),
 * made on the loop thread so the port can be answered at once. */
int tel_st_listen(const char *listen_addr, uint16_t port, int *fd, uint16_t *bound);
/* Accepts until one connection shows the token (others are closed) or
 * accept_s passes, closes the listener, then serves that one session
 * within max_seconds per direction and max_bytes per direction. */
int tel_st_serve(int lfd, const uint8_t token[TEL_ST_TOKEN_LEN], double accept_s,
		 double max_seconds, uint64_t max_bytes, const struct tel_st_ctl *ctl, char *err,
		 size_t errlen);

#endif
