/*
 * cmd_relay.c - `cdctop relay [--once]`: capture + relay headless (relay.c) on the main thread,
 * logging one line per state change and a summary every 10 s. SIGINT/SIGTERM stop reading,
 * flush in-flight messages and save progress. --once drains the backlog and exits 0.
 * --capture=binlog reads the row binlog instead of the trigger's change table. With --once
 * and stderr a terminal, a thread shows the drain's progress (u_progress).
 */
#include "cmds.h"
#include "db.h"
#include "kconf.h"
#include "relay.h"
#include "schema.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct relay *running;
static atomic_int prog_stop;

/* --once on a terminal: the drain's progress (acknowledged of the backlog) on stderr. */
static void *progress_main(void *arg)
{
	struct relay *r = arg;
	while (!atomic_load(&prog_stop)) {
		struct relay_stats s;
		relay_stats(r, &s);
		if (s.relayed > 0 || s.backlog > 0)
			u_progress("relay: drain", (long long)s.relayed,
				   (long long)s.relayed + (s.backlog > 0 ? s.backlog : 0), "rows");
		u_sleep_us(250000);
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
		if (!m || schema_init(m, t.db, o->capture == CAPTURE_TRIGGER, &sr, err) < 0) {
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
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_t pt;
	int prog = o->once && isatty(STDERR_FILENO) &&
		   pthread_create(&pt, NULL, progress_main, r) == 0;
	int rc = relay_run(r, err);
	if (prog) {
		atomic_store(&prog_stop, 1);
		pthread_join(pt, NULL);
	}
	u_progress_end();
	running = NULL;
	if (rc < 0)
		fprintf(stderr, "cdctop: %s\n", err);
	relay_free(r);
	kc_free(kc);
	return rc < 0 ? 1 : 0;
}
