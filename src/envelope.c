/*
 * envelope.c - encodes a change row as the Debezium-style JSON envelope with a fixed-shape
 * writer (after repairing broken UTF-8; byte for byte what jansson's compact dump writes, the
 * unit test compares), and decodes it with a strict allocation-free JSON scanner of its own,
 * checking every field it uses (jansson's json_loadb ran at ~180k envelopes/s, below the
 * consumer's 300k/s target; the scanner runs ~1.1M/s, and a fast path for env_encode's own
 * shape ~3.9M/s, test_envelope's figure; the unit test checks both against jansson on 200k
 * mutated envelopes and against each other). Runs on the relay's and consumer's threads; pure. Must
 * never crash or read past len on hostile input, never emit invalid JSON or UTF-8.
 */
#include "envelope.h"
#include "jscan.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies s (at most max bytes, stopping at NUL) into dst as valid UTF-8: a broken byte
   becomes U+FFFD. dst holds at least 3 * max + 1 bytes. Returns the length. */
static size_t utf8_fix(const char *s, size_t max, char *dst)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, max), o = 0;
	for (size_t i = 0; i < n;) {
		if (u[i] < 0x80) { /* ASCII, nearly every byte: no memcpy call of one byte */
			dst[o++] = (char)u[i++];
			continue;
		}
		size_t l = utf8_len(u + i, n - i);
		if (l) {
			memcpy(dst + o, u + i, l);
			o += l;
			i += l;
		} else {
			memcpy(dst + o, "\xEF\xBF\xBD", 3); /* U+FFFD for a broken byte */
			o += 3;
			i++;
		}
	}
	dst[o] = 0;
	return o;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The date of a day number since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Writes v as w decimal digits, zero-padded. */
