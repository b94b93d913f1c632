/*
 * binlog.c - binlog capture: one replication connection (COM_BINLOG_DUMP through libmariadb's
 * mariadb_rpl API, a heartbeat every 500 ms), a table_id -> TABLE_MAP map for the current
 * transaction, and a queue of decoded customer rows released at their transaction's commit.
 * Runs on the caller's (the relay's) thread only. Never decodes a rows event of another table
 * (libmariadb 3.3 cannot decode CHAR/ENUM/SET columns), and never skips a customer row it
 * cannot decode or a position it cannot read: those are errors, not gaps.
 */
#include "binlog.h"
#include "util.h"

#include <ctype.h>
#include <errmsg.h>
#include <mariadb_rpl.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HEARTBEAT_MS   500   /* the server sends a heartbeat after this long with nothing to send */
#define READ_TIMEOUT_S 10    /* no event and no heartbeat for this long: the connection is lost */
#define TRX_MAX_ROWS   10000 /* customer rows held per transaction before early release */

/* The customer columns blc reads, and whether a table without them is refused. */
enum { C_ID, C_STORE, C_FIRST, C_LAST, C_EMAIL, C_ADDR, C_ACTIVE, C_CREATE, C_N };
static const char *const col_name[C_N] = {"customer_id", "store_id",   "first_name", "last_name",
                                          "email",       "address_id", "active",     "create_date"};
static const int col_required[C_N] = {1, 1, 1, 1, 0, 1, 0, 0};

/* One table_id of the current transaction; the TABLE_MAP event is kept for customer only. */
struct tmap {
	uint64_t table_id;
	int customer;
	MARIADB_RPL_EVENT *ev;
	int col[C_N]; /* column index of each field, -1 if the table has none */
};

struct blc {
	MYSQL *m;
	MARIADB_RPL *rpl;
	MARIADB_RPL_EVENT *spare; /* the last fetched event, reused by the next fetch */
	char db[65];
	char label[300]; /* the server, for messages */
	char **is_cols;  /* customer's columns in information_schema order (positional map) */
	int is_ncols;
	struct tmap *maps; /* table ids of the current transaction */
	int nmaps, capmaps;
	char file[64];              /* the binlog file being read */
	struct blc_pos group_start; /* start of the open transaction (event group) */
	struct blc_pos last_end;    /* end of the last complete group, or the open position */
	int in_group, standalone, saw_begin;
	struct blc_row *q; /* rows: [qhead, qready) returnable, [qready, qn) held */
	size_t qhead, qready, qn, qcap;
	int listed; /* the start file was seen on the server (its binlog list, or its position) */
	int broken; /* the code of the error that broke the stream, 0 if none */
	char broken_err[U_ERRLEN];
	struct blc_stats st;
};

