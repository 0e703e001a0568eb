/* Member lookup and address parts (member.h). */
#include "member.h"

#include <errno.h>
#include <string.h>

struct node_peer *tel_member_find(struct node_state *st, const char *key)
{
	struct node_peer *p = node_state_find_peer_by_name(st, key);

	return p ? p : node_state_find_peer(st, key);
}

int tel_addr_host(const char *addr, char *host, size_t cap)
{
	const char *s = addr, *e;

	if (*s == '[') {
		s++;
		if (!(e = strchr(s, ']')) || e[1] != ':')
			return -EINVAL;
	} else if (!(e = strrchr(s, ':'))) {
		return -EINVAL;
	}
	if (e == s || (size_t)(e - s) >= cap)
		return -EINVAL;
	memcpy(host, s, (size_t)(e - s));
	host[e - s] = 0;
	return 0;
}
