/*
 * cmd_inject.c - `cdctop inject`: writes batches of fake customers (inject.c), as fast as
 * possible or paced at --rate customers/s (inject.c's pacer), until --batches are done or
 * SIGINT/SIGTERM, which ends it after the current batch. Main thread. Prints what it wrote, per store; with
 * --batches, a progress line on stderr while it runs when stderr is a terminal.
 */
#include "cmds.h"
#include "db.h"
#include "inject.h"
#include "schema.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

/* Asks the loop to end after the current batch. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Prints the totals so far: customers, per store, time, rate. */
static void report(const struct inj_result *r, long long batches, int64_t wall_us)
{
	char a[32], b[32];
	printf("inject: wrote %s customers in %lld batch%s (", u_fmt_count(r->n, a, sizeof a),
	       batches, batches == 1 ? "" : "es");
	for (int i = 0; i < r->nstores; i++)
		printf("%sstore %u: %d", i ? ", " : "", r->store_ids[i], r->store_counts[i]);
	double s = (double)wall_us / 1e6;
	printf(") in %.1f ms, %s customers/s\n", (double)wall_us / 1000.0,
	       u_fmt_count(s > 0 ? (long long)(r->n / s) : 0, b, sizeof b));
	fflush(stdout);
}

int cmd_inject(struct opts *o)
{
	struct db_target t;
	char err[U_ERRLEN];
	if (db_resolve(o, &t, 1, err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	MYSQL *m = db_connect(&t, !t.private_server, err);
	if (!m) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	if (t.private_server) { /* the private server is ours: make sure the schema is there */
		struct schema_report sr;
		if (schema_private_db(m, t.db, err) < 0) {
			fprintf(stderr, "cdctop: inject: %s\n", err);
			mysql_close(m);
			return 1;
		}
		/* a fresh database gets the trigger too: inject knows no capture mode, and rows
		   written before a trigger-capture relay first starts must still be captured */
		int has = schema_has_table(m, t.db, "customer", err);
		if (has == 1 && mysql_select_db(m, t.db))
			has = u_err(err, "cannot use database '%s': %s", t.db, mysql_error(m));
		if (has < 0 || (!has && schema_init(m, t.db, 1, &sr, err) < 0)) {
			fprintf(stderr, "cdctop: init: %s\n", err);
			mysql_close(m);
			return 1;
		}
	}
	uint64_t seed = o->seed_set ? o->seed : (uint64_t)u_now_us() ^ ((uint64_t)getpid() << 32);
	struct inj *j = inj_new(m, t.db, seed, err);
	if (!j) {
		fprintf(stderr, "cdctop: inject: %s\n", err);
		mysql_close(m);
		return 1;
	}
	u_on_stop_signals(on_signal, 1);

	struct inj_result r;
	memset(&r, 0, sizeof r);
	long long batches = o->batches ? o->batches : (o->rate > 0 ? 0 : 1);
	long long done = 0;
	int rc = 0;
	int64_t t0 = u_mono_us(), last_report = t0;
	struct inj_pacer pace;
	inj_pace_start(&pace, o->rate, 0, t0); /* behind, it catches up */
	while (!stop && (!batches || done < batches)) {
		if (o->rate > 0) {
			int64_t due, now;
			while (!stop && (due = inj_pace_next(&pace, (int)o->n, now = u_mono_us())))
				u_sleep_us(due - now < 100000 ? due - now : 100000);
			if (stop)
				break;
		}
		if (inj_batch(j, (int)o->n, &r, err) < 0) {
			u_progress_end();
			fprintf(stderr, "cdctop: inject: batch %lld not written (rolled back): %s\n",
				done + 1, err);
			rc = 1;
			break;
		}
		done++;
		if (batches > 1) /* on a terminal only: done/total, rate, time left */
			u_progress("inject", done * o->n, batches * o->n, "customers");
		if (o->rate > 0 && u_mono_us() - last_report >= 5000000) {
			u_progress_end();
			report(&r, done, u_mono_us() - t0);
			last_report = u_mono_us();
		}
	}
	u_progress_end();
	if (done || !rc)
		report(&r, done, u_mono_us() - t0);
	inj_free(j);
	mysql_close(m);
	return rc;
}
