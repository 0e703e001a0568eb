/* The Reboot RPC's action (reboot.h). */
#include "reboot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

struct tel_reboot {
	struct tel_reboot_env env;
	char buf[512];
	char *argv[TEL_REBOOT_MAX_ARGS + 1]; /* REBOOT_CMD, argv[0] NULL when unset */
	int pending;                         /* announced, action not done yet */
	char from[64];
	ev_timer timer;
	ev_child child;
};

int tel_reboot_split(const char *cmd, char *buf, size_t bufcap, char **argv, size_t max,
		     char *err, size_t errlen)
{
	size_t n = 0, len = strlen(cmd);
	char *p;

	argv[0] = NULL;
	if (len >= bufcap) {
		snprintf(err, errlen, "REBOOT_CMD: longer than %zu characters", bufcap - 1);
		return -EINVAL;
	}
	if (strpbrk(cmd, "\"'\\")) {
		snprintf(err, errlen, "REBOOT_CMD: quotes and backslashes are not supported "
			 "(the command runs without a shell: words are separated by blanks)");
		return -EINVAL;
	}
	memcpy(buf, cmd, len + 1);
	for (p = buf; *p;) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (!*p)
			break;
		if (n == max) {
			snprintf(err, errlen, "REBOOT_CMD: more than %zu words", max);
			return -EINVAL;
		}
		argv[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	argv[n] = NULL;
	return 0;
}

/* CAP_SYS_BOOT in our effective set: reboot(2) would work. */
static int tel_reboot_capable(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return !!(d[CAP_TO_INDEX(CAP_SYS_BOOT)].effective & CAP_TO_MASK(CAP_SYS_BOOT));
}

static const char *tel_reboot_action(const struct tel_reboot *r)
{
	return r->argv[0] ? "REBOOT_CMD" : "reboot(2)";
}

static void tel_reboot_on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct tel_reboot *r = w->data;

	(void)revents;
	ev_child_stop(loop, w);
	if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0) {
		cst_info("reboot: REBOOT_CMD exited 0");
	} else {
		cst_err("reboot: REBOOT_CMD failed (%s %d): this node is not rebooting",
			WIFEXITED(w->rstatus) ? "exit status" : "signal",
			WIFEXITED(w->rstatus) ? WEXITSTATUS(w->rstatus) : WTERMSIG(w->rstatus));
	}
	r->pending = 0;
}

static void tel_reboot_dry_run(struct tel_reboot *r)
{
	char line[256];
	int fd, n;

	n = snprintf(line, sizeof(line), "reboot ts=%lld from=%s action=%s\n",
		     (long long)time(NULL), r->from, tel_reboot_action(r));
	fd = open(r->env.cfg->reboot_dry_run, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		cst_err("reboot dry run: cannot append to %s: %s", r->env.cfg->reboot_dry_run,
			strerror(errno));
	else
		cst_info("reboot dry run: recorded in %s, not rebooting", r->env.cfg->reboot_dry_run);
	if (fd >= 0)
		close(fd);
	r->pending = 0;
}

static void tel_reboot_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tel_reboot *r = w->data;
	pid_t pid;
	int e;

	(void)revents;
	if (r->env.cfg->reboot_dry_run[0]) {
		tel_reboot_dry_run(r);
		return;
	}
	if (r->argv[0]) {
		e = posix_spawnp(&pid, r->argv[0], NULL, NULL, r->argv, environ);
		if (e) {
			cst_err("reboot: cannot run REBOOT_CMD (%s): %s", r->argv[0], strerror(e));
			r->pending = 0;
			return;
		}
		cst_warn("reboot: REBOOT_CMD started (pid %d)", (int)pid);
		/* libev's default loop reaps every child: only it can tell us */
		if (ev_is_default_loop(loop)) {
			ev_child_init(&r->child, tel_reboot_on_child, pid, 0);
			r->child.data = r;
			ev_child_start(loop, &r->child);
		}
		return;
	}
	cst_warn("reboot: reboot(2) now");
	sync();
	if (reboot(RB_AUTOBOOT) < 0) {
		cst_err("reboot: reboot(2) failed: %s: this node is not rebooting", strerror(errno));
		r->pending = 0;
	}
}

static void m_reboot(void *user, const cJSON *params, struct rpc_call *call)
{
	struct tel_reboot *r = user;
	cJSON *o;

	(void)params;
	if (!r->env.cfg->allow_reboot) {
		rpc_call_error(call, 403,
			       "reboot disabled on this node (CONSTELLA_ALLOW_REBOOT=1 enables it)");
		return;
	}
	if (r->pending) {
		rpc_call_error(call, 409, "reboot already under way");
		return;
	}
	if (!r->argv[0] && !tel_reboot_capable()) {
		rpc_call_error(call, 403, "reboot(2) not permitted: constellad lacks CAP_SYS_BOOT "
					  "(set REBOOT_CMD)");
		return;
	}
	r->pending = 1;
	snprintf(r->from, sizeof(r->from), "%s", rpc_call_peer(call));
	cst_warn("reboot requested by %s: %s in %.1f s%s", r->from, tel_reboot_action(r),
		 TEL_REBOOT_S, r->env.cfg->reboot_dry_run[0] ? " (dry run)" : "");
	if (r->env.announce)
		r->env.announce(r->env.announce_ctx);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "rebooting", 1);
	cJSON_AddStringToObject(o, "action", tel_reboot_action(r));
	cJSON_AddBoolToObject(o, "dry_run", r->env.cfg->reboot_dry_run[0] != 0);
	cJSON_AddNumberToObject(o, "in_s", TEL_REBOOT_S);
	rpc_call_reply(call, o);
	ev_timer_set(&r->timer, TEL_REBOOT_S, 0);
	ev_timer_start(r->env.loop, &r->timer);
}

int tel_reboot_new(const struct tel_reboot_env *env, struct tel_reboot **out, char *err,
		   size_t errlen)
{
	struct tel_reboot *r = calloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->env = *env;
	if ((ret = tel_reboot_split(env->cfg->reboot_cmd, r->buf, sizeof(r->buf), r->argv,
				    TEL_REBOOT_MAX_ARGS, err, errlen))) {
		free(r);
		return ret;
	}
	ev_timer_init(&r->timer, tel_reboot_on_timer, TEL_REBOOT_S, 0);
	r->timer.data = r;
	*out = r;
	return 0;
}

int tel_reboot_register(struct tel_reboot *r, struct rpc_server *srv)
{
	return rpc_server_register(srv, "Reboot", m_reboot, r);
}

void tel_reboot_free(struct tel_reboot *r)
{
	if (!r)
		return;
	ev_timer_stop(r->env.loop, &r->timer);
	if (ev_is_active(&r->child))
		ev_child_stop(r->env.loop, &r->child);
	free(r);
}