static void digits(char *p, unsigned v, int w)
{
	for (int i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void env_fmt_datetime(int64_t us, char *buf)
{
	int64_t s = us / 1000000 - (us % 1000000 < 0);
	int64_t days = s / 86400 - (s % 86400 < 0);
	int64_t sod = s - days * 86400;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) { /* clamp to what DATETIME can hold */
		memcpy(buf, y < 0 ? "0000-01-01 00:00:00" : "9999-12-31 23:59:59", 20);
		return;
	}
	digits(buf, (unsigned)y, 4);
	buf[4] = '-';
	digits(buf + 5, m, 2);
	buf[7] = '-';
	digits(buf + 8, d, 2);
	buf[10] = ' ';
	digits(buf + 11, (unsigned)(sod / 3600), 2);
	buf[13] = ':';
	digits(buf + 14, (unsigned)(sod / 60 % 60), 2);
	buf[16] = ':';
	digits(buf + 17, (unsigned)(sod % 60), 2);
	buf[19] = 0;
}

/* Reads exactly w decimal digits. */
static int num(const char *s, int w, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < w; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

int env_parse_datetime(const char *s, int64_t *us)
{
	unsigned y, mo, d, h, mi, se;
	if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
	    s[16] != ':' || num(s, 4, &y) || num(s + 5, 2, &mo) || num(s + 8, 2, &d) ||
	    num(s + 11, 2, &h) || num(s + 14, 2, &mi) || num(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	int64_t days = days_from_civil((int64_t)y, mo, d);
	*us = ((days * 86400) + (int64_t)(h * 3600 + mi * 60 + se)) * 1000000;
	return 0;
}

/* Floor division of a microsecond time by 1000. */
static int64_t to_ms(int64_t us)
{
	return us / 1000 - (us % 1000 < 0);
}

/*
 * The envelope is written field by field in one fixed shape: byte for byte what jansson's
 * json_dumpb(JSON_COMPACT) writes for the same object (members in insertion order, '"' '\\'
 * and control characters escaped as jansson does, everything else as it is), which the unit
 * test checks against jansson itself. jansson's serializer was ~70 % of the relay's CPU.
 */
/* Appends the decimal digits of v at p; returns the end. */
static char *put_u64(char *p, uint64_t u)
{
	static const char two[] = "00010203040506070809101112131415161718192021222324252627282930"
				  "31323334353637383940414243444546474849505152535455565758596061"
				  "62636465666768697071727374757677787980818283848586878889909192"
				  "93949596979899";
	char t[24];
	int n = 24;
	while (u >= 100) { /* two digits a division: the relay writes five numbers a row */
		unsigned d = (unsigned)(u % 100) * 2;
		u /= 100;
		t[--n] = two[d + 1];
		t[--n] = two[d];
	}
	if (u >= 10) {
		t[--n] = two[u * 2 + 1];
		t[--n] = two[u * 2];
	} else {
		t[--n] = (char)('0' + u);
	}
	memcpy(p, t + n, (size_t)(24 - n));
	return p + 24 - n;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0)
		*p++ = '-';
	return put_u64(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

/* Appends s (n bytes of valid UTF-8) as a JSON string, quotes included, escaped as jansson
   escapes: at most 6 * n + 2 bytes. */
static char *put_str(char *p, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*p++ = (char)c;
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*p++ = (char)c;
			break;
		case '\b':
			*p++ = 'b';
			break;
		case '\f':
			*p++ = 'f';
			break;
		case '\n':
			*p++ = 'n';
			break;
		case '\r':
			*p++ = 'r';
			break;
		case '\t':
			*p++ = 't';
			break;
		default:
			memcpy(p, "u00", 3);
			p[3] = hex[c >> 4];
			p[4] = hex[c & 15];
			p += 5;
		}
	}
	*p++ = '"';
	return p;
}

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

int env_encode(const struct cdc_row *r, const char *db, int64_t now_us, char *buf, size_t cap)
{
	/* the longest envelope: 3 x for broken UTF-8, then 6 x for escapes, plus the frame */
	char first[3 * sizeof r->first_name + 1], last[3 * sizeof r->last_name + 1];
	char email[3 * sizeof r->email + 1], dbs[3 * 64 + 1], date[20];
	size_t nf = utf8_fix(r->first_name, sizeof r->first_name, first);
	size_t nl = utf8_fix(r->last_name, sizeof r->last_name, last);
	size_t ne = r->email_null ? 0 : utf8_fix(r->email, sizeof r->email, email);
	size_t nd = utf8_fix(db ? db : "", 64, dbs);
	env_fmt_datetime(r->create_us, date);
	char local[512 + 6 * (sizeof first + sizeof last + sizeof email + sizeof dbs)];
	char *p = local;
	p = LIT(p, "{\"before\":null,\"after\":{\"customer_id\":");
	p = put_i64(p, r->customer_id);
	p = LIT(p, ",\"store_id\":");
	p = put_i64(p, r->store_id);
	p = LIT(p, ",\"first_name\":");
	p = put_str(p, first, nf);
	p = LIT(p, ",\"last_name\":");
	p = put_str(p, last, nl);
	p = LIT(p, ",\"email\":");
	p = r->email_null ? LIT(p, "null") : put_str(p, email, ne);
	p = LIT(p, ",\"address_id\":");
	p = put_i64(p, r->address_id);
	p = LIT(p, ",\"active\":");
	*p++ = r->active ? '1' : '0';
	p = LIT(p, ",\"create_date\":");
	p = put_str(p, date, 19);
	p = LIT(p, "},\"source\":{\"version\":\"cdctop-0.1\",\"connector\":\"cdctop\","
		   "\"name\":\"cdctop\",\"db\":");
	p = put_str(p, dbs, nd);
	p = LIT(p, ",\"table\":\"customer\",\"log_id\":");
	p = put_i64(p, r->log_id);
	p = LIT(p, ",\"ts_ms\":");
	p = put_i64(p, to_ms(r->event_us));
	p = LIT(p, ",\"ts_us\":");
	p = put_i64(p, r->event_us);
	p = LIT(p, "},\"op\":\"c\",\"ts_ms\":");
	p = put_i64(p, to_ms(now_us));
	*p++ = '}';
	size_t n = (size_t)(p - local);
	if (n + 1 > cap)
		return -1;
	memcpy(buf, local, n);
	buf[n] = 0;
	return (int)n;
}

int env_key(const struct cdc_row *r, char *buf, size_t cap)
{
	char t[16];
	size_t n = (size_t)(put_u64(t, (unsigned)r->customer_id) - t);
	if (cap == 0)
		return (int)n;
	size_t k = n < cap ? n : cap - 1; /* as snprintf: truncated, NUL-terminated, full length */
	memcpy(buf, t, k);
	buf[k] = 0;
	return (int)n;
}

/*
 * Decoding: a strict RFC 8259 scanner (the grammar jansson accepts: an object or array at the
 * top, UTF-8 only, no \u0000, integers that fit 64 bits; unlike jansson, reals are checked by
 * grammar only, so 1e999 passes where no field needs it) that allocates nothing and keeps
 * only the members the envelope needs. jansson's json_loadb ran at ~180k/s here; this runs at
 * ~1.1M/s (the fast path before env_decode, for env_encode's own shape, ~3.9M/s), and
 * tests/unit/test_envelope.c checks it against a jansson reference decoder.
 * The scanner itself is in jscan.h (shared with debezium.c).
 */

/* The members the envelope needs, as last seen (a repeated key wins, as in jansson). */
struct env_fields {
	struct field op, after, source;
	struct field table, log_id, ts_us, ts_ms;
	struct field cid, sid, aid, active, cdate, fn, ln, em;
};


/* Members of "after". */
static int after_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct env_fields *d = ctx;
	struct field *f = NULL;
	if (js_key(sc, k, kn, "customer_id"))
		f = &d->cid;
	else if (js_key(sc, k, kn, "store_id"))
		f = &d->sid;
	else if (js_key(sc, k, kn, "address_id"))
		f = &d->aid;
	else if (js_key(sc, k, kn, "active"))
		f = &d->active;
	else if (js_key(sc, k, kn, "create_date"))
		f = &d->cdate;
	else if (js_key(sc, k, kn, "first_name"))
		f = &d->fn;
	else if (js_key(sc, k, kn, "last_name"))
		f = &d->ln;
	else if (js_key(sc, k, kn, "email"))
		f = &d->em;
	return scan_value(sc, f);
}

/* Members of "source". */
static int source_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct env_fields *d = ctx;
	struct field *f = NULL;
	if (js_key(sc, k, kn, "table"))
		f = &d->table;
	else if (js_key(sc, k, kn, "log_id"))
		f = &d->log_id;
	else if (js_key(sc, k, kn, "ts_us"))
		f = &d->ts_us;
	else if (js_key(sc, k, kn, "ts_ms"))
		f = &d->ts_ms;
	return scan_value(sc, f);
}

