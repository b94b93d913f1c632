/*
 * db.c - resolves the MySQL target (options, ~/.my.cnf or --defaults-file, --password-file, or
 * the private server) and opens connections with a one-line error naming the server and what
 * to try. Safe from any thread. Never logs or prints a password.
 */
#include "db.h"
#include "util.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CNF_MAX (1 << 20)

/* Trims leading and trailing white space in place. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* Removes one level of matching quotes. */
static char *unquote(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s[n - 1] = 0;
		return s + 1;
	}
	return s;
}

int db_parse_cnf(const char *text, const char *fname,
		 void (*cb)(const char *group, const char *key, const char *val, void *ctx),
		 void *ctx, char *err)
{
	char group[64] = "";
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[1024];
		lineno++;
		if (len >= sizeof line)
			return u_err(err, "%s:%d: line too long", fname, lineno);
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (e ? 1 : 0);
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '!')
			continue; /* !include / !includedir: not followed */
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close == s + 1 || close[1])
				return u_err(err, "%s:%d: bad group header '%.40s': use [name]",
					     fname, lineno, s);
			*close = 0;
			snprintf(group, sizeof group, "%s", trim(s + 1));
			continue;
		}
		if (!*group)
			return u_err(err, "%s:%d: option outside a [group]", fname, lineno);
		char *eq = strchr(s, '=');
		char *key = s, *val = NULL;
		if (eq) {
			*eq = 0;
			val = unquote(trim(eq + 1));
			key = trim(key);
		}
		if (!*key)
			return u_err(err, "%s:%d: missing option name before '='", fname, lineno);
		for (char *k = key; *k; k++)
			if (*k == '_')
				*k = '-';
		if (!strcmp(group, "client") || !strcmp(group, "cdctop"))
			cb(group, key, val ? val : "", ctx);
	}
	return 0;
}

struct cnf_ctx {
	struct db_target *t;
	int named; /* host/socket/port seen in [cdctop] */
	int any_server;
	int has_password;
};

/* Applies one option-file setting to the target (options from argv win later). */
static void cnf_cb(const char *group, const char *key, const char *val, void *ctx)
{
	struct cnf_ctx *c = ctx;
	struct db_target *t = c->t;
	int server = 0;
	if (!strcmp(key, "host")) {
		snprintf(t->host, sizeof t->host, "%s", val);
		server = 1;
	} else if (!strcmp(key, "port")) {
		t->port = (unsigned)atoi(val);
		server = 1;
	} else if (!strcmp(key, "socket")) {
		snprintf(t->socket, sizeof t->socket, "%s", val);
		server = 1;
	} else if (!strcmp(key, "user")) {
		snprintf(t->user, sizeof t->user, "%s", val);
	} else if (!strcmp(key, "password")) {
		snprintf(t->password, sizeof t->password, "%s", val);
		c->has_password = 1;
	} else if (!strcmp(key, "database")) {
		snprintf(t->db, sizeof t->db, "%s", val);
	}
	if (server) {
		c->any_server = 1;
		if (!strcmp(group, "cdctop"))
			c->named = 1;
	}
}

/* Reads an option file; missing is fine when optional. Warns if it holds a password and is
   readable by others. */
