/* constellad's configuration: the original's environment variables and
 * defaults (../shared/design/original.md), read from the process environment
 * and an optional .env file. The environment wins over .env (as python-dotenv
 * does by default). Every value is validated; a bad one is an error that
 * names the variable (and the .env line), never a silent default. */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum node_vpn_mode { NODE_VPN_NONE = 0, NODE_VPN_HUB, NODE_VPN_CLIENT };

struct node_config {
	char state_dir[256];      /* STATE_DIR, default "state" */
	char server_name[64];     /* SERVER_NAME, default node-<6 hex> */
	char listen_addr[64];     /* LISTEN_ADDR, default 0.0.0.0:4747 */
	char public_addr[280];    /* PUBLIC_ADDR, host:port others use to reach us */
	char owner_username[64];  /* OWNER_USERNAME, Telegram @username */
	char bot_token[128];      /* BOT_TOKEN (secret: never logged) */
	char seed_peers[1024];    /* SEED_PEERS, comma-separated host:port */
	char join_url[512];       /* JOIN_URL (secret: carries a token) */
	enum node_vpn_mode vpn_mode;   /* VPN_MODE none|hub|client */
	/* The overlay's own settings come from the state (docs/overlay.md);
	 * these override the node-local vpn.json when set. */
	char vpn_interface[16];        /* VPN_INTERFACE_NAME, "" = from vpn.json */
	char vpn_cidr[64];             /* VPN_CIDR, default 10.42.0.0/24 */
	uint16_t vpn_listen_port;      /* VPN_LISTEN_PORT, 0 = from vpn.json */
	char vpn_tun_path[256];        /* VPN_TUN_PATH, "" = /dev/net/tun */
	char vpn_uapi_dir[256];        /* VPN_UAPI_DIR, "" = /var/run/wireguard */
	char vpn_hub_endpoint[280];    /* VPN_HUB_ENDPOINT */
	char vpn_hub_public_key[64];   /* VPN_HUB_PUBLIC_KEY */
	char vpn_address[64];          /* VPN_ADDRESS */
	char vpn_allowed_ips[256];     /* VPN_ALLOWED_IPS */
	int vpn_overlay_trust_host;    /* VPN_OVERLAY_TRUST_HOST 0|1 */
	double heartbeat_interval;     /* HEARTBEAT_INTERVAL, s, default 2.0 */
	unsigned down_after_misses;    /* DOWN_AFTER_MISSES, default 3 */
	double rpc_timeout;            /* RPC_TIMEOUT, s, default 3.0 */
	double speedtest_rpc_timeout;  /* SPEEDTEST_RPC_TIMEOUT, s, default 45 */
	unsigned clock_skew;           /* CLOCK_SKEW, s, default 15 */
	double leader_grace_sec;       /* LEADER_GRACE_SEC, default misses x interval + 2 */
	double bot_lease_ttl;          /* BOT_LEASE_TTL, s, default 4 (the original: 10) */
	unsigned sample_every_sec;     /* SAMPLE_EVERY_SEC, default 10 */
	unsigned metrics_window_h;     /* METRICS_WINDOW_H, default 6 */
	unsigned metrics_summary_points; /* METRICS_SUMMARY_POINTS, default 12 */
	int enable_bg_speedtest;       /* ENABLE_BG_SPEEDTEST 0|1, default 1 */
	/* telemetry, speed tests, reboot (node/telemetry/, issue 10) */
	char metrics_listen[80];       /* METRICS_LISTEN: "" (off), IP:PORT or overlay:PORT */
	char speedtest_url[1024];      /* SPEEDTEST_URL: "" = no internet speed test */
	char speedtest_upload_url[1024]; /* SPEEDTEST_UPLOAD_URL, default SPEEDTEST_URL */
	unsigned speedtest_max_mb;     /* SPEEDTEST_MAX_MB per direction, default 200 */
	unsigned speedtest_port;       /* SPEEDTEST_PORT, default 0 (ephemeral) */
	char reboot_cmd[512];          /* REBOOT_CMD: "" = reboot(2) */
	int allow_reboot;              /* CONSTELLA_ALLOW_REBOOT 0|1 */
	char reboot_dry_run[256];      /* CONSTELLA_REBOOT_DRY_RUN: file (tests) */
	double test_bg_first_s;        /* CONSTELLA_TEST_BG_FIRST_S: first background test, default 600 */
	double test_tel_save_s;        /* CONSTELLA_TEST_TEL_SAVE_S: history saved every, default 300 */
};

/* A lookup function: returns the value of a variable or NULL. */
typedef const char *(*node_getenv_fn)(void *ctx, const char *name);

/* Loads the configuration: variables from env (the process environment when
 * NULL), then, for the ones env lacks, from the .env text (may be NULL).
 * Returns 0, or -EINVAL with a message in err (e.g. ".env line 4: ...",
 * "HEARTBEAT_INTERVAL: must be a number between 0.1 and 3600"). */
int node_config_load(struct node_config *cfg, const char *dotenv, size_t dotenv_len,
		     node_getenv_fn env, void *env_ctx, char *err, size_t errlen);

/* Parses .env text into (key, value) pairs for fn: KEY=VALUE lines, blank
 * lines and # comments, an optional "export ", values bare, "double" (with
 * \" \\ \n escapes) or 'single' quoted. Keys are [A-Z_][A-Z0-9_]*. Returns 0
 * or -EINVAL with the line number in *bad_line and a reason in err. */
int node_dotenv_parse(const char *text, size_t len,
		      int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
		      int *bad_line, char *err, size_t errlen);

/* Wipes secrets held by the configuration. */
void node_config_clear(struct node_config *cfg);

#endif
