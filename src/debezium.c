/*
 * debezium.c - the Debezium MySQL connector's messages, decoded with jscan.h's scanner (no
 * allocation): the schema wrapper unwrapped, the members the count needs kept, everything else
 * (the schema, the transaction block, other columns) validated and dropped (a schema equal to
 * the caller's cached one is skipped by memcmp). The identity is 2 bits of kind and 61 bits
 * packing the binlog position (or GTID, or a snapshot row's table and key) so that it increases
 * with the binlog: the window store's seen-id set holds a run per change, appended to in
 * order; only what does not fit is hashed. Pure but for the cache the caller owns.
 */
#include "debezium.h"
#include "jscan.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define TAG_SHIFT 61 /* bits 62..61: the identity's kind; bit 63 stays 0 */
#define POS_FILE_BITS 18
#define POS_POS_BITS  31
#define ROW_BITS      12
#define GTID_SRC_BITS 13
#define GTID_TXN_BITS 36
#define KEY_TBL_BITS  13
#define KEY_PK_BITS   48
#define LOW61         ((1ULL << TAG_SHIFT) - 1)

/* What the decode keeps of one message (a repeated member wins, as in jansson). */
struct dbz_fields {
	const char *group;
	size_t group_len;
	struct dbz_cache *cache;
	int wrapped;                     /* the root had "payload": the envelope is in it */
	int null_payload;                /* {"schema":..,"payload":null}: a tombstone */
	struct field op, before, after, source, ts_ms, status, ddl;
	struct field s_ts, s_snap, s_table, s_server, s_gtid, s_file, s_pos, s_logid, s_row;
	struct field g_after, g_before;  /* the group column in after / before */
	const char *ga_b, *ga_e, *gb_b, *gb_e; /* their raw text */
	const char *after_b, *after_e;   /* the raw after object (identity of a keyless row) */
	int nmembers;                    /* root (or payload) members seen */
};

/* FNV-1a over s[0..n) from h. */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A final mix so the low bits depend on every input bit (splitmix64's). */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

#define FNV0 0xcbf29ce484222325ULL

/* A member of a row (after or before): only the group column is kept. */
static int row_member(struct scan *sc, const char *k, size_t kn, void *ctx, int after)
{
	struct dbz_fields *d = ctx;
	if (!js_key_n(sc, k, kn, d->group, d->group_len))
		return scan_value(sc, NULL);
	const char *b = sc->p;
	int r = scan_value(sc, after ? &d->g_after : &d->g_before);
	if (after) {
		d->ga_b = b;
		d->ga_e = sc->p;
	} else {
		d->gb_b = b;
		d->gb_e = sc->p;
	}
	return r;
}

static int after_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	return row_member(sc, k, kn, ctx, 1);
}

static int before_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	return row_member(sc, k, kn, ctx, 0);
}

static int source_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct dbz_fields *d = ctx;
	struct field *f = NULL;
	if (js_key(sc, k, kn, "ts_ms"))
		f = &d->s_ts;
	else if (js_key(sc, k, kn, "snapshot"))
		f = &d->s_snap;
	else if (js_key(sc, k, kn, "table"))
		f = &d->s_table;
	else if (js_key(sc, k, kn, "server_id"))
		f = &d->s_server;
	else if (js_key(sc, k, kn, "gtid"))
		f = &d->s_gtid;
	else if (js_key(sc, k, kn, "file"))
		f = &d->s_file;
	else if (js_key(sc, k, kn, "pos"))
		f = &d->s_pos;
	else if (js_key(sc, k, kn, "row"))
		f = &d->s_row;
	else if (js_key(sc, k, kn, "log_id"))
		f = &d->s_logid;
	return scan_value(sc, f);
}

/* An object member into f, its members handed to member (f's kind F_OBJ), or any value. */
static int object_or_value(struct scan *sc, struct field *f,
			   int (*member)(struct scan *, const char *, size_t, void *), void *ctx)
{
	if (sc->p >= sc->end || *sc->p != '{')
		return scan_value(sc, f);
	memset(f, 0, sizeof *f);
	f->kind = F_OBJ;
	return scan_object(sc, member, ctx);
}