static int read_cnf(const char *path, int optional, struct cnf_ctx *c, char *err)
{
	char e[U_ERRLEN];
	if (optional && access(path, F_OK) != 0)
		return 0;
	char *text = u_read_file(path, CNF_MAX, NULL, e);
	if (!text)
		return u_err(err, "option file: %s", e);
	c->has_password = 0;
	int r = db_parse_cnf(text, path, cnf_cb, c, err);
	free(text);
	struct stat st;
	if (r == 0 && c->has_password && stat(path, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr,
			"cdctop: warning: '%s' holds a password and is readable by others: "
			"chmod 600 it\n",
			path);
	return r;
}

int db_resolve(const struct opts *o, struct db_target *t, int start_private, char *err)
{
	memset(t, 0, sizeof *t);
	struct cnf_ctx c = {.t = t};
	snprintf(t->user, sizeof t->user, "root");
	if (o->defaults_file) {
		if (read_cnf(o->defaults_file, 0, &c, err) < 0)
			return -1;
	} else {
		const char *home = getenv("HOME");
		if (home && *home) {
			char path[PATH_MAX];
			snprintf(path, sizeof path, "%s/.my.cnf", home);
			struct db_target saved = *t;
			if (read_cnf(path, 1, &c, err) < 0)
				return -1;
			/* ~/.my.cnf applies to named servers, or names one in [cdctop] */
			if (!o->server_named && !c.named)
				*t = saved;
		}
	}
	if (o->host)
		snprintf(t->host, sizeof t->host, "%s", o->host);
	if (o->port)
		t->port = o->port;
	if (o->socket)
		snprintf(t->socket, sizeof t->socket, "%s", o->socket);
	if (o->user)
		snprintf(t->user, sizeof t->user, "%s", o->user);
	if (!t->db[0] || strcmp(o->db, "sakila"))
		snprintf(t->db, sizeof t->db, "%s", o->db);
	if (!u_valid_ident(t->db))
		return u_err(err, "bad database name '%.40s': use letters, digits and _ only", t->db);
	if (o->password_file) {
		char e[U_ERRLEN];
		char *pw = u_read_file(o->password_file, 4096, NULL, e);
		if (!pw)
			return u_err(err, "--password-file: %s", e);
		pw[strcspn(pw, "\r\n")] = 0;
		struct stat st;
		if (*pw && stat(o->password_file, &st) == 0 && (st.st_mode & 077))
			fprintf(stderr,
				"cdctop: warning: --password-file '%s' is readable by others: "
				"chmod 600 it\n",
				o->password_file);
		snprintf(t->password, sizeof t->password, "%s", pw);
		memset(pw, 0, strlen(pw));
		free(pw);
	}
	t->private_server = !(o->server_named || c.named);
	/* -h 127.0.0.1 -P <the private server's port> with no credentials: its TCP account,
	   from the option file server start wrote (cdctop reads it; it is on no command line) */
	if (!t->private_server && !t->password[0] && !o->user && !o->defaults_file && t->port &&
	    !t->socket[0] &&
	    (!t->host[0] || !strcmp(t->host, "127.0.0.1") || !strcmp(t->host, "localhost"))) {
		struct srv_paths sp;
		char e[U_ERRLEN];
		unsigned port = 0;
		pid_t pid;
		if (srv_paths(o->datadir, &sp, e) == 0 && srv_running(&sp, &pid, &port) &&
		    port == t->port && access(sp.clientcnf, R_OK) == 0) {
			struct cnf_ctx pc = {.t = t};
			struct db_target keep = *t;
			if (read_cnf(sp.clientcnf, 0, &pc, err) < 0)
				return -1;
			/* only the account: the server named on the command line stays */
			snprintf(keep.user, sizeof keep.user, "%s", t->user);
			snprintf(keep.password, sizeof keep.password, "%s", t->password);
			*t = keep;
			memset(keep.password, 0, sizeof keep.password);
		}
	}
	if (t->private_server) {
		if (srv_paths(o->datadir, &t->paths, err) < 0)
			return -1;
		t->host[0] = 0;
		t->port = 0;
		snprintf(t->socket, sizeof t->socket, "%s", t->paths.socket);
		snprintf(t->user, sizeof t->user, "root");
		t->password[0] = 0;
		snprintf(t->label, sizeof t->label, "private %.3000s (%s)", t->paths.base, t->db);
		if (start_private) {
			int started;
			if (srv_start(&t->paths, 0, &started, err) < 0)
				return -1;
			if (started)
				fprintf(stderr, "cdctop: started private MariaDB in %s\n",
					t->paths.base);
		}
	} else if (t->socket[0] && !t->host[0]) {
		snprintf(t->label, sizeof t->label, "%s@%.3000s (%s)", t->user, t->socket, t->db);
	} else {
		snprintf(t->label, sizeof t->label, "%s@%s:%u (%s)", t->user,
			 t->host[0] ? t->host : "localhost", t->port ? t->port : 3306, t->db);
	}
	return 0;
}

/* Why a connection failed with client error code, in plain words, from a check of our own
 * (libmariadb says "Can't connect ... (115)"): U_EREFUSED, U_ENOTFOUND, U_ETIMEDOUT, or
 * U_EFAIL ("it does not answer as a MySQL server"), with why set; 0 when the code is not
 * about reaching the server (access denied, unknown database). */
static int connect_why(unsigned code, const char *host, unsigned port, const char *sock,
		       char *why, size_t wcap)
{
	if (code != CR_CONNECTION_ERROR && code != CR_CONN_HOST_ERROR && code != CR_UNKNOWN_HOST &&
	    code != CR_SERVER_GONE_ERROR && code != CR_SERVER_LOST &&
	    code != CR_SERVER_HANDSHAKE_ERR && code != CR_MALFORMED_PACKET)
		return 0;
	int r;
	if (sock) {
		r = u_unix_check(sock, why, wcap);
	} else {
		char p[16];
		snprintf(p, sizeof p, "%u", port);
		r = u_tcp_connect(host, p, 3000, why, wcap);
		if (r >= 0) {
			close(r);
			r = 0;
		}
	}
	if (r == U_ETIMEDOUT) /* libmariadb's "(115)": the connect timed out */
		snprintf(why, wcap, "no answer (the host is down, or a firewall drops the packets)");
	if (r == 0) { /* it takes connections, but the handshake failed */
		if (code == CR_CONNECTION_ERROR || code == CR_CONN_HOST_ERROR)
			snprintf(why, wcap, "no answer within the connect timeout");
		else
			snprintf(why, wcap, "it does not answer as a MySQL server");
		r = U_EFAIL;
	}
	return r;
}

/* Connects with a read timeout of read_timeout_s. */
static MYSQL *connect_with(const struct db_target *t, int with_db, unsigned read_timeout_s,
			   char *err)
{
	MYSQL *m = mysql_init(NULL);
	if (!m) {
		u_err(err, "out of memory for a MySQL connection");
		return NULL;
	}
	unsigned timeout = 5, rw_timeout = 30;
	my_bool no = 0;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &read_timeout_s);
	mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no);
	mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* DATETIME columns are written and read as UTC, so envelopes agree across machines */
	mysql_optionsv(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	const char *host = t->host[0] ? t->host : NULL;
	const char *sock = t->socket[0] ? t->socket : NULL;
	/* "localhost" means the socket in libmariadb; with a port and no socket, use TCP */
	if (!host && !sock)
		host = "localhost";
	if (host && !strcmp(host, "localhost") && t->port && !sock)
		host = "127.0.0.1";
	if (!mysql_real_connect(m, host, t->user, t->password[0] ? t->password : NULL,
				with_db ? t->db : NULL, t->port, sock, CLIENT_MULTI_RESULTS)) {
		const char *where = t->private_server ? "the private server" : "MySQL";
		char addr[PATH_MAX + 300];
		if (sock && !t->host[0])
			snprintf(addr, sizeof addr, "socket '%s'", sock);
		else
			snprintf(addr, sizeof addr, "'%s:%u'", host, t->port ? t->port : 3306);
		unsigned code = mysql_errno(m);
		const char *hint =
		    code == 1045   ? "check the user and the password (option file or "
				     "--password-file)"
		    : code == 1049 ? "run cdctop init, or pick the database with -D"
		    : t->private_server
			? "run cdctop server start, or see cdctop server status"
			: "check -h/-P/-S and that the server is running";
		char why[200];
		int r = connect_why(code, host, t->port ? t->port : 3306, sock && !t->host[0] ? sock : NULL,
				    why, sizeof why);
		if (t->private_server && (r == U_ENOTFOUND || r == U_EREFUSED))
			u_err(err, "the private server is not running: run cdctop server start "
				   "(socket '%s': %s)", sock, why);
		else
			u_err(err, "cannot connect to %s at %s as '%s': %s; %s", where, addr,
			      t->user, r ? why : mysql_error(m), hint);
		mysql_close(m);
		return NULL;
	}
	return m;
}

