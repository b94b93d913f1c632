/* libFuzzer target: env_decode must never crash, hang or leak on any bytes, and a decoded row
   must re-encode and decode to the same row. */
#include "envelope.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cdc_row r, r2;
	char err[U_ERRLEN];
	if (env_decode((const char *)data, size, &r, err) != 0)
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
