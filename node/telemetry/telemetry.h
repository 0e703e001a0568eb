/* Telemetry inside constellad: what the owner watches and does on a node.
 * It samples the host every SAMPLE_EVERY_SEC (host.c, sample.c), keeps the
 * time series (history.c, persisted in STATE_DIR/telemetry.bin), serves the
 * RPC methods GetStats, GetTS (tel_json.c), RunSpeedtest and Speedtest.Open
 * (speedtest.c) and Reboot (reboot.c), the Prometheus endpoint when
 * METRICS_LISTEN is set (prom.c, promhttp.c), and the control commands of
 * `constella stats` and `constella speedtest`. The JSON shapes are in
 * docs/cli.md. */
#ifndef NODE_TELEMETRY_H
#define NODE_TELEMETRY_H

#include <cJSON.h>
#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "control.h"
#include "rpc.h"
#include "state.h"

/* One peer of the overlay's WireGuard device, as the overlay reports it. */
struct node_telemetry_overlay_peer {
	char name[64];            /* the member's name, "" when unknown */
	char public_key[45];      /* base64 */
	uint64_t rx_bytes, tx_bytes;
	int64_t latest_handshake; /* unix seconds, 0 = never */
};
#define NODE_TELEMETRY_MAX_OVERLAY_PEERS 1024

/* The overlay's figures, when the WireGuard device runs inside constellad:
 * fills at most max peers and returns how many, or -errno. Called on the
 * loop at every sample; it must not block. Telemetry does not depend on
 * the overlay's code: the daemon wires this (node_telemetry_set_overlay),
 * e.g. from wg_device_get_info(): public_key base64 of the 32 bytes,
 * rx_bytes/tx_bytes as they are, latest_handshake = last_handshake_wall_ns
 * / 10^9, name = the member whose wg_pubkey it is. */
typedef int (*node_telemetry_overlay_fn)(void *ctx, struct node_telemetry_overlay_peer *peers,
					 size_t max);

struct node_telemetry_env {
	struct ev_loop *loop;
	const struct node_config *cfg;
	struct node_state *st;   /* the daemon's: names, addresses, overlay address */
	const char *self_id;
	struct rpc_server *srv;
	struct rpc_client *cli;
	/* tells the peers this node reboots (the cluster's Leave with a reason) */
	void (*announce_reboot)(void *ctx);
	void *announce_ctx;
};

struct node_telemetry;

/* Registers the RPC methods, loads the history, takes the first sample,
 * binds /metrics when configured. 0 or -errno with a reason in err. */
int node_telemetry_new(const struct node_telemetry_env *env, struct node_telemetry **out,
		       char *err, size_t errlen);
void node_telemetry_set_overlay(struct node_telemetry *t, node_telemetry_overlay_fn fn,
				void *ctx);
/* The control commands "stats" {name?, hours?}, "speedtest" {peer?,
 * seconds?} and "speedtest_status" {}: 1 and *reply (NULL when deferred
 * through ctl) when cmd is one of them, else 0. */
int node_telemetry_control(struct node_telemetry *t, struct node_control_server *ctl,
			   const char *cmd, const cJSON *req, cJSON **reply);
/* The bound /metrics port (0 = off or not bound yet). */
uint16_t node_telemetry_metrics_port(const struct node_telemetry *t);
/* Saves the history and frees everything; a running speed test is
 * cancelled. Call before the RPC server, the client and the control
 * server are freed. */
void node_telemetry_free(struct node_telemetry *t);

#endif
