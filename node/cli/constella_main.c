/* constella: the command line of a Constella node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cli.h"

static int usage(FILE *f)
{
	fprintf(f, "usage: constella [--state-dir DIR] COMMAND [ARGS]\n"
		"commands:\n"
		"  init --server-name NAME --public-addr HOST:PORT --owner @USER [--bot-token T] [--priority N]\n"
		"       [--vpn-mode hub [--vpn-cidr CIDR] [--vpn-listen-port PORT] [--vpn-interface IF]\n"
		"        [--vpn-endpoint HOST:PORT]]\n"
		"  join --server-name NAME --join LINK [--public-addr HOST:PORT] [--priority N]\n"
		"       [--vpn-interface IF]\n"
		"  invite [--ttl 15m] | --list | --revoke TOKEN|ID|LINK\n"
		"  status [--json]\n"
		"  remove NAME\n"
		"  bot-token set            (reads the token from stdin)\n"
		"  show [--json]\n"
		"  ping NAME [-c COUNT]\n"
		"  stats [NAME] [--hours H] [--json]\n"
		"  speedtest NAME|--internet [--seconds 1-15] [--json]\n"
		"  version\n"
		"The state directory is --state-dir, else $STATE_DIR, else ./state.\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *state_dir = getenv("STATE_DIR");
	int i = 1;

	if (sodium_init() < 0) {
		fprintf(stderr, "constella: libsodium failed to initialise\n");
		return 1;
	}
	if (!state_dir || !state_dir[0])
		state_dir = "state";
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--state-dir") && i + 1 < argc && argv[i + 1][0]) {
			state_dir = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--state-dir=", 12) && argv[i][12]) {
			state_dir = argv[i] + 12;
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "constella: unknown or incomplete option %s\n", argv[i]);
			return usage(stderr);
		}
	}
	if (i >= argc) {
		fprintf(stderr, "constella: missing command\n");
		return usage(stderr);
	}
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "init"))
		return node_cli_init(argc, argv, state_dir);
	if (!strcmp(argv[0], "join"))
		return node_cli_join(argc, argv, state_dir);
	if (!strcmp(argv[0], "invite"))
		return node_cli_invite(argc, argv, state_dir);
	if (!strcmp(argv[0], "remove"))
		return node_cli_remove(argc, argv, state_dir);
	if (!strcmp(argv[0], "bot-token"))
		return node_cli_bot_token(argc, argv, state_dir);
	if (!strcmp(argv[0], "status"))
		return node_cli_status(argc, argv, state_dir);
	if (!strcmp(argv[0], "show"))
		return node_cli_show(argc, argv, state_dir);
	if (!strcmp(argv[0], "ping"))
		return node_cli_ping(argc, argv, state_dir);
	if (!strcmp(argv[0], "stats"))
		return node_cli_stats(argc, argv, state_dir);
	if (!strcmp(argv[0], "speedtest"))
		return node_cli_speedtest(argc, argv, state_dir);
	if (!strcmp(argv[0], "version") || !strcmp(argv[0], "--version")) {
		if (argc != 1)
			return usage(stderr);
		printf("constella %s\n", CONSTELLA_VERSION);
		return 0;
	}
	fprintf(stderr, "constella: unknown command \"%s\"\n", argv[0]);
	return usage(stderr);
}
