/* This node's WireGuard key pair. The private key lives in its own file,
 * STATE_DIR/wg_private_key (0600, base64 and a newline, as `wg genkey`
 * writes it); it is never sent, never logged, and wiped from memory as soon
 * as the device holds it. Public keys travel in the peer records as base64. */
#ifndef NODE_WGKEY_H
#define NODE_WGKEY_H

#include <stdint.h>

#define NODE_WGKEY_LEN 32
#define NODE_WGKEY_B64 45 /* 44 characters + NUL */
#define NODE_WGKEY_FILE "wg_private_key"

/* A fresh X25519 key pair (the private key clamped as WireGuard does). */
void node_wgkey_generate(uint8_t priv[NODE_WGKEY_LEN], uint8_t pub[NODE_WGKEY_LEN]);
/* The public key of priv. 0 or -EINVAL (a key X25519 refuses). */
int node_wgkey_public(const uint8_t priv[NODE_WGKEY_LEN], uint8_t pub[NODE_WGKEY_LEN]);
void node_wgkey_to_b64(const uint8_t k[NODE_WGKEY_LEN], char out[NODE_WGKEY_B64]);
/* Exactly 44 characters of standard base64 that decode to 32 bytes.
 * 0 or -EINVAL. */
int node_wgkey_from_b64(const char *s, uint8_t out[NODE_WGKEY_LEN]);
/* 1 when s is a valid base64 public key. */
int node_wgkey_valid_b64(const char *s);

/* dir/wg_private_key: atomic write, mode 0600. */
int node_wgkey_save_private(const char *dir, const uint8_t priv[NODE_WGKEY_LEN]);
/* Reads it back: -ENOENT absent, -EINVAL malformed, -EPERM group or world
 * can read it (refused, as ssh refuses a readable private key). */
int node_wgkey_load_private(const char *dir, uint8_t priv[NODE_WGKEY_LEN]);

#endif
