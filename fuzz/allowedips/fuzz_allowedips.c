/* Differential fuzzer for the allowed-IPs trie: the input is a program of
 * insert / remove / remove_by_peer / lookup operations run against both the
 * trie and a plain list scanned for the longest match; any disagreement (in
 * a lookup result, a return code or the count) aborts. Deterministic and
 * leak-free: the trie is freed at the end of every input. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "allowedips.h"

#define FUZZ_AIP_MAX 256  /* bounded reference list keeps each input cheap */
#define FUZZ_AIP_PEERS 4

struct ref { int family; uint8_t a[16]; unsigned cidr; int peer; };

static int peers[FUZZ_AIP_PEERS];

static void mask(uint8_t *a, unsigned cidr, unsigned len)
{
	for (unsigned i = cidr; i < len * 8; i++)
		a[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
}

static bool match(const struct ref *r, int family, const uint8_t *addr)
{
	if (r->family != family)
		return false;
	for (unsigned i = 0; i < r->cidr; i++)
		if (((r->a[i / 8] ^ addr[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

static int find(const struct ref *refs, size_t n, int family, const uint8_t *a, unsigned cidr)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].family == family && refs[i].cidr == cidr && !memcmp(refs[i].a, a, 16))
			return (int)i;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ref refs[FUZZ_AIP_MAX];
	struct wg_allowedips t;
	size_t n = 0, pos = 0;

	wg_allowedips_init(&t);
	/* op: 1 byte (kind, family, peer), 1 byte cidr, 4 or 16 address bytes */
	while (pos + 2 <= size) {
		uint8_t op = data[pos], kind = op & 3;
		int family = (op & 4) ? AF_INET6 : AF_INET;
		unsigned len = family == AF_INET ? 4 : 16;
		unsigned cidr = data[pos + 1] % (len * 8 + 2); /* one past max: must be rejected */
		int p = (op >> 3) % FUZZ_AIP_PEERS;
		uint8_t a[16] = { 0 };
		int idx, ret;

		pos += 2;
		if (pos + len > size)
			break;
		memcpy(a, data + pos, len);
		pos += len;

		if (kind == 0) { /* insert */
			ret = wg_allowedips_insert(&t, family, a, (uint8_t)cidr, &peers[p]);
			if (cidr > len * 8) {
				if (ret != -EINVAL)
					abort();
				continue;
			}
			mask(a, cidr, len);
			idx = find(refs, n, family, a, cidr);
			if (ret != 0)
				abort();
			if (idx >= 0) {
				refs[idx].peer = p;
			} else if (n < FUZZ_AIP_MAX) {
				refs[n] = (struct ref){ .family = family, .cidr = cidr, .peer = p };
				memcpy(refs[n].a, a, 16);
				n++;
			} else { /* list full: undo in the trie to stay in step */
				if (wg_allowedips_remove(&t, family, a, (uint8_t)cidr, &peers[p]))
					abort();
			}
		} else if (kind == 1) { /* remove */
			ret = wg_allowedips_remove(&t, family, a, (uint8_t)cidr, &peers[p]);
			if (cidr > len * 8) {
				if (ret != -EINVAL)
					abort();
				continue;
			}
			mask(a, cidr, len);
			idx = find(refs, n, family, a, cidr);
			if (idx >= 0 && refs[idx].peer == p) {
				if (ret != 0)
					abort();
				refs[idx] = refs[--n];
			} else if (ret != -ENOENT) {
				abort();
			}
		} else if (kind == 2) { /* remove_by_peer */
			size_t removed = 0;
			for (size_t i = 0; i < n;) {
				if (refs[i].peer == p) {
					refs[i] = refs[--n];
					removed++;
				} else {
					i++;
				}
			}
			if (wg_allowedips_remove_by_peer(&t, &peers[p]) != removed)
				abort();
		} else { /* lookup: the address as given, host bits and all */
			int best = -1;
			unsigned best_cidr = 0;
			void *want;
			for (size_t i = 0; i < n; i++)
				if (match(&refs[i], family, a) && (best < 0 || refs[i].cidr > best_cidr)) {
					best = (int)i;
					best_cidr = refs[i].cidr;
				}
			want = best < 0 ? NULL : &peers[refs[best].peer];
			if (wg_allowedips_lookup(&t, family, a) != want)
				abort();
		}
		if (wg_allowedips_count(&t) != n)
			abort();
	}
	wg_allowedips_deinit(&t);
	return 0;
}
