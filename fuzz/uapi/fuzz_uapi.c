/* libFuzzer target for the UAPI `set` parser: any input must parse or be
 * rejected cleanly (no crash, no leak), and a rejected one leaves an empty
 * transaction. */
#include <stdio.h>
#include <stdlib.h>

#include "uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_uapi_set s;
	int r = wg_uapi_parse_set((const char *)data, size, &s);

	if (r < 0 && (s.n_peers || s.peers || s.has_private_key)) {
		fprintf(stderr, "rejected request left state behind\n");
		abort();
	}
	if (r == 0)
		wg_uapi_set_free(&s);
	return 0;
}
