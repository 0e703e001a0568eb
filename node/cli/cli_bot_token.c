/* constella bot-token set: replaces the network's Telegram bot token
 * everywhere. The token is read from stdin (argv is visible to every local
 * user in /proc) and handed to the running daemon over the control socket;
 * the daemon saves it as a new version of the network setting and spreads
 * it, sealed, to every member (node/botstate/). At a terminal the token is
 * not echoed. */
#include "cli.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "botwire.h"
#include "control.h"

/* The terminal as it was, while echo is off: restored on the way out, also
 * when a signal ends the program at the prompt (else the shell is left
 * without echo). */
static struct termios bt_saved_tio;

static void bt_echo_restore(void)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &bt_saved_tio);
}

static void bt_on_signal(int sig)
{
	bt_echo_restore(); /* async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Typed or pasted at a prompt, the token is not echoed (as a password).
 * 1 when echo was turned off. */
static int bt_echo_off(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct termios quiet;

	if (tcgetattr(STDIN_FILENO, &bt_saved_tio))
		return 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], bt_on_signal);
	quiet = bt_saved_tio;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL; /* the Enter still shows, the prompt ends */
	return tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
}

int node_cli_bot_token(int argc, char **argv, const char *state_dir)
{
	char tok[NODE_BOT_TOKEN_MAX + 3], sock[300];
	cJSON *req, *rep = NULL;
	size_t n;
	int r, rc = 1, noecho = 0, got;

	if (argc != 2 || strcmp(argv[1], "set")) {
		fprintf(stderr, "constella bot-token: usage: constella bot-token set < FILE\n"
			"  (the token from @BotFather on stdin, one line)\n");
		return 2;
	}
	if (isatty(STDIN_FILENO)) {
		/* echo off before the prompt: once it shows, nothing typed echoes */
		noecho = bt_echo_off();
		fprintf(stderr, "bot token (from @BotFather): ");
	}
	got = fgets(tok, sizeof(tok), stdin) != NULL;
	if (noecho)
		bt_echo_restore();
	if (!got) {
		fprintf(stderr, "constella bot-token: no token on stdin\n");
		return 2;
	}
	n = strlen(tok);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		tok[--n] = 0;
	if (!node_botwire_token_ok(tok)) {
		sodium_memzero(tok, sizeof(tok));
		fprintf(stderr, "constella bot-token: not a bot token (1-127 of [A-Za-z0-9:_-])\n");
		return 2;
	}
	snprintf(sock, sizeof(sock), "%s/control.sock", state_dir);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "bot-token-set");
	cJSON_AddStringToObject(req, "token", tok);
	sodium_memzero(tok, sizeof(tok));
	r = node_control_call(sock, req, 10.0, &rep);
	cJSON_Delete(req); /* freed, not wiped: cJSON keeps no secure copy */
	if (r) {
		fprintf(stderr, "constella bot-token: constellad is not running here (%s): the token "
			"is replaced through the daemon, which spreads it to every member\n",
			strerror(-r));
		return 1;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"))) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rep, "version");

		printf("bot token replaced (version %.0f); every member gets it with the next "
		       "heartbeat\n", cJSON_IsNumber(v) ? v->valuedouble : 0);
		rc = 0;
	} else {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep, "error");

		fprintf(stderr, "constella bot-token: %s\n",
			cJSON_IsString(e) ? e->valuestring : "the daemon refused");
	}
	cJSON_Delete(rep);
	return rc;
}
