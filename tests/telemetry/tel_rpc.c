/* tel_rpc: one signed RPC call through the real client (rpc/client.c), for
 * the namespace tests: prints the result as JSON and exits 0, or prints
 * "error: REASON" and exits 1.
 * usage: tel_rpc STATE_FILE HOST:PORT METHOD [PARAMS_JSON] [TIMEOUT_S]
 * STATE_FILE is a network_state.json: the secret is read from it, never
 * passed on the command line where ps would show it. */
#include <cJSON.h>
#include <ev.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "rpc.h"

static int rc = 1;

static void done(void *user, int err, const cJSON *result, const char *message)
{
	char *t;

	(void)user;
	if (err) {
		printf("error: %s (%s)\n", message && *message ? message : "-", strerror(-err));
		return;
	}
	t = cJSON_PrintUnformatted(result);
	printf("%s\n", t ? t : "null");
	free(t);
	rc = 0;
}

int main(int argc, char **argv)
{
	uint8_t secret[32];
	struct rpc_client *cli;
	cJSON *doc, *params = NULL;
	const cJSON *hex;
	char *text;
	size_t len, bl = 0;

	if (argc < 4 || argc > 6 || sodium_init() < 0) {
		fprintf(stderr, "usage: tel_rpc STATE_FILE HOST:PORT METHOD [PARAMS_JSON] [TIMEOUT_S]\n");
		return 2;
	}
	if (cst_file_read_all(argv[1], 1 << 20, &text, &len) || !(doc = cJSON_Parse(text)) ||
	    !cJSON_IsString(hex = cJSON_GetObjectItemCaseSensitive(doc, "network_secret")) ||
	    sodium_hex2bin(secret, sizeof(secret), hex->valuestring, strlen(hex->valuestring), NULL,
			   &bl, NULL) || bl != sizeof(secret)) {
		fprintf(stderr, "tel_rpc: no network secret in %s\n", argv[1]);
		return 2;
	}
	if (argc > 4 && !(params = cJSON_Parse(argv[4]))) {
		fprintf(stderr, "tel_rpc: PARAMS_JSON is not JSON\n");
		return 2;
	}
	if (rpc_client_new(EV_DEFAULT, secret, sizeof(secret), &cli) ||
	    rpc_client_call(cli, argv[2], argv[3], params, argc > 5 ? atof(argv[5]) : 10.0, done,
			    NULL)) {
		fprintf(stderr, "tel_rpc: cannot call %s\n", argv[2]);
		return 2;
	}
	ev_run(EV_DEFAULT, 0);
	rpc_client_free(cli);
	sodium_memzero(secret, sizeof(secret));
	cJSON_Delete(doc);
	free(text);
	return rc;
}
