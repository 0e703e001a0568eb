/* The Reboot RPC's action. Permitted only with CONSTELLA_ALLOW_REBOOT=1;
 * the node first tells its peers it is rebooting (so they show it as
 * rebooting, not failed), answers, and REBOOT_S later runs REBOOT_CMD (words
 * separated by blanks, run without a shell) or, without it, reboot(2),
 * which needs CAP_SYS_BOOT (refused up front with a clear error when
 * missing). CONSTELLA_REBOOT_DRY_RUN=FILE (tests) replaces the action by one
 * line appended to FILE: "reboot ts=UNIX from=IP:PORT action=ACTION". */
#ifndef TEL_REBOOT_H
#define TEL_REBOOT_H

#include <ev.h>
#include <stddef.h>

#include "config.h"
#include "rpc.h"

#define TEL_REBOOT_S 0.5        /* between the answer and the action */
#define TEL_REBOOT_MAX_ARGS 32

struct tel_reboot;

struct tel_reboot_env {
	struct ev_loop *loop;
	const struct node_config *cfg;
	void (*announce)(void *ctx); /* tells the peers this node reboots */
	void *announce_ctx;
};

/* Splits REBOOT_CMD into argv (pointing into buf), NULL-terminated: words
 * separated by blanks; quotes and backslashes are refused (no shell here,
 * so they would not mean what a reader expects). 0 or -EINVAL with a
 * reason in err. */
int tel_reboot_split(const char *cmd, char *buf, size_t bufcap, char **argv, size_t max,
		     char *err, size_t errlen);

/* -EINVAL with a reason in err when REBOOT_CMD cannot be used. */
int tel_reboot_new(const struct tel_reboot_env *env, struct tel_reboot **out, char *err,
		   size_t errlen);
int tel_reboot_register(struct tel_reboot *r, struct rpc_server *srv);
void tel_reboot_free(struct tel_reboot *r);

#endif