/* Members of the envelope (the payload, or the root with schemas off). */
static int env_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct dbz_fields *d = ctx;
	d->nmembers++;
	if (js_key(sc, k, kn, "op"))
		return scan_value(sc, &d->op);
	if (js_key(sc, k, kn, "ts_ms"))
		return scan_value(sc, &d->ts_ms);
	if (js_key(sc, k, kn, "status"))
		return scan_value(sc, &d->status);
	if (js_key(sc, k, kn, "ddl"))
		return scan_value(sc, &d->ddl);
	if (js_key(sc, k, kn, "after")) {
		memset(&d->g_after, 0, sizeof d->g_after);
		d->ga_b = d->ga_e = NULL;
		d->after_b = sc->p;
		int r = object_or_value(sc, &d->after, after_member, d);
		d->after_e = sc->p;
		return r;
	}
	if (js_key(sc, k, kn, "before")) {
		memset(&d->g_before, 0, sizeof d->g_before);
		d->gb_b = d->gb_e = NULL;
		return object_or_value(sc, &d->before, before_member, d);
	}
	if (js_key(sc, k, kn, "source")) {
		memset(&d->s_ts, 0, (size_t)((char *)(&d->s_row + 1) - (char *)&d->s_ts));
		return object_or_value(sc, &d->source, source_member, d);
	}
	return scan_value(sc, NULL);
}

/* Members of the root: "payload" holds the envelope when schemas are on; "schema" is
   dropped. A root without "payload" is the envelope itself (schemas off). */
static int root_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct dbz_fields *d = ctx;
	if (js_key(sc, k, kn, "payload") && sc->p < sc->end && *sc->p == '{') {
		const char *g = d->group;
		size_t gl = d->group_len;
		struct dbz_cache *c = d->cache;
		memset(d, 0, sizeof *d);
		d->group = g;
		d->group_len = gl;
		d->cache = c;
		d->wrapped = 1;
		return scan_object(sc, env_member, d);
	}
	if (js_key(sc, k, kn, "payload") && sc->p < sc->end && *sc->p == 'n') {
		d->null_payload = 1;
		return scan_value(sc, NULL);
	}
	if (!d->wrapped && js_key(sc, k, kn, "schema") && d->cache) {
		struct dbz_cache *c = d->cache;
		const char *b = sc->p;
		if (c->n && (size_t)(sc->end - b) >= c->n && !memcmp(b, c->buf, c->n)) {
			sc->p += c->n; /* the same bytes as a value already validated */
			return 0;
		}
		if (scan_value(sc, NULL) < 0)
			return -1;
		if (*b == '{' && (size_t)(sc->p - b) <= sizeof c->buf) { /* prefix-free: an object */
			c->n = (size_t)(sc->p - b);
			memcpy(c->buf, b, c->n);
		}
		return 0;
	}
	if (d->wrapped || js_key(sc, k, kn, "schema"))
		return scan_value(sc, NULL);
	return env_member(sc, k, kn, d);
}

/* Scans a whole message as one JSON object; -1 with err when it is not one. */
static int scan_root(const char *buf, size_t len, char *err,
		     int (*member)(struct scan *, const char *, size_t, void *), void *ctx)
{
	struct scan sc = {buf, buf + len, buf, 0, err, 0, 0};
	skip_ws(&sc);
	if (sc.p >= sc.end || *sc.p != '{') {
		if (scan_value(&sc, NULL) < 0)
			return -1;
		skip_ws(&sc);
		if (sc.p != sc.end)
			return bad_json(&sc, "end of input expected");
		return u_err(err, "not a JSON object");
	}
	if (scan_object(&sc, member, ctx) < 0)
		return -1;
	skip_ws(&sc);
	if (sc.p != sc.end)
		return bad_json(&sc, "end of input expected");
	return 0;
}

/* 1 if f is a string that decodes to lit. */
static int str_is(const struct field *f, const char *lit)
{
	return f->kind == F_STR && key_is(f->s, f->n, lit);
}

/* The key: its payload (schemas on) or itself; one integer member is kept as the primary key. */
struct key_fields {
	int wrapped, nmembers, is_int;
	long long pk;
	const char *pb, *pe; /* the raw key object (the payload when wrapped) */
};

static int key_member(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct key_fields *kf = ctx;
	struct field f;
	if (scan_value(sc, &f) < 0)
		return -1;
	(void)k;
	(void)kn;
	kf->nmembers++;
	kf->is_int = kf->nmembers == 1 && f.kind == F_INT;
	kf->pk = f.i;
	return 0;
}

