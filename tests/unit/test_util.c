/*
 * test_util.c - the figures' formatting helpers: rates with thousands separators, latency
 * pairs in one unit with one decimal style ("-" when not measured), plain numbers for ranges
 * in messages (never "1e+06"), and the range messages of the number parsers.
 */
#include "check.h"
#include "util.h"

#include <string.h>

#define CHECK_STR(got, want)                                                               \
	do {                                                                               \
		check_n++;                                                                 \
		if (strcmp((got), (want))) {                                               \
			check_failed++;                                                    \
			fprintf(stderr, "%s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, \
				(got), (want));                                            \
		}                                                                          \
	} while (0)

/* p50 and p99 formatted as a pair, joined "a|b". */
static const char *pair(int64_t a, int64_t b)
{
	static char out[80];
	char x[32], y[32];
	u_fmt_latency_pair(a, b, x, y, sizeof x);
	snprintf(out, sizeof out, "%s|%s", x, y);
	return out;
}

int main(void)
{
	char b[64], err[U_ERRLEN];
	CHECK_STR(u_fmt_rate(3386, b, sizeof b), "3,386/s");
	CHECK_STR(u_fmt_rate(5000, b, sizeof b), "5,000/s");
	CHECK_STR(u_fmt_rate(20, b, sizeof b), "20/s");
	CHECK_STR(u_fmt_rate(2.5, b, sizeof b), "2.5/s");
	CHECK_STR(u_fmt_rate(0, b, sizeof b), "0/s");
	CHECK_STR(u_fmt_rate(1234567.4, b, sizeof b), "1,234,567/s");

	/* one unit per figure, chosen by the larger; "-" for nothing measured */
	CHECK_STR(pair(3643000, 18400000), "3.6 s|18.4 s");
	CHECK_STR(pair(9400, 21000), "9.4 ms|21.0 ms");
	CHECK_STR(pair(95000, 180000), "95 ms|180 ms");
	CHECK_STR(pair(7200, 9900), "7.2 ms|9.9 ms");
	CHECK_STR(pair(850, 990), "850 us|990 us");
	CHECK_STR(pair(870, 1500), "0.9 ms|1.5 ms");
	CHECK_STR(pair(0, 0), "-|-");
	CHECK_STR(pair(0, 12000), "-|12.0 ms");

	CHECK_STR(u_fmt_plain(1e6, b, sizeof b), "1,000,000");
	CHECK_STR(u_fmt_plain(0.01, b, sizeof b), "0.01");
	CHECK_STR(u_fmt_plain(0.5, b, sizeof b), "0.5");
	CHECK_STR(u_fmt_plain(1234.25, b, sizeof b), "1,234.25");
	CHECK_STR(u_fmt_plain(20, b, sizeof b), "20");

	double d;
	long long v;
	CHECK(u_parse_double("--rate", "0", 0.01, 1000000, &d, err) < 0);
	CHECK_STR(err, "--rate: 0 is out of range (use 0.01 to 1,000,000)");
	CHECK(u_parse_int("-n", "0", 1, 1000000, &v, err) < 0);
	CHECK_STR(err, "-n: 0 is out of range (use 1 to 1,000,000)");
	CHECK(strstr(err, "e+") == NULL);
	return check_done("test_util");
}