MYSQL *db_connect(const struct db_target *t, int with_db, char *err)
{
	return connect_with(t, with_db, 30, err);
}

MYSQL *db_connect_stream(const struct db_target *t, unsigned read_timeout_s, char *err)
{
	return connect_with(t, 0, read_timeout_s, err);
}

int db_exec(MYSQL *m, const char *sql, char *err)
{
	if (mysql_query(m, sql))
		return u_err(err, "%s (%u)", mysql_error(m), mysql_errno(m));
	/* drain any result so the connection stays usable */
	do {
		MYSQL_RES *r = mysql_store_result(m);
		if (r)
			mysql_free_result(r);
	} while (mysql_next_result(m) == 0);
	return 0;
}

int db_query_ll(MYSQL *m, const char *sql, long long *out, char *err)
{
	if (mysql_query(m, sql))
		return u_err(err, "%s (%u)", mysql_error(m), mysql_errno(m));
	MYSQL_RES *r = mysql_store_result(m);
	if (!r)
		return u_err(err, "no result: %s", mysql_error(m));
	MYSQL_ROW row = mysql_fetch_row(r);
	*out = row && row[0] ? strtoll(row[0], NULL, 10) : 0;
	mysql_free_result(r);
	return 0;
}

int db_prepare(MYSQL *m, const char *sql, MYSQL_STMT **out, char *err)
{
	MYSQL_STMT *st = *out = mysql_stmt_init(m);
	if (!st)
		return u_err(err, "out of memory");
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		unsigned code = mysql_stmt_errno(st);
		u_err(err, "cannot prepare '%.60s...': %s", sql, mysql_stmt_error(st));
		mysql_stmt_close(st);
		*out = NULL;
		return code == ER_NO_SUCH_TABLE ? U_ENOTFOUND : U_EFAIL;
	}
	return 0;
}

