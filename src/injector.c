/*
 * injector.c - the monitor's injector thread (see injector.h). Commands and figures are under
 * the injector's mutex, which is never held across I/O nor while calling the report callback;
 * batches are written and the connection checked with it released.
 */
#include "injector.h"
#include "inject.h"
#include "util.h"
#include "view.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INJR_PING_US     1000000 /* health check period when idle */
#define INJR_MAX_PENDING 1000    /* queued manual batches */

struct injr {
	const struct db_target *db;
	uint64_t seed;
	injr_report_fn report;
	injr_fault_fn fault;
	void *arg;

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cond;
	int stopping;
	struct u_cmdq q;
	int pending; /* manual batches still to write */
	struct inj_pacer pace;
	struct injr_figures f;

	/* the thread's own */
	MYSQL *m;
	struct inj *j;
	int connects;
	int64_t next_check; /* next ping or connect attempt */
	int64_t hold_us;    /* how long the next held batch stays open */
	MYSQL *hm;          /* the held batch's connection and injector, NULL none */
	struct inj *hj;
	int64_t hold_from, commit_at; /* mono us */
};

/* Prepares the injector; no I/O. */
struct injr *injr_new(const struct db_target *db, uint64_t seed, int batch, double rate,
                      injr_report_fn report, injr_fault_fn fault, void *arg)
{
	struct injr *j = u_calloc(1, sizeof *j);
	j->db = db;
	j->seed = seed;
	j->report = report;
	j->fault = fault;
	j->arg = arg;
	pthread_mutex_init(&j->mu, NULL);
	u_cond_init(&j->cond);
	j->f.batch = batch;
	j->f.rate = rate;
	return j;
}

/* Tells the owner (no lock held): an event when text is set, else only new figures. */
static void injr_tell(struct injr *j, int level, int answer, const char *text)
{
	j->report(j->arg, level, answer, text);
}

/* Drops the connection after an error (injector thread). */
static void injr_drop(struct injr *j)
{
	inj_free(j->j);
	j->j = NULL;
	if (j->m)
		mysql_close(j->m);
	j->m = NULL;
}

/* Ends the held batch's connection (its transaction, if still open, is rolled back). */
static void injr_drop_held(struct injr *j)
{
	inj_free(j->hj);
	j->hj = NULL;
	if (j->hm)
		mysql_close(j->hm);
	j->hm = NULL;
	pthread_mutex_lock(&j->mu);
	j->f.held = 0;
	j->f.held_left_us = 0;
	pthread_mutex_unlock(&j->mu);
}

/* Marks MySQL up or down as the injector sees it, with an event on a change. */
static void injr_health(struct injr *j, int up, const char *err)
{
	char ev[VIEW_TEXT] = "";
	int level = VIEW_INFO;
	pthread_mutex_lock(&j->mu);
	int was = j->f.health;
	j->f.health = up ? INJR_UP : INJR_DOWN;
	if (!up)
		u_copy_line(j->f.error, sizeof j->f.error, err);
	if (up && was == INJR_DOWN)
		snprintf(ev, sizeof ev, "mysql: reachable again");
	else if (!up && was != INJR_DOWN)
		snprintf(ev, sizeof ev, "mysql: down: %s", err), level = VIEW_ERROR;
	int changed = j->f.health != was;
	pthread_mutex_unlock(&j->mu);
	if (ev[0] || changed)
		injr_tell(j, level, 0, ev[0] ? ev : NULL);
}

/* Connects and prepares the injector if not connected; 0 when ready. */
static int injr_ensure(struct injr *j)
{
	char err[U_ERRLEN];
	if (j->j)
		return 0;
	j->m = db_connect(j->db, 1, err);
	if (!j->m) {
		injr_health(j, 0, err);
		return -1;
	}
	uint64_t seed = j->seed + (uint64_t)j->connects * 0x9e3779b97f4a7c15ULL;
	j->j = inj_new(j->m, j->db->db, seed, err);
	if (!j->j) {
		char e[U_ERRLEN];
		snprintf(e, sizeof e, "inject: %.200s", err);
		injr_drop(j);
		injr_health(j, 0, e);
		return -1;
	}
	j->connects++;
	injr_health(j, 1, NULL);
	return 0;
}

