/*
 * jscan.h - the strict, allocation-free JSON scanner the decoders share (envelope.c for
 * cdctop's own envelope, debezium.c for the Debezium connector's messages): RFC 8259 as
 * jansson accepts it (an object or array at the top, UTF-8 only, no \u0000, integers that fit
 * 64 bits; reals checked by grammar only), handing an object's members to a callback and
 * keeping raw string spans. Static inline so each decoder's hot loop stays inlined; pure, no
 * I/O. Must never read past the end of its input.
 */
#ifndef CDCTOP_JSCAN_H
#define CDCTOP_JSCAN_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static inline size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x3F >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

#define JS_MAX_DEPTH 64

enum fkind { F_ABSENT = 0, F_NULL, F_INT, F_STR, F_BOOL, F_OBJ, F_OTHER };

/* One member's value: its kind, integer (or boolean) value, or a string's raw content. */
struct field {
	enum fkind kind;
	long long i;
	const char *s; /* between the quotes, escapes still encoded (validated) */
	size_t n;
};

/* Scanner state over buf[0..len). */
struct scan {
	const char *p, *end, *start;
	int depth;
	char *err;
	int esc;  /* the last string scanned had an escape */
	int kesc; /* the key of the member being handed over had one (js_key) */
};

/* Fails with "not JSON: what at byte N". */
static inline int bad_json(struct scan *sc, const char *what)
{
	return u_err(sc->err, "not JSON: %s at byte %zu", what, (size_t)(sc->p - sc->start));
}

/* Skips JSON whitespace. */
static inline void skip_ws(struct scan *sc)
{
	while (sc->p < sc->end &&
	       (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

/* Reads 4 hex digits at s; 0 if any is not hex. */
static inline int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return 0;
		*v = *v << 4 | d;
	}
	return 1;
}

/* 1 if any of the 8 bytes of v is a control character, non-ASCII, '"' or '\\' (the bytes
   scan_string must look at one by one). */
static inline int js_special8(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
	return ((v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) != 0;
}

/* Scans the string at sc->p (a '"'), validating escapes, surrogates and UTF-8. */
static inline int scan_string(struct scan *sc, const char **s, size_t *n)
{
	const char *q = sc->p + 1, *b = q;
	sc->esc = 0;
	for (;;) {
		/* 8 plain bytes at a time; any other byte is judged one by one below */
		while (sc->end - q >= 8) {
			uint64_t v;
			memcpy(&v, q, 8);
			if (js_special8(v))
				break;
			q += 8;
		}
		while (q < sc->end && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x80 &&
		       *q != '"' && *q != '\\')
			q++;
		if (q >= sc->end) {
			sc->p = q;
			return bad_json(sc, "unterminated string");
		}
		unsigned char c = (unsigned char)*q;
		if (c == '"')
			break;
		if (c < 0x20) {
			sc->p = q;
			return bad_json(sc, "control character in string");
		}
		if (c >= 0x80) {
			size_t l = utf8_len((const unsigned char *)q, (size_t)(sc->end - q));
			if (!l) {
				sc->p = q;
				return bad_json(sc, "invalid UTF-8");
			}
			q += l;
			continue;
		}
		if (c != '\\') {
			q++;
			continue;
		}
		sc->esc = 1;
		char e = q + 1 < sc->end ? q[1] : 0;
		if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
		    e == 'r' || e == 't') {
			q += 2;
			continue;
		}
		unsigned u, lo;
		sc->p = q;
		if (e != 'u' || sc->end - q < 6 || !hex4(q + 2, &u))
			return bad_json(sc, "invalid escape");
		q += 6;
		if (u == 0)
			return bad_json(sc, "\\u0000 in string");
		if (u >= 0xDC00 && u <= 0xDFFF)
			return bad_json(sc, "invalid unicode escape");
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (sc->end - q < 6 || q[0] != '\\' || q[1] != 'u' || !hex4(q + 2, &lo) ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return bad_json(sc, "invalid unicode surrogate");
			q += 6;
		}
	}
	*s = b;
	*n = (size_t)(q - b);
	sc->p = q + 1;
	return 0;
}

/* Decodes a validated raw string into dst[cap] (cap >= 1), cut at a character boundary;
 * returns the length. */
static inline size_t str_copy(const char *s, size_t n, char *dst, size_t cap)
{
	if (n < cap && !memchr(s, '\\', n)) {
		memcpy(dst, s, n);
		dst[n] = 0;
		return n;
	}
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char enc[4];
		const char *from = enc;
		size_t el = 1;
		if (s[i] != '\\') {
			from = s + i;
			el = utf8_len((const unsigned char *)s + i, n - i);
			if (!el)
				break; /* cannot happen: validated */
			i += el;
		} else {
			char e = s[i + 1];
			unsigned cp = (unsigned char)e;
			i += 2;
			switch (e) {
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u': {
				unsigned lo;
				hex4(s + i, &cp);
				i += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					hex4(s + i + 2, &lo);
					i += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				}
				break;
			}
			default:
				break;
			}
			if (cp < 0x80) {
				enc[0] = (char)cp;
			} else if (cp < 0x800) {
				enc[0] = (char)(0xC0 | cp >> 6);
				enc[1] = (char)(0x80 | (cp & 0x3F));
				el = 2;
			} else if (cp < 0x10000) {
				enc[0] = (char)(0xE0 | cp >> 12);
				enc[1] = (char)(0x80 | (cp >> 6 & 0x3F));
				enc[2] = (char)(0x80 | (cp & 0x3F));
				el = 3;
			} else {
				enc[0] = (char)(0xF0 | cp >> 18);
				enc[1] = (char)(0x80 | (cp >> 12 & 0x3F));
				enc[2] = (char)(0x80 | (cp >> 6 & 0x3F));
				enc[3] = (char)(0x80 | (cp & 0x3F));
				el = 4;
			}
		}
		if (o + el > cap - 1)
			break;
		memcpy(dst + o, from, el);
		o += el;
	}
	dst[o] = 0;
	return o;
}

