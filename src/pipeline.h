/*
 * pipeline.h - the monitor's engine: start-up that may fail before the terminal is touched
 * (private server, init, Kafka, topic), then the worker threads (injector, relay, consumer,
 * Kafka probe, publisher). The publisher fills one view per pane (view.h) into a snapshot
 * under a mutex with a generation counter per pane and wakes the UI by writing a byte to a
 * pipe; commands go the other way through a queue. pl_snapshot, pl_send and pl_wake_fd never
 * block on I/O, so the UI thread may call them. No curses here, and no relay, consumer or
 * client-library type: ui/ includes this header.
 */
#ifndef CDCTOP_PIPELINE_H
#define CDCTOP_PIPELINE_H

#include "opts.h"
#include "view.h"

#include <stdint.h>

struct pl;

enum pl_cmd {
	PL_CMD_INJECT,  /* one batch of the current batch size */
	PL_CMD_AUTO,    /* i: 1 on, 0 off, -1 toggle */
	PL_CMD_RATE,    /* d: customers/s for continuous injection */
	PL_CMD_BATCH,   /* i: customers per batch */
	PL_CMD_WINDOW,  /* i: size in s, j: slide in s (0 or == size: tumbling) */
	PL_CMD_REBUILD, /* re-read the topic from the horizon */
	/* faults, shown live (own pipeline only: -2 on a foreign topic) */
	PL_CMD_KAFKA,     /* the in-process mock's brokers down, or up again (toggle); -3 when -b
	                     names a real cluster */
	PL_CMD_CRASH,     /* the relay crashes as kill -9 would and restarts (relay_crash) */
	PL_CMD_HOLD,      /* the next batch's transaction stays open PL_HOLD_EXTRA_US past the
	                     gap wait, then commits */
	PL_CMD_ROLLBACK,  /* the next batch is rolled back */
	PL_CMD_REDELIVER, /* the relay produces its last acknowledged messages again */
};

#define PL_HOLD_EXTRA_US 2000000 /* g: held this long past the gap wait */

/*
 * Start-up that may fail: resolves MySQL (starting the private server and running init on it;
 * a named server must already have the CDC objects), builds the Kafka configuration (starting
 * the in-process mock without -b), makes sure the topic exists, prepares relay and consumer.
 * No thread runs yet and nothing is written to the terminal but errors. NULL with one line
 * in err. On a foreign topic (opt_foreign) only Kafka and the consumer: no server, no MySQL
 * connection, no relay or injector, and the topic must exist (it is not created).
 */
struct pl *pl_new(const struct opts *o, char *err);
/* Starts the worker threads (signals blocked in them). -1 with err. */
int pl_start(struct pl *pl, char *err);
/* The read end of the wake pipe: readable when a new snapshot was published. Drain it. */
int pl_wake_fd(const struct pl *pl);
/* Empties the wake pipe (non-blocking). */
void pl_drain_wake(struct pl *pl);
/* Copies the newest snapshot into *dst if its generation differs from have; returns the
 * newest generation (0 before the first publish). Never blocks on I/O. */
uint64_t pl_snapshot(struct pl *pl, struct view_snap *dst, uint64_t have);
/* Queues a command (see enum pl_cmd); -1 if the queue is full, -2 for an injection command
 * or a fault on a foreign topic (opt_foreign: there is no injector), -3 for PL_CMD_KAFKA
 * when -b names a real cluster. Never blocks on I/O. */
int pl_send(struct pl *pl, enum pl_cmd cmd, int64_t i, int64_t j, double d);
/* Stops every thread: relay_stop (flushes and saves progress), cons_stop, joins. Idempotent. */
void pl_stop(struct pl *pl);
/* Stops if needed and frees everything (clients before the mock cluster). Accepts NULL. */
void pl_free(struct pl *pl);
/* The same right before the process exits, bounded in time: threads get 0.7 s to stop (a
 * relay flush or a library call stuck on a dead broker does not hold the exit; such a pipeline
 * is left whole to process exit), and an in-process mock cluster is left to exit too, as
 * librdkafka 2.0.2's mock teardown can sleep out a 1 s timed wait. Both stay reachable, not
 * leaked. The Kafka handles are destroyed on a thread for the same time, as destroy can wait
 * without bound for a cluster that is gone. Returns 1 when something is left to process exit
 * (the caller should then _exit), 0 when all is freed. Sanitizer (TSan) builds take the full,
 * unbounded pl_free. */
int pl_free_for_exit(struct pl *pl);

#endif
