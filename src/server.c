/*
 * server.c - the private MariaDB server: lays out its state dir, runs mariadb-install-db once,
 * spawns mariadbd detached (own socket, networking off unless a port is asked for, binlog on),
 * finds a running one, cleans up after a killed one, and shuts it down. Main thread only;
 * never leaves a half-started server behind without saying where its log is.
 */
#include "server.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_US (60 * 1000000LL)
#define STOP_TIMEOUT_US  (30 * 1000000LL)

/* mkdir -p with mode 0700 for every directory created. */
static int mkdirs(const char *path, char *err)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return u_err(err, "cannot create directory '%s': %s", tmp,
					     strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int srv_paths(const char *base, struct srv_paths *p, char *err)
{
	memset(p, 0, sizeof *p);
	if (base) {
		if (base[0] != '/') {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof cwd))
				return u_err(err, "cannot read the current directory: %s",
					     strerror(errno));
			if (snprintf(p->base, sizeof p->base, "%s/%s", cwd, base) >=
			    (int)sizeof p->base)
				return u_err(err, "--datadir: path too long");
		} else {
			snprintf(p->base, sizeof p->base, "%s", base);
		}
	} else {
		const char *xdg = getenv("XDG_STATE_HOME");
		const char *home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : "/tmp";
		}
		if (xdg && xdg[0] == '/')
			snprintf(p->base, sizeof p->base, "%s/cdctop", xdg);
		else
			snprintf(p->base, sizeof p->base, "%s/.local/state/cdctop", home);
	}
	size_t n = strlen(p->base);
	while (n > 1 && p->base[n - 1] == '/')
		p->base[--n] = 0;
	if (n + 16 >= sizeof p->socket)
		return u_err(err,
			     "state dir '%s' is too long for a unix socket path (at most 90 "
			     "bytes): use a shorter --datadir",
			     p->base);
	snprintf(p->datadir, sizeof p->datadir, "%.200s/data", p->base);
	snprintf(p->socket, sizeof p->socket, "%.90s/mysqld.sock", p->base);
	snprintf(p->pidfile, sizeof p->pidfile, "%.200s/mysqld.pid", p->base);
	snprintf(p->errlog, sizeof p->errlog, "%.200s/mysqld.err", p->base);
	snprintf(p->portfile, sizeof p->portfile, "%.200s/port", p->base);
	snprintf(p->clientcnf, sizeof p->clientcnf, "%.200s/client.cnf", p->base);
	return 0;
}

