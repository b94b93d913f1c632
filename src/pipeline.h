/*
 * pipeline.h - the monitor's engine: start-up that may fail before the terminal is touched
 * (private server, init, Kafka, topic), then the worker threads (injector, relay, consumer,
 * Kafka probe, publisher). The publisher copies every figure into one plain-data snapshot
 * under a mutex with a generation counter and wakes the UI by writing a byte to a pipe;
 * commands go the other way through a queue. pl_snapshot, pl_send and pl_wake_fd never block
 * on I/O, so the UI thread may call them. No curses here.
 */
#ifndef CDCTOP_PIPELINE_H
#define CDCTOP_PIPELINE_H

#include "consumer.h"
#include "opts.h"
#include "relay.h"
#include "winstore.h"

#include <stddef.h>
#include <stdint.h>

#define PL_MAX_WINDOWS 128 /* newest windows kept in a snapshot */
#define PL_MAX_PARTS   CONS_MAX_PARTS
#define PL_TEXT        256

struct pl;

enum pl_health { PL_UNKNOWN = 0, PL_UP, PL_DOWN };

/* The check line: MySQL's change rows inside the horizon against the distinct events the
   window store holds for the same seconds (windows plus late). */
enum pl_check_state {
	PL_CHECK_NONE = 0, /* no round yet, or nothing held */
	PL_CHECK_OK,       /* equal */
	PL_CHECK_BEHIND,   /* unequal while the relay or the consumer has rows still to bring */
	PL_CHECK_MISMATCH, /* unequal with nothing on its way, in two rounds running */
	PL_CHECK_ERROR,    /* MySQL cannot be asked */
};

struct pl_check {
	int state; /* enum pl_check_state */
	uint64_t mysql, counted;
	int64_t diff;  /* counted - mysql */
	int64_t from_s; /* the first second compared */
	char error[160];
};
enum pl_level { PL_INFO = 0, PL_WARN, PL_ERROR };

/* One partition as the probe and the consumer see it; -1 where unknown. */
struct pl_part {
	int32_t id;
	int64_t low, high; /* watermarks (probe) */
	int64_t committed; /* committed offset of group cdctop-<topic> (probe), -1 none */
	int64_t position;  /* next offset the monitor's consumer reads, -1 unknown */
	int64_t lag;       /* high - max(committed (position if none), low), >= 0; -1 unknown */
};

/* Everything the UI shows, by value. Each part has a generation that changes only when the
 * part's figures change, so the UI redraws only those panes. */
struct pl_snap {
	uint64_t gen;
	uint64_t gen_capture, gen_kafka, gen_hist, gen_status;

	/* fixed at start */
	char mysql_label[PL_TEXT];
	char kafka_label[PL_TEXT]; /* "mock 127.0.0.1:40831 (3 brokers)" or the broker list */
	char topic[80];
	int capture_binlog;
	int64_t horizon_us;

	/* settings in effect (the windows below were computed with these) */
	int64_t window_s, slide_s; /* slide_s == window_s: tumbling */
	int64_t lateness_us;
	int batch;
	double rate;
	int auto_on;

	/* injector */
	int mysql; /* enum pl_health, as the injector's connection sees it */
	uint64_t injected, inject_batches, inject_errors;
	int last_batch;        /* customers in the last batch written */
	int64_t last_batch_us; /* its wall time */
	double inject_rate;    /* customers/s, recent */
	char inject_error[PL_TEXT];

	/* relay */
	int relay_running; /* relay_run has not returned */
	struct relay_stats relay;
	double produce_rate; /* messages handed to librdkafka per second, recent */
	char relay_error[PL_TEXT];

	/* Kafka probe and consumer */
	int kafka; /* enum pl_health, as the probe sees it */
	int nparts;
	struct pl_part parts[PL_MAX_PARTS];
	char probe_error[PL_TEXT];
	int cons_running;
	struct cons_stats cons;
	char cons_error[PL_TEXT];

	/* windows, from the consumer's held buckets */
	int nstores;
	uint32_t stores[WS_MAX_STORES];
	int nwin; /* oldest first; the last one is the open (newest) window */
	struct ws_window win[PL_MAX_WINDOWS];
	struct ws_stats ws;
	int64_t watermark_us;
	struct pl_check check;

	/* the status line: the most pressing condition, else the last event, else relay state */
	char status[PL_TEXT];
	int status_level; /* enum pl_level */
};

enum pl_cmd {
	PL_CMD_INJECT,  /* one batch of the current batch size */
	PL_CMD_AUTO,    /* i: 1 on, 0 off, -1 toggle */
	PL_CMD_RATE,    /* d: customers/s for continuous injection */
	PL_CMD_BATCH,   /* i: customers per batch */
	PL_CMD_WINDOW,  /* i: size in s, j: slide in s (0 or == size: tumbling) */
	PL_CMD_REBUILD, /* re-read the topic from the horizon */
};

/*
 * Start-up that may fail: resolves MySQL (starting the private server and running init on it;
 * a named server must already have the CDC objects), builds the Kafka configuration (starting
 * the in-process mock without -b), makes sure the topic exists, prepares relay and consumer.
 * No thread runs yet and nothing is written to the terminal but errors. NULL with one line
 * in err.
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
uint64_t pl_snapshot(struct pl *pl, struct pl_snap *dst, uint64_t have);
/* Queues a command (see enum pl_cmd); -1 if the queue is full. Never blocks on I/O. */
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