/* Copies a counted string into a NUL-terminated buffer; -1 if it does not fit. */
static int copy_name(char *dst, size_t cap, const char *s, size_t n)
{
	while (n && !s[n - 1])
		n--; /* some events count a trailing NUL */
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* The numeric suffix of a binlog file name ("mysql-bin.000012" -> 12), -1 if none. */
static long long file_seq(const char *f)
{
	const char *dot = strrchr(f, '.');
	if (!dot || !dot[1])
		return -1;
	char *end;
	long long v = strtoll(dot + 1, &end, 10);
	return *end ? -1 : v;
}

int blc_pos_cmp(const struct blc_pos *a, const struct blc_pos *b)
{
	long long sa = file_seq(a->file), sb = file_seq(b->file);
	int c = (sa >= 0 && sb >= 0) ? (sa > sb) - (sa < sb) : strcmp(a->file, b->file);
	if (c)
		return c;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

const char *blc_pos_fmt(const struct blc_pos *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%llu", p->file[0] ? p->file : "-", (unsigned long long)p->pos);
	return buf;
}

int blc_pos_parse(const char *s, struct blc_pos *out, char *err)
{
	memset(out, 0, sizeof *out);
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof out->file || !colon[1])
		return u_err(err,
		             "bad binlog position '%.80s': use file:offset, e.g. "
		             "mysql-bin.000001:4",
		             s);
	char *end;
	unsigned long long v = strtoull(colon + 1, &end, 10);
	if (*end || !isdigit((unsigned char)colon[1]))
		return u_err(err, "bad binlog position '%.80s': the offset must be a number", s);
	memcpy(out->file, s, (size_t)(colon - s));
	out->pos = v;
	return 0;
}

/* Runs a query and returns its stored result (NULL with err: the server's message). */
static MYSQL_RES *query(MYSQL *m, const char *sql, char *err)
{
	if (mysql_query(m, sql)) {
		u_err(err, "%s: %s (%u)", sql, mysql_error(m), mysql_errno(m));
		return NULL;
	}
	MYSQL_RES *r = mysql_store_result(m);
	if (!r)
		u_err(err, "%s: no result: %s", sql, mysql_error(m));
	return r;
}

/* SHOW MASTER STATUS (or its newer names) into out; -1 with err, 1 if binlog is off. */
static int master_status(MYSQL *m, struct blc_pos *out, char *err)
{
	memset(out, 0, sizeof *out);
	static const char *const stmts[] = {"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS", NULL};
	MYSQL_RES *r = NULL;
	for (int i = 0; stmts[i] && !r; i++) {
		r = query(m, stmts[i], err);
		if (!r && mysql_errno(m) != ER_PARSE_ERROR)
			break;
	}
	if (!r) {
		if (mysql_errno(m) == ER_SPECIFIC_ACCESS_DENIED_ERROR ||
		    mysql_errno(m) == ER_ACCESS_DENIED_ERROR)
			return u_err(err,
			             "cannot read the binlog position (SHOW MASTER STATUS): %s; "
			             "GRANT REPLICATION CLIENT ON *.* TO the user",
			             mysql_error(m));
		return -1;
	}
	MYSQL_ROW row = mysql_fetch_row(r);
	int rc = 1;
	if (row && row[0] && row[1]) {
		if (copy_name(out->file, sizeof out->file, row[0], strlen(row[0])) < 0)
			rc = u_err(err, "binlog file name '%.80s' is too long", row[0]);
		else {
			out->pos = strtoull(row[1], NULL, 10);
			rc = 0;
		}
	}
	mysql_free_result(r);
	return rc;
}

int blc_server_pos(MYSQL *m, struct blc_pos *out, char *err)
{
	int rc = master_status(m, out, err);
	if (rc > 0)
		return u_err(err,
		             "binary logging is off on the server (SHOW MASTER STATUS is empty): "
		             "start it with --log-bin --binlog-format=ROW --server-id=1");
	return rc;
}

/* 1 if one line of SHOW GRANTS grants priv (or ALL PRIVILEGES) on *.* */
static int grants(const char *line, const char *priv)
{
	const char *on = strstr(line, " ON *.* ");
	if (strncmp(line, "GRANT ", 6) || !on)
		return 0;
	size_t n = (size_t)(on - line);
	char buf[1024];
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	memcpy(buf, line, n);
	buf[n] = 0;
	return strstr(buf, "ALL PRIVILEGES") || strstr(buf, priv);
}

int blc_check(MYSQL *m, char *err)
{
	char e[U_ERRLEN];
	MYSQL_RES *r = query(m,
	                     "SELECT @@global.log_bin, @@global.binlog_format, "
	                     "@@global.binlog_row_image",
	                     e);
	if (!r)
		return u_err(err, "cannot read the binlog settings: %s", e);
	MYSQL_ROW row = mysql_fetch_row(r);
	char log_bin[16] = "", format[32] = "", image[32] = "";
	if (row) {
		snprintf(log_bin, sizeof log_bin, "%s", row[0] ? row[0] : "");
		snprintf(format, sizeof format, "%s", row[1] ? row[1] : "");
		snprintf(image, sizeof image, "%s", row[2] ? row[2] : "");
	}
	mysql_free_result(r);
	if (strcmp(log_bin, "1") && strcasecmp(log_bin, "ON"))
		return u_err(err,
		             "binary logging is off on the server (log_bin=%s): restart it with "
		             "--log-bin --binlog-format=ROW --server-id=1 (log_bin cannot be "
		             "set at run time), or use --capture=trigger",
		             log_bin[0] ? log_bin : "?");
	if (strcasecmp(format, "ROW"))
		return u_err(err,
		             "binlog_format is %s, binlog capture needs ROW: SET GLOBAL "
		             "binlog_format=ROW and binlog_format=ROW in the server's my.cnf "
		             "(sessions already open keep %s)",
		             format, format);
	if (strcasecmp(image, "FULL") && strcasecmp(image, "NOBLOB"))
		return u_err(err,
		             "binlog_row_image is %s, binlog capture needs FULL: SET GLOBAL "
		             "binlog_row_image=FULL and binlog_row_image=FULL in my.cnf",
		             image);

	/* privileges: what SHOW GRANTS says for *.*, then SHOW MASTER STATUS as proof of CLIENT */
	r = query(m, "SHOW GRANTS", e);
	if (!r)
		return u_err(err, "cannot read the user's privileges: %s", e);
	int slave = 0, client = 0;
	while ((row = mysql_fetch_row(r))) {
		if (!row[0])
			continue;
		slave |= grants(row[0], "REPLICATION SLAVE");
		client |= grants(row[0], "REPLICATION CLIENT") || grants(row[0], "BINLOG MONITOR");
	}
	mysql_free_result(r);
	struct blc_pos p;
	if (!client && master_status(m, &p, e) >= 0)
		client = 1;
	char user[200] = "the user";
	if ((r = query(m, "SELECT CURRENT_USER()", e))) {
		if ((row = mysql_fetch_row(r)) && row[0]) {
			const char *at = strrchr(row[0], '@');
			if (at)
				snprintf(user, sizeof user, "'%.*s'@'%.80s'", (int)(at - row[0]),
				         row[0], at + 1);
		}
		mysql_free_result(r);
	}
	if (!slave || !client)
		return u_err(err, "user %s lacks %s%s%s: GRANT %s%s%s ON *.* TO %s", user,
		             slave ? "" : "REPLICATION SLAVE", !slave && !client ? " and " : "",
		             client ? "" : "REPLICATION CLIENT", slave ? "" : "REPLICATION SLAVE",
		             !slave && !client ? ", " : "", client ? "" : "REPLICATION CLIENT",
		             user);
	return 0;
}

/* Loads customer's column names in table order (for servers without FULL row metadata). */
static void load_columns(struct blc *b)
{
	char sql[300], e[U_ERRLEN];
	snprintf(sql, sizeof sql,
	         "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' "
	         "AND TABLE_NAME = 'customer' ORDER BY ORDINAL_POSITION",
	         b->db); /* db is a checked identifier */
	MYSQL_RES *r = query(b->m, sql, e);
	if (!r)
		return; /* only needed without FULL metadata; the error comes then */
	b->is_ncols = (int)mysql_num_rows(r);
	b->is_cols = u_calloc((size_t)b->is_ncols + 1, sizeof *b->is_cols);
	MYSQL_ROW row;
	for (int i = 0; i < b->is_ncols && (row = mysql_fetch_row(r)); i++)
		b->is_cols[i] = u_strdup(row[0] ? row[0] : "");
	mysql_free_result(r);
}

/* Checks that pos names a file the server still has and lies within it: 0, U_ELOST (purged,
   past the end) or U_EFAIL, with err. */
static int check_pos(struct blc *b, const struct blc_pos *pos, char *err)
{
	char e[U_ERRLEN];
	if (pos->pos < 4)
		return u_err(err,
		             "binlog position %s:%llu is before the first event (4): use a "
		             "position cdctop saved",
		             pos->file, (unsigned long long)pos->pos);
	MYSQL_RES *r = query(b->m, "SHOW BINARY LOGS", e);
	if (!r)
		return 0; /* no privilege to list: the dump itself will say */
	MYSQL_ROW row;
	char oldest[64] = "";
	unsigned long long size = 0;
	int found = 0, n = 0;
	while ((row = mysql_fetch_row(r))) {
		if (!row[0])
			continue;
		if (!n++)
			snprintf(oldest, sizeof oldest, "%s", row[0]);
		if (!strcmp(row[0], pos->file)) {
			found = 1;
			size = row[1] ? strtoull(row[1], NULL, 10) : 0;
		}
	}
	mysql_free_result(r);
	if (!found) {
		u_err(err,
		             "binlog file '%s' is gone from the server (the oldest it keeps is "
		             "'%s'): it was purged; resnapshot: relay from the current position "
		             "(rows written since %s:%llu are not captured)",
		             pos->file, oldest[0] ? oldest : "none", pos->file,
		             (unsigned long long)pos->pos);
		return U_ELOST;
	}
	if (pos->pos > size) {
		u_err(err,
		             "binlog position %s:%llu is past the end of the file (%llu bytes): "
		             "it is not from this server; resnapshot: relay from the current "
		             "position",
		             pos->file, (unsigned long long)pos->pos, size);
		return U_ELOST;
	}
	b->listed = 1;
	return 0;
}

/* Turns a failed fetch into one line naming the position and what to do, and a code:
   U_ECONNLOST (reopen at the saved position), U_ELOST (the server cannot send from there:
   resnapshot) or U_EFAIL. Error 1236 covers a purged file and a bad offset alike: a start file
   the server listed at open was not purged, so the offset is bad; one it could not list (no
   privilege) may be either, and err says both (the server's words are quoted, never read). */
static int fetch_error(struct blc *b, char *err)
{
	unsigned code = mysql_errno(b->m);
	const char *msg = mysql_error(b->m);
	if (!code && b->rpl && mariadb_rpl_errno(b->rpl)) {
		code = mariadb_rpl_errno(b->rpl);
		msg = mariadb_rpl_error(b->rpl);
	}
	char at[100];
	blc_pos_fmt(&b->st.read, at, sizeof at);
	if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
		if (b->listed)
			u_err(err,
			      "the server cannot send the binlog from %s (open at a position "
			      "cdctop saved, or resnapshot from the current one): %s",
			      at, msg);
		else /* a user that may not list the binlogs: purged or a bad offset alike */
			u_err(err,
			      "binlog file '%s' is gone from the server, or %s is not a position in "
			      "it (%s): purged, or not this server's; resnapshot: relay from the "
			      "current position",
			      b->st.read.file, at, msg);
		return U_ELOST;
	}
	if (code == ER_SPECIFIC_ACCESS_DENIED_ERROR || code == ER_ACCESS_DENIED_ERROR ||
	    code == ER_DBACCESS_DENIED_ERROR)
		return u_err(err,
		             "the server refused the binlog stream: %s; GRANT REPLICATION "
		             "SLAVE ON *.* TO the user",
		             msg);
	if (code == CR_SERVER_LOST || code == CR_SERVER_GONE_ERROR || code == 0) {
		u_err(err, "binlog connection to %s lost at %s (%s): reopen at the saved position",
		      b->label, at, code ? msg : "stream ended");
		return U_ECONNLOST;
	}
	return u_err(err, "binlog stream from %s failed at %s: %s (%u)", b->label, at, msg, code);
}

