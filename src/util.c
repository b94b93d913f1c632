/*
 * util.c - clocks, checked allocation, error buffers and the small parsers every module uses.
 * Runs on any thread; the only shared state is the log mutex. Must never exit the process
 * except on out-of-memory.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t u_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t u_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void u_sleep_us(int64_t us)
{
	if (us <= 0)
		return;
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static void oom(size_t n)
{
	fprintf(stderr, "cdctop: out of memory allocating %zu bytes\n", n);
	abort();
}

void *u_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *u_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *u_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *u_strdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom(strlen(s));
	return p;
}

int u_err(char *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, U_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* The progress line (u_progress), under log_mu: shown now, when it started, last drawn. */
static int prog_tty = -1, prog_shown;
static int64_t prog_t0, prog_last;
static long long prog_done0;

void u_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	pthread_mutex_lock(&log_mu);
	if (prog_shown) /* wipe the progress line; its next update draws it again */
		fputs("\r\033[K", stderr);
	prog_shown = 0;
	fprintf(stderr, "%02d:%02d:%02d cdctop: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, line);
	fflush(stderr);
	pthread_mutex_unlock(&log_mu);
}

void u_progress(const char *what, long long done, long long total, const char *unit)
{
	int64_t now = u_mono_us();
	pthread_mutex_lock(&log_mu);
	if (prog_tty < 0)
		prog_tty = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	if (!prog_tty || total <= 0 || (prog_shown && now - prog_last < 250000)) {
		pthread_mutex_unlock(&log_mu);
		return;
	}
	if (!prog_t0 || done < prog_done0) {
		prog_t0 = now;
		prog_done0 = done;
	}
	prog_last = now;
	double secs = (double)(now - prog_t0) / 1e6;
	double rate = secs > 0.2 ? (double)(done - prog_done0) / secs : 0;
	char d[32], t[32], r[32], left[48] = "";
	if (rate > 0 && done < total) {
		int64_t l = (int64_t)((double)(total - done) / rate);
		if (l >= 3600)
			snprintf(left, sizeof left, "  %lldh%02lldm left", (long long)(l / 3600),
				 (long long)(l % 3600 / 60));
		else if (l >= 60)
			snprintf(left, sizeof left, "  %lldm%02llds left", (long long)(l / 60),
				 (long long)(l % 60));
		else
			snprintf(left, sizeof left, "  %llds left", (long long)l);
	}
	fprintf(stderr, "\r\033[K%s: %s/%s %s  %s%s", what, u_fmt_count(done, d, sizeof d),
		u_fmt_count(total, t, sizeof t), unit, u_fmt_rate(rate, r, sizeof r), left);
	fflush(stderr);
	prog_shown = 1;
	pthread_mutex_unlock(&log_mu);
}

