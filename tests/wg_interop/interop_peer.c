/* A minimal WireGuard peer built from wg_userspace and one UDP socket,
 * used to prove interoperability with wireguard-go.
 *
 *   interop_peer initiate|respond KEYFILE PEER_PUB_B64 PEER_HOST PEER_PORT
 *                LISTEN_PORT OUR_TUN_IP PEER_TUN_IP [PSKFILE]
 *
 * initiate: handshake as initiator, send two ICMP echo requests (60 and
 *           1420 bytes, the MTU) to PEER_TUN_IP, verify both decrypted replies.
 * respond:  wait for wireguard-go's initiation, answer it, then answer
 *           every ICMP echo request that arrives (3 of them, the last one
 *           MTU-sized) with a reply.
 * Exit 0 on success; every wait is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int read_key_file(const char *path, uint8_t key[32])
{
	char b64[128] = { 0 };
	size_t len = 0;
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fgets(b64, sizeof(b64), f) != NULL;
	fclose(f);
	b64[strcspn(b64, "\r\n")] = 0;
	ok = ok && sodium_base642bin(key, 32, b64, strlen(b64), NULL, &len, NULL,
				     sodium_base64_VARIANT_ORIGINAL) == 0 && len == 32;
	sodium_memzero(b64, sizeof(b64));
	return ok ? 0 : -1;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 + ICMP echo (type 8 request, 0 reply) with a 32-byte payload. */
static size_t build_icmp(uint8_t *pkt, uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
			 uint16_t seq, const uint8_t *payload, size_t plen)
{
	size_t len = 20 + 8 + plen;
	uint16_t c;

	memset(pkt, 0, len);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = 1;
	memcpy(pkt + 12, &src, 4);
	memcpy(pkt + 16, &dst, 4);
	c = csum(pkt, 20);
	pkt[10] = (uint8_t)(c >> 8);
	pkt[11] = (uint8_t)c;
	pkt[20] = type;
	pkt[24] = (uint8_t)(id >> 8);
	pkt[25] = (uint8_t)id;
	pkt[26] = (uint8_t)(seq >> 8);
	pkt[27] = (uint8_t)seq;
	memcpy(pkt + 28, payload, plen);
	c = csum(pkt + 20, 8 + plen);
	pkt[22] = (uint8_t)(c >> 8);
	pkt[23] = (uint8_t)c;
	return len;
}

static int icmp_valid(const uint8_t *pkt, size_t len)
{
	size_t tot;
	if (len < 28 || (pkt[0] >> 4) != 4 || pkt[9] != 1)
		return 0;
	tot = (size_t)(pkt[2] << 8 | pkt[3]);
	if (tot > len || tot < 28 || csum(pkt, 20) != 0 || csum(pkt + 20, tot - 20) != 0)
		return 0;
	return 1;
}

struct ctx {
	struct wg_proto proto;
	struct wg_peer *peer;
	int fd;
	struct sockaddr_in peer_addr;
	uint32_t our_ip, peer_ip;
};