/* Frees the table maps of the finished transaction. */
static void maps_clear(struct blc *b)
{
	for (int i = 0; i < b->nmaps; i++)
		mariadb_free_rpl_event(b->maps[i].ev);
	b->nmaps = 0;
}

/* Where the event ev starts in the current file (its end minus its length). */
static struct blc_pos ev_start(const struct blc *b, const MARIADB_RPL_EVENT *ev)
{
	struct blc_pos p = b->st.read;
	if (ev->next_event_pos >= ev->event_length && ev->next_event_pos) {
		snprintf(p.file, sizeof p.file, "%s", b->file);
		p.pos = ev->next_event_pos - ev->event_length;
	}
	return p;
}

/* Where the event ev ends in the current file. */
static struct blc_pos ev_end(const struct blc *b, const MARIADB_RPL_EVENT *ev)
{
	struct blc_pos p = b->st.read;
	if (ev->next_event_pos) {
		snprintf(p.file, sizeof p.file, "%s", b->file);
		p.pos = ev->next_event_pos;
	}
	return p;
}

/* Ends the open group at end: releases its held rows (the last one marked) and its maps. */
static void group_end(struct blc *b, struct blc_pos end)
{
	if (b->qn > b->qready) {
		for (size_t i = b->qready; i < b->qn; i++)
			b->q[i].next = end;
		b->q[b->qn - 1].last_in_trx = 1;
		b->qready = b->qn;
	}
	b->last_end = end;
	if (b->in_group)
		b->st.trx++;
	b->in_group = b->standalone = b->saw_begin = 0;
	maps_clear(b);
}

