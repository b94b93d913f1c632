/*
 * cmd_relay.c - `cdctop relay [--once]`: capture + relay headless (relay.c) on the main thread,
 * logging one line per state change. SIGINT/SIGTERM stop reading, flush in-flight messages
 * and save progress. --once drains the backlog and exits 0. --capture=binlog reads the row
 * binlog instead of the trigger's change table. A reporting thread logs a summary every 10 s
 * (the backlog from tablestats, which it runs beside the relay unless --once) and, with
 * --once and stderr a terminal, shows the drain's progress (u_progress).
 */
#include "cmds.h"
#include "db.h"
#include "kconf.h"
#include "relay.h"
#include "schema.h"
#include "tablestats.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct relay *running;
/* the reporting thread's stop request: u_cond_raise wakes its wait at once */
static pthread_mutex_t prog_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t prog_cv;
static int prog_stop;

/* What the reporting thread reads: the relay, and without --once its table figures. */
struct report {
	struct relay *r;
	struct tstats *ts; /* NULL with --once */
	int binlog;
	int progress; /* --once on a terminal: the drain's progress */
};

/* The backlog: the binlog capture's queue, else the change rows above the relay's progress. */
static int64_t report_backlog(struct report *p, const struct relay_stats *s)
{
	if (!p->ts || p->binlog)
		return s->backlog;
	struct tstats_figures f;
	if (s->progress_known)
		tstats_set_progress(p->ts, s->progress);
	tstats_get(p->ts, &f);
	return f.backlog;
}

/* The drain's progress on a terminal (--once), and a summary line every 10 s. */
static void *report_main(void *arg)
{
	struct report *p = arg;
	int64_t last = u_mono_us();
	uint64_t last_n = 0;
	for (;;) {
		/* a round every 250 ms, woken at once to stop: a plain sleep made the join at exit
		   wait out the rest of it, which every relay --once paid (an empty one: 264 ms,
		   23 ms now) */
		pthread_mutex_lock(&prog_mu);
		int64_t next = u_mono_us() + 250000;
		while (!prog_stop && u_mono_us() < next)
			u_cond_wait_until(&prog_cv, &prog_mu, next);
		int stop = prog_stop;
		pthread_mutex_unlock(&prog_mu);
		if (stop)
			break;
		struct relay_stats s;
		relay_stats(p->r, &s);
		int64_t backlog = report_backlog(p, &s);
		if (p->progress && (s.relayed > 0 || backlog > 0))
			u_progress("relay: drain", (long long)s.relayed,
				   (long long)s.relayed + (backlog > 0 ? backlog : 0), "rows");
		int64_t now = u_mono_us();
		if (now - last < 10000000)
			continue;
		char f1[32], f2[32], f3[32], f4[32], f5[32];
		u_log("relay: relayed %s (%s), backlog %s, cursor %s, progress %s",
		      u_fmt_count((long long)s.relayed, f1, sizeof f1),
		      u_fmt_rate((double)(s.relayed - last_n) * 1e6 / (double)(now - last), f2,
		                 sizeof f2),
		      u_fmt_count(backlog, f3, sizeof f3), u_fmt_count(s.cursor, f4, sizeof f4),
		      u_fmt_count(s.progress, f5, sizeof f5));
		last_n = s.relayed;
		last = now;
	}
	return NULL;
}

/* Asks the relay to stop; relay_stop only sets a flag. */
static void on_signal(int sig)
{
	(void)sig;
	if (running)
		relay_stop(running);
}

int cmd_relay(struct opts *o)
{
	char err[U_ERRLEN];
	struct db_target t;
	if (db_resolve(o, &t, 1, err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	if (t.private_server) { /* our own server: make sure the schema is there */
		MYSQL *m = db_connect(&t, 0, err);
		struct schema_report sr;
		if (!m || schema_private_db(m, t.db, err) < 0 ||
		    schema_init(m, t.db, o->capture == CAPTURE_TRIGGER, &sr, err) < 0) {
			fprintf(stderr, "cdctop: %s\n", err);
			if (m)
				mysql_close(m);
			return 1;
		}
		mysql_close(m);
	}
	struct kc *kc = kc_new(o, err);
	if (!kc) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	struct relay_config cfg = {
	    .topic = o->topic,
	    .partitions = o->partitions,
	    .gap_wait_us = o->gap_wait_us,
	    .horizon_us = o->horizon_us,
	    .once = o->once,
	    .verbose = 1,
	    .binlog = o->capture == CAPTURE_BINLOG,
	    .heartbeat = 1,
	};
	struct relay *r = relay_new(&cfg, kc, &t, err);
	if (!r) {
		fprintf(stderr, "cdctop: %s\n", err);
		kc_free(kc);
		return 1;
	}
	running = r;
	u_on_stop_signals(on_signal, 0);
	struct report rep = {.r = r,
			     .binlog = cfg.binlog,
			     .progress = o->once && isatty(STDERR_FILENO)};
	if (!o->once && !(rep.ts = tstats_start(&t, cfg.binlog, err)))
		u_log("relay: %s: no backlog figure in the summary", err);
	pthread_t pt;
	u_cond_init(&prog_cv);
	int reporting = pthread_create(&pt, NULL, report_main, &rep) == 0;
	int rc = relay_run(r, err);
	if (reporting) {
		u_cond_raise(&prog_mu, &prog_cv, &prog_stop);
		pthread_join(pt, NULL);
	}
	tstats_stop(rep.ts);
	u_progress_end();
	running = NULL;
	if (rc < 0)
		fprintf(stderr, "cdctop: %s\n", err);
	relay_free(r);
	kc_free(kc);
	return rc < 0 ? 1 : 0;
}
