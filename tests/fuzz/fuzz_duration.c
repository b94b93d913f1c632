/* libFuzzer target: u_parse_duration must never crash on any text, and what it accepts must
   format and parse back to the same value. */
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], err[U_ERRLEN], back[64];
	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	int64_t us, us2;
	if (u_parse_duration(s, &us, err) != 0)
		return 0;
	if (us < 0)
		abort();
	u_fmt_duration(us, back, sizeof back);
	if (strchr(back, 'h') && strchr(back, 'm') && !strstr(back, "ms"))
		return 0; /* "1h30m" is a display form, not an input form */
	if (u_parse_duration(back, &us2, err) != 0 || us2 != us)
		abort();
	return 0;
}
