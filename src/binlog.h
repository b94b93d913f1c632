/*
 * binlog.h - log-based capture: streams the rows inserted into <db>.customer from the server's
 * row binlog (libmariadb's replication API), in commit order, each with the position where a
 * reader must restart to see it again. One blc is used by one thread (the relay's); it owns one
 * replication connection. It never skips what it cannot read: an unreadable position, a purged
 * file or an undecodable customer row is an error, never a silent gap.
 */
#ifndef CDCTOP_BINLOG_H
#define CDCTOP_BINLOG_H

#include "db.h"
#include "row.h"

#include <mysql.h>
#include <stdint.h>

struct blc;

/* A binlog position: a file name and a byte offset in it ({"", 0}: none / the current one). */
struct blc_pos {
	char file[64];
	uint64_t pos;
};

/* One inserted customer row, as read from the binlog. */
struct blc_row {
	struct cdc_row row;    /* customer columns; log_id = customer_id (the dedup key in binlog
	                          mode: unique, stable across restarts); event_us = the rows event's
	                          timestamp (the INSERT statement's start, whole seconds) */
	struct blc_pos resume; /* restart here to read this row again: its transaction's start */
	struct blc_pos next;   /* after the transaction's commit event; valid when last_in_trx */
	int last_in_trx;       /* the last customer row of its transaction */
};

/* Figures for the capture pane, copied out by blc_stats. */
struct blc_stats {
	struct blc_pos read;  /* the end of the last event read (heartbeats included) */
	struct blc_pos safe;  /* reopening here re-reads every row blc_next has not returned */
	int64_t last_event_s; /* header timestamp of the last data event read, 0 if none */
	int caught_up;        /* a heartbeat came after the last data event: nothing more to read */
	int by_position;      /* columns mapped by information_schema order (no FULL metadata) */
	uint64_t events;      /* binlog events read */
	uint64_t rows;        /* customer rows returned */
	uint64_t trx;         /* transactions (event groups) completed */
	uint64_t other_rows;  /* rows events of other tables, skipped undecoded */
	uint64_t ignored;     /* customer UPDATE/DELETE rows events, skipped */
	uint64_t heartbeats;
};

/*
 * Checks on a normal connection that binlog capture can work: log_bin ON, binlog_format ROW,
 * binlog_row_image FULL, and the REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR)
 * privileges. binlog_row_metadata other than FULL is not an error: columns are then mapped by
 * their order in information_schema (blc_stats' by_position says so). -1 with one line in err
 * naming the first missing condition and the setting or GRANT that fixes it.
 */
int blc_check(MYSQL *m, char *err);

/*
 * Opens the binlog stream of the server t names, for rows of db.customer, at pos (NULL or an
 * empty file: the server's current position, SHOW MASTER STATUS), into *out. pos must be a
 * position blc gave (a resume, next or safe position) or a SHOW MASTER STATUS one. 0; U_ELOST
 * when the server has purged the file, the position is past its end or the server cannot send
 * from it (err names the file and what to do: resnapshot, open at the current position; never
 * a silent skip); U_EFAIL with err otherwise.
 */
int blc_open(const struct db_target *t, const char *db, const struct blc_pos *pos,
             struct blc **out, char *err);

/*
 * Next inserted customer row, in commit order: 1 with *out filled, 0 if none came within
 * timeout_ms, or a code with err; the caller frees b and reopens at its saved position, which
 * helps only after U_ECONNLOST (the connection was lost). U_ELOST: the server cannot send the
 * binlog from there; U_EFAIL: a server error, an undecodable customer row (reopening at the
 * same position fails the same way: show it, back off, don't spin). Rows are held until their transaction's
 * commit event is read (so last_in_trx and next are known), except in a transaction of more
 * than 10,000 customer rows, whose rows are released early with last_in_trx 0.
 * Timeouts: the server sends a heartbeat every 500 ms when idle, and a read blocks until an
 * event or a heartbeat arrives, so the call returns 0 within about max(timeout_ms, 500) ms;
 * with no heartbeat for 10 s the connection counts as lost (-1).
 * Rows events of other tables (any column types, CHAR/ENUM/SET included) are skipped by table
 * before decoding and never break the stream.
 */
int blc_next(struct blc *b, struct blc_row *out, int timeout_ms, char *err);

/* Copies the current figures (same thread as blc_next). */
void blc_stats(const struct blc *b, struct blc_stats *out);

/* The server's current binlog position (SHOW MASTER STATUS) on a normal connection m. */
int blc_server_pos(MYSQL *m, struct blc_pos *out, char *err);

/* Orders two positions (file sequence, then offset): <0, 0 or >0. */
int blc_pos_cmp(const struct blc_pos *a, const struct blc_pos *b);
/* Formats "file:pos" into buf and returns buf. */
const char *blc_pos_fmt(const struct blc_pos *p, char *buf, size_t len);
/* Parses "file:pos"; -1 with err if malformed. */
int blc_pos_parse(const char *s, struct blc_pos *out, char *err);

/* Closes the stream and frees; accepts NULL. */
void blc_free(struct blc *b);

#endif
