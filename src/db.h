/*
 * db.h - which MySQL server cdctop talks to and how it connects: command-line options, option
 * files ([client] and [cdctop] groups), the password file, or the private server. Any thread
 * may connect; a connection is used by one thread at a time. Passwords live only in memory.
 */
#ifndef CDCTOP_DB_H
#define CDCTOP_DB_H

#include "opts.h"
#include "server.h"

#include <mysql.h>
#include <stddef.h>

struct db_target {
	char host[256];
	unsigned port;
	char socket[PATH_MAX];
	char user[128];
	char password[256];
	char db[65];
	int private_server; /* 1: the private server in paths */
	struct srv_paths paths;
	char label[PATH_MAX + 64]; /* "private /path (sakila)" or "user@host:port (db)", for display */
};

/*
 * Resolves the target from options and option files; for the private server also starts it
 * if it does not run (say so on stderr when verbose). -1 with one line in err.
 */
int db_resolve(const struct opts *o, struct db_target *t, int start_private, char *err);

/* Connects; with_db selects t->db. NULL with "cannot connect to ..." in err. */
MYSQL *db_connect(const struct db_target *t, int with_db, char *err);
/* The same for a stream (the binlog's): no database, and a read that waits read_timeout_s
   with nothing coming is an error, not a hang. */
MYSQL *db_connect_stream(const struct db_target *t, unsigned read_timeout_s, char *err);

/* Runs a statement with no result; -1 with the server's message in err. */
int db_exec(MYSQL *m, const char *sql, char *err);
/* Runs a query whose first column of the first row is an integer (NULL -> 0). */
int db_query_ll(MYSQL *m, const char *sql, long long *out, char *err);
/* The same as a prepared statement binding one integer parameter (the one '?'). */
int db_query_ll_arg(MYSQL *m, const char *sql, long long arg, long long *out, char *err);

/* Prepares sql on m into *out: 0, or U_ENOTFOUND (a table it names does not exist) or
   U_EFAIL, with "cannot prepare ..." in err. */
int db_prepare(MYSQL *m, const char *sql, MYSQL_STMT **out, char *err);
/* Binds a string parameter; *len receives its length and must outlive the execute. */
void db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len);
/* Binds a 64-bit integer, parameter or result. */
void db_bind_ll(MYSQL_BIND *b, long long *v);
/* 1 when the statement's error means the connection is gone (reconnect), not a bad query. */
int db_conn_lost(MYSQL_STMT *st);

/*
 * Parses option-file text: calls cb for each key=value (or bare key) in the [client] and
 * [cdctop] groups ([cdctop] after [client] in file order). -1 with "file:line: ..." on a syntax
 * error. Pure, for tests and fuzzing.
 */
int db_parse_cnf(const char *text, const char *fname,
		 void (*cb)(const char *group, const char *key, const char *val, void *ctx),
		 void *ctx, char *err);

#endif