void u_progress_end(void)
{
	pthread_mutex_lock(&log_mu);
	if (prog_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	prog_shown = 0;
	prog_t0 = 0;
	pthread_mutex_unlock(&log_mu);
}

int u_parse_duration(const char *s, int64_t *us, char *err)
{
	if (!s || !*s)
		return u_err(err, "empty duration: use a number with a unit, e.g. 30s, 1m, 1h");
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return u_err(err, "bad duration '%.40s': use a number with a unit, e.g. 30s, 1m, 1h", s);
	unsigned long long v = 0;
	while (isdigit((unsigned char)*p)) {
		if (v > 1000000000ULL)
			return u_err(err, "duration '%.40s' is too large (at most 1000000000s)", s);
		v = v * 10 + (unsigned)(*p - '0');
		p++;
	}
	int64_t mult;
	if (!*p || !strcmp(p, "s"))
		mult = 1000000;
	else if (!strcmp(p, "ms"))
		mult = 1000;
	else if (!strcmp(p, "m"))
		mult = 60 * 1000000LL;
	else if (!strcmp(p, "h"))
		mult = 3600 * 1000000LL;
	else
		return u_err(err, "bad duration unit in '%.40s': use ms, s, m or h (e.g. 30s, 1m)",
			     s);
	if (v > 1000000000ULL || (int64_t)v * (mult / 1000) > 1000000000LL * 1000)
		return u_err(err, "duration '%.40s' is too large (at most 1000000000s)", s);
	*us = (int64_t)v * mult;
	return 0;
}

const char *u_fmt_duration(int64_t us, char *buf, size_t len)
{
	if (us % 1000000) {
		snprintf(buf, len, "%lldms", (long long)(us / 1000));
		return buf;
	}
	long long s = us / 1000000;
	if (s && s % 3600 == 0)
		snprintf(buf, len, "%lldh", s / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm", s / 3600, (s % 3600) / 60);
	else if (s && s % 60 == 0)
		snprintf(buf, len, "%lldm", s / 60);
	else
		snprintf(buf, len, "%llds", s);
	return buf;
}

int u_parse_int(const char *what, const char *s, long long min, long long max, long long *out,
		char *err)
{
	char a[40], b[40];
	u_fmt_count(min, a, sizeof a);
	u_fmt_count(max, b, sizeof b);
	if (!s || !*s)
		return u_err(err, "%s: empty value: give a whole number from %s to %s", what, a, b);
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || isspace((unsigned char)*s))
		return u_err(err, "%s: '%.40s' is not a whole number (use %s to %s)", what, s, a, b);
	if (errno == ERANGE || v < min || v > max)
		return u_err(err, "%s: %.40s is out of range (use %s to %s)", what, s, a, b);
	*out = v;
	return 0;
}

const char *u_fmt_plain(double v, char *buf, size_t len)
{
	if (!isfinite(v) || fabs(v) >= 1e18) {
		snprintf(buf, len, "%.0f", v);
		return buf;
	}
	char tmp[64], ip[32];
	snprintf(tmp, sizeof tmp, "%.6f", fabs(v));
	char *dot = strchr(tmp, '.');
	size_t n = strlen(tmp);
	while (n && tmp[n - 1] == '0')
		tmp[--n] = 0;
	if (n && tmp[n - 1] == '.')
		tmp[--n] = 0;
	if (dot && (size_t)(dot - tmp) < n)
		*dot = 0;
	else
		dot = NULL;
	u_fmt_count(strtoll(tmp, NULL, 10), ip, sizeof ip);
	snprintf(buf, len, "%s%s%s%s", v < 0 ? "-" : "", ip, dot ? "." : "", dot ? dot + 1 : "");
	return buf;
}

int u_parse_double(const char *what, const char *s, double min, double max, double *out,
		   char *err)
{
	char a[40], b[40];
	u_fmt_plain(min, a, sizeof a);
	u_fmt_plain(max, b, sizeof b);
	if (!s || !*s)
		return u_err(err, "%s: empty value: give a number from %s to %s", what, a, b);
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || isspace((unsigned char)*s) || !isfinite(v))
		return u_err(err, "%s: '%.40s' is not a number (use %s to %s)", what, s, a, b);
	if (errno == ERANGE || v < min || v > max)
		return u_err(err, "%s: %.40s is out of range (use %s to %s)", what, s, a, b);
	*out = v;
	return 0;
}

static int valid_chars(const char *s, const char *extra)
{
	size_t n = 0;
	if (!s)
		return 0;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (!isalnum(c) && c != '_' && !strchr(extra, c))
			return 0;
	}
	return n >= 1 && n <= 64;
}

int u_valid_ident(const char *s)
{
	return valid_chars(s, "");
}

int u_valid_topic(const char *s)
{
	return valid_chars(s, ".-") && strcmp(s, ".") && strcmp(s, "..");
}

size_t u_copy_utf8(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--; /* s[n] would be a continuation byte: drop the cut character */
	}
	memcpy(dst, s, n);
	dst[n] = 0;
	return n;
}

char *u_read_file(const char *path, size_t max, size_t *len, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		u_err(err, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		u_err(err, "'%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max) {
		u_err(err, "'%s' is too large (%lld bytes, at most %zu)", path,
		      (long long)st.st_size, max);
		close(fd);
		return NULL;
	}
	char *buf = u_malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0) {
			u_err(err, "cannot read '%s': %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	if (len)
		*len = got;
	return buf;
}

const char *u_fmt_count(long long v, char *buf, size_t len)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%lld", v < 0 ? -v : v);
	size_t o = 0;
	if (v < 0 && o + 1 < len)
		buf[o++] = '-';
	for (int i = 0; i < n && o + 1 < len; i++) {
		if (i && (n - i) % 3 == 0 && o + 1 < len)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

int u_tcp_connect(const char *host, const char *port, int timeout_ms, char *why, size_t wcap)
{
	int64_t deadline = u_mono_us() + (int64_t)timeout_ms * 1000;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g) {
		snprintf(why, wcap, "unknown host '%.80s'", host);
		return U_ENOTFOUND;
	}
	int rc = U_EFAIL;
	snprintf(why, wcap, "cannot connect");
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                a->ai_protocol);
		if (fd < 0)
			continue;
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		int e = r == 0 ? 0 : errno;
		if (e == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int64_t left = (deadline - u_mono_us()) / 1000;
			int pr = poll(&pfd, 1, left > 0 ? (int)left : 0);
			if (pr == 0) {
				e = ETIMEDOUT;
			} else {
				socklen_t sl = sizeof e;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
					e = errno;
			}
		}
		if (e == 0) {
			freeaddrinfo(ai);
			return fd;
		}
		close(fd);
		if (e == ECONNREFUSED) {
			rc = U_EREFUSED;
			snprintf(why, wcap, "connection refused");
		} else if (e == ETIMEDOUT) {
			if (rc != U_EREFUSED) {
				rc = U_ETIMEDOUT;
				snprintf(why, wcap, "no answer");
			}
		} else if (rc == U_EFAIL) {
			snprintf(why, wcap, "%s", strerror(e));
			for (char *c = why; *c; c++)
				*c = (char)(c == why ? tolower((unsigned char)*c) : *c);
		}
	}
	freeaddrinfo(ai);
	return rc;
}