/* Writes a batch of n on a second connection and leaves its transaction open until
   commit_at: its change-log ids are taken, and later batches commit above them. */
static void injr_write_held(struct injr *j, int n)
{
	char err[U_ERRLEN], ev[VIEW_TEXT * 2], d[32];
	struct inj_result r;
	memset(&r, 0, sizeof r);
	j->hm = db_connect(j->db, 1, err);
	if (j->hm) {
		uint64_t seed = j->seed ^ 0x5bd1e995ULL * (uint64_t)(++j->connects);
		j->hj = inj_new(j->hm, j->db->db, seed, err);
	}
	if (!j->hj || inj_batch_end(j->hj, n, INJ_HOLD, &r, err) < 0) {
		injr_drop_held(j);
		snprintf(ev, sizeof ev, "g: batch not held: %s", err);
		injr_tell(j, VIEW_ERROR, 1, ev);
		return;
	}
	pthread_mutex_lock(&j->mu);
	j->hold_from = u_mono_us();
	j->commit_at = j->hold_from + j->hold_us;
	j->f.held = r.n;
	j->f.held_left_us = j->hold_us;
	pthread_mutex_unlock(&j->mu);
	snprintf(ev, sizeof ev, "g: holding a batch of %d open for %s (its ids wait in the change log)",
	         r.n, u_fmt_duration(j->hold_us, d, sizeof d));
	injr_tell(j, VIEW_WARN, 1, ev);
}

/* Commits the held batch (its time has come). */
static void injr_commit_held(struct injr *j)
{
	char ev[VIEW_TEXT * 2], d[32];
	int n = j->f.held; /* written only by this thread */
	int64_t held = u_mono_us() - j->hold_from;
	if (mysql_commit(j->hm)) {
		snprintf(ev, sizeof ev, "g: the held batch's commit failed: %s", mysql_error(j->hm));
		injr_drop_held(j);
		injr_tell(j, VIEW_ERROR, 1, ev);
		return;
	}
	injr_drop_held(j);
	pthread_mutex_lock(&j->mu);
	j->f.injected += (uint64_t)n;
	j->f.last_batch = n;
	pthread_mutex_unlock(&j->mu);
	snprintf(ev, sizeof ev, "g: committed the held batch of %d after %s", n,
	         u_fmt_duration(held, d, sizeof d));
	injr_tell(j, VIEW_WARN, 1, ev);
}

/* Writes one batch of n and reports the result; manual says whether the user asked. */
static void injr_write(struct injr *j, int n, int manual)
{
	char err[U_ERRLEN], ev[VIEW_TEXT * 2];
	struct inj_result r;
	memset(&r, 0, sizeof r);
	pthread_mutex_lock(&j->mu);
	int end = j->f.next_end;
	j->f.next_end = INJ_COMMIT;
	pthread_mutex_unlock(&j->mu);
	if (end == INJ_HOLD) {
		injr_write_held(j, n);
		return;
	}
	if (injr_ensure(j) < 0) {
		injr_tell(j, VIEW_ERROR, 1, manual ? "inject: not written, mysql is down" : NULL);
		return;
	}
	if (inj_batch_end(j->j, n, end == INJ_ROLLBACK ? INJ_ROLLBACK : INJ_COMMIT, &r, err) < 0) {
		unsigned code = mysql_errno(j->m);
		injr_drop(j);
		pthread_mutex_lock(&j->mu);
		u_copy_line(j->f.error, sizeof j->f.error, err);
		if (code >= 2000) /* client-side error: the connection is gone */
			j->f.health = INJR_DOWN;
		pthread_mutex_unlock(&j->mu);
		snprintf(ev, sizeof ev, "inject: batch rolled back: %s", err);
		injr_tell(j, VIEW_ERROR, manual, ev);
		return;
	}
	if (end == INJ_ROLLBACK) {
		pthread_mutex_lock(&j->mu);
		j->f.rolled_back += (uint64_t)n;
		j->f.health = INJR_UP;
		pthread_mutex_unlock(&j->mu);
		snprintf(ev, sizeof ev, "b: rolled back a batch of %d customers: their change-log ids "
		                        "are skipped after the gap wait, nothing is counted", n);
		injr_tell(j, VIEW_WARN, 1, ev);
		return;
	}
	pthread_mutex_lock(&j->mu);
	j->f.injected += (uint64_t)r.n;
	j->f.last_batch = r.n;
	j->f.error[0] = 0;
	j->f.health = INJR_UP;
	pthread_mutex_unlock(&j->mu);
	if (!manual) {
		injr_tell(j, VIEW_INFO, 0, NULL); /* show it now, not at the next tick */
		return;
	}
	char per[160] = "";
	size_t off = 0;
	for (int i = 0; i < r.nstores && off < sizeof per - 24; i++)
		if (r.store_counts[i])
			off += (size_t)snprintf(per + off, sizeof per - off, "%sstore %u: %d",
			                        off ? ", " : "", r.store_ids[i], r.store_counts[i]);
	snprintf(ev, sizeof ev, "inject: wrote %d customers in %.1f ms (%s)", r.n,
	         (double)r.us / 1000.0, per);
	injr_tell(j, VIEW_INFO, 0, ev);
}

