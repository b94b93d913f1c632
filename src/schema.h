/*
 * schema.h - `cdctop init`: creates the database, the sakila-compatible subset (only when the
 * database has no customer table) and the CDC objects, from the sql/ files compiled into the
 * binary. Idempotent; never drops, alters or rewrites a user's table or row. Main thread.
 */
#ifndef CDCTOP_SCHEMA_H
#define CDCTOP_SCHEMA_H

#include <mysql.h>

struct sql_file {
	const char *name;
	const char *text;
};
extern const struct sql_file sql_files[]; /* generated from the sql directory; ends with {0, 0} */

struct schema_report {
	int created_db;
	int created_sakila; /* the subset and its seed rows */
	int created_tables; /* CDC tables created */
	int created_trigger;
};

/* Creates what is missing in db (a validated identifier): the tables, and the capture trigger
   unless with_trigger is 0 (binlog capture needs none). m needs no database selected; on
   return db is selected. -1 with err naming the statement that failed. */
int schema_init(MYSQL *m, const char *db, int with_trigger, struct schema_report *r, char *err);

/* The private server's rule for -D, the same for every command: sakila is made when missing,
   any other database must exist already (cdctop init -D makes it), so a typo never makes a new
   one. 0, or -1 with err saying what to do. */
int schema_private_db(MYSQL *m, const char *db, char *err);

/* 1 if table exists in db (prepared statement on information_schema), 0 if not, -1 on error. */
int schema_has_table(MYSQL *m, const char *db, const char *table, char *err);
/* The same for a column of a table, and for a trigger. */
int schema_has_column(MYSQL *m, const char *db, const char *table, const char *column, char *err);
int schema_has_trigger(MYSQL *m, const char *db, const char *trigger, char *err);
/* The column's type as information_schema.COLUMNS.COLUMN_TYPE (e.g. "smallint(5) unsigned"). */
int schema_column_type(MYSQL *m, const char *db, const char *table, const char *column,
		       char *out, size_t len, char *err);

#define SCHEMA_TRIGGER "customer_after_insert_cdc"

#endif
