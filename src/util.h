/*
 * util.h - small shared helpers: clocks, checked allocation, error buffers, number and
 * duration parsing, identifier validation. Pure functions, safe from any thread; nothing here
 * does I/O except u_log (stderr) and u_read_file.
 */
#ifndef CDCTOP_UTIL_H
#define CDCTOP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define U_ERRLEN 256

/* Microseconds since the epoch (CLOCK_REALTIME). */
int64_t u_now_us(void);
/* Microseconds of CLOCK_MONOTONIC, for intervals. */
int64_t u_mono_us(void);
/* Sleeps for us microseconds (restarted on EINTR only until stop, if non-NULL, becomes set). */
void u_sleep_us(int64_t us);

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
 * Parses a duration: a non-negative integer with unit ms, s, m or h ("30s", "1m", "250ms");
 * a bare number means seconds. Stores microseconds in *us. On error returns -1 with a
 * message naming the text in err.
 */
int u_parse_duration(const char *s, int64_t *us, char *err);
/* Formats a duration in us as "30s", "1m", "1h30m", "250ms" into buf. */
const char *u_fmt_duration(int64_t us, char *buf, size_t len);

/* Parses a base-10 integer in [min, max], whole string. -1 with message on error. */
int u_parse_int(const char *what, const char *s, long long min, long long max, long long *out,
		char *err);
/* Parses a non-negative decimal number (rates), whole string, in [min, max]. */
int u_parse_double(const char *what, const char *s, double min, double max, double *out,
		   char *err);

/* 1 if s is a safe SQL/Kafka identifier: [A-Za-z0-9_] (topic: also . and -), 1..64 chars. */
int u_valid_ident(const char *s);
int u_valid_topic(const char *s);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer the caller frees. */
char *u_read_file(const char *path, size_t max, size_t *len, char *err);

/* Formats 1234567 as "1,234,567". */
const char *u_fmt_count(long long v, char *buf, size_t len);

#endif