/* Opens a group at start (ending one left open, which had no commit event we know). */
static void group_begin(struct blc *b, struct blc_pos start)
{
	if (b->in_group)
		group_end(b, start);
	b->in_group = 1;
	b->group_start = start;
}

/* 1 if the counted string s equals word, ignoring case. */
static int is_word(const MARIADB_STRING *s, const char *word)
{
	size_t n = strlen(word);
	return s->str && s->length == n && !strncasecmp(s->str, word, n);
}

/* Reads a length-encoded integer at *p (below end); -1 if truncated. */
static long long lenenc(const unsigned char **p, const unsigned char *end)
{
	if (*p >= end)
		return -1;
	unsigned c = *(*p)++;
	int nb = c < 251 ? 0 : c == 252 ? 2 : c == 253 ? 3 : c == 254 ? 8 : -1;
	if (nb < 0)
		return -1;
	if (!nb)
		return c;
	if (end - *p < nb)
		return -1;
	unsigned long long v = 0;
	for (int i = 0; i < nb; i++)
		v |= (unsigned long long)(*p)[i] << (8 * i);
	*p += nb;
	return v > (1ULL << 31) ? -1 : (long long)v;
}

/* 1 if the binlog column type is an integer type. */
static int is_int_type(unsigned t)
{
	return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_INT24 ||
	       t == MYSQL_TYPE_LONG || t == MYSQL_TYPE_LONGLONG;
}

/* 1 if the binlog column type is a variable-length string type libmariadb decodes. */
static int is_str_type(unsigned t)
{
	return t == MYSQL_TYPE_VARCHAR || t == MYSQL_TYPE_VAR_STRING || t == MYSQL_TYPE_BLOB;
}

