/* libFuzzer target: dbz_decode must never crash, hang or leak on any bytes, and must give the
   same answer with the schema cache as without. The input is a key length byte, that many key
   bytes, then the value. A decoded event's identity is non-negative, its texts terminated,
   its kind one of four. */
#include "debezium.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t klen = data[0];
	if (klen > size - 1)
		klen = size - 1;
	const char *key = (const char *)data + 1, *val = key + klen;
	size_t vlen = size - 1 - klen;
	struct dbz_event a, b;
	char ea[U_ERRLEN], eb[U_ERRLEN];
	int ra = dbz_decode(vlen ? val : NULL, vlen, klen ? key : NULL, klen, "store_id", NULL, &a,
			    ea);
	static struct dbz_cache cache; /* primed by earlier inputs: must not change the answer */
	int rb = dbz_decode_cached(vlen ? val : NULL, vlen, klen ? key : NULL, klen, "store_id",
				   NULL, &cache, &b, eb);
	if (ra != rb || (ra == 0 && memcmp(&a, &b, sizeof a)) || (ra < 0 && strcmp(ea, eb)))
		abort();
	if (ra == 0) {
		if (a.kind < DBZ_CREATE || a.kind > DBZ_SKIP || a.id < 0 ||
		    !memchr(a.val, 0, sizeof a.val) || !memchr(a.table, 0, sizeof a.table))
			abort();
		if (a.kind != DBZ_SKIP && a.event_us <= 0)
			abort();
	}
	(void)dbz_key_is_object(key, klen);
	return 0;
}