/* Members of the root object. */
static int root_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct env_fields *d = ctx;
	if (js_key(sc, k, kn, "op"))
		return scan_value(sc, &d->op);
	if (js_key(sc, k, kn, "after")) {
		memset(&d->cid, 0, (size_t)((char *)(&d->em + 1) - (char *)&d->cid));
		if (sc->p >= sc->end || *sc->p != '{')
			return scan_value(sc, &d->after);
		d->after.kind = F_OBJ;
		return scan_object(sc, after_member, d);
	}
	if (js_key(sc, k, kn, "source")) {
		memset(&d->table, 0, (size_t)((char *)(&d->ts_ms + 1) - (char *)&d->table));
		if (sc->p >= sc->end || *sc->p != '{')
			return scan_value(sc, &d->source);
		d->source.kind = F_OBJ;
		return scan_object(sc, source_member, d);
	}
	return scan_value(sc, NULL);
}

/* 1 if f is a string that decodes to lit. */
static int str_is(const struct field *f, const char *lit)
{
	char tmp[16];
	size_t ln = strlen(lit);
	return f->kind == F_STR && f->n < 64 && str_copy(f->s, f->n, tmp, sizeof tmp) == ln &&
	       !memcmp(tmp, lit, ln);
}

/* An integer member in [min, max]; absent or null is an error when required, else 0. */
static int get_int(const struct field *f, const char *name, int required, long long min,
                   long long max, long long *v, char *err)
{
	*v = 0;
	if (f->kind == F_ABSENT || f->kind == F_NULL)
		return required ? u_err(err, "no %s", name) : 0;
	if (f->kind == F_BOOL && !required) {
		*v = f->i;
		return 0;
	}
	if (f->kind != F_INT)
		return u_err(err, "%s is not an integer", name);
	if (f->i < min || f->i > max)
		return u_err(err, "%s is out of range (%lld)", name, f->i);
	*v = f->i;
	return 0;
}

/* A string member into dst[cap]; absent or null gives "". */
static int get_str(const struct field *f, const char *name, char *dst, size_t cap, char *err)
{
	dst[0] = 0;
	if (f->kind == F_ABSENT || f->kind == F_NULL)
		return 0;
	if (f->kind != F_STR)
		return u_err(err, "%s is not a string", name);
	str_copy(f->s, f->n, dst, cap);
	return 0;
}

