/*
 * test_envelope.c - the JSON envelope: round trips (unicode, quotes, backslashes, control
 * characters, broken UTF-8, cut names), every decode error the consumer must survive, and the
 * encode/decode rates (printed, not asserted). Single-threaded, no I/O besides stdout.
 */
#include "check.h"
#include "mutate.h"
#include "envelope.h"
#include "util.h"

#include <jansson.h>
#include <string.h>

/* A row with the given names and distinctive numbers. */
static struct cdc_row row(int64_t id, const char *first, const char *last, const char *email)
{
	struct cdc_row r;
	memset(&r, 0, sizeof r);
	r.log_id = id;
	r.event_us = 1732530194123456LL + id;
	r.customer_id = (uint32_t)(600 + id);
	r.store_id = (uint32_t)(1 + id % 2);
	r.address_id = (uint32_t)(700 + id);
	r.active = 1;
	r.create_us = 1732530194000000LL; /* 2024-11-25 10:23:14 UTC */
	snprintf(r.first_name, sizeof r.first_name, "%s", first);
	snprintf(r.last_name, sizeof r.last_name, "%s", last);
	snprintf(r.email, sizeof r.email, "%s", email);
	return r;
}

/* Encodes then decodes r and checks every field survives. */
static void round_trip(const struct cdc_row *r)
{
	char buf[ENV_MAX], err[U_ERRLEN] = "";
	int n = env_encode(r, "sakila", 1732530195000000LL, buf, sizeof buf);
	CHECK(n > 0);
	CHECK_EQ(strlen(buf), n);
	struct cdc_row d;
	int rc = env_decode(buf, (size_t)n, &d, err);
	CHECK_EQ(rc, 0);
	if (rc)
		fprintf(stderr, "decode: %s\n%s\n", err, buf);
	CHECK_EQ(d.log_id, r->log_id);
	CHECK_EQ(d.event_us, r->event_us);
	CHECK_EQ(d.customer_id, r->customer_id);
	CHECK_EQ(d.store_id, r->store_id);
	CHECK_EQ(d.address_id, r->address_id);
	CHECK_EQ(d.active, r->active);
	CHECK_EQ(d.create_us, r->create_us / 1000000 * 1000000);
	CHECK(!strcmp(d.first_name, r->first_name));
	CHECK(!strcmp(d.last_name, r->last_name));
	CHECK(!strcmp(d.email, r->email));
}

/* Expects decode of text to fail with a reason containing want. */
static void bad(const char *text, size_t len, const char *want)
{
	struct cdc_row d;
	char err[U_ERRLEN] = "";
	int rc = env_decode(text, len, &d, err);
	CHECK_EQ(rc, -1);
	CHECK(strstr(err, want) != NULL);
	if (!strstr(err, want))
		fprintf(stderr, "  want '%s', got '%s' for %.80s\n", want, err, text);
	CHECK_EQ(d.log_id, 0);
}

