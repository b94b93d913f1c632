/*
 * util.h - small shared helpers: clocks, checked allocation, error buffers, number and
 * duration parsing, identifier validation. Pure functions, safe from any thread; nothing here
 * does I/O except u_log (stderr), u_read_file and the two connection checks (u_tcp_connect,
 * u_unix_check), which tell why a server cannot be reached as a code.
 */
#ifndef CDCTOP_UTIL_H
#define CDCTOP_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define U_ERRLEN 256

/*
 * Error codes: a function that can fail returns 0 (or a count) on success and one of these on
 * failure, with a one-line message in the caller's err buffer. Callers branch on the code,
 * never on the message text. u_err returns U_EFAIL.
 */
enum u_code {
	U_EFAIL = -1,     /* any other failure */
	U_EREFUSED = -2,  /* nothing listens at the address (connection refused) */
	U_ENOTKAFKA = -3, /* something answers there, but not the Kafka protocol */
	U_ETIMEDOUT = -4, /* no answer within the time allowed */
	U_ENOTFOUND = -5, /* the thing named (topic, database, host) does not exist */
	U_EDOWN = -6,     /* the server is not running */
	U_ECONNLOST = -7, /* an open connection broke: reconnect and go on */
	U_ELOST = -8,     /* a saved position the source no longer has (purged, past its end) */
	U_EFATAL = -9,    /* retrying cannot help (a server setting, a lock another holds) */
};

/* Microseconds since the epoch (CLOCK_REALTIME). */
int64_t u_now_us(void);
/* Microseconds of CLOCK_MONOTONIC, for intervals. */
int64_t u_mono_us(void);
/* Sleeps for us microseconds (restarted on EINTR only until stop, if non-NULL, becomes set). */
void u_sleep_us(int64_t us);
/* Runs fn on SIGINT and SIGTERM (a command's "stop cleanly"); restart: interrupted system
   calls resume (SA_RESTART) rather than fail with EINTR. */
void u_on_stop_signals(void (*fn)(int), int restart);

/* malloc/calloc/realloc/strdup that abort with a message on out-of-memory (the impossible). */
void *u_malloc(size_t n);
void *u_calloc(size_t n, size_t size);
void *u_realloc(void *p, size_t n);
char *u_strdup(const char *s);

/* snprintf into err (U_ERRLEN bytes); returns -1 so callers can `return u_err(...)`. */
int u_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One timestamped line to stderr: "cdctop: <msg>". Thread-safe. */
void u_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Progress of long headless work on one stderr line, redrawn in place at most 4 times a
 * second: "inject: 3,000/10,000 customers  5,123/s  1s left". Only when stderr is a terminal
 * (nothing in pipes and logs); u_log lines wipe it first. u_progress_end wipes it (call it
 * before printing the result or an error). Thread-safe.
 */
void u_progress(const char *what, long long done, long long total, const char *unit);
void u_progress_end(void);

/*
 * Parses a duration: a non-negative integer with unit ms, s, m or h ("30s", "1m", "250ms");
 * a bare number means seconds. Stores microseconds in *us. On error returns -1 with a
 * message naming the text in err.
 */
int u_parse_duration(const char *s, int64_t *us, char *err);
/* Formats a duration in us as "30s", "1m", "1h30m", "250ms" into buf. */
const char *u_fmt_duration(int64_t us, char *buf, size_t len);
/* Epoch seconds in UTC with strftime's fmt ("%H:%M:%S", "%Y-%m-%d", ...): every time cdctop
   shows is UTC, whatever TZ says. Returns buf. */
const char *u_fmt_utc(int64_t sec, const char *fmt, char *buf, size_t len);

/* Parses a base-10 integer in [min, max], whole string. -1 with message on error. */
int u_parse_int(const char *what, const char *s, long long min, long long max, long long *out,
		char *err);
/* Parses a non-negative decimal number (rates), whole string, in [min, max]. */
int u_parse_double(const char *what, const char *s, double min, double max, double *out,
		   char *err);

/* 1 if s is a safe SQL/Kafka identifier: [A-Za-z0-9_] (topic: also . and -), 1..64 chars. */
int u_valid_ident(const char *s);
int u_valid_topic(const char *s);

/* Copies s (n bytes; s[cap - 1] is read when n >= cap) into dst as at most cap - 1 bytes and a
   NUL, dropping the character a cut would split (cap > 0). Returns the bytes copied. */
size_t u_copy_utf8(char *dst, size_t cap, const char *s, size_t n);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer the caller frees. */
char *u_read_file(const char *path, size_t max, size_t *len, char *err);

/*
 * Connects to host:port (TCP) within timeout_ms: the connected socket (non-blocking, the
 * caller closes it), or U_EREFUSED, U_ENOTFOUND (unknown host), U_ETIMEDOUT or U_EFAIL with
 * the reason in plain words in why ("connection refused").
 */
int u_tcp_connect(const char *host, const char *port, int timeout_ms, char *why, size_t wcap);
/*
 * Whether a unix socket path accepts a connection: 0, or U_ENOTFOUND (no such file),
 * U_EREFUSED (a socket nobody listens on) or U_EFAIL (not a socket, no permission), with
 * the reason in why.
 */
int u_unix_check(const char *path, char *why, size_t wcap);

/* FNV-1a over the bytes of s, continuing from h (U_HASH_SEED to start): stable names for
   files and locks derived from longer ones. */
#define U_HASH_SEED 1469598103934665603ULL
uint64_t u_hash(uint64_t h, const char *s);

/* Formats 1234567 as "1,234,567". */
const char *u_fmt_count(long long v, char *buf, size_t len);
/*
 * Two latencies of one figure (p50 and p99) in one unit, chosen by the larger: "850 us",
 * "9.4 ms", "21.0 ms", "180 ms", "18.4 s"; one decimal style for both; "-" for a value not
 * measured (<= 0).
 */
void u_fmt_latency_pair(int64_t a_us, int64_t b_us, char *a, char *b, size_t len);
/* A rate with thousands separators: "3,386/s", "20/s", "2.5/s" (one decimal below 10). */
const char *u_fmt_rate(double r, char *buf, size_t len);
/* A plain number for messages: 1000000 as "1,000,000", 0.01 as "0.01" (never "1e+06"). */
const char *u_fmt_plain(double v, char *buf, size_t len);

/* A bounded FIFO of commands; the owner's mutex guards it. */
#define U_CMDQ_CAP 64
struct u_cmd {
	int cmd;
	int64_t i, j;
	double d;
};
struct u_cmdq {
	struct u_cmd q[U_CMDQ_CAP];
	int head, len;
};
/* Appends c: 0, or -1 when full. */
int u_cmdq_push(struct u_cmdq *q, struct u_cmd c);
/* Takes the oldest into *c: 1, or 0 when empty. */
int u_cmdq_pop(struct u_cmdq *q, struct u_cmd *c);

/* Copies src (NULL: "") into dst of len bytes, control characters as spaces: one line. */
void u_copy_line(char *dst, size_t len, const char *src);
/* A condition variable on CLOCK_MONOTONIC, for u_cond_wait_until. */
void u_cond_init(pthread_cond_t *cond);
/* Sets *flag to 1 under mu and wakes every waiter on cond: a thread's stop request. */
void u_cond_raise(pthread_mutex_t *mu, pthread_cond_t *cond, int *flag);
/* Waits on cond (mu held) until the u_mono_us time deadline_us, a signal, or a spurious
   wake-up; returns at once when the deadline has passed. */
void u_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_us);

#endif
