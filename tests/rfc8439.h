/* RFC 8439 §2.8.2: the ChaCha20-Poly1305 AEAD test vector (hex), shared by
 * the tests that check an AEAD against it. */
#ifndef CST_TEST_RFC8439_H
#define CST_TEST_RFC8439_H

static const char *rfc8439_key = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char *rfc8439_nonce = "070000004041424344454647";
static const char *rfc8439_ad = "50515253c0c1c2c3c4c5c6c7";
static const char *rfc8439_plain = "Ladies and Gentlemen of the class of '99: If I could offer "
				   "you only one tip for the future, sunscreen would be it.";
/* ciphertext, then the 16-byte tag */
static const char *rfc8439_cipher =
	"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
	"da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594"
	"5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
	"1ae10b594f09e26a7e902ecbd0600691";

#endif