/* Fills m->col from the TABLE_MAP of db.customer; -1 with err if a row cannot be decoded. */
static int map_customer(struct blc *b, struct tmap *m, const MARIADB_RPL_EVENT *ev, char *err)
{
	const struct st_mariadb_rpl_table_map_event *tm = &ev->event.table_map;
	uint32_t ncol = tm->column_count;
	const unsigned char *types = (const unsigned char *)tm->column_types.str;
	if (!types || tm->column_types.length < ncol)
		return u_err(err, "binlog: malformed table map of %s.customer", b->db);
	const unsigned char *p = NULL, *end = NULL;
	if (tm->column_names.data && tm->column_names.length) {
		p = tm->column_names.data;
		end = p + tm->column_names.length;
		b->st.by_position = 0;
	} else {
		if (b->is_ncols != (int)ncol)
			return u_err(err,
			             "binlog: %s.customer has %u columns in the binlog and %d "
			             "now, and the binlog has no column names: SET GLOBAL "
			             "binlog_row_metadata=FULL",
			             b->db, ncol, b->is_ncols);
		b->st.by_position = 1;
	}
	for (int c = 0; c < C_N; c++)
		m->col[c] = -1;
	for (uint32_t i = 0; i < ncol; i++) {
		char name[65];
		if (p) {
			long long n = lenenc(&p, end);
			if (n < 0 || end - p < n || n >= (long long)sizeof name)
				return u_err(err,
				             "binlog: malformed column names in the table map "
				             "of %s.customer",
				             b->db);
			memcpy(name, p, (size_t)n);
			name[n] = 0;
			p += n;
		} else {
			snprintf(name, sizeof name, "%s", b->is_cols[i]);
		}
		if (types[i] == MYSQL_TYPE_STRING || types[i] == MYSQL_TYPE_ENUM ||
		    types[i] == MYSQL_TYPE_SET)
			return u_err(err,
			             "binlog: column %s.customer.%s is CHAR, ENUM or SET, which "
			             "libmariadb 3.3 cannot decode from the binlog: ALTER it to "
			             "VARCHAR, or use --capture=trigger",
			             b->db, name);
		for (int c = 0; c < C_N; c++)
			if (!strcasecmp(name, col_name[c]))
				m->col[c] = (int)i;
	}
	for (int c = 0; c < C_N; c++) {
		if (m->col[c] < 0 && col_required[c])
			return u_err(err, "binlog: %s.customer has no column '%s' in the binlog",
			             b->db, col_name[c]);
		if (m->col[c] < 0)
			continue;
		unsigned t = types[m->col[c]];
		int ok = (c == C_FIRST || c == C_LAST || c == C_EMAIL) ? is_str_type(t)
		         : c == C_CREATE ? (t == MYSQL_TYPE_DATETIME2 || t == MYSQL_TYPE_DATETIME ||
		                            t == MYSQL_TYPE_DATE || t == MYSQL_TYPE_NEWDATE)
		                         : is_int_type(t);
		if (!ok) {
			if (col_required[c])
				return u_err(err,
				             "binlog: column %s.customer.%s has binlog type %u, "
				             "not the %s cdctop reads",
				             b->db, col_name[c], t,
				             (c == C_FIRST || c == C_LAST) ? "string" : "integer");
			m->col[c] = -1; /* optional and of another type: left at its default */
		}
	}
	return 0;
}

/* Records a TABLE_MAP event; *kept says whether the map now owns ev (customer only). */
static int add_map(struct blc *b, MARIADB_RPL_EVENT *ev, int *kept, char *err)
{
	const struct st_mariadb_rpl_table_map_event *tm = &ev->event.table_map;
	struct tmap *m = NULL;
	for (int i = 0; i < b->nmaps && !m; i++)
		if (b->maps[i].table_id == tm->table_id)
			m = &b->maps[i];
	if (!m) {
		if (b->nmaps == b->capmaps) {
			b->capmaps = b->capmaps ? 2 * b->capmaps : 8;
			b->maps = u_realloc(b->maps, (size_t)b->capmaps * sizeof *b->maps);
		}
		m = &b->maps[b->nmaps++];
		m->ev = NULL;
	}
	mariadb_free_rpl_event(m->ev);
	m->ev = NULL;
	m->table_id = tm->table_id;
	m->customer = tm->database.str && tm->database.length == strlen(b->db) &&
	              !memcmp(tm->database.str, b->db, tm->database.length) && tm->table.str &&
	              tm->table.length == 8 && !memcmp(tm->table.str, "customer", 8);
	if (!m->customer)
		return 0;
	if (map_customer(b, m, ev, err) < 0) {
		m->customer = 0;
		return -1;
	}
	m->ev = ev;
	*kept = 1;
	return 0;
}

/* An integer column's value (unsigned as libmariadb stores it), 0 if NULL or absent. */
static uint64_t val_u(const MARIADB_RPL_ROW *r, int col)
{
	if (col < 0 || (uint32_t)col >= r->column_count || r->columns[col].is_null)
		return 0;
	return r->columns[col].val.ull;
}

/* Copies a string column into dst ("" if NULL or absent). */
static void val_s(const MARIADB_RPL_ROW *r, int col, char *dst, size_t cap)
{
	dst[0] = 0;
	if (col < 0 || (uint32_t)col >= r->column_count || r->columns[col].is_null)
		return;
	const MARIADB_STRING *s = &r->columns[col].val.str;
	if (s->str)
		u_copy_utf8(dst, cap, s->str, s->length);
}

