/* The constella CLI's subcommands. Each takes the arguments after its name
 * (argv[0] = subcommand) and the state directory, prints to stdout/stderr and
 * returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef NODE_CLI_H
#define NODE_CLI_H

int node_cli_init(int argc, char **argv, const char *state_dir);
int node_cli_invite(int argc, char **argv, const char *state_dir);
int node_cli_status(int argc, char **argv, const char *state_dir);
int node_cli_join(int argc, char **argv, const char *state_dir);
int node_cli_remove(int argc, char **argv, const char *state_dir);
int node_cli_bot_token(int argc, char **argv, const char *state_dir);
int node_cli_stats(int argc, char **argv, const char *state_dir);
int node_cli_speedtest(int argc, char **argv, const char *state_dir);
int node_cli_show(int argc, char **argv, const char *state_dir);
int node_cli_ping(int argc, char **argv, const char *state_dir);

#include <cJSON.h>
#include <stdint.h>

#include "state.h"

/* --server-name: 1-63 of [A-Za-z0-9._-]. */
int node_cli_valid_name(const char *s);
/* --public-addr: IPv4:PORT, [IPv6]:PORT or DNS-NAME:PORT, port 1..65535
 * (rpc_check_host_port). */
int node_cli_valid_addr(const char *s);
/* --priority: an integer in [-1000000, 1000000]. 0 or -1. */
int node_cli_parse_priority(const char *s, long *out);
#define NODE_CLI_PRIORITY_USAGE "--priority must be an integer in [-1000000, 1000000]"

/* Members of a daemon's answer: the member, its number (NAN when absent
 * or not a number; node_cli_jnum0: 0 instead), its string ("" when absent
 * or not a string). */
const cJSON *node_cli_jget(const cJSON *o, const char *k);
double node_cli_jnum(const cJSON *o, const char *k);
double node_cli_jnum0(const cJSON *o, const char *k);
const char *node_cli_jstr(const cJSON *o, const char *k);
/* A speed test's rate member (bytes per second) as "X.Y Mbit/s", or
 * unknown ("failed" when the member is null or absent): speed tests speak
 * bits, as iperf3 and every speed test does. Returns buf. */
const char *node_cli_jmbit(const cJSON *o, const char *k, const char *unknown, char *buf,
			   size_t cap);
/* The only flag of `status` and `show`: --json. 0 (*json set) or -1 (usage). */
int node_cli_json_flag(int argc, char **argv, int *json);
/* Asks the daemon of state_dir: {"cmd": cmd} over its control socket. 0 with
 * *rep (the caller deletes it) or -errno (no daemon). */
int node_cli_ask(const char *state_dir, const char *cmd, cJSON **rep);

/* The status document of `status --json` (docs/cli.md); also what the daemon
 * answers on the control socket. leader may be NULL. */
cJSON *node_status_json(const struct node_state *st, const char *self_id, const char *leader,
			int64_t now);

#endif