static int key_root(struct scan *sc, const char *k, size_t kn, void *ctx)
{
	struct key_fields *kf = ctx;
	if (js_key(sc, k, kn, "payload") && sc->p < sc->end && *sc->p == '{') {
		memset(kf, 0, sizeof *kf);
		kf->wrapped = 1;
		kf->pb = sc->p;
		int r = scan_object(sc, key_member, kf);
		kf->pe = sc->p;
		return r;
	}
	if (kf->wrapped || js_key(sc, k, kn, "schema"))
		return scan_value(sc, NULL);
	return key_member(sc, k, kn, kf);
}

/* The identity of a snapshot row: table and primary key from the message key, else a hash
   of the key's bytes, else (no key: a table without a primary key) of the row itself. */
static int64_t snapshot_id(const char *key, size_t klen, const struct dbz_fields *d,
			   struct dbz_event *out)
{
	uint64_t th = mix(fnv(FNV0, out->table, strlen(out->table)));
	if (key && klen) {
		struct key_fields kf;
		char kerr[U_ERRLEN];
		memset(&kf, 0, sizeof kf);
		const char *b = key, *e = key + klen;
		if (scan_root(key, klen, kerr, key_root, &kf) == 0) {
			if (kf.wrapped) {
				b = kf.pb;
				e = kf.pe;
			}
			if (kf.nmembers == 1 && kf.is_int && kf.pk >= 0 &&
			    kf.pk < (1LL << KEY_PK_BITS)) {
				out->idkind = DBZ_ID_KEY;
				return (int64_t)((uint64_t)DBZ_ID_KEY << TAG_SHIFT |
						 (th & ((1ULL << KEY_TBL_BITS) - 1)) << KEY_PK_BITS |
						 (uint64_t)kf.pk);
			}
		}
		out->idkind = DBZ_ID_HASH;
		return (int64_t)((uint64_t)DBZ_ID_HASH << TAG_SHIFT |
				 (mix(fnv(th ^ 'k', b, (size_t)(e - b))) & LOW61));
	}
	out->idkind = DBZ_ID_HASH;
	return (int64_t)((uint64_t)DBZ_ID_HASH << TAG_SHIFT |
			 (mix(fnv(th ^ 'a', d->after_b, (size_t)(d->after_e - d->after_b))) & LOW61));
}