/* Waits up to ms for one datagram and feeds it to the protocol. */
static int pump(struct ctx *c, int ms, uint8_t *plain, struct wg_proto_result *res)
{
	static uint8_t buf[65536];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;

	memset(res, 0, sizeof(*res));
	if (poll(&pfd, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = recvfrom(c->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	if (n < 0)
		return -errno;
	return wg_proto_receive(&c->proto, buf, (size_t)n, (struct sockaddr *)&from, fl, false,
				mono_ns(), wall_ns(), plain, 65536, res);
}

static int send_sealed(struct ctx *c, const uint8_t *pkt, size_t len)
{
	uint8_t out[2048];
	ssize_t n = wg_proto_seal(&c->proto, c->peer, out, sizeof(out), pkt, len, 1420, mono_ns());
	struct sockaddr_storage ep;

	if (n < 0)
		return (int)n;
	if (!wg_peer_get_endpoint(c->peer, &ep))
		return -EDESTADDRREQ;
	return sendto(c->fd, out, (size_t)n, 0, (struct sockaddr *)&ep, sizeof(struct sockaddr_in)) < 0
		       ? -errno : 0;
}

static int run_initiate(struct ctx *c)
{
	static uint8_t plain[65536];
	struct wg_msg_initiation init;
	struct wg_proto_result r;
	uint8_t pkt[2048], payload[1500];
	uint64_t deadline = mono_ns() + 20ULL * 1000000000ULL;
	int ret, established = 0;

	for (int attempt = 0; attempt < 4 && !established; attempt++) {
		ret = wg_proto_create_initiation(&c->proto, c->peer, &init, mono_ns(), wall_ns());
		if (ret < 0)
			return fprintf(stderr, "create_initiation: %d\n", ret), 1;
		sendto(c->fd, &init, sizeof(init), 0, (struct sockaddr *)&c->peer_addr,
		       sizeof(c->peer_addr));
		while (mono_ns() < deadline) {
			ret = pump(c, 2000, plain, &r);
			if (ret == -ETIMEDOUT)
				break;
			if (ret == 0 && r.event == WG_PROTO_RESPONSE)
				established = 1;
			wg_proto_result_release(&r);
			if (established)
				break;
		}
	}
	if (!established)
		return fprintf(stderr, "initiate: no response from wireguard-go\n"), 1;
	printf("initiate: handshake complete\n");
	/* a small echo and one whose IPv4 packet is exactly the 1420-byte
	 * tunnel MTU: padding to 16 must stop at the MTU on both sides */
	static const size_t plens[2] = { 32, 1420 - 28 };
	for (int k = 0; k < 2; k++) {
		size_t plen = plens[k];
		uint16_t seq = (uint16_t)(k + 1);
		int got = 0;
		for (size_t i = 0; i < plen; i++)
			payload[i] = (uint8_t)('a' + (i + (size_t)k) % 26);
		ret = send_sealed(c, pkt, build_icmp(pkt, c->our_ip, c->peer_ip, 8, 0x4321, seq,
						     payload, plen));
		if (ret < 0)
			return fprintf(stderr, "send echo: %d\n", ret), 1;
		while (!got && mono_ns() < deadline) {
			ret = pump(c, 2000, plain, &r);
			if (ret == -ETIMEDOUT)
				break;
			if (ret == 0 && r.event == WG_PROTO_DATA && r.plain_len > 0) {
				uint32_t src, dst;
				memcpy(&src, plain + 12, 4);
				memcpy(&dst, plain + 16, 4);
				got = icmp_valid(plain, r.plain_len) && plain[20] == 0 &&
				      (size_t)(plain[2] << 8 | plain[3]) == 28 + plen &&
				      src == c->peer_ip && dst == c->our_ip && plain[24] == 0x43 &&
				      plain[25] == 0x21 && plain[26] == 0 && plain[27] == seq &&
				      memcmp(plain + 28, payload, plen) == 0;
				if (!got)
					fprintf(stderr, "initiate: unexpected packet in tunnel\n");
			}
			wg_proto_result_release(&r);
		}
		if (!got)
			return fprintf(stderr, "initiate: no echo reply for seq %u\n", seq), 1;
		printf("initiate: echo reply %u (%zu-byte packet) decrypted and verified\n", seq,
		       28 + plen);
	}
	return 0;
}

static int run_respond(struct ctx *c)
{
	static uint8_t plain[65536];
	struct wg_msg_response resp;
	struct wg_proto_result r;
	uint8_t pkt[2048];
	uint64_t deadline = mono_ns() + 25ULL * 1000000000ULL;
	int answered = 0, handshakes = 0, ret;

	while (mono_ns() < deadline && answered < 3) {
		ret = pump(c, 1000, plain, &r);
		if (ret == -ETIMEDOUT || ret < 0) {
			if (ret != -ETIMEDOUT)
				fprintf(stderr, "respond: rejected datagram: %d\n", ret);
			continue;
		}
		if (r.event == WG_PROTO_INITIATION) {
			struct sockaddr_storage ep;
			if (wg_proto_create_response(&c->proto, r.peer, &resp, mono_ns(), wall_ns()) == 0 &&
			    wg_peer_get_endpoint(r.peer, &ep)) {
				sendto(c->fd, &resp, sizeof(resp), 0, (struct sockaddr *)&ep,
				       sizeof(struct sockaddr_in));
				handshakes++;
				printf("respond: answered initiation\n");
			}
		} else if (r.event == WG_PROTO_DATA && r.plain_len >= 28 &&
			   icmp_valid(plain, r.plain_len) && plain[20] == 8) {
			uint32_t src, dst;
			size_t tot = (size_t)(plain[2] << 8 | plain[3]);
			memcpy(&src, plain + 12, 4);
			memcpy(&dst, plain + 16, 4);
			if (dst == c->our_ip && src == c->peer_ip) {
				uint16_t id = (uint16_t)(plain[24] << 8 | plain[25]);
				uint16_t seq = (uint16_t)(plain[26] << 8 | plain[27]);
				size_t n = build_icmp(pkt, c->our_ip, c->peer_ip, 0, id, seq, plain + 28,
						      tot - 28);
				if (send_sealed(c, pkt, n) == 0) {
					answered++;
					printf("respond: echo request %u (%zu-byte packet) answered\n", seq, tot);
				}
			}
		}
		wg_proto_result_release(&r);
	}
	return handshakes > 0 && answered > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct ctx c;
	struct sockaddr_in me = { .sin_family = AF_INET };
	uint8_t priv[32], pub[32], psk[32];
	int ret = 1;

	if (argc < 9) {
		fprintf(stderr, "usage: %s initiate|respond KEYFILE PEER_PUB PEER_HOST PEER_PORT "
				"LISTEN_PORT OUR_TUN_IP PEER_TUN_IP [PSKFILE]\n", argv[0]);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	if (wg_proto_init(&c.proto) < 0 || read_key_file(argv[2], priv) < 0 ||
	    sodium_base642bin(pub, 32, argv[3], strlen(argv[3]), NULL, NULL, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		fprintf(stderr, "bad key material\n");
		return 2;
	}
	if (argc > 9 && read_key_file(argv[9], psk) < 0) {
		fprintf(stderr, "bad psk\n");
		return 2;
	}
	wg_proto_set_private_key(&c.proto, priv);
	sodium_memzero(priv, sizeof(priv));
	if (wg_proto_add_peer(&c.proto, pub, argc > 9 ? psk : NULL, &c.peer) < 0)
		return 2;
	c.peer_addr.sin_family = AF_INET;
	c.peer_addr.sin_port = htons((uint16_t)atoi(argv[5]));
	inet_pton(AF_INET, argv[4], &c.peer_addr.sin_addr);
	wg_peer_set_endpoint(c.peer, (struct sockaddr *)&c.peer_addr, sizeof(c.peer_addr));
	inet_pton(AF_INET, argv[7], &c.our_ip);
	inet_pton(AF_INET, argv[8], &c.peer_ip);
	c.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	me.sin_port = htons((uint16_t)atoi(argv[6]));
	if (c.fd < 0 || bind(c.fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("bind");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(argv[1], "initiate") == 0)
		ret = run_initiate(&c);
	else if (strcmp(argv[1], "respond") == 0)
		ret = run_respond(&c);
	close(c.fd);
	wg_peer_put(c.peer);
	wg_proto_deinit(&c.proto);
	return ret;
}
