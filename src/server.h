/*
 * server.h - the private MariaDB: a mariadbd that cdctop initialises, starts, finds and stops
 * in its own state directory, on its own unix socket. Called from the main thread only; it
 * spawns the server detached, so the server outlives the cdctop that started it.
 */
#ifndef CDCTOP_SERVER_H
#define CDCTOP_SERVER_H

#include <limits.h>
#include <sys/types.h>

struct srv_paths {
	char base[PATH_MAX];    /* state dir: --datadir, or $XDG_STATE_HOME/cdctop, ~/.local/state/cdctop */
	char datadir[PATH_MAX]; /* base/data */
	char socket[108];       /* base/mysqld.sock (unix socket paths are limited to 108 bytes) */
	char pidfile[PATH_MAX];
	char errlog[PATH_MAX];
	char portfile[PATH_MAX]; /* base/port when started with -P */
	char clientcnf[PATH_MAX]; /* base/client.cnf: the TCP account's option file (0600) */
};

/* Fills p for the state dir base (NULL: the default). -1 with err if the path is unusable. */
int srv_paths(const char *base, struct srv_paths *p, char *err);
/* 1 if the private server answers on its socket (pid in *pid, port or 0 in *port), else 0. */
int srv_running(const struct srv_paths *p, pid_t *pid, unsigned *port);
/* Initialises the data dir if needed and starts mariadbd (port 0: networking off), waiting
   until it answers; a running server is found instead. *started says which. */
int srv_start(const struct srv_paths *p, unsigned port, int *started, char *err);
/*
 * Admits only the owner over TCP: drops the password-less root accounts mariadb-install-db
 * made for 127.0.0.1, ::1 and the host name (root stays on the 0700 socket), and makes
 * 'cdctop'@'127.0.0.1' with a generated password (kept when p->clientcnf already holds one),
 * all with sql_log_bin off so the password reaches no binlog. Writes p->clientcnf (0600,
 * [client] user, password, and with port > 0 host and port), which cdctop reads itself for
 * -h 127.0.0.1 -P port; the password never goes on argv, stdout or a log. The server must
 * answer on its socket. Idempotent. -1 with err.
 */
int srv_secure_tcp(const struct srv_paths *p, unsigned port, char *err);
/* 1 when the state dir's TCP accounts were made safe (p->clientcnf exists). */
int srv_tcp_secured(const struct srv_paths *p);

/* Shuts the server down cleanly (SQL SHUTDOWN, then SIGTERM, SIGKILL as last resort). */
int srv_stop(const struct srv_paths *p, int *was_running, char *err);

#endif