/* A DATETIME/DATE column as microseconds since the epoch, read as UTC (0 if NULL/absent). */
static int64_t val_time(const MARIADB_RPL_ROW *r, int col)
{
	if (col < 0 || (uint32_t)col >= r->column_count || r->columns[col].is_null)
		return 0;
	const MYSQL_TIME *t = &r->columns[col].val.tm;
	if (!t->year)
		return 0;
	struct tm tm = {.tm_year = (int)t->year - 1900,
	                .tm_mon = (int)t->month - 1,
	                .tm_mday = (int)t->day,
	                .tm_hour = (int)t->hour,
	                .tm_min = (int)t->minute,
	                .tm_sec = (int)t->second};
	return (int64_t)timegm(&tm) * 1000000 + (int64_t)t->second_part;
}

/* Appends a row to the queue, compacting it first when the returned prefix is large. */
static struct blc_row *q_push(struct blc *b)
{
	if (b->qn == b->qcap) {
		if (b->qhead > 0) {
			memmove(b->q, b->q + b->qhead, (b->qn - b->qhead) * sizeof *b->q);
			b->qn -= b->qhead;
			b->qready -= b->qhead;
			b->qhead = 0;
		}
		if (b->qn == b->qcap) {
			b->qcap = b->qcap ? 2 * b->qcap : 256;
			b->q = u_realloc(b->q, b->qcap * sizeof *b->q);
		}
	}
	struct blc_row *r = &b->q[b->qn++];
	memset(r, 0, sizeof *r);
	return r;
}

/* Handles a rows event: other tables and non-inserts skipped undecoded, customer rows queued. */
static int rows_event(struct blc *b, MARIADB_RPL_EVENT *ev, char *err)
{
	struct tmap *m = NULL;
	uint64_t id = ev->event.rows.table_id;
	char at[100];
	if (ev->event_type >= WRITE_ROWS_COMPRESSED_EVENT &&
	    ev->event_type <= DELETE_ROWS_COMPRESSED_EVENT) {
		struct blc_pos p = ev_start(b, ev); /* libmariadb 3.3 leaves these unparsed */
		return u_err(err,
		             "binlog: compressed rows event (type %d) at %s, which libmariadb "
		             "cannot read: SET GLOBAL log_bin_compress=OFF, or use "
		             "--capture=trigger",
		             (int)ev->event_type, blc_pos_fmt(&p, at, sizeof at));
	}
	for (int i = 0; i < b->nmaps && !m; i++)
		if (b->maps[i].table_id == id)
			m = &b->maps[i];
	if (!m) {
		struct blc_pos p = ev_start(b, ev);
		return u_err(err,
		             "binlog: rows event for an unknown table (id %llu) at %s: open "
		             "at a transaction start that cdctop gave",
		             (unsigned long long)id, blc_pos_fmt(&p, at, sizeof at));
	}
	if (!m->customer) {
		b->st.other_rows++;
		return 0;
	}
	if (ev->event.rows.type != WRITE_ROWS) {
		b->st.ignored++;
		return 0;
	}
	if (!b->in_group)
		group_begin(b, ev_start(b, ev));
	MARIADB_RPL_ROW *row = mariadb_rpl_extract_rows(b->rpl, m->ev, ev);
	if (!row) {
		struct blc_pos p = ev_start(b, ev);
		return u_err(err, "binlog: cannot decode the customer rows at %s: %s",
		             blc_pos_fmt(&p, at, sizeof at), mariadb_rpl_error(b->rpl));
	}
	for (; row; row = row->next) {
		struct blc_row *o = q_push(b);
		struct cdc_row *c = &o->row;
		c->customer_id = (uint32_t)val_u(row, m->col[C_ID]);
		c->log_id = c->customer_id;
		c->store_id = (uint32_t)val_u(row, m->col[C_STORE]);
		c->address_id = (uint32_t)val_u(row, m->col[C_ADDR]);
		c->active = m->col[C_ACTIVE] < 0 ? 1 : (int)val_u(row, m->col[C_ACTIVE]);
		c->event_us = (int64_t)ev->timestamp * 1000000;
		c->create_us = val_time(row, m->col[C_CREATE]);
		val_s(row, m->col[C_FIRST], c->first_name, sizeof c->first_name);
		val_s(row, m->col[C_LAST], c->last_name, sizeof c->last_name);
		val_s(row, m->col[C_EMAIL], c->email, sizeof c->email);
		c->email_null = m->col[C_EMAIL] >= 0 &&
		                (uint32_t)m->col[C_EMAIL] < row->column_count &&
		                row->columns[m->col[C_EMAIL]].is_null;
		o->resume = b->group_start;
	}
	if (b->qn - b->qready > TRX_MAX_ROWS)
		b->qready = b->qn; /* a huge transaction: release without waiting for its commit */
	return 0;
}

/* A heartbeat: the server has nothing newer; its position is the server's read offset. */
static void on_heartbeat(struct blc *b, const MARIADB_RPL_EVENT *ev)
{
	char name[64];
	b->st.heartbeats++;
	b->st.caught_up = 1;
	if (ev->next_event_pos && ev->event.heartbeat.filename.str &&
	    copy_name(name, sizeof name, ev->event.heartbeat.filename.str,
	              ev->event.heartbeat.filename.length) == 0 &&
	    !strcmp(name, b->file)) {
		snprintf(b->st.read.file, sizeof b->st.read.file, "%s", b->file);
		b->st.read.pos = ev->next_event_pos;
	}
}