/* Checks the members and fills out. */
static int validate(const struct env_fields *d, struct cdc_row *out, char *err)
{
	long long v;
	if (d->op.kind == F_ABSENT)
		return u_err(err, "no op");
	if (!str_is(&d->op, "c"))
		return u_err(err, "op is not \"c\" (not an insert)");
	if (d->source.kind != F_OBJ)
		return u_err(err, "no source");
	if (!str_is(&d->table, "customer"))
		return u_err(err, "source.table is not \"customer\"");
	if (d->log_id.kind == F_INT && d->log_id.i <= 0)
		return u_err(err, "source.log_id is not positive");
	if (get_int(&d->log_id, "source.log_id", 1, 1, INT64_MAX, &v, err) < 0)
		return -1;
	out->log_id = v;
	if (d->ts_us.kind != F_ABSENT && d->ts_us.kind != F_NULL) {
		if (d->ts_us.kind != F_INT)
			return u_err(err, "source.ts_us is not an integer");
		out->event_us = d->ts_us.i;
	} else {
		if (d->ts_ms.kind == F_ABSENT || d->ts_ms.kind == F_NULL)
			return u_err(err, "no source.ts_us or source.ts_ms");
		if (d->ts_ms.kind != F_INT)
			return u_err(err, "source.ts_ms is not an integer");
		if (d->ts_ms.i > INT64_MAX / 1000 || d->ts_ms.i < INT64_MIN / 1000)
			return u_err(err, "source.ts_ms is out of range");
		out->event_us = d->ts_ms.i * 1000;
	}
	if (d->after.kind != F_OBJ)
		return u_err(err, "no after");
	if (get_int(&d->cid, "after.customer_id", 1, 0, UINT32_MAX, &v, err) < 0)
		return -1;
	out->customer_id = (uint32_t)v;
	if (get_int(&d->sid, "after.store_id", 1, 0, UINT32_MAX, &v, err) < 0)
		return -1;
	out->store_id = (uint32_t)v;
	if (get_int(&d->aid, "after.address_id", 0, 0, UINT32_MAX, &v, err) < 0)
		return -1;
	out->address_id = (uint32_t)v;
	if (get_int(&d->active, "after.active", 0, INT64_MIN, INT64_MAX, &v, err) < 0)
		return -1;
	out->active = v != 0;
	if (d->cdate.kind == F_STR) {
		char tmp[24];
		if (d->cdate.n > 19 || (str_copy(d->cdate.s, d->cdate.n, tmp, sizeof tmp),
		                        env_parse_datetime(tmp, &out->create_us) < 0))
			return u_err(err, "after.create_date is not YYYY-MM-DD HH:MM:SS");
	} else if (d->cdate.kind == F_INT) { /* Debezium's Timestamp: ms since the epoch */
		if (d->cdate.i > INT64_MAX / 1000 || d->cdate.i < INT64_MIN / 1000)
			return u_err(err, "after.create_date is out of range");
		out->create_us = d->cdate.i * 1000;
	} else if (d->cdate.kind != F_ABSENT && d->cdate.kind != F_NULL) {
		return u_err(err, "after.create_date is not a date");
	}
	if (get_str(&d->fn, "after.first_name", out->first_name, sizeof out->first_name, err) < 0 ||
	    get_str(&d->ln, "after.last_name", out->last_name, sizeof out->last_name, err) < 0 ||
	    get_str(&d->em, "after.email", out->email, sizeof out->email, err) < 0)
		return -1;
	out->email_null = d->em.kind == F_NULL;
	return 0;
}

/*
 * The fast path: an envelope exactly as env_encode writes it (members in its order, no
 * whitespace, plain decimal integers) is read in one pass, matching the keys as literals
 * instead of scanning them; strings are still validated by scan_string and copied by
 * str_copy. It accepts only input that the scanner below accepts with the same result, and
 * hands anything else (another shape, any error) to the scanner, which also gives the reason,
 * so which path ran never shows. 0.93 us an envelope by the scanner, ~0.25 us here.
 */
struct fast {
	const char *p, *end;
	char err[U_ERRLEN]; /* scan_string's reason, unused: the scanner gives the real one */
};

/* 1 if the input goes on with the literal s (then skipped). */
#define EXPECT(f, s)                                                                           \
	((size_t)((f)->end - (f)->p) >= sizeof(s) - 1 && !memcmp((f)->p, s, sizeof(s) - 1) &&  \
	 ((f)->p += sizeof(s) - 1, 1))

/* A non-negative integer of at most 18 digits, no leading zero, into *v; 0 if not one. */
static int fast_uint(struct fast *f, long long *v)
{
	const char *q = f->p, *stop = f->end - f->p > 18 ? f->p + 18 : f->end;
	long long x = 0;
	while (q < stop && (unsigned)(*q - '0') < 10)
		x = x * 10 + (*q++ - '0');
	size_t n = (size_t)(q - f->p);
	if (!n || (q < f->end && (unsigned)(*q - '0') < 10) || (n > 1 && *f->p == '0'))
		return 0; /* none, a 19th digit, or a leading zero */
	f->p = q;
	*v = x;
	return 1;
}

