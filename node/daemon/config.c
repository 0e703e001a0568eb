#include "config.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "vpnconf.h"

#define DOTENV_MAX_VALUE 4096

static int node_dotenv_key_ok(const char *k, size_t n)
{
	if (n == 0 || n > 64 || !((k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_' ||
				  (k[0] >= 'a' && k[0] <= 'z')))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

int node_dotenv_parse(const char *text, size_t len,
		      int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
		      int *bad_line, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	char key[65], *val = malloc(DOTENV_MAX_VALUE + 1);
	int line = 0, ret = 0;

	*bad_line = 0;
	if (!val)
		return -ENOMEM;
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); *bad_line = line; ret = -EINVAL; goto out; } while (0)
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *eq, *v;
		size_t klen, vn = 0;

		line++;
		/* trim */
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		while (le > p && (le[-1] == ' ' || le[-1] == '\t' || le[-1] == '\r'))
			le--;
		if (p == le || *p == '#')
			goto next;
		if ((size_t)(le - p) > 7 && memcmp(p, "export ", 7) == 0)
			p += 7;
		eq = memchr(p, '=', (size_t)(le - p));
		if (!eq)
			BAD("expected KEY=VALUE");
		klen = (size_t)(eq - p);
		while (klen && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
			klen--;
		if (!node_dotenv_key_ok(p, klen))
			BAD("bad variable name");
		memcpy(key, p, klen);
		key[klen] = 0;
		v = eq + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		if (v < le && (*v == '"' || *v == '\'')) {
			char q = *v++;
			const char *close = NULL;
			for (const char *s = v; s < le; s++) {
				if (q == '"' && *s == '\\' && s + 1 < le) {
					char c = s[1];
					if (vn >= DOTENV_MAX_VALUE)
						BAD("value too long");
					val[vn++] = c == 'n' ? '\n' : c;
					s++;
					continue;
				}
				if (*s == q) {
					close = s;
					break;
				}
				if (vn >= DOTENV_MAX_VALUE)
					BAD("value too long");
				val[vn++] = *s;
			}
			if (!close)
				BAD("unterminated quote");
			/* after the closing quote: only blanks or a comment */
			for (const char *s = close + 1; s < le; s++) {
				if (*s == '#')
					break;
				if (*s != ' ' && *s != '\t')
					BAD("text after closing quote");
			}
		} else {
			const char *ve = le;
			const char *hash = NULL;
			for (const char *s = v; s < le; s++)
				if (*s == '#' && (s == v || s[-1] == ' ' || s[-1] == '\t')) {
					hash = s;
					break;
				}
			if (hash)
				ve = hash;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if ((size_t)(ve - v) > DOTENV_MAX_VALUE)
				BAD("value too long");
			for (const char *s = v; s < ve; s++) {
				if (*s == '"' || *s == '\'')
					BAD("quote inside an unquoted value");
				val[vn++] = *s;
			}
		}
		val[vn] = 0;
		if (memchr(val, 0, vn))
			BAD("NUL byte in value");
		ret = fn(ctx, key, val);
		if (ret < 0)
			BAD("%s", err[0] ? err : "rejected");
next:
		p = nl ? nl + 1 : end;
	}
#undef BAD
out:
	sodium_memzero(val, DOTENV_MAX_VALUE + 1);
	free(val);
	return ret;
}

/* ---- loading ---- */

struct node_kv {
	char key[65];
	char *value;
};

struct node_env_file {
	struct node_kv *kv;
	size_t n, cap;
};

static int node_env_collect(void *ctx, const char *key, const char *value)
{
	struct node_env_file *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->kv[i].key, key) == 0) { /* last one wins, like a shell */
			char *v = strdup(value);
			if (!v)
				return -ENOMEM;
			sodium_memzero(f->kv[i].value, strlen(f->kv[i].value));
			free(f->kv[i].value);
			f->kv[i].value = v;
			return 0;
		}
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct node_kv *kv = realloc(f->kv, cap * sizeof(*kv));
		if (!kv)
			return -ENOMEM;
		f->kv = kv;
		f->cap = cap;
	}
	snprintf(f->kv[f->n].key, sizeof(f->kv[f->n].key), "%s", key);
	f->kv[f->n].value = strdup(value);
	if (!f->kv[f->n].value)
		return -ENOMEM;
	f->n++;
	return 0;
}

static void node_env_file_free(struct node_env_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		sodium_memzero(f->kv[i].value, strlen(f->kv[i].value));
		free(f->kv[i].value);
	}
	free(f->kv);
}