/* Scans a number; integers (no fraction or exponent) must fit in 64 bits. */
static inline int scan_number(struct scan *sc, struct field *f)
{
	const char *q = sc->p, *end = sc->end;
	int neg = 0, over = 0, real = 0;
	unsigned long long v = 0;
	if (*q == '-') {
		neg = 1;
		q++;
	}
	if (q >= end || *q < '0' || *q > '9')
		return bad_json(sc, "invalid number");
	if (*q == '0') {
		q++;
	} else {
		for (; q < end && *q >= '0' && *q <= '9'; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (v > (~0ULL - d) / 10)
				over = 1;
			else
				v = v * 10 + d;
		}
	}
	if (q < end && *q == '.') {
		q++;
		if (q >= end || *q < '0' || *q > '9')
			return bad_json(sc, "invalid number");
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		real = 1;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || *q < '0' || *q > '9')
			return bad_json(sc, "invalid number");
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		real = 1;
	}
	f->kind = F_OTHER;
	if (!real) {
		if (over || v > (unsigned long long)INT64_MAX + neg)
			return bad_json(sc, "too big integer");
		f->kind = F_INT;
		f->i = !neg ? (long long)v : v ? -(long long)(v - 1) - 1 : 0;
	}
	sc->p = q;
	return 0;
}

static inline int scan_value(struct scan *sc, struct field *f);

