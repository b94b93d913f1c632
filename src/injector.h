/*
 * injector.h - the monitor's injector thread: its own MySQL connection and its own command
 * queue (one batch, continuous injection on or off, its rate, the batch size, and the faults
 * of the next batch: held open on a second connection, or rolled back); batches on command or
 * paced at the rate (inject.c's pacer), and a ping a second when idle for the health shown on
 * screen. It tells its owner what happened through one callback (an event for the status
 * line, or only that its figures changed), runs the owner's fault callback on its thread for
 * INJR_FAULT, and never touches the terminal.
 */
#ifndef CDCTOP_INJECTOR_H
#define CDCTOP_INJECTOR_H

#include "db.h"

#include <stdint.h>

enum injr_health { INJR_UNKNOWN = 0, INJR_UP, INJR_DOWN };

enum injr_cmd {
	INJR_INJECT, /* one batch of the current size (queued up to 1,000) */
	INJR_AUTO,   /* i: 1 on, 0 off, -1 toggle */
	INJR_RATE,   /* d: customers/s of continuous injection, (0, 1e6] */
	INJR_BATCH,  /* i: customers per batch, [1, 1e6] */
	INJR_HOLD,   /* i: the next batch is written on a second connection and committed i us
	                later (another held batch meanwhile: refused) */
	INJR_ROLLBACK, /* the next batch is written and rolled back */
	INJR_FAULT,  /* i: handed to the fault callback on this thread (the pipeline's faults
	                that call into a library, e.g. the mock brokers down or up) */
};

/* Called on the injector thread, no injector lock held: text is an event for the status line
   at level (enum view_level; answer: it answers a key), NULL when only the figures changed. */
typedef void (*injr_report_fn)(void *arg, int level, int answer, const char *text);
/* Called on the injector thread for INJR_FAULT with its i (same arg as the report). */
typedef void (*injr_fault_fn)(void *arg, int64_t i);

struct injr_figures {
	int health;        /* enum injr_health, as the injector's connection sees it */
	uint64_t injected; /* customers written */
	int last_batch;    /* customers in the last batch written */
	int batch;         /* the batch size in effect */
	double rate;       /* continuous injection's customers/s */
	int auto_on;
	int held;          /* customers in a batch held open (INJR_HOLD), 0 none */
	int64_t held_left_us; /* until it commits */
	int next_end;      /* enum inj_end of the next batch */
	uint64_t rolled_back; /* customers rolled back on purpose (INJR_ROLLBACK) */
	char error[256]; /* why the last connect or batch failed; "" after a batch written */
};

/* Prepares the injector on db (borrowed: it must outlive the injector), no I/O yet. */
struct injr *injr_new(const struct db_target *db, uint64_t seed, int batch, double rate,
                      injr_report_fn report, injr_fault_fn fault, void *arg);
/* The thread: runs until injr_stop. */
void *injr_main(void *injr);
/* Queues a command; -1 when the queue is full or the injector stopping. Never blocks on I/O. */
int injr_send(struct injr *j, enum injr_cmd cmd, int64_t i, double d);
/* Copies the figures. */
void injr_get(struct injr *j, struct injr_figures *out);
/* Asks the thread to return (after the batch it is writing). */
void injr_stop(struct injr *j);
/* Frees; the thread must have returned (or never started). Accepts NULL. */
void injr_free(struct injr *j);

#endif
