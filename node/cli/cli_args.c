/* Flag values shared by the constella subcommands (cli.h). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "rpc.h"

/* Names appear in tables and Telegram messages: keep them plain. */
int node_cli_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

/* The address peers will call: exactly what the RPC client accepts. */
int node_cli_valid_addr(const char *s)
{
	return strlen(s) < sizeof(((struct node_peer *)0)->addr) && rpc_check_host_port(s) == 0;
}

int node_cli_parse_priority(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || *end || !s[0] || *out < -1000000 || *out > 1000000 ? -1 : 0;
}

int node_cli_json_flag(int argc, char **argv, int *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return -1;
		*json = 1;
	}
	return optind == argc ? 0 : -1;
}

int node_cli_ask(const char *state_dir, const char *cmd, cJSON **rep)
{
	cJSON *req = cJSON_CreateObject();
	char sock[300];
	int r;

	*rep = NULL;
	if (!req || !cJSON_AddStringToObject(req, "cmd", cmd)) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	snprintf(sock, sizeof(sock), "%s/control.sock", state_dir);
	r = node_control_call(sock, req, 5.0, rep);
	cJSON_Delete(req);
	return r;
}
