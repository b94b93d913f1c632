/*
 * consumer.h - reads the topic (all partitions, by assign), decodes and validates each
 * envelope, and feeds the window store; rebuilds from the horizon's start on start and on
 * request. One consumer runs on one thread (cons_run); cons_view, cons_stats, cons_rebuild
 * and cons_stop may be called from any other thread (they take the consumer's lock briefly).
 */
#ifndef CDCTOP_CONSUMER_H
#define CDCTOP_CONSUMER_H

#include "db.h"
#include "kconf.h"
#include "winstore.h"

#include <stdint.h>

struct cons;

/* What the topic's messages are: judged per message (auto), or forced. */
enum cons_format { CONS_FMT_AUTO = 0, CONS_FMT_CDCTOP, CONS_FMT_DEBEZIUM };

struct cons_config {
	const char *topic;
	int64_t horizon_us;  /* rebuild from now - horizon */
	int64_t lateness_us;
	int fetch_wait_ms;   /* fetch.wait.max.ms, the one wait; 0: the user's -X, else adaptive
				(5 ms while idle, 1 ms while messages arrive, see consumer.c) */
	int64_t topic_wait_us; /* how long cons_run waits for the topic; 0: until cons_stop */
	const char *state_path; /* checkpoint file (restored at start, saved each second); NULL none */
	const struct db_target *db; /* MySQL, the durable log to rebuild from; NULL: topic only */
	int binlog;           /* with db: the log is the customer table (binlog capture) */
	const char *hb_topic; /* the relay's heartbeat topic (the source clock); NULL: none */
	int format;           /* enum cons_format */
	const char *group_by; /* Debezium messages: the column of after counted by (NULL store_id) */
	const char *table;    /* Debezium messages: only this source.table (NULL: any) */
};

/* Where the windows held came from, last time they were (re)built. */
enum cons_source { CONS_SRC_NONE = 0, CONS_SRC_TOPIC, CONS_SRC_MYSQL, CONS_SRC_CHECKPOINT };

#define CONS_MAX_PARTS 64
#define CONS_MAX_REJECTS 4

struct cons_part {
	int32_t id;
	int64_t low, high;  /* watermarks */
	int64_t position;   /* next offset this consumer reads */
	int64_t committed;  /* offset committed for the consumer's group id (-1 none) */
	int64_t lag;        /* cons_lag(high, low, position) */
};

/* The one lag formula (the consumer's and the monitor's kafka pane): the messages from offset
   at, or from the low watermark when retention dropped what was before it, to the high
   watermark; >= 0. */
static inline int64_t cons_lag(int64_t high, int64_t low, int64_t at)
{
	int64_t from = at > low ? at : low;
	return high > from ? high - from : 0;
}

/* Plain data, copied out under the consumer's lock. */
struct cons_stats {
	uint64_t consumed, counted, duplicates, late, expired, rejected;
	uint64_t updates, deletes; /* Debezium u and d changes, each counted once, not in windows */
	uint64_t skipped;          /* Debezium tombstones, heartbeats, other tables: not rejected */
	uint64_t untracked;        /* Debezium registrations of a value beyond the value table (as
				      many as the store tracks): counted in the "other" row */
	int nparts;
	struct cons_part parts[CONS_MAX_PARTS];
	int caught_up;           /* every partition read to its high watermark at least once */
	int64_t lat_p50_us, lat_p99_us; /* end-to-end: consume time - event time, recent events */
	double rate;             /* events/s consumed, recent */
	char rejects[CONS_MAX_REJECTS][160]; /* the first few: "p1@42: no source.log_id" */
	int source;              /* enum cons_source */
	uint64_t source_events;  /* events it gave: restored, rows read, or messages re-read */
	int rebuilding;          /* a rebuild is still reading (topic or MySQL) */
	char note[200];          /* what the last restore or rebuild said, for the status line */
	char problem[200];       /* why the checkpoint could not be used ("" none), kept */
	uint64_t lost;           /* messages gone from the topic (retention) before they were read */
	char lost_text[160];     /* "p1: first offset held 12,000, 3,456 messages gone" */
	int64_t clock_us;        /* the source clock applied (heartbeats), INT64_MIN none */
	uint64_t heartbeats;     /* heartbeats applied */
	uint64_t ckpt_saves;     /* checkpoints written */
	int64_t ckpt_us;         /* the last checkpoint's cost (encode + write), us */
	uint64_t wait_switches;  /* moves of the data partitions between the 5 ms and 1 ms fetch
				    waits (0 with one wait: -X fetch.wait.max.ms) */

	char last_error[256];
	int kafka_ok;
};

/* Creates the consumer handle from kc (assign, never subscribe; group.id "cdctop-<topic>" is
   used only to commit offsets for the lag pane), no I/O yet. NULL with err. */
struct cons *cons_new(const struct cons_config *cfg, struct kc *kc, char *err);
/* Runs until cons_stop: assigns all partitions from the offsets for now - horizon, consumes,
   feeds the store. Returns 0, or -1 with err (e.g. topic never appeared, when idle_exit). */
int cons_run(struct cons *c, char *err);
/* Asks cons_run to return soon. Async-signal-safe (an atomic store). */
void cons_stop(struct cons *c);
/* Asks the consumer thread to forget its windows and re-read the topic from the horizon. */
void cons_rebuild(struct cons *c);
void cons_set_lateness(struct cons *c, int64_t lateness_us);
void cons_stats(struct cons *c, struct cons_stats *out);
/* Windows for size/slide from the held buckets (ws_windows under the lock), plus the store
   ids, the watermark and per-store late counts. Returns the number of windows written. */
int cons_view(struct cons *c, int64_t size_s, int64_t slide_s, struct ws_window *out, int max,
	      uint32_t *store_ids, int *nstores, struct ws_stats *st, int64_t *watermark_us);
/* Debezium --group-by values: an integer from 0 to CONS_CODE_TEXT0 - 1 is its own store id;
   any other value (a string, boolean, real, a larger or negative integer) gets a code from
   CONS_CODE_TEXT0 up, in the order first seen; once ws_max_tracked - 1 distinct values are
   counted (CONS_MAX_GROUPS at most), the others are counted together as CONS_CODE_OTHER
   (cons_stats' untracked). The views show the top values by count plus WS_OTHER (ws_stores),
   which CONS_CODE_OTHER is part of. */
#define CONS_CODE_TEXT0  0xFFFF0000u
#define CONS_CODE_OTHER  WS_OTHER
#define CONS_MAX_GROUPS  (WS_MAX_TRACKED - 1)
/* The value a store id stands for: 0 and buf "" for a plain integer id, 1 and its text for a
   coded string value, 3 and its JSON text for a coded number, boolean or null, 2 and "other"
   for CONS_CODE_OTHER. */
int cons_label(struct cons *c, uint32_t id, char *buf, size_t len);

/* For the check line: the first second the store holds, the distinct events held from it on
   (windows plus late), and the highest log_id judged. 0 before the store holds any time. */
int cons_held(struct cons *c, int64_t *from_s, uint64_t *events, int64_t *max_id);
/* Closes the handle (committing offsets when Kafka is reachable) and frees; accepts NULL.
   cons_run must have returned. */
void cons_free(struct cons *c);

#endif
