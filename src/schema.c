/*
 * schema.c - runs `init`: creates the database, the sakila subset when there is no customer
 * table, the CDC tables and the capture trigger when absent. Main thread only. Never drops or
 * alters an existing table, and never inserts into a database that already has customers.
 */
#include "schema.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a prepared query with string params whose first column is returned in out (or counted
   as 1 row -> out). Returns number of rows, or -1. */
static int info_query(MYSQL *m, const char *sql, const char *const *params, int nparams,
		      char *out, size_t outlen, char *err)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st)
		return u_err(err, "out of memory");
	int rows = -1;
	MYSQL_BIND b[4];
	unsigned long lens[4];
	memset(b, 0, sizeof b);
	for (int i = 0; i < nparams; i++) {
		lens[i] = strlen(params[i]);
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = (void *)params[i];
		b[i].buffer_length = lens[i];
		b[i].length = &lens[i];
	}
	char val[256] = "";
	unsigned long vlen = 0;
	my_bool isnull = 0;
	MYSQL_BIND rb;
	memset(&rb, 0, sizeof rb);
	rb.buffer_type = MYSQL_TYPE_STRING;
	rb.buffer = val;
	rb.buffer_length = sizeof val - 1;
	rb.length = &vlen;
	rb.is_null = &isnull;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_bind_param(st, b) ||
	    mysql_stmt_execute(st) || mysql_stmt_bind_result(st, &rb) ||
	    mysql_stmt_store_result(st)) {
		u_err(err, "information_schema query failed: %s", mysql_stmt_error(st));
		goto out;
	}
	rows = (int)mysql_stmt_num_rows(st);
	if (rows > 0 && out) {
		int fr = mysql_stmt_fetch(st);
		if (fr == 0 || fr == MYSQL_DATA_TRUNCATED) {
			val[vlen < sizeof val ? vlen : sizeof val - 1] = 0;
			snprintf(out, outlen, "%s", isnull ? "" : val);
		}
	}
out:
	mysql_stmt_close(st);
	return rows;
}

int schema_has_table(MYSQL *m, const char *db, const char *table, char *err)
{
	const char *p[] = {db, table};
	int r = info_query(m,
			   "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND "
			   "TABLE_NAME = ?",
			   p, 2, NULL, 0, err);
	return r < 0 ? -1 : r > 0;
}

int schema_has_column(MYSQL *m, const char *db, const char *table, const char *column, char *err)
{
	char type[128];
	int r = schema_column_type(m, db, table, column, type, sizeof type, err);
	return r < 0 ? -1 : r > 0;
}

int schema_column_type(MYSQL *m, const char *db, const char *table, const char *column,
		       char *out, size_t len, char *err)
{
	const char *p[] = {db, table, column};
	out[0] = 0;
	int r = info_query(m,
			   "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
			   "TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
			   p, 3, out, len, err);
	return r < 0 ? -1 : r > 0;
}

int schema_has_trigger(MYSQL *m, const char *db, const char *trigger, char *err)
{
	const char *p[] = {db, trigger};
	int r = info_query(m,
			   "SELECT 1 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? "
			   "AND TRIGGER_NAME = ?",
			   p, 2, NULL, 0, err);
	return r < 0 ? -1 : r > 0;
}

int schema_private_db(MYSQL *m, const char *db, char *err)
{
	if (!strcmp(db, "sakila"))
		return 0;
	const char *p[] = {db};
	int r = info_query(m, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", p,
			   1, NULL, 0, err);
	if (r < 0)
		return -1;
	if (!r)
		return u_err(err,
			     "database '%s' does not exist on the private server: create it with "
			     "cdctop init -D %s, or leave out -D",
			     db, db);
	return 0;
}

/* Finds an embedded sql file by name. */
static const char *sql_text(const char *name)
{
	for (const struct sql_file *f = sql_files; f->name; f++)
		if (!strcmp(f->name, name))
			return f->text;
	return NULL;
}

