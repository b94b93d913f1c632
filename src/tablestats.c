/*
 * tablestats.c - the capture pane's table figures on their own thread and connection (see
 * tablestats.h). Owns that thread, its connection and the shared figures; the struct is freed
 * by whichever of the owner (tstats_stop) and the thread lets go of it last.
 */
#include "tablestats.h"

#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define EVERY_US     1000000 /* look up about once a second */
#define RETRY_US     1000000 /* after a failed connect or lookup */
#define STOP_WAIT_US 300000

struct tstats {
	struct db_target db;
	int binlog;
	pthread_t thr;
	atomic_int stop, done, refs;
	pthread_mutex_t mu; /* guards progress and fig */
	int64_t progress;
	struct tstats_figures fig;
};

/* Drops one reference; the last one frees. */
static void tstats_release(struct tstats *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&s->mu);
	memset(s->db.password, 0, sizeof s->db.password);
	free(s);
}

/* One round of lookups into f; -1 on a MySQL error. */
static int lookup(struct tstats *s, MYSQL *m, struct tstats_figures *f)
{
	char err[U_ERRLEN];
	long long v = 0;
	if (db_query_ll(m, "SELECT COUNT(*) FROM customer", &v, err) < 0)
		return -1;
	f->customers = v;
	if (s->binlog)
		return blc_server_pos(m, &f->server_pos, err) < 0 ? -1 : 0;
	pthread_mutex_lock(&s->mu);
	long long progress = s->progress;
	pthread_mutex_unlock(&s->mu);
	if (db_query_ll(m, "SELECT COALESCE(MAX(log_id), 0) FROM users_change_events", &v, err) < 0)
		return -1;
	f->max_log_id = v;
	if (db_query_ll(m, "SELECT COUNT(*) FROM users_change_events", &v, err) < 0)
		return -1;
	f->change_rows = v;
	if (progress < 0) { /* not handed over yet: a backlog above 0 would be every row */
		f->backlog = 0;
		f->oldest_us = 0;
		return 0;
	}
	if (db_query_ll_arg(
	        m,
	        "SELECT COUNT(*) FROM (SELECT 1 FROM users_change_events WHERE log_id > "
	        "? LIMIT 10000000) t",
	        progress, &v, err) < 0)
		return -1;
	f->backlog = v;
	if (db_query_ll_arg(m,
	                    "SELECT COALESCE(CAST(UNIX_TIMESTAMP(event_timestamp) * 1000000 AS "
	                    "SIGNED), 0) FROM users_change_events WHERE log_id > ? ORDER BY log_id "
	                    "LIMIT 1",
	                    progress, &v, err) < 0)
		return -1;
	f->oldest_us = v;
	return 0;
}

/* Sleeps us in short steps; 1 if asked to stop. */
static int nap(struct tstats *s, int64_t us)
{
	int64_t end = u_mono_us() + us;
	while (!atomic_load(&s->stop)) {
		int64_t left = end - u_mono_us();
		if (left <= 0)
			return 0;
		u_sleep_us(left < 50000 ? left : 50000);
	}
	return 1;
}

static void *tstats_main(void *arg)
{
	struct tstats *s = arg;
	MYSQL *m = NULL;
	char err[U_ERRLEN];
	while (!atomic_load(&s->stop)) {
		if (!m)
			m = db_connect(&s->db, 1, err);
		int64_t wait = RETRY_US;
		if (m) {
			int64_t t0 = u_mono_us();
			struct tstats_figures f;
			pthread_mutex_lock(&s->mu);
			f = s->fig;
			pthread_mutex_unlock(&s->mu);
			if (lookup(s, m, &f) == 0) {
				f.valid = 1;
				pthread_mutex_lock(&s->mu);
				s->fig = f;
				pthread_mutex_unlock(&s->mu);
				int64_t took = u_mono_us() - t0;
				wait = took * 20 > EVERY_US ? took * 20 : EVERY_US;
			} else {
				mysql_close(m);
				m = NULL;
			}
		}
		if (nap(s, wait))
			break;
	}
	if (m)
		mysql_close(m);
	atomic_store(&s->done, 1);
	tstats_release(s);
	return NULL;
}

struct tstats *tstats_start(const struct db_target *db, int binlog, char *err)
{
	struct tstats *s = u_calloc(1, sizeof *s);
	s->db = *db;
	s->binlog = binlog;
	s->progress = -1;
	atomic_init(&s->stop, 0);
	atomic_init(&s->done, 0);
	atomic_init(&s->refs, 2); /* the owner's and the thread's */
	pthread_mutex_init(&s->mu, NULL);
	if (pthread_create(&s->thr, NULL, tstats_main, s) != 0) {
		u_err(err, "cannot start the table figures thread");
		pthread_mutex_destroy(&s->mu);
		memset(s->db.password, 0, sizeof s->db.password);
		free(s);
		return NULL;
	}
	return s;
}

void tstats_set_progress(struct tstats *s, int64_t progress)
{
	pthread_mutex_lock(&s->mu);
	s->progress = progress;
	pthread_mutex_unlock(&s->mu);
}

void tstats_get(struct tstats *s, struct tstats_figures *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->fig;
	pthread_mutex_unlock(&s->mu);
}

void tstats_stop(struct tstats *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	int64_t end = u_mono_us() + STOP_WAIT_US;
	while (!atomic_load(&s->done) && u_mono_us() < end)
		u_sleep_us(5000);
	if (atomic_load(&s->done))
		pthread_join(s->thr, NULL);
	else
		pthread_detach(s->thr); /* a slow lookup: it frees the rest when it ends */
	tstats_release(s);
}
