/* STATE_DIR/vpn.json: the node-local overlay settings (vpnconf.h). */
#include "vpnconf.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovlfile.h"

int node_vpn_ifname_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

void node_vpnconf_default(struct node_vpnconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->interface, sizeof(c->interface), "%s", NODE_VPN_DEFAULT_IFNAME);
	c->mtu = NODE_VPN_DEFAULT_MTU;
}

int node_vpnconf_from_json(struct node_vpnconf *c, const char *text, size_t len, char *err,
			   size_t errlen)
{
	struct node_vpnconf tmp;
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *x;
	int r = -EINVAL;

	node_vpnconf_default(&tmp);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(x, root) {
		if (!strcmp(x->string, "interface")) {
			if (!cJSON_IsString(x) || !node_vpn_ifname_valid(x->valuestring)) {
				snprintf(err, errlen, "\"interface\" must be an interface name of 1-15 characters");
				goto out;
			}
			snprintf(tmp.interface, sizeof(tmp.interface), "%s", x->valuestring);
		} else if (!strcmp(x->string, "listen_port")) {
			if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 65535 ||
			    x->valuedouble != (double)(int)x->valuedouble) {
				snprintf(err, errlen, "\"listen_port\" must be 0-65535");
				goto out;
			}
			tmp.listen_port = (uint16_t)x->valuedouble;
		} else if (!strcmp(x->string, "mtu")) {
			if (!cJSON_IsNumber(x) || x->valuedouble < 1280 || x->valuedouble > 9000 ||
			    x->valuedouble != (double)(int)x->valuedouble) {
				snprintf(err, errlen, "\"mtu\" must be 1280-9000");
				goto out;
			}
			tmp.mtu = (unsigned)x->valuedouble;
		} else {
			snprintf(err, errlen, "unknown setting \"%.40s\"", x->string);
			goto out;
		}
	}
	*c = tmp;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int node_vpnconf_to_json(const struct node_vpnconf *c, char **out)
{
	cJSON *o = cJSON_CreateObject();

	*out = NULL;
	if (o && cJSON_AddStringToObject(o, "interface", c->interface) &&
	    cJSON_AddNumberToObject(o, "listen_port", c->listen_port) &&
	    cJSON_AddNumberToObject(o, "mtu", c->mtu))
		*out = cJSON_Print(o);
	cJSON_Delete(o);
	return *out ? 0 : -ENOMEM;
}

static int node_vpnconf_parse(void *obj, const char *t, size_t n, char *err, size_t errlen)
{
	return node_vpnconf_from_json(obj, t, n, err, errlen);
}

int node_vpnconf_load(const char *dir, struct node_vpnconf *c, char *err, size_t errlen)
{
	return node_ovl_file_load(dir, NODE_VPNCONF_FILE, 64u << 10, node_vpnconf_parse, c, err,
				  errlen);
}

int node_vpnconf_save(const char *dir, const struct node_vpnconf *c)
{
	char *text = NULL;
	int r;

	if ((r = node_vpnconf_to_json(c, &text)))
		return r;
	r = node_ovl_file_save(dir, NODE_VPNCONF_FILE, text);
	free(text);
	return r;
}
