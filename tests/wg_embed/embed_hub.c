/* A hub that embeds the device through device.h only, as constellad does:
 * no UAPI parsing, no `wg`, no `ip`. The test drives it over stdin.
 *
 *   embed_hub IFNAME KEYFILE LISTEN_PORT ADDR/PREFIX [ADDR/PREFIX...]
 *
 * Creates the device in relay mode (uapi_optional: `wg show` works when the
 * UAPI directory is writable), sets key and port with wg_device_set, puts
 * the addresses on the interface and brings it up over rtnetlink, then
 * answers one command per line, each answer ending with "ok" or "err N"
 * (N the errno):
 *   peer PUBKEY ALLOWED[,ALLOWED...] [ENDPOINT]   add a peer or add to it
 *   remove PUBKEY                                 wg_device_set remove
 *   initiate PUBKEY                               wg_device_initiate
 *   info                                          wg_device_get_info as
 *                                                 key=value lines, and the
 *                                                 AEAD backend
 *   quit
 * Keys are base64 as `wg genkey` writes them. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "device.h"
#include "log.h"
#include "tun.h"

static int key_from_b64(const char *b64, uint8_t key[WG_KEY_LEN])
{
	size_t len = 0;

	if (sodium_base642bin(key, WG_KEY_LEN, b64, strlen(b64), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || len != WG_KEY_LEN)
		return -EINVAL;
	return 0;
}

static int read_key_file(const char *path, uint8_t key[WG_KEY_LEN])
{
	char b64[128] = { 0 };
	FILE *f = fopen(path, "r");
	int ret = -EINVAL;

	if (!f)
		return -errno;
	if (fgets(b64, sizeof(b64), f)) {
		b64[strcspn(b64, "\r\n")] = 0;
		ret = key_from_b64(b64, key);
	}
	fclose(f);
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

static void put_key(const char *name, const uint8_t key[WG_KEY_LEN])
{
	char b64[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	printf("%s=%s\n", name, b64);
}

static int cmd_peer(struct wg_device *dev, char *key, char *aips, char *endpoint)
{
	struct wg_uapi_allowed_ip list[16];
	struct wg_uapi_peer peer = { .allowed_ips = list };
	struct wg_uapi_set set = { .peers = &peer, .n_peers = 1 };
	char *save = NULL;

	if (!key || !aips || key_from_b64(key, peer.public_key) < 0)
		return -EINVAL;
	for (char *a = strtok_r(aips, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		if (peer.n_allowed_ips == 16 ||
		    wg_uapi_parse_allowed_ip(a, strlen(a), &list[peer.n_allowed_ips]) < 0)
			return -EINVAL;
		peer.n_allowed_ips++;
	}
	if (endpoint) {
		/* endpoint_len left 0: the device takes the family's size */
		if (wg_uapi_parse_endpoint(endpoint, strlen(endpoint), &peer.endpoint, &(socklen_t){ 0 }) < 0)
			return -EINVAL;
		peer.has_endpoint = true;
	}
	return wg_device_set(dev, &set);
}

static int cmd_remove(struct wg_device *dev, const char *key)
{
	struct wg_uapi_peer peer = { .remove = true };
	struct wg_uapi_set set = { .peers = &peer, .n_peers = 1 };

	if (!key || key_from_b64(key, peer.public_key) < 0)
		return -EINVAL;
	return wg_device_set(dev, &set);
}