int u_unix_check(const char *path, char *why, size_t wcap)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(why, wcap, errno == ENOENT ? "no socket there" : "%s", strerror(errno));
		return errno == ENOENT ? U_ENOTFOUND : U_EFAIL;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, wcap, "not a socket");
		return U_EFAIL;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(why, wcap, "the path is too long for a unix socket");
		return U_EFAIL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, wcap, "%s", strerror(errno));
		return U_EFAIL;
	}
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	close(fd);
	if (r == 0)
		return 0;
	if (e == ECONNREFUSED) {
		snprintf(why, wcap, "connection refused (no server listens on it)");
		return U_EREFUSED;
	}
	snprintf(why, wcap, "%s", e == EACCES ? "permission denied" : strerror(e));
	return U_EFAIL;
}

/* One latency in the unit and decimals chosen for its figure. */
static void fmt_lat(int64_t us, int unit, int dec, char *buf, size_t len)
{
	static const char *const names[] = {"us", "ms", "s"};
	static const double div[] = {1, 1e3, 1e6};
	if (us <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%.*f %s", dec, (double)us / div[unit], names[unit]);
}

void u_fmt_latency_pair(int64_t a_us, int64_t b_us, char *a, char *b, size_t len)
{
	int64_t m = a_us > b_us ? a_us : b_us;
	int unit = m < 1000 ? 0 : m < 10000000 ? 1 : 2;
	/* one decimal style for both: us none; ms one below 100 ms, none above; s one */
	double top = (double)m / (unit == 0 ? 1 : unit == 1 ? 1e3 : 1e6);
	int dec = unit == 2 || (unit == 1 && top < 100) ? 1 : 0;
	fmt_lat(a_us, unit, dec, a, len);
	fmt_lat(b_us, unit, dec, b, len);
}

const char *u_fmt_rate(double r, char *buf, size_t len)
{
	char n[40];
	if (r > 0 && r < 10 && r != (double)(long long)r)
		snprintf(buf, len, "%.1f/s", r);
	else
		snprintf(buf, len, "%s/s", u_fmt_count((long long)(r + 0.5), n, sizeof n));
	return buf;
}

uint64_t u_hash(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Copies one line, control characters replaced so it stays one line. */
void u_copy_line(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
	if (len)
		dst[i] = 0;
}

/* Initialises cond on the monotonic clock. */
void u_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* Waits on cond until the monotonic time deadline_us (caller holds mu). */
void u_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_us)
{
	int64_t left = deadline_us - u_mono_us();
	if (left <= 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ns = (int64_t)ts.tv_nsec + (left % 1000000) * 1000;
	ts.tv_sec += (time_t)(left / 1000000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	pthread_cond_timedwait(cond, mu, &ts);
}

/* Appends a command unless the queue is full. */
int u_cmdq_push(struct u_cmdq *q, struct u_cmd c)
{
	if (q->len == U_CMDQ_CAP)
		return -1;
	q->q[(q->head + q->len++) % U_CMDQ_CAP] = c;
	return 0;
}

/* Takes the oldest command. */
int u_cmdq_pop(struct u_cmdq *q, struct u_cmd *c)
{
	if (!q->len)
		return 0;
	*c = q->q[q->head];
	q->head = (q->head + 1) % U_CMDQ_CAP;
	q->len--;
	return 1;
}

/* Raises a flag that waiters on cond look at. */
void u_cond_raise(pthread_mutex_t *mu, pthread_cond_t *cond, int *flag)
{
	pthread_mutex_lock(mu);
	*flag = 1;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(mu);
}

const char *u_fmt_utc(int64_t sec, const char *fmt, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;
	if (!len)
		return buf;
	buf[0] = 0;
	if (gmtime_r(&t, &tm))
		strftime(buf, len, fmt, &tm);
	return buf;
}

void u_on_stop_signals(void (*fn)(int), int restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
