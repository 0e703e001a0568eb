/* Reading a snapshot of tests/telemetry/snapshots/ as two readings of
 * one host, 10 s apart by construction (their clocks are set, not read). */
#ifndef TEL_TEST_SNAP_H
#define TEL_TEST_SNAP_H

#include <stdio.h>

#include "host.h"

static inline void snap_read_pair(const char *snapdir, const char *name, tel_statvfs_fn fs,
				  struct tel_raw *a, struct tel_raw *b)
{
	struct tel_host h;
	char root[512];

	for (int i = 0; i < 2; i++) {
		snprintf(root, sizeof(root), "%s/%s/t%d", snapdir, name, i);
		if (tel_host_init(&h, root))
			continue;
		h.statvfs_fn = fs;
		tel_host_read(&h, i ? b : a);
		tel_host_deinit(&h);
	}
	a->mono_ns = 1000000000ull;
	b->mono_ns = 11000000000ull;
}

#endif
