/* constella remove NAME: drops a member from the network. Through the
 * running daemon when there is one (it owns the state file then), else on
 * the state file directly. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "control.h"
#include "state.h"

int node_cli_remove(int argc, char **argv, const char *state_dir)
{
	struct node_state st = { 0 };
	char sock[300], err[256], self_id[NODE_ID_HEX + 1] = "";
	cJSON *req, *rep = NULL;
	struct node_peer *p;
	int r, rc = 1;

	if (argc != 2 || !argv[1][0] || argv[1][0] == '-') {
		fprintf(stderr, "constella remove: usage: constella remove NAME\n");
		return 2;
	}
	snprintf(sock, sizeof(sock), "%s/control.sock", state_dir);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "remove");
	cJSON_AddStringToObject(req, "name", argv[1]);
	r = node_control_call(sock, req, 10.0, &rep);
	cJSON_Delete(req);
	if (r == 0) {
		const cJSON *ok = cJSON_GetObjectItemCaseSensitive(rep, "ok");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep, "error");

		if (cJSON_IsTrue(ok)) {
			printf("removed %s\n", argv[1]);
			rc = 0;
		} else {
			fprintf(stderr, "constella remove: %s\n",
				cJSON_IsString(e) ? e->valuestring : "the daemon refused");
		}
		cJSON_Delete(rep);
		return rc;
	}
	/* No daemon: edit the file. */
	if (node_state_load(state_dir, &st, err, sizeof(err))) {
		fprintf(stderr, "constella remove: no network here (%s)\n", err);
		return 1;
	}
	node_state_read_node_id(state_dir, self_id);
	if (!(p = node_state_find_peer_by_name(&st, argv[1]))) {
		fprintf(stderr, "constella remove: no member named %s\n", argv[1]);
		goto out;
	}
	if (!strcmp(p->node_id, self_id)) {
		fprintf(stderr, "constella remove: %s is this node\n", argv[1]);
		goto out;
	}
	if (st.vpn_cidr[0] && !strcmp(st.vpn_hub, p->node_id)) {
		fprintf(stderr, "constella remove: %s is the overlay hub: the other members reach "
			"each other through it\n", argv[1]);
		goto out;
	}
	if (node_state_add_removed(&st, p->node_id) || node_state_remove_peer(&st, p->node_id) ||
	    node_state_save(state_dir, &st)) {
		fprintf(stderr, "constella remove: cannot save the state\n");
		goto out;
	}
	printf("removed %s (daemon not running: local state only)\n", argv[1]);
	rc = 0;
out:
	node_state_clear(&st);
	return rc;
}