struct node_lookup {
	node_getenv_fn env;
	void *env_ctx;
	struct node_env_file *file;
};

static const char *node_process_env(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static const char *node_get(const struct node_lookup *l, const char *name)
{
	const char *v = l->env(l->env_ctx, name);

	if (v)
		return v;
	for (size_t i = 0; l->file && i < l->file->n; i++)
		if (strcmp(l->file->kv[i].key, name) == 0)
			return l->file->kv[i].value;
	return NULL;
}

static int node_get_str(const struct node_lookup *l, const char *name, char *out, size_t cap,
			const char *def, char *err, size_t errlen)
{
	const char *v = node_get(l, name);

	if (!v || !*v)
		v = def ? def : "";
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s: longer than %zu characters", name, cap - 1);
		return -EINVAL;
	}
	snprintf(out, cap, "%s", v);
	return 0;
}

static int node_get_num(const struct node_lookup *l, const char *name, double def, double min,
			double max, double *out, char *err, size_t errlen)
{
	const char *v = node_get(l, name);
	char *end;
	double d;

	if (!v || !*v) {
		*out = def;
		return 0;
	}
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || end == v || !isfinite(d) || d < min || d > max) {
		snprintf(err, errlen, "%s: must be a number between %g and %g (got \"%.32s\")", name,
			 min, max, v);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

static int node_get_uint(const struct node_lookup *l, const char *name, unsigned def,
			 unsigned min, unsigned max, unsigned *out, char *err, size_t errlen)
{
	double d;
	int ret = node_get_num(l, name, def, min, max, &d, err, errlen);

	if (ret == 0 && d != (double)(unsigned)d) {
		snprintf(err, errlen, "%s: must be a whole number", name);
		return -EINVAL;
	}
	*out = (unsigned)d;
	return ret;
}

static int node_check_hostport(const char *name, const char *v, int allow_empty, char *err,
			       size_t errlen)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (!*v && allow_empty)
		return 0;
	if (!colon || colon == v) {
		snprintf(err, errlen, "%s: want host:port (got \"%.64s\")", name, v);
		return -EINVAL;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == 0 || port < 1 || port > 65535) {
		snprintf(err, errlen, "%s: bad port in \"%.64s\"", name, v);
		return -EINVAL;
	}
	/* the form the RPC client will call: IPv4, [IPv6] or a DNS name */
	if (rpc_check_host_port(v)) {
		snprintf(err, errlen, "%s: want IPv4:PORT, [IPv6]:PORT or NAME:PORT (got \"%.64s\")",
			 name, v);
		return -EINVAL;
	}
	return 0;
}

/* http:// or https://, printable, no blanks (the URL goes to libcurl as is). */
static int node_check_url(const char *name, const char *v, char *err, size_t errlen)
{
	if (!*v)
		return 0;
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
		snprintf(err, errlen, "%s: want an http:// or https:// URL", name);
		return -EINVAL;
	}
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			snprintf(err, errlen, "%s: blank or control character in the URL", name);
			return -EINVAL;
		}
	return 0;
}

