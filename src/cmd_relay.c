/*
 * cmd_relay.c - `cdctop relay [--once]`: capture + relay headless (relay.c) on the main thread,
 * logging one line per state change and a summary every 10 s. SIGINT/SIGTERM stop reading,
 * flush in-flight messages and save progress. --once drains the backlog and exits 0.
 * --capture=binlog reads the row binlog instead of the trigger's change table.
 */
#include "cmds.h"
#include "db.h"
#include "kconf.h"
#include "relay.h"
#include "schema.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static struct relay *running;

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
		if (!m || schema_init_ex(m, t.db, o->capture == CAPTURE_TRIGGER, &sr, err) < 0) {
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
	int rc = relay_run(r, err);
	running = NULL;
	if (rc < 0)
		fprintf(stderr, "cdctop: %s\n", err);
	relay_free(r);
	kc_free(kc);
	return rc < 0 ? 1 : 0;
}
