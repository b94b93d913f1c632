/*
 * check.h - the check line's ground truth: on a thread of its own with its own MySQL
 * connection, about every second, MySQL's count of change rows inside the window store's
 * horizon (and how many of them have ids the consumer has already judged), read right after
 * the store's own count of distinct events for the same seconds. Never the relay's or the
 * UI's connection; never judges the figures itself (the pipeline does, knowing who is behind).
 */
#ifndef CDCTOP_CHECK_H
#define CDCTOP_CHECK_H

#include "consumer.h"
#include "db.h"

#include <stdint.h>

struct chk;

struct chk_figures {
	int valid;            /* one round completed */
	int64_t from_s;       /* the first second compared (the store's horizon) */
	uint64_t counted;     /* distinct events the store holds from there (windows + late) */
	uint64_t mysql;       /* MySQL's change rows from there */
	uint64_t mysql_judged; /* ... of them with ids the consumer has judged */
	uint64_t counted_after; /* the store's count again, after MySQL answered */
	int64_t at_us;        /* mono time the round completed */
	int64_t took_us;      /* how long MySQL took */
	char error[160];      /* the last failure, "" none */
};

/* Starts the thread; binlog: compare with the customer table (binlog capture); horizon_s:
   the window store's horizon. NULL with err. The consumer must outlive chk_stop. */
struct chk *chk_start(const struct db_target *db, struct cons *c, int binlog, int64_t horizon_s,
		       char *err);
/* Copies the latest figures. */
void chk_get(struct chk *k, struct chk_figures *out);
/* Stops the thread and drops the caller's hold; join: wait for it to end, else a query still
   running finishes on its own (the thread then frees what is left). Either way the consumer
   is never called again once this returns. Accepts NULL. */
void chk_stop(struct chk *k, int join);

#endif
