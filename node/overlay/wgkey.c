/* WireGuard key pair: generation, base64, the private key file (wgkey.h). */
#include "wgkey.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"

#define B64V sodium_base64_VARIANT_ORIGINAL

void node_wgkey_generate(uint8_t priv[NODE_WGKEY_LEN], uint8_t pub[NODE_WGKEY_LEN])
{
	do {
		randombytes_buf(priv, NODE_WGKEY_LEN);
		/* RFC 7748 clamping, as `wg genkey` stores it */
		priv[0] &= 248;
		priv[31] = (priv[31] & 127) | 64;
	} while (node_wgkey_public(priv, pub));
}

int node_wgkey_public(const uint8_t priv[NODE_WGKEY_LEN], uint8_t pub[NODE_WGKEY_LEN])
{
	return crypto_scalarmult_curve25519_base(pub, priv) ? -EINVAL : 0;
}

void node_wgkey_to_b64(const uint8_t k[NODE_WGKEY_LEN], char out[NODE_WGKEY_B64])
{
	sodium_bin2base64(out, NODE_WGKEY_B64, k, NODE_WGKEY_LEN, B64V);
}

int node_wgkey_from_b64(const char *s, uint8_t out[NODE_WGKEY_LEN])
{
	size_t n = 0;
	const char *end = NULL;

	if (!s || strlen(s) != NODE_WGKEY_B64 - 1)
		return -EINVAL;
	if (sodium_base642bin(out, NODE_WGKEY_LEN, s, NODE_WGKEY_B64 - 1, NULL, &n, &end, B64V) ||
	    n != NODE_WGKEY_LEN || !end || *end)
		return -EINVAL;
	return 0;
}

int node_wgkey_valid_b64(const char *s)
{
	uint8_t k[NODE_WGKEY_LEN];

	return node_wgkey_from_b64(s, k) == 0;
}

static int node_wgkey_path(char *buf, size_t cap, const char *dir)
{
	int n = snprintf(buf, cap, "%s/%s", dir, NODE_WGKEY_FILE);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int node_wgkey_save_private(const char *dir, const uint8_t priv[NODE_WGKEY_LEN])
{
	char path[PATH_MAX], line[NODE_WGKEY_B64 + 1];
	int r;

	if ((r = node_wgkey_path(path, sizeof(path), dir)))
		return r;
	node_wgkey_to_b64(priv, line);
	line[NODE_WGKEY_B64 - 1] = '\n';
	line[NODE_WGKEY_B64] = '\0';
	r = cst_file_write_atomic(path, line, NODE_WGKEY_B64, 0600);
	sodium_memzero(line, sizeof(line));
	return r;
}

int node_wgkey_load_private(const char *dir, uint8_t priv[NODE_WGKEY_LEN])
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	struct stat sb;
	int r;

	if ((r = node_wgkey_path(path, sizeof(path), dir)))
		return r;
	if (stat(path, &sb) < 0)
		return -errno;
	if (sb.st_mode & 077)
		return -EPERM;
	if ((r = cst_file_read_all(path, 256, &text, &len)))
		return r;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	r = node_wgkey_from_b64(text, priv);
	sodium_memzero(text, len);
	free(text);
	return r;
}
