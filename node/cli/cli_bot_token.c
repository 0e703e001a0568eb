/* constella bot-token set: replaces the network's Telegram bot token
 * everywhere. The token is read from stdin (argv is visible to every local
 * user in /proc) and handed to the running daemon over the control socket;
 * the daemon saves it as a new version of the network setting and spreads
 * it, sealed, to every member (node/botstate/). */
#include "cli.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "botwire.h"
#include "control.h"

int node_cli_bot_token(int argc, char **argv, const char *state_dir)
{
	char tok[NODE_BOT_TOKEN_MAX + 3], sock[300];
	cJSON *req, *rep = NULL;
	size_t n;
	int r, rc = 1;

	if (argc != 2 || strcmp(argv[1], "set")) {
		fprintf(stderr, "constella bot-token: usage: constella bot-token set < FILE\n"
			"  (the token from @BotFather on stdin, one line)\n");
		return 2;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "bot token (from @BotFather): ");
	if (!fgets(tok, sizeof(tok), stdin)) {
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
