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

/* The status document of `status --json` (docs/cli.md); also what the daemon
 * answers on the control socket. leader may be NULL. */
cJSON *node_status_json(const struct node_state *st, const char *self_id, const char *leader,
			int64_t now);

#endif