static int cmd_info(struct wg_device *dev)
{
	struct wg_device_info info;
	int ret = wg_device_get_info(dev, &info);

	if (ret < 0)
		return ret;
	printf("has_private_key=%d\n", info.has_private_key);
	put_key("public_key", info.public_key);
	printf("listen_port=%u\n", info.listen_port);
	printf("aead=%s\n", wg_aead_backend_name());
	printf("rx_unknown_index=%llu\n", (unsigned long long)info.stats.rx_unknown_index);
	printf("rx_handshake_rejected=%llu\n",
	       (unsigned long long)info.stats.rx_handshake_rejected);
	printf("rx_bad_source=%llu\n", (unsigned long long)info.stats.rx_bad_source);
	printf("rx_auth_failed=%llu\n", (unsigned long long)info.stats.rx_auth_failed);
	printf("rx_malformed=%llu\n", (unsigned long long)info.stats.rx_malformed);
	printf("relay_packets=%llu\n", (unsigned long long)info.stats.relay_packets);
	printf("relay_bytes=%llu\n", (unsigned long long)info.stats.relay_bytes);
	printf("relay_dropped=%llu\n", (unsigned long long)info.stats.relay_dropped);
	for (size_t i = 0; i < info.n_peers; i++) {
		const struct wg_device_peer_info *p = &info.peers[i];
		char b64[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
		char ep[INET6_ADDRSTRLEN + 8] = "none";

		sodium_bin2base64(b64, sizeof(b64), p->public_key, WG_KEY_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		if (p->has_endpoint && p->endpoint.ss_family == AF_INET) {
			const struct sockaddr_in *s = (const struct sockaddr_in *)&p->endpoint;
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
			snprintf(ep, sizeof(ep), "%s:%u", a, ntohs(s->sin_port));
		}
		printf("peer=%s endpoint=%s rx=%llu tx=%llu handshake_ns=%llu keepalive=%u "
		       "allowed_ips=%zu\n", b64, ep, (unsigned long long)p->rx_bytes,
		       (unsigned long long)p->tx_bytes,
		       (unsigned long long)p->last_handshake_wall_ns, p->persistent_keepalive,
		       p->n_allowed_ips);
	}
	wg_device_info_free(&info);
	return 0;
}

static int add_address(int ifindex, const char *spec)
{
	struct wg_uapi_allowed_ip a;

	if (wg_uapi_parse_allowed_ip(spec, strlen(spec), &a) < 0)
		return -EINVAL;
	return tun_addr_add(ifindex, a.family, a.addr, a.cidr);
}

int main(int argc, char **argv)
{
	struct wg_device_config cfg = { .relay = true, .uapi_optional = true };
	struct wg_uapi_set set = { .has_private_key = true, .has_listen_port = true };
	struct wg_device *dev = NULL;
	char line[512];
	int ret;

	if (argc < 5) {
		fprintf(stderr, "usage: embed_hub IFNAME KEYFILE LISTEN_PORT ADDR/PREFIX...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	cst_log_init(argv[1], getenv("LOG_LEVEL") && !strcmp(getenv("LOG_LEVEL"), "debug") ?
			      CST_LOG_DEBUG : CST_LOG_INFO);
	cfg.ifname = argv[1];
	wg_timer_config_default(&cfg.timers);
	if (read_key_file(argv[2], set.private_key) < 0) {
		fprintf(stderr, "embed_hub: cannot read %s\n", argv[2]);
		return 1;
	}
	set.listen_port = (uint16_t)atoi(argv[3]);
	ret = wg_device_new(&cfg, &dev);
	if (ret < 0) {
		fprintf(stderr, "embed_hub: wg_device_new: %s\n", strerror(-ret));
		return 1;
	}
	ret = wg_device_set(dev, &set);
	sodium_memzero(set.private_key, sizeof(set.private_key));
	for (int i = 4; i < argc && ret == 0; i++)
		ret = add_address(wg_device_ifindex(dev), argv[i]);
	if (ret == 0)
		ret = tun_set_up(wg_device_ifindex(dev), 1);
	if (ret < 0) {
		fprintf(stderr, "embed_hub: setup: %s\n", strerror(-ret));
		wg_device_free(dev);
		return 1;
	}
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL, *cmd = strtok_r(line, " \t\r\n", &save);
		char *a1 = strtok_r(NULL, " \t\r\n", &save), *a2 = strtok_r(NULL, " \t\r\n", &save);
		char *a3 = strtok_r(NULL, " \t\r\n", &save);

		if (!cmd)
			continue;
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "peer"))
			ret = cmd_peer(dev, a1, a2, a3);
		else if (!strcmp(cmd, "remove"))
			ret = cmd_remove(dev, a1);
		else if (!strcmp(cmd, "initiate")) {
			uint8_t key[WG_KEY_LEN];
			ret = a1 && key_from_b64(a1, key) == 0 ? wg_device_initiate(dev, key) : -EINVAL;
		} else if (!strcmp(cmd, "info"))
			ret = cmd_info(dev);
		else
			ret = -EINVAL;
		if (ret < 0)
			printf("err %d\n", -ret);
		else
			printf("ok\n");
	}
	wg_device_free(dev);
	return 0;
}
