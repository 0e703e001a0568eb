/* constellad: the Constella node daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ev.h>

#include "config.h"
#include "bot.h"
#include "daemon.h"
#include "file.h"
#include "log.h"

static int usage(FILE *f)
{
	fprintf(f, "usage: constellad [--state-dir DIR] [--env-file FILE] [--listen HOST:PORT] [-v]\n"
		"Configuration: environment variables, then FILE (default ./.env when present);\n"
		"see docs/configuration.md.\n");
	return 2;
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* First signal: hand the bot lease back, give the release calls a moment,
 * then stop. A second signal stops at once. */
static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	static ev_timer stop_timer;
	struct node_daemon *d = w->data;

	(void)revents;
	cst_info("signal %d: stopping", w->signum);
	if (!ev_is_active(&stop_timer) && d && node_daemon_shutdown(d)) {
		ev_timer_init(&stop_timer, on_stop_timer, 0.3, 0);
		ev_timer_start(loop, &stop_timer);
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "env-file", required_argument, NULL, 'e' },
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = NULL, *env_file = NULL, *listen = NULL;
	struct node_config cfg;
	struct node_daemon *d = NULL;
	struct bot *bot = NULL;
	struct bot_config bcfg = { 0 };
	struct node_cluster_runner runner = {
		.start = bot_runner_start, .stop = bot_runner_stop, .status = bot_runner_status,
	};
	struct ev_loop *loop;
	ev_signal sigint, sigterm;
	char err[512], *dotenv = NULL;
	size_t dlen = 0;
	int c, r, verbose = 0, rc = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 's': state_dir = optarg; break;
		case 'e': env_file = optarg; break;
		case 'l': listen = optarg; break;
		case 'v': verbose = 1; break;
		case 'V': printf("constellad %s\n", CONSTELLA_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "constellad: unknown option or missing value: %s\n",
				argv[optind - 1]);
			return usage(stderr);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "constellad: unexpected argument %s\n", argv[optind]);
		return usage(stderr);
	}
	cst_log_init("constellad", verbose ? CST_LOG_DEBUG : CST_LOG_INFO);
	if (sodium_init() < 0) {
		cst_err("libsodium failed to initialise");
		return 1;
	}
	r = cst_file_read_all(env_file ? env_file : ".env", 1u << 20, &dotenv, &dlen);
	if (r && (env_file || r != -ENOENT)) {
		cst_err("%s: %s", env_file ? env_file : ".env", strerror(-r));
		return 1;
	}
	if (node_config_load(&cfg, dotenv, dlen, NULL, NULL, err, sizeof(err))) {
		cst_err("configuration: %s", err);
		goto out;
	}
	if (state_dir)
		snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", state_dir);
	if (listen)
		snprintf(cfg.listen_addr, sizeof(cfg.listen_addr), "%s", listen);
	signal(SIGPIPE, SIG_IGN);
	{
		/* The RPC server's hard connection limit is what descriptors
		 * allow (rpc.h): take what the system grants. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	loop = EV_DEFAULT;
	bcfg.api_url = getenv("TELEGRAM_API_URL");
	bcfg.runner_log = getenv("CONSTELLA_TEST_RUNNER_LOG");
	if (getenv("CONSTELLA_BOT_POLL_TIMEOUT"))
		bcfg.poll_timeout = atof(getenv("CONSTELLA_BOT_POLL_TIMEOUT"));
	if ((r = bot_new(loop, &bcfg, &bot))) {
		cst_err(r == -EINVAL ? "TELEGRAM_API_URL: must be http(s)://HOST[:PORT][/PATH]"
				     : "CONSTELLA_TEST_RUNNER_LOG: %s", strerror(-r));
		goto out;
	}
	runner.ctx = bot;
	if ((r = node_daemon_new(loop, &cfg, &runner, &d, err, sizeof(err)))) {
		cst_err("cannot start: %s", err);
		goto out;
	}
	/* The runner only runs from the loop, so it is ready in time. */
	bot_attach(bot, d, node_daemon_name(d));
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	sigint.data = sigterm.data = d;
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_run(loop, 0);
	rc = 0;
out:
	node_daemon_free(d);
	bot_free(bot);
	node_config_clear(&cfg);
	if (dotenv) {
		sodium_memzero(dotenv, dlen);
		free(dotenv);
	}
	return rc;
}
