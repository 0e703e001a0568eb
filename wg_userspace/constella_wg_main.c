/* constella-wg: a userspace WireGuard device, invoked like wireguard-go.
 *
 *   constella-wg [-f|--foreground] INTERFACE
 *
 * Creates the TUN interface and /var/run/wireguard/INTERFACE.sock; `wg` and
 * `ip` configure it. Without -f it daemonizes once the interface is ready
 * (the parent exits 0, or 1 with the child's error). SIGTERM/SIGINT shut it
 * down cleanly: socket and interface removed, keys wiped. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "log.h"


enum { EXIT_SETUP_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
	fprintf(f, "Usage: constella-wg [-f|--foreground] INTERFACE-NAME\n"
		   "       constella-wg --version\n"
		   "Environment: LOG_LEVEL=error|info|debug (default info),\n"
		   "             WG_PROCESS_FOREGROUND=1 (same as -f),\n"
		   "             CONSTELLA_WG_OFFLOAD=0 (no TSO/GSO/GRO offloads),\n"
		   "             CONSTELLA_WG_RELAY=1 (relay between peers in the data path).\n");
}

/* Test-only: CONSTELLA_WG_TEST_TIMERS="rekey_after_time=3,keepalive_timeout=1"
 * shortens protocol timers (seconds, may be fractional). Never needed in
 * production; it exists so tests can watch a rekey without waiting 2 min. */
static int parse_test_timers(const char *spec, struct wg_timer_config *c)
{
	char buf[512], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		double secs;
		uint64_t *field = NULL;

		if (!eq)
			return -1;
		*eq = 0;
		secs = strtod(eq + 1, &end);
		if (*end || secs <= 0 || secs > 100000)
			return -1;
		if (!strcmp(tok, "rekey_after_time"))
			field = &c->rekey_after_time;
		else if (!strcmp(tok, "reject_after_time"))
			field = &c->reject_after_time;
		else if (!strcmp(tok, "rekey_attempt_time"))
			field = &c->rekey_attempt_time;
		else if (!strcmp(tok, "rekey_timeout"))
			field = &c->rekey_timeout;
		else if (!strcmp(tok, "keepalive_timeout"))
			field = &c->keepalive_timeout;
		else
			return -1;
		*field = (uint64_t)(secs * 1e9);
	}
	return 0;
}

static const char *setup_error(int err, const char *ifname)
{
	static char msg[256];

	switch (err) {
	case -ENOENT:
		return "/dev/net/tun does not exist (load the tun module; in a container pass "
		       "--device /dev/net/tun)";
	case -EPERM:
	case -EACCES:
		return "permission denied creating the TUN device: CAP_NET_ADMIN is required";
	case -EBUSY:
		snprintf(msg, sizeof(msg), "interface %s is already in use (an interface or a live "
			 "UAPI socket with that name exists)", ifname);
		return msg;
	case -EINVAL:
		return "invalid interface name";
	default:
		snprintf(msg, sizeof(msg), "%s", strerror(-err));
		return msg;
	}
}

int main(int argc, char **argv)
{
	struct wg_device_config cfg = { 0 };
	struct wg_device *dev = NULL;
	enum cst_log_level level = CST_LOG_INFO;
	const char *ifname = NULL, *env;
	int foreground = 0, ready_pipe[2] = { -1, -1 }, ret;
	sigset_t sigs;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground")) {
			foreground = 1;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("constella-wg %s (userspace WireGuard, cross-platform UAPI)\n",
			       CONSTELLA_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "constella-wg: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		} else if (!ifname) {
			ifname = argv[i];
		} else {
			fprintf(stderr, "constella-wg: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!ifname) {
		usage(stderr);
		return EXIT_USAGE;
	}
	env = getenv("LOG_LEVEL");
	if (env && *env) {
		if (!strcmp(env, "verbose"))
			level = CST_LOG_DEBUG;
		else if (!strcmp(env, "silent"))
			level = CST_LOG_ERROR;
		else if (cst_log_parse_level(env, &level) < 0) {
			fprintf(stderr, "constella-wg: LOG_LEVEL must be error, info or debug\n");
			return EXIT_USAGE;
		}
	}
	env = getenv("WG_PROCESS_FOREGROUND");
	if (env && !strcmp(env, "1"))
		foreground = 1;
	cst_log_init(ifname, level);
	cfg.ifname = ifname;
	wg_timer_config_default(&cfg.timers);
	env = getenv("CONSTELLA_WG_OFFLOAD");
	if (env && !strcmp(env, "0"))
		cfg.no_offload = 1;
	/* Off by default: a drop-in for wireguard-go hands every packet to the
	 * kernel, which forwards between peers only with ip_forward. */
	env = getenv("CONSTELLA_WG_RELAY");
	if (env && !strcmp(env, "1"))
		cfg.relay = true;
	env = getenv("CONSTELLA_WG_TEST_TIMERS");
	if (env && *env) {
		if (parse_test_timers(env, &cfg.timers) < 0) {
			fprintf(stderr, "constella-wg: malformed CONSTELLA_WG_TEST_TIMERS\n");
			return EXIT_USAGE;
		}
		cst_warn("TEST-ONLY shortened protocol timers in effect: %s", env);
	}

	if (!foreground) {
		pid_t pid;
		char status = 1;

		if (pipe2(ready_pipe, O_CLOEXEC) < 0) {
			perror("constella-wg: pipe");
			return EXIT_SETUP_FAILED;
		}
		pid = fork();
		if (pid < 0) {
			perror("constella-wg: fork");
			return EXIT_SETUP_FAILED;
		}
		if (pid > 0) {
			/* Parent: report the child's setup result, like wireguard-go. */
			close(ready_pipe[1]);
			if (read(ready_pipe[0], &status, 1) != 1)
				status = 1;
			return status;
		}
		close(ready_pipe[0]);
		setsid();
		{
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (null >= 0) {
				dup2(null, STDIN_FILENO);
				dup2(null, STDOUT_FILENO);
				close(null);
			}
		}
	}

	/* Signals are taken synchronously by this thread only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = wg_device_new(&cfg, &dev);
	if (ret < 0) {
		cst_err("cannot create interface %s: %s", ifname, setup_error(ret, ifname));
		if (ready_pipe[1] >= 0) {
			char status = EXIT_SETUP_FAILED;
			if (write(ready_pipe[1], &status, 1) < 0) {
				/* parent gone: nothing to tell */
			}
		}
		return EXIT_SETUP_FAILED;
	}
	cst_info("interface %s up (UAPI /var/run/wireguard/%s.sock)", wg_device_name(dev),
		 wg_device_name(dev));
	if (ready_pipe[1] >= 0) {
		char status = 0;
		if (write(ready_pipe[1], &status, 1) < 0) {
			/* parent gone */
		}
		close(ready_pipe[1]);
	}
	for (;;) {
		struct timespec t = { .tv_sec = 1 };
		int sig = sigtimedwait(&sigs, NULL, &t);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			cst_info("received signal %d, shutting down", sig);
			break;
		}
		if (wg_device_dead(dev))
			break;
	}
	wg_device_free(dev);
	cst_info("shut down");
	return 0;
}