/* A string, validated, into dst[cap] (NULL: validated only) and its raw length *rn. */
static int fast_str(struct fast *f, char *dst, size_t cap, size_t *rn)
{
	if (f->p >= f->end || *f->p != '"')
		return 0;
	struct scan sc = {f->p, f->end, f->p, 0, f->err, 0, 0};
	const char *s;
	size_t n;
	if (scan_string(&sc, &s, &n) < 0)
		return 0;
	if (dst)
		str_copy(s, n, dst, cap);
	if (rn)
		*rn = n;
	f->p = sc.p;
	return 1;
}

/* 1 with *out filled when buf is an envelope in env_encode's own shape that decodes. */
static int fast_decode(const char *buf, size_t len, struct cdc_row *out)
{
	struct fast f = {.p = buf, .end = buf + len};
	long long v;
	size_t n;
	char date[24];
	if (!EXPECT(&f, "{\"before\":null,\"after\":{\"customer_id\":") || !fast_uint(&f, &v) ||
	    v > UINT32_MAX)
		return 0;
	out->customer_id = (uint32_t)v;
	if (!EXPECT(&f, ",\"store_id\":") || !fast_uint(&f, &v) || v > UINT32_MAX)
		return 0;
	out->store_id = (uint32_t)v;
	if (!EXPECT(&f, ",\"first_name\":") ||
	    !fast_str(&f, out->first_name, sizeof out->first_name, NULL) ||
	    !EXPECT(&f, ",\"last_name\":") ||
	    !fast_str(&f, out->last_name, sizeof out->last_name, NULL) || !EXPECT(&f, ",\"email\":"))
		return 0;
	if (EXPECT(&f, "null"))
		out->email_null = 1;
	else if (!fast_str(&f, out->email, sizeof out->email, NULL))
		return 0;
	if (!EXPECT(&f, ",\"address_id\":") || !fast_uint(&f, &v) || v > UINT32_MAX)
		return 0;
	out->address_id = (uint32_t)v;
	if (!EXPECT(&f, ",\"active\":") || !fast_uint(&f, &v))
		return 0;
	out->active = v != 0;
	if (!EXPECT(&f, ",\"create_date\":") || !fast_str(&f, date, sizeof date, &n) || n > 19 ||
	    env_parse_datetime(date, &out->create_us) < 0)
		return 0;
	if (!EXPECT(&f, "},\"source\":{\"version\":") || !fast_str(&f, NULL, 0, NULL) ||
	    !EXPECT(&f, ",\"connector\":") || !fast_str(&f, NULL, 0, NULL) ||
	    !EXPECT(&f, ",\"name\":") || !fast_str(&f, NULL, 0, NULL) || !EXPECT(&f, ",\"db\":") ||
	    !fast_str(&f, NULL, 0, NULL) || !EXPECT(&f, ",\"table\":\"customer\",\"log_id\":") ||
	    !fast_uint(&f, &v) || v == 0)
		return 0;
	out->log_id = v;
	if (!EXPECT(&f, ",\"ts_ms\":") || !fast_uint(&f, &v) || !EXPECT(&f, ",\"ts_us\":") ||
	    !fast_uint(&f, &v))
		return 0;
	out->event_us = v;
	return EXPECT(&f, "},\"op\":\"c\",\"ts_ms\":") && fast_uint(&f, &v) && EXPECT(&f, "}") &&
	       f.p == f.end;
}

int env_decode(const char *buf, size_t len, struct cdc_row *out, char *err)
{
	struct env_fields d;
	struct scan sc = {buf, buf + len, buf, 0, err, 0, 0};
	memset(out, 0, sizeof *out);
	if (buf && fast_decode(buf, len, out))
		return 0;
	memset(out, 0, sizeof *out);
	memset(&d, 0, sizeof d);
	if (!buf || !len)
		return u_err(err, "not JSON: empty message");
	skip_ws(&sc);
	int r;
	if (sc.p < sc.end && *sc.p == '{') {
		r = scan_object(&sc, root_member, &d);
	} else {
		r = scan_value(&sc, NULL);
		if (r == 0) {
			skip_ws(&sc);
			if (sc.p != sc.end)
				return bad_json(&sc, "end of input expected");
			return u_err(err, "not a JSON object");
		}
	}
	if (r < 0)
		return -1;
	skip_ws(&sc);
	if (sc.p != sc.end)
		return bad_json(&sc, "end of input expected");
	r = validate(&d, out, err);
	if (r < 0)
		memset(out, 0, sizeof *out);
	return r;
}