/* Checks the connection (ping) or retries connecting, about once a second when idle. */
static void injr_check(struct injr *j)
{
	char err[U_ERRLEN];
	if (j->m && mysql_ping(j->m) != 0) {
		snprintf(err, sizeof err, "lost the connection: %s", mysql_error(j->m));
		injr_drop(j);
		injr_health(j, 0, err);
		return;
	}
	if (!j->m)
		injr_ensure(j);
}

/* Applies one command (mu held); the event it makes goes into ev ("" none). */
static void injr_apply(struct injr *j, const struct u_cmd *c, char *ev, size_t len)
{
	char rb[32];
	ev[0] = 0;
	switch (c->cmd) {
	case INJR_INJECT:
		if (j->pending < INJR_MAX_PENDING)
			j->pending++;
		break;
	case INJR_AUTO:
		j->f.auto_on = c->i < 0 ? !j->f.auto_on : c->i != 0;
		inj_pace_start(&j->pace, j->f.rate, 1, u_mono_us());
		u_fmt_plain(j->f.rate, rb, sizeof rb);
		if (j->f.auto_on)
			snprintf(ev, len, "continuous injection on: batches of %d at %s customers/s",
			         j->f.batch, rb);
		else
			snprintf(ev, len, "continuous injection off");
		break;
	case INJR_RATE:
		if (c->d > 0 && c->d <= 1e6) {
			j->f.rate = c->d;
			inj_pace_start(&j->pace, j->f.rate, 1, u_mono_us());
			snprintf(ev, len, "injection rate %s customers/s",
			         u_fmt_plain(j->f.rate, rb, sizeof rb));
		}
		break;
	case INJR_BATCH:
		if (c->i >= 1 && c->i <= 1000000) {
			j->f.batch = (int)c->i;
			snprintf(ev, len, "batch size %d", j->f.batch);
		}
		break;
	case INJR_HOLD:
		if (j->f.held || j->f.next_end == INJ_HOLD) {
			snprintf(ev, len, "g: a batch is held already; wait for its commit");
		} else {
			j->f.next_end = INJ_HOLD;
			j->hold_us = c->i > 0 ? c->i : 1000000;
			snprintf(ev, len, "g: the next batch will be held open for %s%s",
			         u_fmt_duration(j->hold_us, rb, sizeof rb),
			         j->f.auto_on || j->pending ? "" : " (press i or I)");
		}
		break;
	case INJR_ROLLBACK:
		if (j->f.next_end == INJ_HOLD) {
			snprintf(ev, len, "b: the next batch is to be held (g) already");
		} else {
			j->f.next_end = INJ_ROLLBACK;
			snprintf(ev, len, "b: the next batch will be rolled back%s",
			         j->f.auto_on || j->pending ? "" : " (press i or I)");
		}
		break;
	case INJR_FAULT:
		break; /* run by injr_main with the lock released */
	}
}

