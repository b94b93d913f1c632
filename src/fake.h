/*
 * fake.h - the project's own seeded fake-data generator: a xoshiro256** PRNG seeded through
 * splitmix64, and realistic customers/addresses built from the module's word lists. Pure and
 * reentrant: all state lives in the caller's struct fake, so any thread may use its own. Never
 * allocates, never does I/O. The same seed gives the same sequence of persons for as long as
 * the algorithm and word lists in fake.c stay unchanged.
 */
#ifndef CDCTOP_FAKE_H
#define CDCTOP_FAKE_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256** state; caller-allocated, set by fake_init. */
struct fake {
	uint64_t s[4];
};

/* Seeds f: seed is expanded into the four state words with splitmix64 (any seed, 0 included). */
void fake_init(struct fake *f, uint64_t seed);
/* Next 64 random bits (xoshiro256**). */
uint64_t fake_next(struct fake *f);
/* Uniform, unbiased value in 0..n-1 (Lemire's multiply-and-reject); 0 when n is 0. */
uint32_t fake_below(struct fake *f, uint32_t n);

/* Buffer sizes are sakila's VARCHAR(n) + 1: every field holds at most n bytes (so n chars). */
struct fake_person {
	char first_name[46], last_name[46], email[51];
	char address[51], address2[51], district[21], postal_code[11], phone[21];
};

/*
 * Fills p with a realistic person. Names come from word lists, some non-ASCII (valid UTF-8).
 * email is lower-case ASCII [a-z0-9.]: "<first>.<last>", "<f>.<last>" or "<first><last>"
 * (names folded by fake_ascii, first at most FAKE_EMAIL_FIRST bytes, last at most
 * FAKE_EMAIL_LAST), then a number 0..999, then "@example.com", ".org" or ".net".
 * address is "1234 Maple Avenue"; address2 is often empty ("" not NULL), else "Apt 12" and
 * the like; postal_code is 5 digits; phone is 10-12 digits. Every field is NUL-terminated.
 */
void fake_person(struct fake *f, struct fake_person *p);

#define FAKE_EMAIL_FIRST 15
#define FAKE_EMAIL_LAST  18

/*
 * Folds UTF-8 text to lower-case ASCII letters and digits into out (size bytes, NUL-terminated):
 * Latin-1 and Latin Extended-A letters are transliterated ("José Müller" -> "josemuller",
 * "ß" -> "ss"), everything else (spaces, apostrophes, hyphens, other scripts) is dropped.
 * Returns the length written. size 0 writes nothing.
 */
size_t fake_ascii(const char *in, char *out, size_t size);

/*
 * Copies UTF-8 src into dst (size bytes), truncating on a character boundary so that dst
 * stays valid UTF-8 and NUL-terminated. Returns the number of bytes copied (without NUL).
 */
size_t fake_copy(char *dst, size_t size, const char *src);

#endif