/* A rotate: the file read from now on. -1 with err on a bad name. */
static int on_rotate(struct blc *b, const MARIADB_RPL_EVENT *ev, char *err)
{
	const MARIADB_STRING *f = &ev->event.rotate.filename;
	if (!f->str || copy_name(b->file, sizeof b->file, f->str, f->length) < 0)
		return u_err(err, "binlog: bad file name in a rotate event");
	snprintf(b->st.read.file, sizeof b->st.read.file, "%s", b->file);
	b->st.read.pos = ev->event.rotate.position;
	if (!b->in_group && !(ev->flags & LOG_EVENT_ARTIFICIAL_F))
		b->last_end = b->st.read; /* a real rotate: the next file starts clean */
	return 0;
}

/* An event that begins or ends a group (a transaction, or one DDL statement); others pass. */
static void on_group_event(struct blc *b, const MARIADB_RPL_EVENT *ev)
{
	switch (ev->event_type) {
	case GTID_EVENT: /* MariaDB: begins a group; standalone ones hold one statement */
		group_begin(b, ev_start(b, ev));
		b->standalone = (ev->event.gtid.flags & (FL_STANDALONE | FL_COMPLETED_XA)) != 0;
		b->saw_begin = !b->standalone;
		break;
	case GTID_LOG_EVENT: /* MySQL: a BEGIN query follows unless it is DDL */
	case ANONYMOUS_GTID_LOG_EVENT:
		group_begin(b, ev_start(b, ev));
		b->standalone = 0;
		b->saw_begin = 0;
		break;
	case QUERY_EVENT: {
		const MARIADB_STRING *q = &ev->event.query.statement;
		if (is_word(q, "BEGIN")) {
			if (!b->in_group)
				group_begin(b, ev_start(b, ev));
			b->saw_begin = 1;
		} else if (is_word(q, "COMMIT") || is_word(q, "ROLLBACK")) {
			group_end(b, ev_end(b, ev));
		} else if (!b->in_group || b->standalone || !b->saw_begin) {
			group_end(b, ev_end(b, ev)); /* DDL and other one-statement groups */
		}
		break;
	}
	case XID_EVENT:
	case XA_PREPARE_LOG_EVENT:
		group_end(b, ev_end(b, ev));
		break;
	default:
		break;
	}
}

/* A rows event of any version, compressed or not. */
static int is_rows_event(int type)
{
	switch (type) {
	case WRITE_ROWS_EVENT_V1:
	case UPDATE_ROWS_EVENT_V1:
	case DELETE_ROWS_EVENT_V1:
	case WRITE_ROWS_EVENT:
	case UPDATE_ROWS_EVENT:
	case DELETE_ROWS_EVENT:
	case WRITE_ROWS_COMPRESSED_EVENT_V1:
	case UPDATE_ROWS_COMPRESSED_EVENT_V1:
	case DELETE_ROWS_COMPRESSED_EVENT_V1:
	case WRITE_ROWS_COMPRESSED_EVENT:
	case UPDATE_ROWS_COMPRESSED_EVENT:
	case DELETE_ROWS_COMPRESSED_EVENT:
		return 1;
	default:
		return 0;
	}
}

/* Handles one event: positions, group boundaries, table maps, rows. *kept: b owns ev now. */
static int process(struct blc *b, MARIADB_RPL_EVENT *ev, int *kept, char *err)
{
	b->st.events++;
	if (ev->event_type == HEARTBEAT_LOG_EVENT) {
		on_heartbeat(b, ev);
		return 0;
	}
	if (ev->event_type == ROTATE_EVENT)
		return on_rotate(b, ev, err);
	if (ev->event_type == TABLE_MAP_EVENT) {
		if (add_map(b, ev, kept, err) < 0)
			return -1;
	} else if (is_rows_event(ev->event_type)) {
		if (rows_event(b, ev, err) < 0)
			return -1;
	} else {
		on_group_event(b, ev);
	}
	if (ev->next_event_pos && !(ev->flags & LOG_EVENT_ARTIFICIAL_F)) {
		snprintf(b->st.read.file, sizeof b->st.read.file, "%s", b->file);
		b->st.read.pos = ev->next_event_pos;
	}
	if (ev->timestamp && !(ev->flags & LOG_EVENT_ARTIFICIAL_F)) {
		b->st.last_event_s = ev->timestamp;
		b->st.caught_up = 0;
	}
	return 0;
}

/* Fetches and handles one event; a code with err (the stream is then broken). */
static int step(struct blc *b, char *err)
{
	MARIADB_RPL_EVENT *ev = mariadb_rpl_fetch(b->rpl, b->spare);
	b->spare = NULL; /* on failure libmariadb freed it */
	if (!ev)
		return fetch_error(b, err);
	int kept = 0;
	int rc = process(b, ev, &kept, err);
	if (!kept)
		b->spare = ev;
	return rc;
}

