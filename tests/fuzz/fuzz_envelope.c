/* libFuzzer target: env_decode must never crash, hang or leak on any bytes, and a decoded row
   must re-encode and decode to the same row. The same bytes with a space after them must
   decode alike: the space sends them past env_decode's fast path (env_encode's exact shape)
   to the general scanner, so the two paths are compared on every input. */
#include "envelope.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cdc_row r, r2;
	char err[U_ERRLEN];
	char *spaced = malloc(size + 1);
	if (!spaced)
		abort();
	if (size)
		memcpy(spaced, data, size);
	spaced[size] = ' ';
	int rc = env_decode((const char *)data, size, &r, err);
	int rs = env_decode(spaced, size + 1, &r2, err);
	free(spaced);
	if (rc != rs || (rc == 0 && memcmp(&r, &r2, sizeof r)))
		abort();
	if (rc != 0)
		return 0;
	char buf[ENV_MAX];
	int n = env_encode(&r, "sakila", 0, buf, sizeof buf);
	if (n < 0)
		abort();
	if (env_decode(buf, (size_t)n, &r2, err) != 0)
		abort();
	if (r.log_id != r2.log_id || r.store_id != r2.store_id || r.event_us != r2.event_us ||
	    r.customer_id != r2.customer_id)
		abort();
	return 0;
}