/* Scans an object at sc->p ('{'), handing each member's value to member (or skipping it). */
static inline int scan_object(struct scan *sc,
                       int (*member)(struct scan *, const char *k, size_t kn, void *ctx), void *ctx)
{
	if (++sc->depth > JS_MAX_DEPTH)
		return bad_json(sc, "nested too deep");
	sc->p++;
	skip_ws(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		sc->p++;
		sc->depth--;
		return 0;
	}
	for (;;) {
		const char *k;
		size_t kn;
		skip_ws(sc);
		if (sc->p >= sc->end || *sc->p != '"')
			return bad_json(sc, "string or '}' expected");
		if (scan_string(sc, &k, &kn) < 0)
			return -1;
		sc->kesc = sc->esc;
		skip_ws(sc);
		if (sc->p >= sc->end || *sc->p != ':')
			return bad_json(sc, "':' expected");
		sc->p++;
		skip_ws(sc);
		if ((member ? member(sc, k, kn, ctx) : scan_value(sc, NULL)) < 0)
			return -1;
		skip_ws(sc);
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			continue;
		}
		if (sc->p < sc->end && *sc->p == '}') {
			sc->p++;
			break;
		}
		return bad_json(sc, "',' or '}' expected");
	}
	sc->depth--;
	return 0;
}

/* Scans an array at sc->p ('['), validating and dropping its elements. */
static inline int scan_array(struct scan *sc)
{
	if (++sc->depth > JS_MAX_DEPTH)
		return bad_json(sc, "nested too deep");
	sc->p++;
	skip_ws(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		sc->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(sc);
		if (scan_value(sc, NULL) < 0)
			return -1;
		skip_ws(sc);
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			continue;
		}
		if (sc->p < sc->end && *sc->p == ']') {
			sc->p++;
			break;
		}
		return bad_json(sc, "',' or ']' expected");
	}
	sc->depth--;
	return 0;
}

/* Matches the literal word at sc->p. */
static inline int scan_word(struct scan *sc, const char *w, size_t n)
{
	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, w, n))
		return bad_json(sc, "invalid token");
	sc->p += n;
	return 0;
}

/* Scans any value at sc->p into f (NULL: validate and drop). */
static inline int scan_value(struct scan *sc, struct field *f)
{
	struct field dummy;
	if (!f)
		f = &dummy;
	memset(f, 0, sizeof *f);
	if (sc->p >= sc->end)
		return bad_json(sc, "value expected");
	switch (*sc->p) {
	case '{':
		f->kind = F_OBJ;
		return scan_object(sc, NULL, NULL);
	case '[':
		f->kind = F_OTHER;
		return scan_array(sc);
	case '"':
		f->kind = F_STR;
		return scan_string(sc, &f->s, &f->n);
	case 't':
		f->kind = F_BOOL;
		f->i = 1;
		return scan_word(sc, "true", 4);
	case 'f':
		f->kind = F_BOOL;
		return scan_word(sc, "false", 5);
	case 'n':
		f->kind = F_NULL;
		return scan_word(sc, "null", 4);
	default:
		if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9'))
			return scan_number(sc, f);
		return bad_json(sc, "invalid token");
	}
}

/* 1 if the raw key k[0..kn) decodes to lit. */
static inline int key_is(const char *k, size_t kn, const char *lit)
{
	size_t ln = strlen(lit);
	if (kn == ln && !memcmp(k, lit, ln))
		return 1;
	if (kn <= ln || !memchr(k, '\\', kn))
		return 0; /* an escape makes the raw text longer than what it decodes to */
	char tmp[64];
	return str_copy(k, kn, tmp, sizeof tmp) == ln && !memcmp(tmp, lit, ln);
}

/* key_is for the key a member callback was handed, before it scans anything: without an
   escape in the key (the scanner noted it), a length and a byte compare. ln: strlen(lit). */
static inline int js_key_n(const struct scan *sc, const char *k, size_t kn, const char *lit,
			   size_t ln)
{
	if (!sc->kesc)
		return kn == ln && !memcmp(k, lit, ln);
	return key_is(k, kn, lit);
}

#define js_key(sc, k, kn, lit) js_key_n(sc, k, kn, lit, sizeof(lit) - 1)

#endif