int blc_open(const struct db_target *t, const char *db, const struct blc_pos *pos,
             struct blc **out, char *err)
{
	*out = NULL;
	if (!u_valid_ident(db))
		return u_err(err, "bad database name '%.40s' for binlog capture", db);
	int rc = U_EFAIL;
	struct blc *b = u_calloc(1, sizeof *b);
	snprintf(b->db, sizeof b->db, "%s", db);
	snprintf(b->label, sizeof b->label, "%.290s", t->label[0] ? t->label : t->socket);
	/* a silent server (no heartbeat within the read timeout) is an error, not a hang */
	char e[U_ERRLEN];
	if (!(b->m = db_connect_stream(t, READ_TIMEOUT_S, e))) {
		u_err(err, "binlog stream: %s", e);
		goto fail;
	}
	struct blc_pos start;
	if (pos && pos->file[0]) {
		start = *pos;
		if ((rc = check_pos(b, &start, err)) < 0)
			goto fail;
	} else if (blc_server_pos(b->m, &start, err) < 0) {
		goto fail;
	} else {
		b->listed = 1; /* the server's own current position */
	}
	load_columns(b);
	char sql[200];
	snprintf(sql, sizeof sql, "SET @master_heartbeat_period = %lld",
	         (long long)HEARTBEAT_MS * 1000000);
	const char *setup[] = {"SET @master_binlog_checksum = @@global.binlog_checksum",
	                       "SET @mariadb_slave_capability = 4", sql, NULL};
	for (int i = 0; setup[i]; i++)
		if (mysql_query(b->m, setup[i])) {
			snprintf(e, sizeof e, "%s", mysql_error(b->m));
			u_err(err, "binlog connection: %s: %s", setup[i], e);
			goto fail;
		}
	if (!(b->rpl = mariadb_rpl_init(b->m))) {
		u_err(err, "binlog connection: mariadb_rpl_init: %s", mysql_error(b->m));
		goto fail;
	}
	/* a server id of our own per connection: a second dump with the same id would make the
	   server end the first one */
	unsigned sid =
	    0x40000000u | (((unsigned)getpid() << 12) ^ (unsigned)u_now_us()) % 0x3fffffffu;
	mariadb_rpl_optionsv(b->rpl, MARIADB_RPL_SERVER_ID, sid);
	mariadb_rpl_optionsv(b->rpl, MARIADB_RPL_FILENAME, start.file, strlen(start.file));
	mariadb_rpl_optionsv(b->rpl, MARIADB_RPL_START, (unsigned long)start.pos);
	mariadb_rpl_optionsv(b->rpl, MARIADB_RPL_FLAGS, 0u);
	snprintf(b->file, sizeof b->file, "%s", start.file);
	b->st.read = b->last_end = start;
	if (mariadb_rpl_open(b->rpl)) {
		u_err(err, "cannot start the binlog stream from %s:%llu: %s", start.file,
		      (unsigned long long)start.pos, mysql_error(b->m));
		goto fail;
	}
	/* the first event (a rotate to the start position) or the server's refusal */
	if ((rc = step(b, err)) < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	blc_free(b);
	return rc < 0 ? rc : U_EFAIL;
}

int blc_next(struct blc *b, struct blc_row *out, int timeout_ms, char *err)
{
	int64_t t0 = u_mono_us();
	for (;;) {
		if (b->qhead < b->qready) {
			*out = b->q[b->qhead++];
			if (b->qhead == b->qn)
				b->qhead = b->qready = b->qn = 0;
			b->st.rows++;
			return 1;
		}
		if (b->broken) {
			u_err(err, "%s", b->broken_err);
			return b->broken;
		}
		int rc = step(b, b->broken_err);
		if (rc < 0) {
			b->broken = rc; /* the code says whether a reopen can help */
			continue; /* rows already released go out first */
		}
		if (b->qhead == b->qready && u_mono_us() - t0 >= (int64_t)timeout_ms * 1000)
			return 0;
	}
}

void blc_stats(const struct blc *b, struct blc_stats *out)
{
	*out = b->st;
	if (b->qhead < b->qn)
		out->safe = b->q[b->qhead].resume;
	else if (b->in_group)
		out->safe = b->group_start;
	else
		out->safe = b->last_end;
}

void blc_free(struct blc *b)
{
	if (!b)
		return;
	maps_clear(b);
	free(b->maps);
	mariadb_free_rpl_event(b->spare);
	if (b->rpl)
		mariadb_rpl_close(b->rpl);
	if (b->m)
		mysql_close(b->m);
	for (int i = 0; i < b->is_ncols; i++)
		free(b->is_cols[i]);
	free(b->is_cols);
	free(b->q);
	free(b);
}