/* The number after the last '.' of a binlog file name ("mysql-bin.000003" -> 3), or -1. */
static long long file_seq(const char *s, size_t n)
{
	size_t i = n;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == n || n - i > 12 || i == 0 || s[i - 1] != '.')
		return -1;
	long long v = 0;
	for (; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* The identity of a streamed change: GTID and row, else (server_id, file, pos, row). */
static int stream_id(const struct dbz_fields *d, struct dbz_event *out, char *err)
{
	long long row = d->s_row.kind == F_INT ? d->s_row.i : 0;
	if (row < 0)
		return u_err(err, "source.row is negative");
	if (d->s_gtid.kind == F_STR && d->s_gtid.n > 0) {
		/* MySQL "uuid:N" (or "uuid:1-N"), MariaDB "domain-server-N": N is the last number */
		const char *s = d->s_gtid.s;
		size_t n = d->s_gtid.n, i = n;
		while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
			i--;
		if (i < n && n - i <= 11 && i > 0 && row < (1LL << ROW_BITS)) {
			long long txn = 0;
			for (size_t j = i; j < n; j++)
				txn = txn * 10 + (s[j] - '0');
			if (txn < (1LL << GTID_TXN_BITS)) {
				uint64_t src = mix(fnv(FNV0, s, i)) & ((1ULL << GTID_SRC_BITS) - 1);
				out->idkind = DBZ_ID_GTID;
				out->id = (int64_t)((uint64_t)DBZ_ID_GTID << TAG_SHIFT |
						    src << (GTID_TXN_BITS + ROW_BITS) |
						    (uint64_t)txn << ROW_BITS | (uint64_t)row);
				return 0;
			}
		}
		uint64_t h = fnv(FNV0 ^ 'g', s, n);
		h = fnv(h, (const char *)&row, sizeof row);
		out->idkind = DBZ_ID_HASH;
		out->id = (int64_t)((uint64_t)DBZ_ID_HASH << TAG_SHIFT | (mix(h) & LOW61));
		return 0;
	}
	if (d->s_file.kind != F_STR || d->s_file.n == 0 || d->s_pos.kind != F_INT)
		return u_err(err, "no source.gtid and no source.file/pos: no position to count it "
				  "exactly once by");
	if (d->s_pos.i < 0)
		return u_err(err, "source.pos is negative");
	long long seq = file_seq(d->s_file.s, d->s_file.n);
	if (seq >= 0 && seq < (1LL << POS_FILE_BITS) && d->s_pos.i < (1LL << POS_POS_BITS) &&
	    row < (1LL << ROW_BITS)) {
		out->idkind = DBZ_ID_POS;
		out->id = (int64_t)((uint64_t)DBZ_ID_POS << TAG_SHIFT |
				    (uint64_t)seq << (POS_POS_BITS + ROW_BITS) |
				    (uint64_t)d->s_pos.i << ROW_BITS | (uint64_t)row);
		return 0;
	}
	long long v[3] = {d->s_server.kind == F_INT ? d->s_server.i : 0, d->s_pos.i, row};
	uint64_t h = fnv(FNV0 ^ 'p', d->s_file.s, d->s_file.n);
	h = fnv(h, (const char *)v, sizeof v);
	out->idkind = DBZ_ID_HASH;
	out->id = (int64_t)((uint64_t)DBZ_ID_HASH << TAG_SHIFT | (mix(h) & LOW61));
	return 0;
}

/* The binlog order of a change: file number, pos, row packed as a POS identity is (without
   its tag), or -1 when there is no position or it does not pack. */
static int64_t binlog_order(const struct dbz_fields *d)
{
	long long row = d->s_row.kind == F_INT ? d->s_row.i : 0;
	if (d->s_file.kind != F_STR || d->s_pos.kind != F_INT || d->s_pos.i < 0 || row < 0 ||
	    d->s_pos.i >= (1LL << POS_POS_BITS) || row >= (1LL << ROW_BITS))
		return -1;
	long long seq = file_seq(d->s_file.s, d->s_file.n);
	if (seq < 0 || seq >= (1LL << POS_FILE_BITS))
		return -1;
	return (int64_t)((uint64_t)seq << (POS_POS_BITS + ROW_BITS) |
			 (uint64_t)d->s_pos.i << ROW_BITS | (uint64_t)row);
}

/* v in decimal into buf (at least 21 bytes), as "%lld" writes it. */
static void int_text(long long v, char *buf)
{
	char t[24];
	int n = 0;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		t[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*buf++ = '-';
	while (n > 0)
		*buf++ = t[--n];
	*buf = 0;
}

/* The group column's value from f (raw text b..e) into out; -1 with err if not a scalar. */
static int group_value(const struct field *f, const char *b, const char *e, const char *where,
		       const char *group, struct dbz_event *out, char *err)
{
	switch (f->kind) {
	case F_ABSENT:
		return u_err(err, "%s.%.64s is missing (choose the column with --group-by)", where,
			     group);
	case F_NULL:
		snprintf(out->val, sizeof out->val, "null");
		break;
	case F_INT:
		out->is_int = 1;
		out->ival = f->i;
		int_text(f->i, out->val);
		break;
	case F_BOOL:
		memcpy(out->val, f->i ? "true" : "false", f->i ? 5 : 6);
		break;
	case F_STR:
		out->is_str = 1;
		str_copy(f->s, f->n, out->val, sizeof out->val);
		break;
	case F_OTHER:
		if (b && b < e && (*b == '-' || (*b >= '0' && *b <= '9'))) { /* a real number */
			size_t n = (size_t)(e - b);
			if (n > sizeof out->val - 1)
				n = sizeof out->val - 1;
			memcpy(out->val, b, n);
			out->val[n] = 0;
			break;
		}
		return u_err(err, "%s.%.64s is not a scalar (choose another --group-by)", where,
			     group);
	default:
		return u_err(err, "%s.%.64s is not a scalar (choose another --group-by)", where,
			     group);
	}
	out->has_val = 1;
	return 0;
}

int dbz_decode(const char *val, size_t len, const char *key, size_t klen, const char *group,
	       const char *table, struct dbz_event *out, char *err)
{
	return dbz_decode_cached(val, len, key, klen, group, table, NULL, out, err);
}

int dbz_decode_cached(const char *val, size_t len, const char *key, size_t klen,
		      const char *group, const char *table, struct dbz_cache *cache,
		      struct dbz_event *out, char *err)
{
	struct dbz_fields d;
	memset(out, 0, sizeof *out);
	memset(&d, 0, sizeof d);
	d.cache = cache;
	d.group = group && *group ? group : "store_id";
	d.group_len = strlen(d.group);
	if (!val || !len) {
		out->kind = DBZ_SKIP; /* a tombstone: the key's row was deleted (log compaction) */
		return 0;
	}
	if (scan_root(val, len, err, root_member, &d) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	if (d.null_payload && !d.wrapped) {
		out->kind = DBZ_SKIP;
		return 0;
	}
	if (d.op.kind == F_ABSENT || d.op.kind == F_NULL) {
		/* a heartbeat ({"ts_ms":..}), a transaction marker or a schema change */
		if (d.status.kind == F_STR || d.ddl.kind != F_ABSENT ||
		    (d.ts_ms.kind == F_INT && d.source.kind == F_ABSENT &&
		     d.after.kind == F_ABSENT)) {
			out->kind = DBZ_SKIP;
			return 0;
		}
		return u_err(err, "no op");
	}
	int snap = 0;
	if (str_is(&d.op, "c"))
		out->kind = DBZ_CREATE;
	else if (str_is(&d.op, "r"))
		out->kind = DBZ_CREATE, snap = 1;
	else if (str_is(&d.op, "u"))
		out->kind = DBZ_UPDATE;
	else if (str_is(&d.op, "d"))
		out->kind = DBZ_DELETE;
	else if (str_is(&d.op, "t") || str_is(&d.op, "m"))
		return out->kind = DBZ_SKIP, 0; /* a truncate or a message: no row */
	else
		return u_err(err, "op is not one of c, r, u, d");
	if (d.source.kind != F_OBJ)
		return u_err(err, "no source");
	if (d.s_logid.kind != F_ABSENT)
		return u_err(err, "source.log_id: cdctop's own envelope, not Debezium's");
	if (d.s_snap.kind == F_BOOL)
		snap |= d.s_snap.i != 0;
	else if (d.s_snap.kind == F_STR)
		snap |= !str_is(&d.s_snap, "false"); /* "true", "last", "first", "incremental" */
	else if (d.s_snap.kind != F_ABSENT && d.s_snap.kind != F_NULL)
		return u_err(err, "source.snapshot is not a string or boolean");
	out->snapshot = snap;
	if (d.s_table.kind == F_STR)
		str_copy(d.s_table.s, d.s_table.n, out->table, sizeof out->table);
	else if (d.s_table.kind != F_ABSENT && d.s_table.kind != F_NULL)
		return u_err(err, "source.table is not a string");
	if (table && *table && strcmp(out->table, table)) {
		out->kind = DBZ_SKIP; /* another table of the topic */
		return 0;
	}
	long long ms = d.s_ts.kind == F_INT ? d.s_ts.i : 0;
	if (d.s_ts.kind != F_INT && d.s_ts.kind != F_ABSENT && d.s_ts.kind != F_NULL)
		return u_err(err, "source.ts_ms is not an integer");
	if (ms == 0) {
		if (d.ts_ms.kind != F_INT)
			return u_err(err, "source.ts_ms is 0 and ts_ms is not an integer");
		ms = d.ts_ms.i;
	}
	if (ms <= 0 || ms > INT64_MAX / 1000)
		return u_err(err, "source.ts_ms is out of range");
	out->event_us = ms * 1000;
	const struct field *row = out->kind == DBZ_DELETE ? &d.before : &d.after;
	if (row->kind != F_OBJ)
		return u_err(err, "no %s", out->kind == DBZ_DELETE ? "before" : "after");
	if (out->kind == DBZ_DELETE) {
		if (group_value(&d.g_before, d.gb_b, d.gb_e, "before", d.group, out, err) < 0)
			return -1;
	} else if (group_value(&d.g_after, d.ga_b, d.ga_e, "after", d.group, out, err) < 0) {
		return -1;
	}
	out->order = binlog_order(&d);
	if (snap) {
		if (d.after.kind != F_OBJ)
			return u_err(err, "snapshot row without after");
		out->id = snapshot_id(key, klen, &d, out);
		return 0;
	}
	return stream_id(&d, out, err);
}

int dbz_key_is_object(const char *key, size_t klen)
{
	struct key_fields kf;
	char err[U_ERRLEN];
	memset(&kf, 0, sizeof kf);
	return key && klen && scan_root(key, klen, err, key_root, &kf) == 0;
}
