/* Internet checksum (RFC 1071) helpers shared by the GSO splitter, the GRO
 * coalescer and the device. */
#include "offload.h"

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* The one's-complement sum is byte-order independent (RFC 1071 2(B)): we add
 * native 64-bit words with end-around carry and swap the folded result once
 * at the end on little-endian hosts. */
static uint64_t tun_csum_native(const uint8_t *p, size_t len)
{
	uint64_t acc = 0, w;

	while (len >= 32) {
		uint64_t a, b, c, d;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		acc += a;
		acc += acc < a;
		acc += b;
		acc += acc < b;
		acc += c;
		acc += acc < c;
		acc += d;
		acc += acc < d;
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		acc += w;
		acc += acc < w;
		p += 8;
		len -= 8;
	}
	/* tail: up to 7 bytes as a zero-padded word keeps byte positions */
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		acc += w;
		acc += acc < w;
	}
	return acc;
}

static uint32_t tun_csum_fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint32_t tun_csum_add(uint32_t sum, const void *data, size_t len)
{
	uint32_t s = tun_csum_fold64(tun_csum_native(data, len));

#if __BYTE_ORDER == __LITTLE_ENDIAN
	s = (uint32_t)(((s & 0xff) << 8) | (s >> 8));
#endif
	return tun_csum_fold64((uint64_t)s + sum);
}

uint16_t tun_csum_fold(uint32_t sum)
{
	return (uint16_t)~tun_csum_fold64(sum);
}

uint32_t tun_csum_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint32_t s;

	if ((ip[0] >> 4) == 4)
		s = tun_csum_add(0, ip + 12, 8);
	else
		s = tun_csum_add(0, ip + 8, 32);
	/* length (IPv6: 32 bits; ours never exceed 16) and next header */
	return tun_csum_fold64((uint64_t)s + proto + (l4_len & 0xffff) + (l4_len >> 16));
}

bool tun_csum_l4_valid(const uint8_t *pkt, size_t len, size_t l4_off, uint8_t proto)
{
	uint32_t s;

	if (l4_off > len)
		return false;
	if (proto == IPPROTO_UDP && (pkt[0] >> 4) == 4 && len >= l4_off + 8 &&
	    pkt[l4_off + 6] == 0 && pkt[l4_off + 7] == 0)
		return true;
	s = tun_csum_pseudo(pkt, proto, len - l4_off);
	s = tun_csum_add(s, pkt + l4_off, len - l4_off);
	return s == 0xffff;
}

int tun_csum_complete(uint8_t *pkt, size_t len, size_t csum_start, size_t csum_offset)
{
	uint16_t c;

	/* an odd offset would put the field across two summed words */
	if (csum_start > len || csum_offset > len - csum_start ||
	    len - csum_start - csum_offset < 2 || (csum_offset & 1))
		return -EINVAL;
	c = tun_csum_fold(tun_csum_add(0, pkt + csum_start, len - csum_start));
	if (c == 0)
		c = 0xffff;
	pkt[csum_start + csum_offset] = (uint8_t)(c >> 8);
	pkt[csum_start + csum_offset + 1] = (uint8_t)c;
	return 0;
}
