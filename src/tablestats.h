/*
 * tablestats.h - the capture pane's table figures (customers, change rows, highest log_id,
 * backlog and its oldest row, the server's binlog position), looked up on a thread with its
 * own MySQL connection. COUNT(*) costs O(rows): on the relay's connection it stalled relaying
 * for ~250 ms at 2 million rows, so the relay's owner runs this beside it (the pipeline for
 * the monitor, cmd_relay for `cdctop relay`), hands over the relay's progress and copies the
 * latest figures. Lookups repeat about once a second, less often when they are slow (at most
 * 5% of the time). The thread never reports errors: a failed lookup closes its connection and
 * the figures stay as last seen until a reconnect succeeds.
 */
#ifndef CDCTOP_TABLESTATS_H
#define CDCTOP_TABLESTATS_H

#include "binlog.h"
#include "db.h"

#include <stdint.h>

/* The latest figures; valid is 0 until the first lookup succeeded. */
struct tstats_figures {
	int valid;
	int64_t customers;         /* rows in customer */
	int64_t change_rows;       /* rows in users_change_events (trigger capture) */
	int64_t max_log_id;        /* highest log_id there */
	int64_t backlog;           /* rows above the progress handed over (up to 10 million; 0
	                              until a progress is handed over) */
	int64_t oldest_us;         /* event time of the first of them, 0 if none */
	struct blc_pos server_pos; /* SHOW MASTER STATUS (binlog capture) */
};

struct tstats;

/* Starts the lookups on db (copied); binlog selects the binlog capture's figures. NULL with
   err only if the thread cannot be created. */
struct tstats *tstats_start(const struct db_target *db, int binlog, char *err);
/* Hands over the relay's progress (once known: relay_stats' progress_known): the backlog is
   counted above it. */
void tstats_set_progress(struct tstats *s, int64_t progress);
/* Copies the latest figures. */
void tstats_get(struct tstats *s, struct tstats_figures *out);
/* Stops: waits up to 300 ms for the thread, then leaves a lookup still running to finish and
   free on its own. Accepts NULL. */
void tstats_stop(struct tstats *s);

#endif
