/* constella invite [--ttl 15m] | --list | --revoke TOKEN|ID|LINK
 * Works on invites.json under its lock, so it is safe beside a running
 * daemon (which takes the same lock when it consumes a token). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sodium.h>
#include <time.h>

#include "invite.h"
#include "joinlink.h"
#include "state.h"

static int usage(const char *why)
{
	fprintf(stderr, "constella invite: %s\n"
		"usage: constella invite [--ttl DURATION]   (30s, 15m, 1h, 2d; default 15m)\n"
		"       constella invite --list\n"
		"       constella invite --revoke TOKEN|ID|LINK\n", why);
	return 2;
}

static const char *invite_status(const struct node_invite *iv, int64_t now)
{
	switch (node_invite_check(iv, now)) {
	case NODE_INVITE_OK: return "valid";
	case NODE_INVITE_EXPIRED: return "expired";
	case NODE_INVITE_USED: return "used";
	case NODE_INVITE_REVOKED: return "revoked";
	default: return "?";
	}
}

int node_cli_invite(int argc, char **argv, const char *state_dir)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "revoke", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *revoke = NULL;
	struct node_state st = { 0 };
	struct node_invites inv = { 0 };
	uint64_t ttl = 900;
	char err[256], link[600];
	int64_t now = (int64_t)time(NULL);
	int c, r, lock = -1, list = 0, have_ttl = 0, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (node_duration_parse(optarg, &ttl))
				return usage("--ttl must be like 30s, 15m, 1h or 2d (1 s to 30 d)");
			have_ttl = 1;
			break;
		case 'l': list = 1; break;
		case 'r': revoke = optarg; break;
		default: return usage("unknown option or missing value");
		}
	}
	if (optind != argc)
		return usage("unexpected argument");
	if (list + !!revoke + have_ttl > 1)
		return usage("--ttl, --list and --revoke are exclusive");
	if ((r = node_state_load(state_dir, &st, err, sizeof(err)))) {
		fprintf(stderr, "constella invite: no network here (%s); run constella init or "
			"join first\n", err);
		return 1;
	}
	if ((lock = node_invites_lock(state_dir)) < 0) {
		fprintf(stderr, "constella invite: lock: %s\n", strerror(-lock));
		goto out;
	}
	if ((r = node_invites_load(state_dir, &inv, err, sizeof(err)))) {
		fprintf(stderr, "constella invite: %s\n", err);
		goto out;
	}
	if (list) {
		printf("%-12s  %-8s  %-20s  %s\n", "ID", "STATUS", "EXPIRES (UTC)", "USED BY");
		for (size_t i = 0; i < inv.n; i++) {
			char when[32];
			time_t t = (time_t)inv.v[i].exp_ts;
			struct tm tm;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
			printf("%-12s  %-8s  %-20s  %s\n", inv.v[i].id, invite_status(&inv.v[i], now),
			       when, inv.v[i].used_by[0] ? inv.v[i].used_by : "-");
		}
		rc = 0;
		goto out;
	}
	if (revoke) {
		r = node_invites_revoke(&inv, revoke);
		if (r == -ENOENT) {
			fprintf(stderr, "constella invite: no such invite\n");
			goto out;
		}
		if (r == -EALREADY) {
			fprintf(stderr, "constella invite: already revoked\n");
			goto out;
		}
		if ((r = node_invites_save(state_dir, &inv))) {
			fprintf(stderr, "constella invite: cannot save: %s\n", strerror(-r));
			goto out;
		}
		printf("revoked\n");
		rc = 0;
		goto out;
	}
	{
		char self_id[NODE_ID_HEX + 1], id[NODE_INVITE_SHORT_ID + 1];

		/* the file lock is taken again inside: release ours first */
		node_invites_unlock(lock);
		lock = -1;
		if ((r = node_state_read_node_id(state_dir, self_id)) ||
		    (r = node_invite_issue(state_dir, &st, self_id, now, ttl, link, sizeof(link),
					   id))) {
			if (r == -ENOENT)
				fprintf(stderr, "constella invite: this node is not in its own peer table\n");
			else
				fprintf(stderr, "constella invite: cannot save: %s\n", strerror(-r));
			goto out;
		}
		printf("%s\n", link);
		fprintf(stderr, "invite %s valid for %llus, one use\n", id, (unsigned long long)ttl);
	}
	rc = 0;
out:
	sodium_memzero(link, sizeof(link));
	node_invites_unlock(lock);
	node_invites_clear(&inv);
	node_state_clear(&st);
	return rc;
}
