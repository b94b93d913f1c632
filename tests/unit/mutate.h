/*
 * mutate.h - the differential tests' input mutator: a fixed-seed xorshift64 and 1-3 random
 * edits of a buffer (replace, delete, insert a byte from a JSON-hostile alphabet, truncate,
 * duplicate a span), the same sequence every run. Header-only, for tests/unit/ only.
 */
#ifndef CDCTOP_MUTATE_H
#define CDCTOP_MUTATE_H

#include <stdint.h>
#include <string.h>

static uint64_t rnd_state = 88172645463325252ULL;

/* xorshift64: the mutation generator's random numbers, the same every run. */
static inline uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Applies 1-3 random edits to buf[0..*len) (cap bytes of room); *len is updated. */
static inline void mutate(char *buf, int *len, int cap)
{
	static const char alphabet[] = "{}[]\":,\\0123456789eE.-+ntrufalsc \t\n\x01\x7f\x80\xbf"
				       "\xc3\xe2\xed\xf0\xff";
	int muts = 1 + (int)(rnd() % 3);
	for (int m = 0; m < muts && *len > 0; m++) {
		int at = (int)(rnd() % (uint64_t)*len);
		char c = alphabet[rnd() % (sizeof alphabet - 1)];
		switch (rnd() % 5) {
		case 0: /* replace */
			buf[at] = c;
			break;
		case 1: /* delete */
			memmove(buf + at, buf + at + 1, (size_t)(*len - at - 1));
			(*len)--;
			break;
		case 2: /* insert */
			memmove(buf + at + 1, buf + at, (size_t)(*len - at));
			buf[at] = c;
			(*len)++;
			break;
		case 3: /* truncate */
			*len = at;
			break;
		default: { /* duplicate a span */
			int sl = (int)(rnd() % 24);
			if (at + sl > *len)
				sl = *len - at;
			if (*len + sl < cap) {
				memmove(buf + at + sl, buf + at, (size_t)(*len - at));
				*len += sl;
			}
		}
		}
	}
}

#endif