/* A valid envelope with one substring replaced, for error cases. */
static void bad_edit(const char *from, const char *to, const char *want)
{
	struct cdc_row r = row(5, "Ann", "Lee", "ann.lee@example.org");
	char buf[ENV_MAX], out[ENV_MAX + 64];
	env_encode(&r, "sakila", 1732530195000000LL, buf, sizeof buf);
	char *at = strstr(buf, from);
	CHECK(at != NULL);
	if (!at)
		return;
	snprintf(out, sizeof out, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
	bad(out, strlen(out), want);
}

/* Checks the exact text of one envelope, so the format stays what the README documents. */
static void exact_format(void)
{
	struct cdc_row r = row(1, "Mary", "Smith", "mary.smith@sakilacustomer.org");
	char buf[ENV_MAX];
	env_encode(&r, "sakila", 1732530195678901LL, buf, sizeof buf);
	const char *want =
	    "{\"before\":null,\"after\":{\"customer_id\":601,\"store_id\":2,\"first_name\":"
	    "\"Mary\","
	    "\"last_name\":\"Smith\",\"email\":\"mary.smith@sakilacustomer.org\",\"address_id\":"
	    "701,"
	    "\"active\":1,\"create_date\":\"2024-11-25 10:23:14\"},\"source\":{\"version\":"
	    "\"cdctop-0.1\",\"connector\":\"cdctop\",\"name\":\"cdctop\",\"db\":\"sakila\","
	    "\"table\":\"customer\",\"log_id\":1,\"ts_ms\":1732530194123,\"ts_us\":"
	    "1732530194123457},"
	    "\"op\":\"c\",\"ts_ms\":1732530195678}";
	CHECK(!strcmp(buf, want));
	if (strcmp(buf, want))
		fprintf(stderr, "got  %s\nwant %s\n", buf, want);
	/* and jansson agrees it is JSON */
	json_error_t je;
	json_t *j = json_loads(buf, 0, &je);
	CHECK(j != NULL);
	json_decref(j);
}

/* Strings that need escaping or repair. */
static void escaping(void)
{
	char zb[ENV_MAX];
	CHECK(env_encode(&(struct cdc_row){0}, "", 0, zb, sizeof zb) > 0); /* encodes; log_id 0 */
	struct cdc_row r = row(2, "Zoë", "Ñúñez-Ĳsselmeer", "zoe@example.org");
	round_trip(&r);
	r = row(3, "O\"Brien", "Back\\slash", "a\"b\\c@x.org");
	round_trip(&r);
	r = row(4, "日本語の名前", "😀 emoji", "tab\there\nnl\x01\x1f");
	round_trip(&r);
	r = row(5, "", "", "");
	round_trip(&r);

	/* 45 bytes of 2-byte characters cut in the middle: encoder repairs, output decodes */
	struct cdc_row c = row(6, "", "", "");
	memset(c.first_name, 0, sizeof c.first_name);
	for (int i = 0; i < 45; i++)
		c.first_name[i] = (char)(i % 2 ? 0xA9 : 0xC3); /* é é é ... cut after 0xC3 */
	char buf[ENV_MAX], err[U_ERRLEN];
	int n = env_encode(&c, "sakila", 0, buf, sizeof buf);
	CHECK(n > 0);
	struct cdc_row d;
	CHECK_EQ(env_decode(buf, (size_t)n, &d, err), 0);
	CHECK(strstr(buf, "\xEF\xBF\xBD") != NULL); /* U+FFFD for the orphan byte */
	CHECK(!strncmp(d.first_name, c.first_name, 44));

	/* invalid bytes anywhere (0xff, overlong, surrogate) are replaced, never passed on */
	struct cdc_row b = row(7,
	                       "a\xff"
	                       "b\xc0\xaf"
	                       "c\xed\xa0\x80",
	                       "x", "y");
	n = env_encode(&b, "sakila", 0, buf, sizeof buf);
	CHECK(n > 0);
	CHECK_EQ(env_decode(buf, (size_t)n, &d, err), 0);
	CHECK(strstr(d.first_name, "a\xEF\xBF\xBD"
	                           "b") == d.first_name);

	/* long decoded strings are cut at a character boundary */
	const char *lng =
	    "{\"op\":\"c\",\"source\":{\"table\":\"customer\",\"log_id\":9,\"ts_ms\":5},"
	    "\"after\":{\"customer_id\":1,\"store_id\":1,\"first_name\":"
	    "\"ééééééééééééééééééééééééééééééééééééééééééééééééééé\"}}";
	CHECK_EQ(env_decode(lng, strlen(lng), &d, err), 0);
	CHECK_EQ(strlen(d.first_name), 44); /* 22 é, not 22.5 */
	CHECK_EQ(d.event_us, 5000);
	CHECK_EQ(d.address_id, 0);

	/* buffer too small: -1, never an overflow */
	char small[64];
	CHECK_EQ(env_encode(&r, "sakila", 0, small, sizeof small), -1);
	CHECK_EQ(env_encode(&r, "sakila", 0, small, 0), -1);
	n = env_encode(&r, "sakila", 0, buf, sizeof buf);
	CHECK_EQ(env_encode(&r, "sakila", 0, buf, (size_t)n), -1);
	CHECK_EQ(env_encode(&r, "sakila", 0, buf, (size_t)n + 1), n);

	/* worst case fits ENV_MAX: every byte a control character, db of 64 bytes */
	struct cdc_row w;
	memset(&w, 1, sizeof w);
	w.first_name[45] = w.last_name[45] = w.email[50] = 0;
	w.log_id = INT64_MAX;
	w.event_us = INT64_MIN;
	CHECK(env_encode(&w, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
	                 INT64_MAX, buf, sizeof buf) > 0);
}

/* Decode errors. */
static void errors(void)
{
	bad("", 0, "not JSON");
	bad("hello", 5, "not JSON");
	bad("{\"op\":\"c\",\"source\":{", 20, "not JSON");
	struct cdc_row r = row(8, "Ann", "Lee", "a@b.c");
	char buf[ENV_MAX];
	int n = env_encode(&r, "sakila", 0, buf, sizeof buf);
	for (int cut = 1; cut < n; cut += 7)
		bad(buf, (size_t)cut, "not JSON"); /* truncated anywhere */
	bad("[1,2,3]", 7, "not a JSON object");
	bad("null", 4, "not a JSON object");
	bad("{}", 2, "no op");
	bad_edit("\"log_id\":5", "\"log_idx\":5", "no source.log_id");
	bad_edit("\"log_id\":5", "\"log_id\":\"5\"", "source.log_id is not an integer");
	bad_edit("\"log_id\":5", "\"log_id\":-5", "source.log_id is not positive");
	bad_edit("\"log_id\":5", "\"log_id\":0", "source.log_id is not positive");
	bad_edit("\"log_id\":5", "\"log_id\":5.5", "source.log_id is not an integer");
	bad_edit("\"op\":\"c\"", "\"op\":\"d\"", "op is not \"c\"");
	bad_edit("\"op\":\"c\"", "\"op\":1", "op is not \"c\"");
	bad_edit("\"table\":\"customer\"", "\"table\":\"address\"", "source.table is not");
	bad_edit("\"store_id\":2", "\"store_id\":\"2\"", "after.store_id is not an integer");
	bad_edit("\"store_id\":2", "\"store_idx\":2", "no after.store_id");
	bad_edit("\"store_id\":2", "\"store_id\":2.0", "after.store_id is not an integer");
	bad_edit("\"customer_id\":605", "\"customer_id\":-1", "after.customer_id is out of range");
	bad_edit("\"customer_id\":605", "\"cid\":605", "no after.customer_id");
	bad_edit("\"ts_us\":", "\"ts_us\":\"x\",\"y\":", "source.ts_us is not an integer");
	bad_edit("\"customer_id\":605", "\"customer_id\":99999999999999999999", "not JSON");
	bad_edit("\"first_name\":\"Ann\"", "\"first_name\":7", "after.first_name is not a string");
	bad_edit("\"create_date\":\"2024", "\"create_date\":\"x024", "after.create_date");
	bad_edit("\"after\":{", "\"after\":[{", "not JSON");
	bad_edit("\"after\":{\"customer_id\":605,", "\"after\":7,\"x\":{\"customer_id\":605,",
	         "no after");
	bad("{\"op\":\"c\",\"source\":{\"table\":\"customer\",\"log_id\":1},\"after\":{}}", 62,
	    "no source.ts_us or source.ts_ms");
	bad("{\"op\":\"c\",\"source\":[]}", 22, "no source");
	/* deeply nested input is refused, not a stack overflow */
	static char deep[200001];
	memset(deep, '[', sizeof deep - 1);
	bad(deep, sizeof deep - 1, "not JSON");
	/* embedded NUL is refused */
	bad("{\"op\":\"c\\u0000\"}", 16, "not JSON");
	bad("{\"op\"\0:\"c\"}", 11, "not JSON");
}

/* A falls-back check that ts_ms alone works (an envelope from another producer). */
static void ts_ms_only(void)
{
	const char *t =
	    "{\"before\":null,\"after\":{\"customer_id\":3,\"store_id\":2,\"active\":true},"
	    "\"source\":{\"table\":\"customer\",\"log_id\":77,\"ts_ms\":1700000000123},"
	    "\"op\":\"c\",\"ts_ms\":1}";
	struct cdc_row d;
	char err[U_ERRLEN] = "";
	CHECK_EQ(env_decode(t, strlen(t), &d, err), 0);
	CHECK_EQ(d.log_id, 77);
	CHECK_EQ(d.event_us, 1700000000123000LL);
	CHECK_EQ(d.active, 1);
	CHECK_EQ(d.store_id, 2);
	char key[16];
	CHECK_EQ(env_key(&d, key, sizeof key), 1);
	CHECK(!strcmp(key, "3"));
}

/* Date formatting both ways, including before 1970 and clamping. */
static void dates(void)
{
	char b[20];
	int64_t us;
	env_fmt_datetime(0, b);
	CHECK(!strcmp(b, "1970-01-01 00:00:00"));
	env_fmt_datetime(-1, b);
	CHECK(!strcmp(b, "1969-12-31 23:59:59"));
	env_fmt_datetime(951782400000000LL, b); /* 2000-02-29 */
	CHECK(!strcmp(b, "2000-02-29 00:00:00"));
	env_fmt_datetime(INT64_MAX, b);
	CHECK(!strcmp(b, "9999-12-31 23:59:59"));
	env_fmt_datetime(INT64_MIN, b);
	CHECK(!strcmp(b, "0000-01-01 00:00:00"));
	CHECK_EQ(env_parse_datetime("2000-02-29 00:00:00", &us), 0);
	CHECK_EQ(us, 951782400000000LL);
	CHECK_EQ(env_parse_datetime("1969-12-31 23:59:59", &us), 0);
	CHECK_EQ(us, -1000000);
	CHECK_EQ(env_parse_datetime("2000-13-01 00:00:00", &us), -1);
	CHECK_EQ(env_parse_datetime("2000-01-01", &us), -1);
	for (int64_t t = -5000000000000000LL; t < 5000000000000000LL; t += 123456789012345LL) {
		env_fmt_datetime(t, b);
		CHECK_EQ(env_parse_datetime(b, &us), 0);
		CHECK_EQ(us, t / 1000000 * 1000000 - (t % 1000000 < 0 ? 1000000 : 0));
	}
}

/* ---- a reference decoder built on jansson: the oracle env_decode is checked against ---- */

/* Reference: an integer member, same rules and messages as envelope.c. */
static int ref_int(json_t *o, const char *key, const char *name, int required, long long min,
                   long long max, long long *v, char *err)
{
	json_t *j = json_object_get(o, key);
	*v = 0;
	if (!j || json_is_null(j))
		return required ? u_err(err, "no %s", name) : 0;
	if (json_is_boolean(j) && !required) {
		*v = json_is_true(j);
		return 0;
	}
	if (!json_is_integer(j))
		return u_err(err, "%s is not an integer", name);
	*v = json_integer_value(j);
	if (*v < min || *v > max)
		return u_err(err, "%s is out of range (%lld)", name, *v);
	return 0;
}

/* Reference: a string member cut at a character boundary. */
static int ref_str(json_t *o, const char *key, const char *name, char *dst, size_t cap, char *err)
{
	json_t *v = json_object_get(o, key);
	dst[0] = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return u_err(err, "%s is not a string", name);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n >= cap) {
		n = cap - 1;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* Reference: 1 if j is the string lit. */
static int ref_is(json_t *j, const char *lit)
{
	return json_is_string(j) && json_string_length(j) == strlen(lit) &&
	       !strcmp(json_string_value(j), lit);
}

/* Reference decode; returns 0, -1 with err, or -2 when jansson finds no valid JSON. */
static int ref_decode(const char *buf, size_t len, struct cdc_row *out, char *err)
{
	json_error_t je;
	long long v;
	memset(out, 0, sizeof *out);
	json_t *root = json_loadb(buf, len, JSON_DECODE_ANY, &je);
	if (!root) {
		u_err(err, "%s", je.text);
		return -2;
	}
	int r = -1;
	json_t *src = json_object_get(root, "source"), *after = json_object_get(root, "after");
	json_t *ts = json_object_get(src, "ts_us"), *lid = json_object_get(src, "log_id");
	json_t *cd = json_object_get(after, "create_date");
	if (!json_is_object(root)) {
		u_err(err, "not a JSON object");
	} else if (!json_object_get(root, "op")) {
		u_err(err, "no op");
	} else if (!ref_is(json_object_get(root, "op"), "c")) {
		u_err(err, "op is not \"c\" (not an insert)");
	} else if (!json_is_object(src)) {
		u_err(err, "no source");
	} else if (!ref_is(json_object_get(src, "table"), "customer")) {
		u_err(err, "source.table is not \"customer\"");
	} else if (json_is_integer(lid) && json_integer_value(lid) <= 0) {
		u_err(err, "source.log_id is not positive");
	} else if (ref_int(src, "log_id", "source.log_id", 1, 1, INT64_MAX, &v, err) == 0) {
		out->log_id = v;
		if (ts && !json_is_null(ts)) {
			if (!json_is_integer(ts))
				goto done_err_ts_us;
			out->event_us = json_integer_value(ts);
		} else {
			ts = json_object_get(src, "ts_ms");
			if (!ts || json_is_null(ts)) {
				u_err(err, "no source.ts_us or source.ts_ms");
				goto done;
			}
			if (!json_is_integer(ts)) {
				u_err(err, "source.ts_ms is not an integer");
				goto done;
			}
			long long ms = json_integer_value(ts);
			if (ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000) {
				u_err(err, "source.ts_ms is out of range");
				goto done;
			}
			out->event_us = ms * 1000;
		}
		if (!json_is_object(after)) {
			u_err(err, "no after");
			goto done;
		}
		if (ref_int(after, "customer_id", "after.customer_id", 1, 0, UINT32_MAX, &v, err))
			goto done;
		out->customer_id = (uint32_t)v;
		if (ref_int(after, "store_id", "after.store_id", 1, 0, UINT32_MAX, &v, err))
			goto done;
		out->store_id = (uint32_t)v;
		if (ref_int(after, "address_id", "after.address_id", 0, 0, UINT32_MAX, &v, err))
			goto done;
		out->address_id = (uint32_t)v;
		if (ref_int(after, "active", "after.active", 0, INT64_MIN, INT64_MAX, &v, err))
			goto done;
		out->active = v != 0;
		if (json_is_string(cd)) {
			if (env_parse_datetime(json_string_value(cd), &out->create_us) < 0) {
				u_err(err, "after.create_date is not YYYY-MM-DD HH:MM:SS");
				goto done;
			}
		} else if (json_is_integer(cd)) {
			long long ms = json_integer_value(cd);
			if (ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000) {
				u_err(err, "after.create_date is out of range");
				goto done;
			}
			out->create_us = ms * 1000;
		} else if (cd && !json_is_null(cd)) {
			u_err(err, "after.create_date is not a date");
			goto done;
		}
		if (ref_str(after, "first_name", "after.first_name", out->first_name,
		            sizeof out->first_name, err) ||
		    ref_str(after, "last_name", "after.last_name", out->last_name,
		            sizeof out->last_name, err) ||
		    ref_str(after, "email", "after.email", out->email, sizeof out->email, err))
			goto done;
		out->email_null = json_is_null(json_object_get(after, "email"));
		r = 0;
	}
	goto done;
done_err_ts_us:
	u_err(err, "source.ts_us is not an integer");
done:
	json_decref(root);
	if (r)
		memset(out, 0, sizeof *out);
	return r;
}

/* One edit of the compact envelope, as fast_edges makes it: replace the first `from` by `to`. */
struct edit {
	const char *from, *to;
	int ok; /* 1 if the edited envelope decodes */
};

/*
 * env_decode's fast path (env_encode's exact shape) at its edges: numbers at and past their
 * limits, leading zeros, 18 and 19 digits, null, booleans, escapes, a bad date, an escaped
 * table name. Each edited envelope must decode as the jansson reference decodes it, and as the
 * general scanner does (the same bytes with a space after them), row and reason alike.
 */
static void fast_edges(void)
{
	static const struct edit edits[] = {
	    {"", "", 1},
	    {"\"customer_id\":601", "\"customer_id\":4294967295", 1},
	    {"\"customer_id\":601", "\"customer_id\":4294967296", 0},
	    {"\"customer_id\":601", "\"customer_id\":0601", 0},
	    {"\"customer_id\":601", "\"customer_id\":0", 1},
	    {"\"customer_id\":601", "\"customer_id\":999999999999999999", 0},
	    {"\"store_id\":2", "\"store_id\":2.0", 0},
	    {"\"store_id\":2", "\"store_id\":-2", 0},
	    {"\"address_id\":701", "\"address_id\":null", 1},
	    {"\"log_id\":1,", "\"log_id\":0,", 0},
	    {"\"log_id\":1,", "\"log_id\":123456789012345678,", 1},
	    {"\"log_id\":1,", "\"log_id\":1234567890123456789,", 1},
	    {"\"log_id\":1,", "\"log_id\":9223372036854775808,", 0},
	    {"\"log_id\":1,", "\"log_id\":-1,", 0},
	    {"\"email\":\"mary@x.org\"", "\"email\":null", 1},
	    {"\"email\":\"mary@x.org\"", "\"email\":\"m\\\"ary\\u00e9@x.org\"", 1},
	    {"\"email\":\"mary@x.org\"", "\"email\":7", 0},
	    {"\"active\":1", "\"active\":0", 1},
	    {"\"active\":1", "\"active\":2", 1},
	    {"\"active\":1", "\"active\":true", 1},
	    {"\"active\":1", "\"active\":-3", 1},
	    {"10:23:14\"", "10:23:1\"", 0},
	    {"2024-11-25", "2024-13-25", 0},
	    {"\"first_name\":\"Mary\"", "\"first_name\":\"M\\u00e9ry\\t\"", 1},
	    {"\"first_name\":\"Mary\"", "\"first_name\":\"M\xff" "ry\"", 0},
	    {"\"first_name\":\"Mary\"", "\"first_name\":\"Mary", 0},
	    {"\"table\":\"customer\"", "\"table\":\"cust\\u006fmer\"", 1},
	    {"\"table\":\"customer\"", "\"table\":\"address\"", 0},
	    {"\"version\":\"cdctop-0.1\"", "\"version\":1", 1},
	    {"\"db\":\"sakila\"", "\"db\":\"\\ud83d\\ude00\"", 1},
	    {"\"op\":\"c\"", "\"op\":\"u\"", 0},
	    {",\"ts_us\":1732530194123457", "", 1},
	    {"\"ts_us\":1732530194123457", "\"ts_us\":1.5", 0},
	    {"\"ts_us\":1732530194123457", "\"ts_us\":0", 1},
	    {"\"op\":\"c\",\"ts_ms\":1732530195000}", "\"op\":\"c\",\"ts_ms\":1732530195000}}", 0},
	    {"\"op\":\"c\",\"ts_ms\":1732530195000}", "\"op\":\"c\",\"ts_ms\":1732530195000", 0},
	    {"{\"before\":null", "{\"before\":null,\"before\":1", 1},
	};
	struct cdc_row r = row(1, "Mary", "Smith", "mary@x.org");
	char base[ENV_MAX];
	CHECK(env_encode(&r, "sakila", 1732530195000000LL, base, sizeof base) > 0);
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		const struct edit *e = &edits[i];
		char buf[ENV_MAX + 64];
		const char *at = strstr(base, e->from);
		CHECK(at != NULL);
		if (!at)
			continue;
		size_t pre = (size_t)(at - base), fl = strlen(e->from), tl = strlen(e->to);
		memcpy(buf, base, pre);
		memcpy(buf + pre, e->to, tl);
		strcpy(buf + pre + tl, at + fl);
		size_t len = strlen(buf);
		struct cdc_row a, b, c;
		char ea[U_ERRLEN] = "", eb[U_ERRLEN] = "", ec[U_ERRLEN] = "";
		int ra = env_decode(buf, len, &a, ea);
		int rb = ref_decode(buf, len, &b, eb);
		buf[len] = ' ';
		int rc = env_decode(buf, len + 1, &c, ec);
		/* a reason is the scanner's on both paths; only a byte offset at the end moves */
		int reason_same = !strcmp(ea, ec) || (!strncmp(ea, "not JSON", 8) &&
						      !strncmp(ec, "not JSON", 8));
		int same = (ra == 0) == e->ok && rc == ra &&
			   (ra ? reason_same
			       : !memcmp(&a, &c, sizeof a) && !memcmp(&a, &b, sizeof a)) &&
			   (rb == 0) == (ra == 0);
		CHECK(same);
		if (!same)
			fprintf(stderr, "edit %zu (%s -> %s): %d '%s', scanner %d '%s', jansson %d '%s'\n",
				i, e->from, e->to, ra, ea, rc, ec, rb, eb);
	}
	/* the untouched envelope took the fast path's values: a spot check of the row */
	struct cdc_row d;
	char err[U_ERRLEN];
	CHECK_EQ(env_decode(base, strlen(base), &d, err), 0);
	CHECK_EQ(d.log_id, 1);
	CHECK_EQ(d.event_us, r.event_us);
	CHECK_EQ(d.address_id, 701);
	CHECK(!strcmp(d.email, "mary@x.org") && !d.email_null);
}

/* Mutates valid envelopes and checks env_decode agrees with the jansson reference on each. */
static void differential(void)
{
	struct cdc_row rows[3] = {row(1, "Mary", "Smith", "mary@x.org"),
	                          row(2, "Zoë \"Q\"", "Ñ\\ú 😀", "t\tab@x.org"),
	                          row(3, "", "Ĳsselmeer-ĲĳĲĳĲĳĲĳĲĳĲĳĲĳĲĳĲĳĲĳ", "a@b")};
	int n = 0, agree = 0, valid = 0, json_ok = 0, paths_agree = 0, tried = 0, fast = 0;
	for (int iter = 0; iter < 200000; iter++) {
		char buf[ENV_MAX * 2];
		int len = env_encode(&rows[iter % 3], "sakila", 1, buf, ENV_MAX);
		mutate(buf, &len, (int)sizeof buf);
		struct cdc_row a, b;
		char ea[U_ERRLEN] = "", eb[U_ERRLEN] = "";
		int ra = env_decode(buf, (size_t)len, &a, ea);
		int rb = ref_decode(buf, (size_t)len, &b, eb);
		/* a space after it sends it past the fast path (env_encode's exact shape) to the
		   general scanner: both paths must give the same row, or both refuse */
		struct cdc_row c;
		char ec[U_ERRLEN] = "";
		buf[len] = ' ';
		int rc = env_decode(buf, (size_t)len + 1, &c, ec);
		paths_agree += rc == ra && (ra || !memcmp(&a, &c, sizeof a));
		if (ra == 0) { /* in the fast path's shape for certain: what env_encode writes */
			char re[ENV_MAX];
			int rl = env_encode(&a, "sakila", 1, re, sizeof re);
			fast += rl == len && !memcmp(re, buf, (size_t)len);
		}
		tried++;
		if (rb == -2 && (strstr(eb, "real number overflow") || strstr(eb, "too deep")))
			continue; /* documented differences */
		n++;
		int same;
		if (rb == -2)
			same = ra == -1 && !strncmp(ea, "not JSON", 8);
		else if (rb == -1)
			same = ra == -1 && !strcmp(ea, eb);
		else
			same = ra == 0 && !memcmp(&a, &b, sizeof a);
		json_ok += rb != -2;
		valid += rb == 0;
		agree += same;
		if (!same && n - agree <= 5)
			fprintf(stderr, "differ: ours %d '%s', jansson %d '%s' on %.*s\n", ra, ea,
			        rb, eb, len, buf);
	}
	CHECK_EQ(agree, n);
	CHECK_EQ(paths_agree, tried);
	CHECK(fast > 1000); /* the mutations exercise the fast path, not only the scanner */
	printf("differential: %d mutated envelopes (%d JSON, %d valid), %d agree with jansson; "
	       "fast path and scanner agree on %d of %d (%d valid in the compact shape)\n",
	       n, json_ok, valid, agree, paths_agree, tried, fast);
}

/* Prints encode and decode rates over a realistic row. */
static void rates(void)
{
	struct cdc_row r = row(1, "MARGARET", "MOORE", "MARGARET.MOORE@sakilacustomer.org");
	char buf[ENV_MAX], err[U_ERRLEN];
	const int n = 400000;
	int64_t t0 = u_mono_us();
	size_t bytes = 0;
	for (int i = 0; i < n; i++) {
		r.log_id = i + 1;
		r.event_us += 1000;
		bytes += (size_t)env_encode(&r, "sakila", r.event_us + 5000, buf, sizeof buf);
	}
	int64_t t1 = u_mono_us();
	struct cdc_row d;
	int ok = 0;
	size_t len = strlen(buf);
	for (int i = 0; i < n; i++)
		ok += env_decode(buf, len, &d, err) == 0;
	int64_t t2 = u_mono_us();
	CHECK_EQ(ok, n);
	printf("envelope: %zu bytes; encode %.0f/s, decode %.0f/s\n", bytes / (size_t)n,
	       n / ((double)(t1 - t0) / 1e6), n / ((double)(t2 - t1) / 1e6));
}

/* The envelope as jansson writes it (the encoder's former implementation): the oracle the
   fixed-shape writer must match byte for byte. Strings must be valid UTF-8 here. */
static int ref_encode(const struct cdc_row *r, const char *db, int64_t now_us, char *buf,
		      size_t cap)
{
	char date[20];
	env_fmt_datetime(r->create_us, date);
	int64_t ms = r->event_us / 1000 - (r->event_us % 1000 < 0);
	int64_t now_ms = now_us / 1000 - (now_us % 1000 < 0);
	json_t *email = r->email_null ? json_null() : json_string(r->email);
	json_t *root = json_pack(
	    "{s:n, s:{s:I, s:I, s:s, s:s, s:o, s:I, s:I, s:s}, "
	    "s:{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}, s:s, s:I}",
	    "before", "after", "customer_id", (json_int_t)r->customer_id, "store_id",
	    (json_int_t)r->store_id, "first_name", r->first_name, "last_name", r->last_name, "email",
	    email, "address_id", (json_int_t)r->address_id, "active", (json_int_t)(r->active ? 1 : 0),
	    "create_date", date, "source", "version", "cdctop-0.1", "connector", "cdctop", "name",
	    "cdctop", "db", db, "table", "customer", "log_id", (json_int_t)r->log_id, "ts_ms",
	    (json_int_t)ms, "ts_us", (json_int_t)r->event_us, "op", "c", "ts_ms", (json_int_t)now_ms);
	if (!root)
		return -1;
	size_t n = json_dumpb(root, buf, cap - 1, JSON_COMPACT);
	json_decref(root);
	if (n == 0 || n > cap - 1)
		return -1;
	buf[n] = 0;
	return (int)n;
}

/* A random valid UTF-8 string of at most max bytes: ASCII (quotes, backslashes and every
   control character included), 2, 3 and 4 byte characters. */
static void rand_utf8(char *dst, size_t max)
{
	static const char *const pool[] = {"\"", "\\", "/", "\x7f", "é", "ë", "€", "中", "😀",
					   "\xe2\x80\xa8", "a", "Z", "0", " ", "@", "."};
	size_t n = 0, want = rnd() % (max + 1);
	while (n < want) {
		char one[2] = {0, 0};
		const char *piece;
		unsigned k = (unsigned)(rnd() % 24);
		if (k < 16) {
			piece = pool[k];
		} else {
			one[0] = (char)(1 + rnd() % 0x7f); /* any ASCII but NUL */
			piece = one;
		}
		size_t l = strlen(piece);
		if (n + l > want)
			break;
		memcpy(dst + n, piece, l);
		n += l;
	}
	dst[n] = 0;
}

/* The fixed-shape writer writes byte for byte what jansson writes for the same envelope, over
   random rows (every escape, multi-byte characters, extreme numbers, null emails), row after
   row. Rates printed, not asserted. */
static void writer_matches_jansson(void)
{
	char a[ENV_MAX], b[ENV_MAX], c[ENV_MAX], db[65];
	int same = 0;
	for (int i = 0; i < 100000; i++) {
		struct cdc_row r;
		memset(&r, 0, sizeof r);
		rand_utf8(r.first_name, sizeof r.first_name - 1);
		rand_utf8(r.last_name, sizeof r.last_name - 1);
		rand_utf8(r.email, sizeof r.email - 1);
		rand_utf8(db, 64);
		r.email_null = rnd() % 5 == 0;
		r.log_id = (int64_t)(rnd() >> (rnd() % 64));
		r.event_us = (int64_t)(rnd() >> 8) * (rnd() % 3 ? 1 : -1);
		r.create_us = (int64_t)(rnd() % 4102444800000000ULL);
		r.customer_id = (uint32_t)rnd();
		r.store_id = (uint32_t)(rnd() >> (rnd() % 32));
		r.address_id = (uint32_t)rnd();
		r.active = (int)(rnd() % 3);
		int64_t now = (int64_t)(rnd() >> 10);
		int na = env_encode(&r, db, now, a, sizeof a);
		int nc = ref_encode(&r, db, now, c, sizeof c);
		CHECK(na > 0);
		CHECK_EQ(na, nc);
		same += na > 0 && na == nc && !strcmp(a, c);
		if (na != nc || strcmp(a, c)) {
			fprintf(stderr, "writer: %s\njansson: %s\n", a, c);
			break;
		}
	}
	CHECK_EQ(same, 100000);
	/* the awkward names one after another, each as jansson writes it (invalid bytes, which
	   jansson refuses, are tested above: each becomes U+FFFD) */
	static const char *const names[] = {"Zoë", "O\"Brien", "a\\b", "", "\t\n", "José"};
	for (int i = 0; i < 600; i++) {
		struct cdc_row r = row(i + 1, names[i % 6], names[(i / 6) % 6], names[(i / 36) % 6]);
		r.email_null = i % 3 == 0;
		int na = env_encode(&r, i % 2 ? "sakila" : "db_2", 1764064800000000LL + i, a, sizeof a);
		int nc = ref_encode(&r, i % 2 ? "sakila" : "db_2", 1764064800000000LL + i, c, sizeof c);
		CHECK_EQ(na, nc);
		CHECK(na > 0 && !strcmp(a, c));
	}
	struct cdc_row r = row(7, "Mary", "Smith", "mary@example.com");
	CHECK_EQ(env_encode(&r, "sakila", 0, b, 10), -1);
	int64_t t0 = u_mono_us();
	int n = 0;
	for (; n < 200000; n++)
		env_encode(&r, "sakila", 0, b, sizeof b);
	int64_t t1 = u_mono_us();
	for (int k = 0; k < 200000; k++)
		ref_encode(&r, "sakila", 0, c, sizeof c);
	int64_t t2 = u_mono_us();
	printf("encoder: %.0f/s; jansson's json_pack + json_dumpb: %.0f/s\n",
	       n / ((double)(t1 - t0) / 1e6), n / ((double)(t2 - t1) / 1e6));
}

/* Every digit count and sign of each number the writer puts, and the key, against jansson and
   snprintf: each power of ten, one less, and the ends of the types. */
static void number_edges(void)
{
	int64_t v[64];
	int nv = 0;
	v[nv++] = 0;
	v[nv++] = INT64_MAX;
	v[nv++] = INT64_MIN;
	for (int64_t p = 1; nv < 60; p *= 10) {
		v[nv++] = p;
		v[nv++] = p - 1 > 0 ? p - 1 : 1;
		v[nv++] = -p;
		if (p > INT64_MAX / 10)
			break;
	}
	char a[ENV_MAX], c[ENV_MAX], k[16], want[16];
	for (int i = 0; i < nv; i++)
		for (int j = 0; j < nv; j++) {
			struct cdc_row r = row(1, "Mary", "Smith", "mary@example.com");
			r.log_id = v[i];
			r.event_us = v[j];
			r.customer_id = (uint32_t)v[i];
			r.store_id = (uint32_t)v[j];
			r.address_id = (uint32_t)(v[i] ^ v[j]);
			int na = env_encode(&r, "sakila", v[(i + j) % nv], a, sizeof a);
			int nc = ref_encode(&r, "sakila", v[(i + j) % nv], c, sizeof c);
			CHECK_EQ(na, nc);
			CHECK(na > 0 && !strcmp(a, c));
			int nk = env_key(&r, k, sizeof k);
			int nw = snprintf(want, sizeof want, "%u", (unsigned)r.customer_id);
			CHECK_EQ(nk, nw);
			CHECK(!strcmp(k, want));
		}
	struct cdc_row r = row(1, "Mary", "Smith", "mary@example.com");
	r.customer_id = 4294967295u;
	CHECK_EQ(env_key(&r, k, 4), 10); /* truncated as snprintf truncates */
	CHECK(!strcmp(k, "429"));
}

int main(void)
{
	number_edges();
	writer_matches_jansson();
	exact_format();
	escaping();
	errors();
	ts_ms_only();
	dates();
	fast_edges();
	differential();
	rates();
	return check_done("test_envelope");
}
