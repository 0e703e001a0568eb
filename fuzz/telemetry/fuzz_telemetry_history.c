/* libFuzzer target for telemetry.bin (history.h): any file is loaded or
 * refused with a reason and the history left as it was; a loaded one keeps
 * the ring invariants (count within capacity, timestamps non-decreasing,
 * finite values) and encodes back to a file that loads again. The fuzzer
 * cannot forge the checksum, so for inputs whose first byte is even the
 * harness reseals the rest: the structure behind the checksum is fuzzed too
 * (a real file starts with "C", odd, and goes in as it is). */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tel_history h, again;
	char err[256] = "";
	uint8_t *buf;
	size_t len;

	uint8_t *copy = NULL;

	if (size && !(data[0] & 1) && size >= 17) {
		if (!(copy = malloc(size - 1)))
			return 0;
		memcpy(copy, data + 1, size - 1);
		crypto_generichash(copy + size - 17, 16, copy, size - 17, NULL, 0);
		data = copy;
		size--;
	}
	if (tel_history_init(&h, 60, 6)) {
		free(copy);
		return 0;
	}
	tel_history_add(&h, TEL_K_CPU, NOW, 42);
	if (tel_history_decode(&h, data, size, NOW, err, sizeof(err))) {
		if (!err[0] || h.ring[TEL_K_CPU].n != 1 || tel_ring_at(&h.ring[TEL_K_CPU], 0)->v != 42)
			abort();
		tel_history_deinit(&h);
		free(copy);
		return 0;
	}
	for (int k = 0; k < TEL_K_N; k++) {
		const struct tel_ring *r = &h.ring[k];

		if (r->n > r->cap)
			abort();
		for (uint32_t i = 0; i < r->n; i++)
			if (!isfinite(tel_ring_at(r, i)->v) ||
			    (i && tel_ring_at(r, i)->ts < tel_ring_at(r, i - 1)->ts))
				abort();
	}
	if (tel_history_encode(&h, &buf, &len) == 0) {
		if (tel_history_init(&again, 60, 6) == 0) {
			if (tel_history_decode(&again, buf, len, NOW, err, sizeof(err)))
				abort();
			tel_history_deinit(&again);
		}
		free(buf);
	}
	tel_history_deinit(&h);
	free(copy);
	return 0;
}