/* The injector thread: commands, then manual batches, then continuous injection at the rate. */
void *injr_main(void *arg)
{
	struct injr *j = arg;
	char ev[VIEW_TEXT];
	pthread_setname_np(pthread_self(), "cdctop:inject");
	pthread_mutex_lock(&j->mu);
	while (!j->stopping) {
		struct u_cmd c;
		if (u_cmdq_pop(&j->q, &c)) {
			if (c.cmd == INJR_FAULT) {
				pthread_mutex_unlock(&j->mu);
				if (j->fault)
					j->fault(j->arg, c.i);
				pthread_mutex_lock(&j->mu);
				continue;
			}
			injr_apply(j, &c, ev, sizeof ev);
			if (ev[0]) {
				pthread_mutex_unlock(&j->mu);
				injr_tell(j, VIEW_INFO,
				          c.cmd == INJR_HOLD || c.cmd == INJR_ROLLBACK, ev);
				pthread_mutex_lock(&j->mu);
			}
			continue;
		}
		int64_t now = u_mono_us();
		int n = 0, manual = 0;
		int64_t wake_at = j->next_check;
		if (j->hj) {
			if (now >= j->commit_at) {
				pthread_mutex_unlock(&j->mu);
				injr_commit_held(j);
				pthread_mutex_lock(&j->mu);
				continue;
			}
			if (j->commit_at < wake_at)
				wake_at = j->commit_at;
		}
		if (j->pending > 0) {
			j->pending--;
			n = j->f.batch;
			manual = 1;
		} else if (j->f.auto_on && j->f.rate > 0) {
			/* whole batches of the size shown in the footer, the first at once, the
			   next when the rate has earned the ones already written */
			int64_t due = inj_pace_next(&j->pace, j->f.batch, now);
			if (!due)
				n = j->f.batch;
			else if (due < wake_at)
				wake_at = due;
		}
		if (n > 0) {
			pthread_mutex_unlock(&j->mu);
			injr_write(j, n, manual);
			j->next_check = u_mono_us() + INJR_PING_US;
			pthread_mutex_lock(&j->mu);
			continue;
		}
		if (now >= j->next_check) {
			pthread_mutex_unlock(&j->mu);
			injr_check(j);
			j->next_check = u_mono_us() + INJR_PING_US;
			pthread_mutex_lock(&j->mu);
			continue;
		}
		u_cond_wait_until(&j->cond, &j->mu, wake_at);
	}
	pthread_mutex_unlock(&j->mu);
	injr_drop_held(j); /* quitting: a batch still held is rolled back */
	injr_drop(j);
	return NULL;
}

/* Queues a command for the injector thread; never waits for it. */
int injr_send(struct injr *j, enum injr_cmd cmd, int64_t i, double d)
{
	pthread_mutex_lock(&j->mu);
	int rc = j->stopping ? -1 : u_cmdq_push(&j->q, (struct u_cmd){(int)cmd, i, 0, d});
	if (!rc)
		pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->mu);
	return rc;
}

/* Copies the figures under the lock. */
void injr_get(struct injr *j, struct injr_figures *out)
{
	pthread_mutex_lock(&j->mu);
	*out = j->f;
	if (out->held) {
		int64_t left = j->commit_at - u_mono_us();
		out->held_left_us = left > 0 ? left : 0;
	}
	pthread_mutex_unlock(&j->mu);
}

/* Asks the thread to return. */
void injr_stop(struct injr *j)
{
	u_cond_raise(&j->mu, &j->cond, &j->stopping);
}

/* Frees what the thread left. */
void injr_free(struct injr *j)
{
	if (!j)
		return;
	inj_free(j->hj);
	if (j->hm)
		mysql_close(j->hm);
	injr_drop(j);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->mu);
	free(j);
}