void db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	*len = strlen(s);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	b->buffer_length = *len;
	b->length = len;
}

void db_bind_ll(MYSQL_BIND *b, long long *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
}

int db_conn_lost(MYSQL_STMT *st)
{
	unsigned e = mysql_stmt_errno(st);
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONN_HOST_ERROR ||
	       e == CR_CONNECTION_ERROR || e == ER_CONNECTION_KILLED || e == ER_SERVER_SHUTDOWN;
}

int db_query_ll_arg(MYSQL *m, const char *sql, long long arg, long long *out, char *err)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st)
		return u_err(err, "out of memory");
	MYSQL_BIND b, rb;
	my_bool isnull = 0;
	long long v = 0;
	memset(&b, 0, sizeof b);
	memset(&rb, 0, sizeof rb);
	b.buffer_type = MYSQL_TYPE_LONGLONG;
	b.buffer = &arg;
	rb.buffer_type = MYSQL_TYPE_LONGLONG;
	rb.buffer = &v;
	rb.is_null = &isnull;
	int rc = 0;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_bind_param(st, &b) ||
	    mysql_stmt_execute(st) || mysql_stmt_bind_result(st, &rb) ||
	    mysql_stmt_store_result(st))
		rc = u_err(err, "%s (%u)", mysql_stmt_error(st), mysql_stmt_errno(st));
	else
		*out = mysql_stmt_fetch(st) == 0 && !isnull ? v : 0;
	mysql_stmt_close(st);
	return rc;
}
