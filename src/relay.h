/*
 * relay.h - the relay: publishes the change rows a capture reads (capture.h: the trigger's
 * change table in log_id order, or with binlog the row binlog) to Kafka as Debezium-style
 * envelopes; saved progress advances only past rows every message of which was acknowledged.
 * One relay runs on one thread (relay_run); relay_stats and relay_stop may be called from any
 * thread. The table figures (customers, change rows, backlog) are not the relay's: its owner
 * runs tablestats beside it (the pipeline for the monitor, cmd_relay for `cdctop relay`).
 */
#ifndef CDCTOP_RELAY_H
#define CDCTOP_RELAY_H

#include "db.h"
#include "kconf.h"

#include <stdint.h>

struct relay;

struct relay_config {
	const char *topic;
	int partitions;
	int64_t gap_wait_us; /* how long a missing id below a visible one is waited for */
	int64_t horizon_us;  /* how far back to re-send when the topic lost what we sent */
	int once;            /* drain the current backlog, wait for acks, return */
	int verbose;         /* log state changes through u_log */
	int binlog;          /* --capture=binlog: read the row binlog instead of the change table */
	int heartbeat;       /* write the source clock to __cdctop-heartbeat.<topic> when caught up */
	/* optional: what a fault (relay_crash, relay_redeliver) did, for the status line; called
	   on the relay's thread with no relay lock held */
	void (*event)(void *arg, int level, const char *text);
	void *event_arg;
};

#define RELAY_REDELIVER 20 /* relay_redeliver: the last this many acknowledged messages */

enum { RELAY_E_FATAL = -2 }; /* relay_claim: retrying cannot help (another relay holds the lock) */

/* Plain data, copied out under the relay's lock. */
struct relay_stats {
	int64_t cursor;      /* highest log_id read from MySQL */
	int64_t progress;    /* saved progress: every id <= this is acknowledged */
	int progress_known;  /* progress was read from MySQL (the capture is open) */
	int64_t backlog;     /* binlog capture: rows read and not yet acknowledged; trigger
	                        capture: 0 (the change table's backlog is a table figure:
	                        tablestats, which the relay's owner runs) */
	uint64_t relayed;    /* messages acknowledged by Kafka, this run */
	uint64_t produced;   /* messages handed to librdkafka, this run (re-sends included) */
	uint64_t delivery_errors;
	uint64_t resent;     /* messages re-sent after a lost topic */
	uint64_t skipped;    /* gap ids given up after the gap wait */
	int64_t gap_id;      /* the id being waited for, 0 if none */
	int64_t gap_wait_left_us;
	int inflight;
	int mysql_ok, kafka_ok;
	double rate;         /* acknowledged messages per second, recent */
	char state[64];      /* "caught up", "relaying", "waiting for gap 101", "mysql down", ... */
	char last_error[256];
	/* binlog capture only */
	int binlog;
	char binlog_read[80];      /* "mysql-bin.000003:1234": where the stream has read to */
	char binlog_read_file[64]; /* the same, apart, for the lag against the server's */
	uint64_t binlog_read_pos;
	char binlog_saved[80];     /* the saved resume position */
	int64_t binlog_lag_s;
	/* faults (the monitor's x and d keys) */
	uint64_t crashes;     /* relay_crash restarts done */
	uint64_t redelivered; /* messages produced again by relay_redeliver, acknowledged */
};

/* Prepares a relay (no I/O yet). NULL with err. */
struct relay *relay_new(const struct relay_config *cfg, struct kc *kc,
			const struct db_target *db, char *err);
/* Connects to MySQL now and takes the relay's lock (one relay per database and topic), so
   a second relay is refused before anything starts. 0; RELAY_E_FATAL with err naming the
   holder (or another fatal setting); -1 with err when MySQL cannot be reached. Optional:
   relay_run connects itself otherwise. Call before relay_run, on any one thread. */
int relay_claim(struct relay *r, char *err);
/* Runs until relay_stop (or, with once, until drained): connects, reconnects with backoff,
   produces, saves progress. Returns 0, or -1 with err on a fatal error (bad configuration;
   with once also an unreachable server). */
int relay_run(struct relay *r, char *err);
/* Asks relay_run to flush in-flight messages, save progress and return. Async-signal-safe. */
void relay_stop(struct relay *r);
/* Crashes the relay as kill -9 would, on its thread, at the next moment some acknowledged
   rows are not yet in saved progress (or within 3 s): the producer is purged and destroyed
   without a flush, the in-flight state dropped, progress not saved, the connection (and lock)
   closed; then it starts again from saved progress, so rows after it reach the topic twice.
   Returns at once; async-signal-safe. */
void relay_crash(struct relay *r);
/* Produces the last RELAY_REDELIVER acknowledged messages again (duplicates on the topic),
   on the relay's thread. Returns at once; async-signal-safe. */
void relay_redeliver(struct relay *r);
/* Copies the current figures. */
void relay_stats(struct relay *r, struct relay_stats *out);
/* Frees; accepts NULL. relay_run must have returned. */
void relay_free(struct relay *r);

#endif
