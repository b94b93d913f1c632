/*
 * capture.h - where the relay's change rows come from, behind one interface with two
 * implementations: capture_trigger.c reads users_change_events in log_id order (the gap wait,
 * skipped ids re-checked until the horizon, the progress row in latest_cdc_timestamp);
 * capture_binlog.c reads the row binlog through binlog.c (the resume position in
 * latest_cdc_binlog). The relay owns the MySQL connection (and its lock), the producer and the
 * in-flight queue; a capture owns its statements on that connection, its cursor and its saved
 * progress, and hands the rows it reads to the relay's sink. One capture is used by one thread
 * (the relay's). Every call that can fail returns a code (util.h) with a line in err.
 */
#ifndef CDCTOP_CAPTURE_H
#define CDCTOP_CAPTURE_H

#include "db.h"
#include "row.h"
#include "relay.h"

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

/* Where a reader restarts to read a row again: the relay keeps it with the row, unread. */
struct cap_pos {
	char file[64];
	uint64_t off;
};

/* One row read: log_id orders progress and is the dedup key; resume reads it again. */
struct cap_row {
	struct cdc_row row;
	struct cap_pos resume;
};

/* The relay's side: produces a row. In order (late 0): queued, and progress moves over it once
   Kafka acknowledges it (cap_acked); late: outside the order (a skipped id that committed late,
   a row re-sent from the horizon), cap_late_acked says when it is acknowledged. 0, or a code
   with err: the row was not produced. */
struct cap_sink {
	int (*emit)(void *ctx, const struct cap_row *row, int late, char *err);
	/* a line for the status line (and the log when verbose): a gap skipped, a rewind */
	void (*note)(void *ctx, const char *msg);
	/* serves the delivery reports due (during a long re-send) */
	void (*poll)(void *ctx);
	void *ctx;
};

/* The most rows one next() reads: one SELECT, or one pass over the binlog stream. */
#define CAP_BATCH_ROWS 5000

struct cap_config {
	const char *topic;            /* the progress row's key */
	const struct db_target *db;   /* copied; binlog capture opens its own stream to it */
	int64_t gap_wait_us;          /* trigger: how long a missing id is waited for */
	int64_t horizon_us;           /* how far back a rewind re-sends */
	int verbose;                  /* log what the capture does through u_log */
};

struct cap;

struct cap_ops {
	/* the source clock runs this far ahead of what the capture has surely read (heartbeats) */
	int64_t clock_lag_us;
	/* Prepares the statements on m (the relay's connection) and, the first time, loads the
	   saved progress (*relayed: the messages relayed into the topic so far). 0; U_EFATAL (a
	   server setting), U_ENOTFOUND (no CDC tables: run cdctop init) or U_EFAIL. */
	int (*open)(struct cap *c, MYSQL *m, uint64_t *relayed, char *err);
	/* Reads up to max rows (CAP_BATCH_ROWS at most) and emits them: the count emitted in
	   order, with *drained 1 when the read found all the source held just then (the relay
	   then sends at once and sleeps), 0 when more may be there; U_ECONNLOST (the relay's
	   connection broke: reconnect), U_EFATAL (retrying cannot help) or U_EFAIL. A row whose
	   emit failed is read again by the next call. */
	int (*next)(struct cap *c, const struct cap_sink *s, int max, int *drained, char *err);
	/* Kafka acknowledged every in-order row before the oldest still in flight (oldest; NULL
	   when none is); log_id and event_us: the highest of those acknowledged since the last
	   call (log_id 0: none). */
	void (*acked)(struct cap *c, const struct cap_pos *oldest, int64_t log_id,
	              int64_t event_us);
	/* A late row of this log_id was acknowledged. */
	void (*late_acked)(struct cap *c, int64_t log_id);
	/* The topic lost what was sent: re-sends from the horizon; what says what ("change rows
	   after log_id 100 (horizon)"). A code on a MySQL error. */
	int (*rewind)(struct cap *c, const struct cap_sink *s, char *what, size_t wcap, char *err);
	/* Saves progress (and relayed) if it moved, or always with force: 1 saved, 0 not needed,
	   a code on a MySQL error. */
	int (*save)(struct cap *c, uint64_t relayed, int force, char *err);
	/* 1 when nothing more is there to read and no row is held back. */
	int (*caught_up)(struct cap *c);
	/* Since when (mono us) the capture holds rows back waiting for one, with the state to
	   show in state; 0 if it does not. */
	int64_t (*waiting)(struct cap *c, char *state, size_t cap);
	/* The highest log_id below which every row is acknowledged (or given up). */
	int64_t (*progress)(struct cap *c);
	/* Where reading starts, for the log ("log_id 100"); NULL when the capture says so itself. */
	const char *(*where)(struct cap *c, char *buf, size_t cap);
	/* Fills the capture's figures of st; queued: the in-order rows in flight. */
	void (*stats)(struct cap *c, int64_t queued, struct relay_stats *st);
	/* Closes the statements (the relay closes the connection next); the capture stays. */
	void (*close)(struct cap *c);
	/* Frees; accepts NULL (through cap_free). */
	void (*free)(struct cap *c);
};

struct cap {
	const struct cap_ops *ops;
};

struct cap *cap_trigger_new(const struct cap_config *cfg);
struct cap *cap_binlog_new(const struct cap_config *cfg);

static inline void cap_free(struct cap *c)
{
	if (c)
		c->ops->free(c);
}

/* ---- shared by the implementations (capture.c) ---- */

/* Result buffers of a row select: log_id, event time (us), customer_id, store_id, address_id,
   active, create_date (s), first_name, last_name, email. */
struct cap_fetch {
	long long log_id, event_us, customer_id, store_id, address_id, active, create_s;
	char first[50], last[50], email[55]; /* 4 bytes over the column: to cut at a character */
	unsigned long lf, ll, le;
	my_bool email_null;
};

/* Binds the result columns of a row select into f: 0, or -1. */
int cap_bind_fetch(MYSQL_STMT *st, struct cap_fetch *f);
/* The fetched row as a change row (resume left empty). */
void cap_fetch_row(const struct cap_fetch *f, struct cap_row *out);

#endif