int node_config_load(struct node_config *cfg, const char *dotenv, size_t dotenv_len,
		     node_getenv_fn env, void *env_ctx, char *err, size_t errlen)
{
	struct node_env_file file = { 0 };
	struct node_lookup l = { env ? env : node_process_env, env_ctx, &file };
	char def_name[16], mode[16], err2[160] = "";
	unsigned u;
	double d;
	int ret = 0, line = 0;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = 0;
	if (dotenv) {
		ret = node_dotenv_parse(dotenv, dotenv_len, node_env_collect, &file, &line, err2,
					sizeof(err2));
		if (ret < 0) {
			snprintf(err, errlen, ".env line %d: %s", line, err2);
			goto out;
		}
	}
	{
		uint8_t r[3];
		randombytes_buf(r, sizeof(r));
		snprintf(def_name, sizeof(def_name), "node-%02x%02x%02x", r[0], r[1], r[2]);
	}
#define TRY(x) do { ret = (x); if (ret < 0) goto out; } while (0)
	TRY(node_get_str(&l, "STATE_DIR", cfg->state_dir, sizeof(cfg->state_dir), "state", err, errlen));
	TRY(node_get_str(&l, "SERVER_NAME", cfg->server_name, sizeof(cfg->server_name), def_name, err, errlen));
	TRY(node_get_str(&l, "LISTEN_ADDR", cfg->listen_addr, sizeof(cfg->listen_addr), "0.0.0.0:4747", err, errlen));
	{
		struct sockaddr_storage ss;
		socklen_t sl;
		if (rpc_parse_addr(cfg->listen_addr, &ss, &sl) < 0) {
			snprintf(err, errlen, "LISTEN_ADDR: want ip:port or [ipv6]:port (got \"%s\")",
				 cfg->listen_addr);
			ret = -EINVAL;
			goto out;
		}
	}
	TRY(node_get_str(&l, "PUBLIC_ADDR", cfg->public_addr, sizeof(cfg->public_addr), NULL, err, errlen));
	TRY(node_check_hostport("PUBLIC_ADDR", cfg->public_addr, 1, err, errlen));
	TRY(node_get_str(&l, "OWNER_USERNAME", cfg->owner_username, sizeof(cfg->owner_username), NULL, err, errlen));
	TRY(node_get_str(&l, "BOT_TOKEN", cfg->bot_token, sizeof(cfg->bot_token), NULL, err, errlen));
	TRY(node_get_str(&l, "SEED_PEERS", cfg->seed_peers, sizeof(cfg->seed_peers), NULL, err, errlen));
	TRY(node_get_str(&l, "JOIN_URL", cfg->join_url, sizeof(cfg->join_url), NULL, err, errlen));
	TRY(node_get_str(&l, "VPN_MODE", mode, sizeof(mode), "none", err, errlen));
	if (!strcmp(mode, "none"))
		cfg->vpn_mode = NODE_VPN_NONE;
	else if (!strcmp(mode, "hub"))
		cfg->vpn_mode = NODE_VPN_HUB;
	else if (!strcmp(mode, "client"))
		cfg->vpn_mode = NODE_VPN_CLIENT;
	else {
		snprintf(err, errlen, "VPN_MODE: want none, hub or client (got \"%s\")", mode);
		ret = -EINVAL;
		goto out;
	}
	TRY(node_get_str(&l, "VPN_INTERFACE_NAME", cfg->vpn_interface, sizeof(cfg->vpn_interface), NULL, err, errlen));
	if (cfg->vpn_interface[0] && !node_vpn_ifname_valid(cfg->vpn_interface)) {
		snprintf(err, errlen, "VPN_INTERFACE_NAME: want an interface name of 1-15 characters "
			 "without '/', ':' or spaces (got \"%s\")", cfg->vpn_interface);
		ret = -EINVAL;
		goto out;
	}
	TRY(node_get_str(&l, "VPN_CIDR", cfg->vpn_cidr, sizeof(cfg->vpn_cidr), "10.42.0.0/24", err, errlen));
	if (node_get(&l, "VPN_LISTEN_PORT") && *node_get(&l, "VPN_LISTEN_PORT")) {
		TRY(node_get_uint(&l, "VPN_LISTEN_PORT", 51820, 1, 65535, &u, err, errlen));
		cfg->vpn_listen_port = (uint16_t)u;
	}
	TRY(node_get_str(&l, "VPN_TUN_PATH", cfg->vpn_tun_path, sizeof(cfg->vpn_tun_path), NULL, err, errlen));
	TRY(node_get_str(&l, "VPN_UAPI_DIR", cfg->vpn_uapi_dir, sizeof(cfg->vpn_uapi_dir), NULL, err, errlen));
	TRY(node_get_str(&l, "VPN_HUB_ENDPOINT", cfg->vpn_hub_endpoint, sizeof(cfg->vpn_hub_endpoint), NULL, err, errlen));
	TRY(node_check_hostport("VPN_HUB_ENDPOINT", cfg->vpn_hub_endpoint, 1, err, errlen));
	TRY(node_get_str(&l, "VPN_HUB_PUBLIC_KEY", cfg->vpn_hub_public_key, sizeof(cfg->vpn_hub_public_key), NULL, err, errlen));
	TRY(node_get_str(&l, "VPN_ADDRESS", cfg->vpn_address, sizeof(cfg->vpn_address), NULL, err, errlen));
	TRY(node_get_str(&l, "VPN_ALLOWED_IPS", cfg->vpn_allowed_ips, sizeof(cfg->vpn_allowed_ips), NULL, err, errlen));
	TRY(node_get_uint(&l, "VPN_OVERLAY_TRUST_HOST", 0, 0, 1, &u, err, errlen));
	cfg->vpn_overlay_trust_host = (int)u;
	TRY(node_get_num(&l, "HEARTBEAT_INTERVAL", 2.0, 0.1, 3600, &cfg->heartbeat_interval, err, errlen));
	TRY(node_get_uint(&l, "DOWN_AFTER_MISSES", 3, 1, 1000, &cfg->down_after_misses, err, errlen));
	TRY(node_get_num(&l, "RPC_TIMEOUT", 3.0, 0.1, 600, &cfg->rpc_timeout, err, errlen));
	TRY(node_get_num(&l, "SPEEDTEST_RPC_TIMEOUT", 45, 1, 3600, &cfg->speedtest_rpc_timeout, err, errlen));
	TRY(node_get_uint(&l, "CLOCK_SKEW", 15, 1, 3600, &cfg->clock_skew, err, errlen));
	TRY(node_get_num(&l, "LEADER_GRACE_SEC",
			 cfg->down_after_misses * cfg->heartbeat_interval + 2, 0, 86400,
			 &cfg->leader_grace_sec, err, errlen));
	TRY(node_get_num(&l, "BOT_LEASE_TTL", 4, 1, 3600, &cfg->bot_lease_ttl, err, errlen));
	/* 10 s, not the original's 300: a sampling round costs microseconds */
	TRY(node_get_uint(&l, "SAMPLE_EVERY_SEC", 10, 1, 86400, &cfg->sample_every_sec, err, errlen));
	TRY(node_get_uint(&l, "METRICS_WINDOW_H", 6, 1, 24 * 90, &cfg->metrics_window_h, err, errlen));
	TRY(node_get_uint(&l, "METRICS_SUMMARY_POINTS", 12, 1, 1000, &cfg->metrics_summary_points, err, errlen));
	TRY(node_get_uint(&l, "ENABLE_BG_SPEEDTEST", 1, 0, 1, &u, err, errlen));
	cfg->enable_bg_speedtest = (int)u;
	/* telemetry, speed tests, reboot (node/telemetry/, issue 10) */
	if ((uint64_t)cfg->metrics_window_h * 3600 / cfg->sample_every_sec > 65536) {
		snprintf(err, errlen, "METRICS_WINDOW_H x 3600 / SAMPLE_EVERY_SEC: at most 65536 "
			 "points a series (got %u h every %u s)", cfg->metrics_window_h,
			 cfg->sample_every_sec);
		ret = -EINVAL;
		goto out;
	}
	TRY(node_get_str(&l, "METRICS_LISTEN", cfg->metrics_listen, sizeof(cfg->metrics_listen), NULL, err, errlen));
	if (cfg->metrics_listen[0] && strncmp(cfg->metrics_listen, "overlay:", 8))
		TRY(node_check_hostport("METRICS_LISTEN", cfg->metrics_listen, 0, err, errlen));
	TRY(node_get_str(&l, "SPEEDTEST_URL", cfg->speedtest_url, sizeof(cfg->speedtest_url), NULL, err, errlen));
	TRY(node_check_url("SPEEDTEST_URL", cfg->speedtest_url, err, errlen));
	TRY(node_get_str(&l, "SPEEDTEST_UPLOAD_URL", cfg->speedtest_upload_url, sizeof(cfg->speedtest_upload_url), NULL, err, errlen));
	TRY(node_check_url("SPEEDTEST_UPLOAD_URL", cfg->speedtest_upload_url, err, errlen));
	TRY(node_get_uint(&l, "SPEEDTEST_MAX_MB", 200, 1, 100000, &cfg->speedtest_max_mb, err, errlen));
	TRY(node_get_uint(&l, "SPEEDTEST_PORT", 0, 0, 65535, &cfg->speedtest_port, err, errlen));
	TRY(node_get_str(&l, "REBOOT_CMD", cfg->reboot_cmd, sizeof(cfg->reboot_cmd), NULL, err, errlen));
	TRY(node_get_uint(&l, "CONSTELLA_ALLOW_REBOOT", 0, 0, 1, &u, err, errlen));
	cfg->allow_reboot = (int)u;
	TRY(node_get_str(&l, "CONSTELLA_REBOOT_DRY_RUN", cfg->reboot_dry_run, sizeof(cfg->reboot_dry_run), NULL, err, errlen));
	TRY(node_get_num(&l, "CONSTELLA_TEST_BG_FIRST_S", 600, 0.1, 86400, &cfg->test_bg_first_s, err, errlen));
	TRY(node_get_num(&l, "CONSTELLA_TEST_TEL_SAVE_S", 300, 0.1, 86400, &cfg->test_tel_save_s, err, errlen));
	(void)d;
#undef TRY
out:
	node_env_file_free(&file);
	if (ret < 0)
		node_config_clear(cfg);
	return ret;
}

void node_config_clear(struct node_config *cfg)
{
	sodium_memzero(cfg, sizeof(*cfg));
}