/* Runs each statement of an embedded file: statements end with ';' at the end of a line;
   lines starting with "--" are comments. */
static int run_file(MYSQL *m, const char *name, char *err)
{
	const char *text = sql_text(name);
	if (!text)
		return u_err(err, "internal: sql/%s is not compiled in", name);
	size_t cap = strlen(text) + 1, n = 0;
	char *stmt = u_malloc(cap);
	int line_no = 0, stmt_line = 1;
	const char *p = text;
	int rc = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		line_no++;
		const char *s = p;
		while (s < p + len && (*s == ' ' || *s == '\t'))
			s++;
		if (!(s + 1 < p + len && s[0] == '-' && s[1] == '-') && s < p + len) {
			if (!n)
				stmt_line = line_no;
			memcpy(stmt + n, p, len);
			n += len;
			stmt[n++] = '\n';
			size_t t = len;
			while (t && (p[t - 1] == ' ' || p[t - 1] == '\t' || p[t - 1] == '\r'))
				t--;
			if (t && p[t - 1] == ';') {
				stmt[n] = 0;
				if (mysql_query(m, stmt)) {
					rc = u_err(err, "sql/%s:%d: %s", name, stmt_line,
						   mysql_error(m));
					break;
				}
				MYSQL_RES *r = mysql_store_result(m);
				if (r)
					mysql_free_result(r);
				n = 0;
			}
		}
		p += len + (e ? 1 : 0);
	}
	free(stmt);
	return rc;
}

int schema_init(MYSQL *m, const char *db, int with_trigger, struct schema_report *r, char *err)
{
	memset(r, 0, sizeof *r);
	if (!u_valid_ident(db))
		return u_err(err, "bad database name '%.40s'", db);
	const char *p[] = {db};
	int have_db = info_query(m, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
				 p, 1, NULL, 0, err);
	if (have_db < 0)
		return -1;
	if (!have_db) {
		char sql[160];
		snprintf(sql, sizeof sql,
			 "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4", db);
		if (mysql_query(m, sql))
			return u_err(err, "cannot create database '%s': %s", db, mysql_error(m));
		r->created_db = 1;
	}
	if (mysql_select_db(m, db))
		return u_err(err, "cannot use database '%s': %s", db, mysql_error(m));
	int has_customer = schema_has_table(m, db, "customer", err);
	if (has_customer < 0)
		return -1;
	if (!has_customer) {
		if (run_file(m, "10-sakila.sql", err) < 0)
			return -1;
		r->created_sakila = 1;
	}
	static const char *const cdc_tables[] = {"users_change_events", "latest_cdc_timestamp",
						 "latest_cdc_binlog"};
	int missing = 0;
	for (size_t i = 0; i < 3; i++) {
		int h = schema_has_table(m, db, cdc_tables[i], err);
		if (h < 0)
			return -1;
		missing += !h;
	}
	if (missing) {
		if (run_file(m, "20-cdc.sql", err) < 0)
			return -1;
		r->created_tables = missing;
	}
	/* cdctop's own progress table from an earlier version: add the skipped-ranges column */
	int hc = schema_has_column(m, db, "latest_cdc_timestamp", "pending_gaps", err);
	if (hc < 0)
		return -1;
	if (!hc && mysql_query(m, "ALTER TABLE latest_cdc_timestamp ADD COLUMN pending_gaps "
				  "VARCHAR(4000) NOT NULL DEFAULT '' AFTER skipped"))
		return u_err(err, "cannot add latest_cdc_timestamp.pending_gaps: %s", mysql_error(m));
	if (!hc)
		r->created_tables++;
	int ht = with_trigger ? schema_has_trigger(m, db, SCHEMA_TRIGGER, err) : 1;
	if (ht < 0)
		return -1;
	if (!ht) {
		if (run_file(m, "30-trigger.sql", err) < 0)
			return -1;
		r->created_trigger = 1;
	}
	return 0;
}