/* Reads a small integer from a file; 0 if absent or unreadable. */
static long read_num(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = 0;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* 1 if pid is a live (not zombie) process; with need_name, also named mariadbd or mysqld. */
static int live_pid(pid_t pid, int need_name)
{
	char path[64], buf[256];
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t r = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[r] = 0;
	char *close_paren = strrchr(buf, ')');
	if (!close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' || close_paren[2] == 'X')
		return 0;
	return !need_name || strstr(buf, "(mariadbd)") || strstr(buf, "(mysqld)");
}

/* 1 if pid is a live mariadbd/mysqld process. */
static int is_server_pid(pid_t pid)
{
	return live_pid(pid, 1);
}

/* 1 if a MariaDB server answers on the socket. */
static int answers(const char *socket)
{
	MYSQL *m = mysql_init(NULL);
	if (!m)
		return 0;
	unsigned timeout = 2;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	int ok = mysql_real_connect(m, NULL, "root", NULL, NULL, 0, socket, 0) != NULL;
	mysql_close(m);
	return ok;
}

int srv_running(const struct srv_paths *p, pid_t *pid, unsigned *port)
{
	pid_t pd = (pid_t)read_num(p->pidfile);
	if (pid)
		*pid = pd;
	if (port)
		*port = (unsigned)read_num(p->portfile);
	return is_server_pid(pd) && answers(p->socket);
}

/* Finds an executable: the first of candidates that exists, else NULL. */
static const char *find_exe(const char *const *cands)
{
	for (; *cands; cands++)
		if (access(*cands, X_OK) == 0)
			return *cands;
	return NULL;
}

/* Runs argv with stdout/stderr appended to log, waits; returns exit status or -1. */
static int run_logged(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nul = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (nul >= 0)
			dup2(nul, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first "[ERROR]" line the server wrote to its log after offset from (a later
   "Aborting" only says that it gave up), for messages; else where the log is. */
static void first_error_line(const char *log, long from, char *out, size_t len)
{
	snprintf(out, len, "see %s", log);
	FILE *f = fopen(log, "re");
	if (!f)
		return;
	if (from > 0)
		fseek(f, from, SEEK_SET);
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		const char *m = strstr(line, "[ERROR]");
		if (!m || (found && strstr(m, "Aborting")))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(out, len, "%.200s (log: %s)", m, log);
		if (!strstr(m, "Aborting"))
			break;
		found = 1;
	}
	fclose(f);
}

/* The current size of a file, 0 if absent. */
static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Creates the system tables with mariadb-install-db if the data dir has none. */
static int init_datadir(const struct srv_paths *p, char *err)
{
	char probe[PATH_MAX + 16];
	snprintf(probe, sizeof probe, "%s/mysql", p->datadir);
	if (access(probe, F_OK) == 0)
		return 0;
	static const char *const cands[] = {"/usr/bin/mariadb-install-db",
					    "/usr/local/bin/mariadb-install-db",
					    "/usr/bin/mysql_install_db", NULL};
	const char *exe = find_exe(cands);
	if (!exe)
		return u_err(err, "mariadb-install-db not found: install mariadb-server "
				  "(make deps), or name a server with -h/-S");
	if (mkdirs(p->datadir, err) < 0)
		return -1;
	char a_datadir[PATH_MAX + 16], a_user[64];
	snprintf(a_datadir, sizeof a_datadir, "--datadir=%s", p->datadir);
	struct passwd *pw = getpwuid(geteuid());
	snprintf(a_user, sizeof a_user, "--user=%s", pw ? pw->pw_name : "root");
	char *argv[] = {(char *)exe,
			"--no-defaults",
			a_datadir,
			a_user,
			"--auth-root-authentication-method=normal",
			"--skip-test-db",
			"--innodb-log-file-size=96M",
			NULL};
	long from = file_size(p->errlog);
	int rc = run_logged(argv, p->errlog);
	if (rc != 0) {
		char why[300];
		first_error_line(p->errlog, from, why, sizeof why);
		return u_err(err, "cannot initialise data directory '%s' (exit %d): %s",
			     p->datadir, rc, why);
	}
	return 0;
}

/* mariadbd's command line for a private server: its files under p, TCP on 127.0.0.1:port
   (0: the socket only), the binlog on for binlog capture. */
struct srv_argv {
	char datadir[PATH_MAX + 16], sock[160], pid[PATH_MAX + 16], log[PATH_MAX + 16], port[32],
	    tmp[PATH_MAX + 16];
	const char *argv[32];
};

/* Fills a for exe; -1 with err when its temp directory cannot be made. */
static int server_argv(const struct srv_paths *p, unsigned port, const char *exe,
		       struct srv_argv *a, char *err)
{
	snprintf(a->datadir, sizeof a->datadir, "--datadir=%s", p->datadir);
	snprintf(a->sock, sizeof a->sock, "--socket=%s", p->socket);
	snprintf(a->pid, sizeof a->pid, "--pid-file=%s", p->pidfile);
	snprintf(a->log, sizeof a->log, "--log-error=%s", p->errlog);
	snprintf(a->port, sizeof a->port, "--port=%u", port);
	char tmpdir[PATH_MAX];
	snprintf(tmpdir, sizeof tmpdir, "%.4000s/tmp", p->base);
	if (mkdir(tmpdir, 0700) < 0 && errno != EEXIST)
		return u_err(err, "cannot create directory '%s': %s", tmpdir, strerror(errno));
	snprintf(a->tmp, sizeof a->tmp, "--tmpdir=%s", tmpdir);
	const char **v = a->argv;
	int n = 0;
	v[n++] = exe;
	v[n++] = "--no-defaults"; /* must come first, else /etc/mysql/my.cnf is read */
	if (geteuid() == 0)
		v[n++] = "--user=root";
	v[n++] = a->datadir;
	v[n++] = a->sock;
	v[n++] = a->pid;
	v[n++] = a->log;
	if (port) {
		v[n++] = a->port;
		v[n++] = "--bind-address=127.0.0.1";
	} else {
		v[n++] = "--skip-networking";
	}
	v[n++] = "--character-set-server=utf8mb4";
	v[n++] = "--collation-server=utf8mb4_general_ci";
	/* MariaDB's default redo log: with 8M, 1,000 customers/s kept the page cleaner flushing
	   ~4 MB/s without pause to hold the checkpoint age, and watch's p99 went up by ~2 ms */
	v[n++] = "--innodb-log-file-size=96M";
	v[n++] = "--innodb-use-native-aio=0";
	v[n++] = "--innodb-flush-log-at-trx-commit=2"; /* survives a killed server, not a power cut */
	v[n++] = "--log-bin=mysql-bin";
	v[n++] = "--binlog-format=ROW";
	v[n++] = "--binlog-row-metadata=FULL";
	v[n++] = "--server-id=1";
	v[n++] = "--log-bin-trust-function-creators=1";
	v[n++] = "--skip-name-resolve";
	v[n++] = a->tmp; /* its own temp dir: nothing else's /tmp clean-up can break it */
	v[n] = NULL;
	return 0;
}

/* Runs argv detached from us (double fork, its own session, stdio on /dev/null, umask 077):
   the grandchild's pid, or -1 with err. */
static pid_t spawn_detached(const char *const *argv, char *err)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return u_err(err, "pipe: %s", strerror(errno));
	pid_t mid = fork();
	if (mid < 0)
		return u_err(err, "fork: %s", strerror(errno));
	if (mid == 0) {
		setsid();
		pid_t gc = fork();
		if (gc == 0) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
			}
			umask(077);
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		ssize_t w = write(fds[1], &gc, sizeof gc);
		(void)w;
		_exit(0);
	}
	close(fds[1]);
	pid_t gc = -1;
	if (read(fds[0], &gc, sizeof gc) != (ssize_t)sizeof gc)
		gc = -1;
	close(fds[0]);
	waitpid(mid, NULL, 0);
	if (gc <= 0)
		return u_err(err, "cannot start mariadbd");
	return gc;
}

/* Spawns mariadbd detached; returns its pid or -1. */
static pid_t spawn_server(const struct srv_paths *p, unsigned port, char *err)
{
	static const char *const cands[] = {"/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd",
					    "/usr/sbin/mysqld", NULL};
	const char *exe = find_exe(cands);
	if (!exe)
		return u_err(err, "mariadbd not found: install mariadb-server (make deps), or "
				  "name a server with -h/-S");
	struct srv_argv a;
	if (server_argv(p, port, exe, &a, err) < 0)
		return -1;
	return spawn_detached(a.argv, err);
}

/* Removes the pid and socket files a killed server left behind. */
static void clean_stale(const struct srv_paths *p)
{
	unlink(p->pidfile);
	unlink(p->socket);
	unlink(p->portfile);
}

int srv_start(const struct srv_paths *p, unsigned port, int *started, char *err)
{
	*started = 0;
	if (mkdirs(p->base, err) < 0)
		return -1;
	chmod(p->base, 0700);
	pid_t old = (pid_t)read_num(p->pidfile);
	if (is_server_pid(old)) {
		/* running, or still starting up: wait for it to answer */
		for (int64_t t0 = u_mono_us(); u_mono_us() - t0 < START_TIMEOUT_US;
		     u_sleep_us(50000)) {
			if (answers(p->socket))
				return 0;
			if (!is_server_pid(old))
				break;
		}
		if (is_server_pid(old))
			return u_err(err,
				     "private server (pid %d) runs but does not answer on '%s': "
				     "see %s, or cdctop server stop",
				     (int)old, p->socket, p->errlog);
	}
	clean_stale(p);
	if (init_datadir(p, err) < 0)
		return -1;
	long from = file_size(p->errlog);
	pid_t pid = spawn_server(p, port, err);
	if (pid < 0)
		return -1;
	for (int64_t t0 = u_mono_us(); u_mono_us() - t0 < START_TIMEOUT_US; u_sleep_us(20000)) {
		if (!live_pid(pid, 0)) { /* not by name: it may not have reached exec yet */
			char why[300];
			first_error_line(p->errlog, from, why, sizeof why);
			return u_err(err, "mariadbd exited during start-up: %s", why);
		}
		if (access(p->socket, F_OK) == 0 && answers(p->socket)) {
			if (port) {
				FILE *f = fopen(p->portfile, "we");
				if (f) {
					fprintf(f, "%u\n", port);
					fclose(f);
				}
			}
			chmod(p->socket, 0700);
			*started = 1;
			return 0;
		}
	}
	kill(pid, SIGKILL);
	return u_err(err, "mariadbd did not answer within %d s: see %s",
		     (int)(START_TIMEOUT_US / 1000000), p->errlog);
}

/* Waits until pid is gone or timeout_us passes; 1 if gone. */
static int wait_gone(pid_t pid, int64_t timeout_us)
{
	for (int64_t t0 = u_mono_us(); u_mono_us() - t0 < timeout_us; u_sleep_us(10000))
		if (!is_server_pid(pid))
			return 1;
	return !is_server_pid(pid);
}

int srv_stop(const struct srv_paths *p, int *was_running, char *err)
{
	pid_t pid = (pid_t)read_num(p->pidfile);
	*was_running = is_server_pid(pid);
	if (!*was_running) {
		clean_stale(p);
		return 0;
	}
	MYSQL *m = mysql_init(NULL);
	unsigned timeout = 2;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (mysql_real_connect(m, NULL, "root", NULL, NULL, 0, p->socket, 0))
		mysql_query(m, "SHUTDOWN");
	else
		kill(pid, SIGTERM);
	mysql_close(m);
	if (!wait_gone(pid, STOP_TIMEOUT_US)) {
		kill(pid, SIGTERM);
		if (!wait_gone(pid, 10 * 1000000LL)) {
			kill(pid, SIGKILL);
			if (!wait_gone(pid, 5 * 1000000LL))
				return u_err(err, "mariadbd (pid %d) does not stop", (int)pid);
		}
	}
	clean_stale(p);
	return 0;
}

int srv_tcp_secured(const struct srv_paths *p)
{
	return access(p->clientcnf, F_OK) == 0;
}

/* The password= value of an existing client.cnf into pw (at most len-1 bytes of
 * [A-Za-z0-9]); 0 if there is none. */
static int old_password(const char *path, char *pw, size_t len)
{
	char e[U_ERRLEN];
	char *text = u_read_file(path, 4096, NULL, e);
	if (!text)
		return 0;
	int ok = 0;
	char *l = strstr(text, "\npassword=");
	if (l) {
		l += strlen("\npassword=");
		size_t n = strcspn(l, "\r\n");
		ok = n >= 16 && n < len;
		for (size_t i = 0; ok && i < n; i++)
			ok = (l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
			     (l[i] >= '0' && l[i] <= '9');
		if (ok) {
			memcpy(pw, l, n);
			pw[n] = 0;
		}
	}
	memset(text, 0, strlen(text));
	free(text);
	return ok;
}

/* 32 random letters and digits from getrandom. -1 with err. */
static int new_password(char *pw, size_t len, char *err)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char r[32];
	if (len < sizeof r + 1 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return u_err(err, "cannot generate a password: %s", strerror(errno));
	for (size_t i = 0; i < sizeof r; i++)
		pw[i] = abc[r[i] % (sizeof abc - 1)];
	pw[sizeof r] = 0;
	memset(r, 0, sizeof r);
	return 0;
}

/* Writes the option file through a 0600 temp file and a rename. */
static int write_cnf(const struct srv_paths *p, const char *pw, unsigned port, char *err)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", p->clientcnf);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return u_err(err, "cannot write '%s': %s", tmp, strerror(errno));
	char text[512];
	int n = snprintf(text, sizeof text,
			 "# cdctop server start: the private server's TCP account; keep it 0600\n"
			 "[client]\nuser=cdctop\npassword=%s\n",
			 pw);
	if (port)
		n += snprintf(text + n, sizeof text - (size_t)n, "host=127.0.0.1\nport=%u\n", port);
	int ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	memset(text, 0, sizeof text);
	if (close(fd) < 0 || !ok || rename(tmp, p->clientcnf) < 0) {
		u_err(err, "cannot write '%s': %s", p->clientcnf, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int srv_secure_tcp(const struct srv_paths *p, unsigned port, char *err)
{
	char pw[64], host[256] = "", q[512];
	if (!old_password(p->clientcnf, pw, sizeof pw) && new_password(pw, sizeof pw, err) < 0)
		return -1;
	if (gethostname(host, sizeof host) < 0 || !host[0] ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		strlen(host))
		host[0] = 0; /* a name we would quote: its account stays (name resolve is off) */
	MYSQL *m = mysql_init(NULL);
	unsigned timeout = 5;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (!mysql_real_connect(m, NULL, "root", NULL, NULL, 0, p->socket, 0)) {
		u_err(err, "cannot secure the private server's TCP accounts: %s", mysql_error(m));
		mysql_close(m);
		memset(pw, 0, sizeof pw);
		return -1;
	}
	const char *stmts[] = {
	    "SET SESSION sql_log_bin = 0",
	    "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', ''@'localhost', ''@'%'",
	    NULL, /* root and anonymous at the host name */
	    NULL, /* CREATE USER ... */
	    "GRANT ALL PRIVILEGES ON *.* TO 'cdctop'@'127.0.0.1' WITH GRANT OPTION",
	};
	char drop_host[400] = "SELECT 1";
	if (host[0])
		snprintf(drop_host, sizeof drop_host, "DROP USER IF EXISTS 'root'@'%.180s', ''@'%.180s'", host,
			 host);
	stmts[2] = drop_host;
	snprintf(q, sizeof q, "CREATE OR REPLACE USER 'cdctop'@'127.0.0.1' IDENTIFIED BY '%s'", pw);
	stmts[3] = q;
	int rc = 0;
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0] && !rc; i++)
		if (mysql_query(m, stmts[i]))
			rc = u_err(err, "cannot secure the private server's TCP accounts (step %zu): %s",
				   i + 1, i == 3 ? "CREATE USER failed" : mysql_error(m));
	memset(q, 0, sizeof q);
	mysql_close(m);
	if (!rc)
		rc = write_cnf(p, pw, port, err);
	memset(pw, 0, sizeof pw);
	return rc;
}
