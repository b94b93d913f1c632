/*
 * test_fake.c - unit tests of fake.c: the PRNG against known answers, seed repeatability,
 * fake_below's range and uniformity, ASCII folding and UTF-8-safe truncation, and 100k
 * persons whose every field fits its sakila column, is valid UTF-8 and (emails) derives from
 * the names. Single-threaded, no I/O but stdout/stderr; prints persons/s for information only.
 */
#include "fake.h"
#include "util.h"

#include "check.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NPERSONS 100000

/* Characters in s if it is valid UTF-8 (shortest form, no surrogates, <= U+10FFFF), else -1. */
static long utf8_chars(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	long chars = 0;
	while (*s) {
		unsigned char c = *s;
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			s++, chars++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			len = 2, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return -1;
		}
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return -1;
		s += len, chars++;
	}
	return chars;
}

/* 1 if s has a byte >= 0x80. */
static int has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* 1 if s is n..m ASCII digits, the first non-zero when nonzero_lead. */
static int all_digits(const char *s, size_t n, size_t m, int nonzero_lead)
{
	size_t len = strlen(s);
	if (len < n || len > m || (nonzero_lead && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* 1 if the text (bytes, NUL-terminated) fits VARCHAR(n) in bytes and chars and is valid UTF-8
 * without control characters. */
static int fits(const char *s, size_t n)
{
	if (strlen(s) > n)
		return 0;
	long chars = utf8_chars(s);
	if (chars < 0 || (size_t)chars > n)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return 0;
	return 1;
}

/*
 * 1 if email is "<local>@example.(com|org|net)", local in [a-z0-9.] with no leading,
 * trailing or double dot, and local = first.last / f.last / firstlast + a number 0..999.
 */
static int email_ok(const struct fake_person *p)
{
	const char *at = strchr(p->email, '@');
	if (!at || strchr(at + 1, '@'))
		return 0;
	if (strcmp(at + 1, "example.com") && strcmp(at + 1, "example.org") &&
	    strcmp(at + 1, "example.net"))
		return 0;
	size_t llen = (size_t)(at - p->email);
	if (llen == 0 || p->email[0] == '.' || p->email[llen - 1] == '.')
		return 0;
	for (size_t i = 0; i < llen; i++) {
		char c = p->email[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'))
			return 0;
		if (c == '.' && p->email[i + 1] == '.')
			return 0;
	}
	/* trailing number: 1..3 digits, no leading zero unless it is "0" */
	size_t d = llen;
	while (d > 0 && p->email[d - 1] >= '0' && p->email[d - 1] <= '9')
		d--;
	size_t ndig = llen - d;
	if (ndig < 1 || ndig > 3 || (ndig > 1 && p->email[d] == '0'))
		return 0;

	char first[FAKE_EMAIL_FIRST + 1], last[FAKE_EMAIL_LAST + 1], want[3][64];
	if (!fake_ascii(p->first_name, first, sizeof(first)))
		strcpy(first, "user");
	if (!fake_ascii(p->last_name, last, sizeof(last)))
		strcpy(last, "customer");
	snprintf(want[0], sizeof(want[0]), "%s.%s", first, last);
	snprintf(want[1], sizeof(want[1]), "%c.%s", first[0], last);
	snprintf(want[2], sizeof(want[2]), "%s%s", first, last);
	for (int i = 0; i < 3; i++)
		if (strlen(want[i]) == d && !memcmp(want[i], p->email, d))
			return 1;
	return 0;
}

/* 1 if address is "<1..9999> <words> <suffix>": a number, a space, then at least two words. */
static int address_ok(const char *a)
{
	if (a[0] < '1' || a[0] > '9')
		return 0;
	size_t i = 0;
	while (a[i] >= '0' && a[i] <= '9')
		i++;
	if (i > 4 || a[i] != ' ' || !a[i + 1])
		return 0;
	const char *sp = strrchr(a, ' ');
	return sp > a + i && sp[1] != '\0';
}

/* splitmix64 expansion and xoshiro256** outputs equal the reference implementations'. */
static void test_known_answers(void)
{
	struct fake f;
	fake_init(&f, 0);
	CHECK(f.s[0] == 0xe220a8397b1dcdafULL);
	CHECK(f.s[1] == 0x6e789e6aa1b965f4ULL);
	CHECK(f.s[2] == 0x06c45d188009454fULL);
	CHECK(f.s[3] == 0xf88bb8a8724c81ecULL);
	CHECK(fake_next(&f) == 0x99ec5f36cb75f2b4ULL);
	CHECK(fake_next(&f) == 0xbf6e1f784956452aULL);
	CHECK(fake_next(&f) == 0x1a5f849d4933e6e0ULL);
	fake_init(&f, 42);
	CHECK(fake_next(&f) == 0x15780b2e0c2ec716ULL);
	CHECK(fake_next(&f) == 0x6104d9866d113a7eULL);
	CHECK(fake_next(&f) == 0xae17533239e499a1ULL);
}

/* Same seed: byte-identical persons; different seeds: different persons. */
static void test_repeatable(void)
{
	struct fake a, b, c;
	struct fake_person pa, pb, pc;
	int same_ab = 1, diff_ac = 0;
	fake_init(&a, 12345);
	fake_init(&b, 12345);
	fake_init(&c, 12346);
	for (int i = 0; i < 2000; i++) {
		memset(&pa, 0xAA, sizeof(pa));
		memset(&pb, 0xAA, sizeof(pb));
		memset(&pc, 0xAA, sizeof(pc));
		fake_person(&a, &pa);
		fake_person(&b, &pb);
		fake_person(&c, &pc);
		if (memcmp(&pa, &pb, sizeof(pa)))
			same_ab = 0;
		if (strcmp(pa.first_name, pc.first_name) || strcmp(pa.last_name, pc.last_name) ||
		    strcmp(pa.email, pc.email) || strcmp(pa.address, pc.address))
			diff_ac++;
	}
	CHECK(same_ab);
	CHECK(diff_ac > 1900);
	CHECK(a.s[0] == b.s[0] && a.s[3] == b.s[3]);
}

/* fake_below: edge values, range, and uniformity over n=7 and a large n. */
static void test_below(void)
{
	struct fake f;
	fake_init(&f, 7);
	CHECK_EQ(fake_below(&f, 0), 0);
	for (int i = 0; i < 1000; i++)
		CHECK(fake_below(&f, 1) == 0);
	int in_range = 1;
	for (int i = 0; i < 10000; i++) {
		if (fake_below(&f, 2) > 1 || fake_below(&f, 3) > 2 ||
		    fake_below(&f, UINT32_MAX) >= UINT32_MAX || fake_below(&f, 1000) >= 1000)
			in_range = 0;
	}
	CHECK(in_range);

	/* 100k draws over n=7: every bucket within 5 standard deviations, chi-square sane */
	enum { N = 7, DRAWS = 100000 };
	long count[N] = {0};
	for (int i = 0; i < DRAWS; i++) {
		uint32_t v = fake_below(&f, N);
		CHECK(v < N);
		if (v < N)
			count[v]++;
	}
	double expect = (double)DRAWS / N;
	double sd = sqrt(DRAWS * (1.0 / N) * (1.0 - 1.0 / N));
	double chi2 = 0;
	for (int v = 0; v < N; v++) {
		CHECK(count[v] > 0);
		CHECK(fabs(count[v] - expect) < 5 * sd);
		chi2 += (count[v] - expect) * (count[v] - expect) / expect;
	}
	CHECK(chi2 < 27.86); /* df 6, p = 0.0001 */

	/* n = 3 * 2^30: a biased 32-bit modulo would put half the draws below 2^30, not a third */
	const uint32_t big = 0xC0000000u;
	long low = 0;
	for (int i = 0; i < DRAWS; i++) {
		uint32_t v = fake_below(&f, big);
		CHECK(v < big);
		low += v < 0x40000000u;
	}
	double p = 1.0 / 3, sdb = sqrt(DRAWS * p * (1 - p));
	CHECK(fabs(low - DRAWS * p) < 5 * sdb);
}

/* fake_ascii folds accents, drops the rest, and respects its buffer size. */
static void test_ascii(void)
{
	static const char *const cases[][2] = {
	    {"José", "jose"},
	    {"Zoë", "zoe"},
	    {"Müller", "muller"},
	    {"O'Brien", "obrien"},
	    {"Weiß", "weiss"},
	    {"Łukasz", "lukasz"},
	    {"Dvořák", "dvorak"},
	    {"Yılmaz", "yilmaz"},
	    {"Şahin", "sahin"},
	    {"Ĳssel", "ijssel"},
	    {"Œuvre", "oeuvre"},
	    {"Þórunn", "thorunn"},
	    {"Ærø", "aero"},
	    {"van der Berg", "vanderberg"},
	    {"Smith-Jones", "smithjones"},
	    {"ÀÉÎÕÜ àéîõü ÿ", "aeiouaeiouy"},
	    {"東京", ""},
	    {"R2-D2", "r2d2"},
	    {"Conceição", "conceicao"},
	    {"", ""},
	};
	char out[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_ascii(cases[i][0], out, sizeof(out));
		if (strcmp(out, cases[i][1]))
			fprintf(stderr, "fake_ascii(\"%s\") = \"%s\", want \"%s\"\n", cases[i][0],
			        out, cases[i][1]);
		CHECK(!strcmp(out, cases[i][1]));
	}
	CHECK_EQ(fake_ascii("Abcdef", out, 4), 3);
	CHECK(!strcmp(out, "abc"));
	CHECK_EQ(fake_ascii("Weiß", out, 5), 4); /* "weis": the ligature is cut, not overrun */
	CHECK(!strcmp(out, "weis"));
	out[0] = 'x';
	CHECK_EQ(fake_ascii("abc", out, 0), 0);
	CHECK(out[0] == 'x');
	/* malformed input: stray continuation, truncated sequence, invalid lead bytes */
	CHECK_EQ(fake_ascii("a\200b\303", out, sizeof(out)), 2);
	CHECK(!strcmp(out, "ab"));
	CHECK_EQ(fake_ascii("\377\376c\342\202", out, sizeof(out)), 1);
	CHECK(!strcmp(out, "c"));
}

/* fake_copy truncates on a character boundary and always terminates. */
static void test_copy(void)
{
	char out[16];
	CHECK_EQ(fake_copy(out, 4, "Zoë"), 2); /* Z o C3 AB: the cut would split ë */
	CHECK(!strcmp(out, "Zo"));
	CHECK_EQ(fake_copy(out, 5, "Zoë"), 4);
	CHECK(!strcmp(out, "Zoë"));
	CHECK_EQ(fake_copy(out, 4, "abc"), 3);
	CHECK(!strcmp(out, "abc"));
	CHECK_EQ(fake_copy(out, 3, "abc"), 2);
	CHECK(!strcmp(out, "ab"));
	CHECK_EQ(fake_copy(out, 5, "a\xf0\x9f\x98\x80"), 1); /* 4-byte emoji does not fit in 4 */
	CHECK(!strcmp(out, "a"));
	CHECK_EQ(fake_copy(out, 6, "a\xf0\x9f\x98\x80"), 5);
	CHECK(utf8_chars(out) == 2);
	CHECK_EQ(fake_copy(out, 3, "東京"), 0); /* 3-byte char, room for 2 */
	CHECK(out[0] == '\0');
	CHECK_EQ(fake_copy(out, 1, "abc"), 0);
	CHECK(out[0] == '\0');
	out[0] = 'x';
	CHECK_EQ(fake_copy(out, 0, "abc"), 0);
	CHECK(out[0] == 'x');
	/* every cut of a mixed string is valid UTF-8 and a prefix of it */
	const char *mixed = "Małgorzata Żółć 東京 😀 ok";
	for (size_t size = 1; size < 40; size++) {
		char buf[40];
		size_t n = fake_copy(buf, size, mixed);
		CHECK(n < size && buf[n] == '\0' && utf8_chars(buf) >= 0);
		CHECK(!strncmp(buf, mixed, n));
	}
}

/* 100k persons: every field in size and valid, emails derived from names, plausible mix. */
static void test_persons(void)
{
	struct fake f;
	struct fake_person p;
	long bad_size = 0, bad_email = 0, bad_addr = 0, bad_postal = 0, bad_phone = 0;
	long non_ascii_first = 0, non_ascii_last = 0, with_addr2 = 0, empty = 0;
	long phone_len[13] = {0};
	char seen_first[256][46], seen_last[256][46];
	int nfirst = 0, nlast = 0;

	fake_init(&f, 2024);
	for (long i = 0; i < NPERSONS; i++) {
		memset(&p, 0xFF, sizeof(p)); /* unterminated garbage if a field were left unset */
		fake_person(&f, &p);
		/* terminated within its buffer and within VARCHAR(n) */
		if (!memchr(p.first_name, 0, sizeof(p.first_name)) ||
		    !memchr(p.last_name, 0, sizeof(p.last_name)) ||
		    !memchr(p.email, 0, sizeof(p.email)) ||
		    !memchr(p.address, 0, sizeof(p.address)) ||
		    !memchr(p.address2, 0, sizeof(p.address2)) ||
		    !memchr(p.district, 0, sizeof(p.district)) ||
		    !memchr(p.postal_code, 0, sizeof(p.postal_code)) ||
		    !memchr(p.phone, 0, sizeof(p.phone))) {
			bad_size++;
			continue;
		}
		if (!fits(p.first_name, 45) || !fits(p.last_name, 45) || !fits(p.email, 50) ||
		    !fits(p.address, 50) || !fits(p.address2, 50) || !fits(p.district, 20) ||
		    !fits(p.postal_code, 10) || !fits(p.phone, 20))
			bad_size++;
		if (!p.first_name[0] || !p.last_name[0] || !p.address[0] || !p.district[0])
			empty++;
		if (has_non_ascii(p.email) || !email_ok(&p)) {
			if (bad_email++ < 5)
				fprintf(stderr, "bad email '%s' for '%s' '%s'\n", p.email,
				        p.first_name, p.last_name);
		}
		if (!address_ok(p.address))
			bad_addr++;
		if (!all_digits(p.postal_code, 5, 5, 0))
			bad_postal++;
		if (!all_digits(p.phone, 10, 12, 1))
			bad_phone++;
		else
			phone_len[strlen(p.phone)]++;
		non_ascii_first += has_non_ascii(p.first_name);
		non_ascii_last += has_non_ascii(p.last_name);
		with_addr2 += p.address2[0] != '\0';
		int k;
		for (k = 0; k < nfirst && strcmp(seen_first[k], p.first_name); k++)
			;
		if (k == nfirst && nfirst < 256)
			strcpy(seen_first[nfirst++], p.first_name);
		for (k = 0; k < nlast && strcmp(seen_last[k], p.last_name); k++)
			;
		if (k == nlast && nlast < 256)
			strcpy(seen_last[nlast++], p.last_name);
	}
	CHECK_EQ(bad_size, 0);
	CHECK_EQ(empty, 0);
	CHECK_EQ(bad_email, 0);
	CHECK_EQ(bad_addr, 0);
	CHECK_EQ(bad_postal, 0);
	CHECK_EQ(bad_phone, 0);
	CHECK(phone_len[10] > 0 && phone_len[11] > 0 && phone_len[12] > 0);
	CHECK(non_ascii_first > NPERSONS / 20 && non_ascii_first < NPERSONS / 2);
	CHECK(non_ascii_last > NPERSONS / 20 && non_ascii_last < NPERSONS / 2);
	CHECK(with_addr2 > NPERSONS / 5 && with_addr2 < NPERSONS / 2);
	CHECK(nfirst >= 90 && nfirst < 256);
	CHECK(nlast >= 90 && nlast < 256);
	printf("test_fake: %d first names, %d last names, %ld%% non-ASCII first, %ld%% last, "
	       "%ld%% with address2\n",
	       nfirst, nlast, non_ascii_first * 100 / NPERSONS, non_ascii_last * 100 / NPERSONS,
	       with_addr2 * 100 / NPERSONS);
}

/* Prints the generation rate; informational, never fails. */
static void bench_persons(void)
{
	struct fake f;
	struct fake_person p;
	unsigned sink = 0;
	fake_init(&f, 99);
	int64_t t0 = u_mono_us();
	for (long i = 0; i < 1000000; i++) {
		fake_person(&f, &p);
		sink += (unsigned char)p.email[0];
	}
	double s = (double)(u_mono_us() - t0) / 1e6;
	if (s <= 0)
		s = 1e-6;
	printf("test_fake: %.0f persons/s (1,000,000 in %.3f s; %u)\n", 1e6 / s, s, sink & 1);
}

int main(void)
{
	test_known_answers();
	test_repeatable();
	test_below();
	test_ascii();
	test_copy();
	test_persons();
	bench_persons();
	return check_done("test_fake");
}
