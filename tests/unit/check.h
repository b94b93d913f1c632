/*
 * check.h - the unit tests' tiny assertion kit: CHECK(cond) and CHECK_EQ(a, b) report the
 * file:line and values of a failure and count it; check_done() prints "N checks, N failed"
 * and gives the exit status. Each test binary runs in its own process (tests/run.sh).
 */
#ifndef CDCTOP_CHECK_H
#define CDCTOP_CHECK_H

#include <stdio.h>

static int check_n, check_failed;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		check_n++;                                                                 \
		if (!(cond)) {                                                             \
			check_failed++;                                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long check_a = (long long)(a), check_b = (long long)(b);              \
		check_n++;                                                                 \
		if (check_a != check_b) {                                                  \
			check_failed++;                                                    \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n",  \
				__FILE__, __LINE__, #a, check_a, #b, check_b);             \
		}                                                                          \
	} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_n, check_failed);
	return check_failed ? 1 : 0;
}

#endif
