/*
 * check.c - the check thread: reads the consumer's held count (cons_held), then MySQL's count
 * for the same seconds on its own connection, about once a second (less often when the count
 * is slow: about 10% of the time, but at least every 2 s), and keeps the latest pair. The consumer is called only
 * under the thread's own mutex, which chk_stop takes, so it is never called after chk_stop.
 */
#include "check.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define EVERY_US     1000000
#define RETRY_US     2000000
#define MAX_AGE_US   2000000 /* the figures are refreshed at least this often */

struct chk {
	struct db_target db;
	struct cons *cons; /* NULL once stopped */
	int binlog;
	pthread_t thr;
	atomic_int stop, done, refs;
	pthread_mutex_t mu; /* guards cons and fig */
	struct chk_figures fig;
};

static void chk_release(struct chk *k)
{
	if (atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&k->mu);
	memset(k->db.password, 0, sizeof k->db.password);
	free(k);
}

/* MySQL's rows from second from_s on, and those with ids <= max_id. -1 with err. */
static int count_mysql(struct chk *k, MYSQL *m, int64_t from_s, int64_t max_id, uint64_t *all,
		       uint64_t *judged, char *err)
{
	const char *sql =
	    k->binlog ? "SELECT COUNT(*), COALESCE(SUM(customer_id <= ?), 0) FROM customer WHERE "
			"UNIX_TIMESTAMP(create_date) >= ?"
		      : "SELECT COUNT(*), COALESCE(SUM(log_id <= ?), 0) FROM users_change_events "
			"WHERE event_timestamp >= FROM_UNIXTIME(?)";
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st)
		return u_err(err, "out of memory");
	long long p[2] = {max_id, from_s}, r[2] = {0, 0};
	MYSQL_BIND pb[2], rb[2];
	memset(pb, 0, sizeof pb);
	memset(rb, 0, sizeof rb);
	for (int i = 0; i < 2; i++) {
		pb[i].buffer_type = rb[i].buffer_type = MYSQL_TYPE_LONGLONG;
		pb[i].buffer = &p[i];
		rb[i].buffer = &r[i];
	}
	int bad = mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_bind_param(st, pb) ||
		  mysql_stmt_execute(st) || mysql_stmt_bind_result(st, rb) ||
		  mysql_stmt_store_result(st) || mysql_stmt_fetch(st) != 0;
	if (bad)
		u_err(err, "mysql: %s", mysql_stmt_error(st));
	mysql_stmt_close(st);
	*all = (uint64_t)r[0];
	*judged = (uint64_t)r[1];
	return bad ? -1 : 0;
}

/* One round; 1 when the store holds nothing yet, -1 on a MySQL error. */
static int round_once(struct chk *k, MYSQL *m, struct chk_figures *f, char *err)
{
	int64_t from_s, max_id;
	uint64_t counted;
	pthread_mutex_lock(&k->mu);
	int held = k->cons && cons_held(k->cons, &from_s, &counted, &max_id);
	pthread_mutex_unlock(&k->mu);
	if (!held)
		return 1;
	int64_t t0 = u_mono_us();
	uint64_t all = 0, judged = 0;
	if (count_mysql(k, m, from_s, max_id == INT64_MIN ? 0 : max_id, &all, &judged, err) < 0)
		return -1;
	int64_t from2, max2;
	uint64_t after = counted;
	pthread_mutex_lock(&k->mu);
	if (k->cons && cons_held(k->cons, &from2, &after, &max2) && from2 != from_s)
		after = counted + 1; /* the horizon moved on: not the same seconds, not settled */
	pthread_mutex_unlock(&k->mu);
	f->valid = 1;
	f->from_s = from_s;
	f->counted = counted;
	f->mysql = all;
	f->mysql_judged = judged;
	f->counted_after = after;
	f->at_us = u_mono_us();
	f->took_us = f->at_us - t0;
	f->error[0] = 0;
	return 0;
}

static void *chk_main(void *arg)
{
	struct chk *k = arg;
	MYSQL *m = NULL;
	char err[U_ERRLEN];
	while (!atomic_load(&k->stop)) {
		if (!m)
			m = db_connect(&k->db, 1, err);
		int64_t wait = RETRY_US;
		struct chk_figures f;
		pthread_mutex_lock(&k->mu);
		f = k->fig;
		pthread_mutex_unlock(&k->mu);
		int rc = m ? round_once(k, m, &f, err) : -1;
		if (rc < 0) {
			snprintf(f.error, sizeof f.error, "%.150s", err);
			if (m)
				mysql_close(m);
			m = NULL;
		} else if (rc == 0) {
			/* a slow count waits longer, but the line is never older than 2 s */
			wait = f.took_us * 10 > EVERY_US ? f.took_us * 10 : EVERY_US;
			if (wait > MAX_AGE_US - f.took_us)
				wait = MAX_AGE_US - f.took_us > 100000 ? MAX_AGE_US - f.took_us : 100000;
		} else {
			wait = 200000; /* nothing held yet: look again soon */
		}
		pthread_mutex_lock(&k->mu);
		k->fig = f;
		pthread_mutex_unlock(&k->mu);
		int64_t end = u_mono_us() + wait;
		while (!atomic_load(&k->stop) && u_mono_us() < end)
			u_sleep_us(20000);
	}
	if (m)
		mysql_close(m);
	atomic_store(&k->done, 1);
	chk_release(k);
	return NULL;
}

struct chk *chk_start(const struct db_target *db, struct cons *c, int binlog, char *err)
{
	struct chk *k = u_calloc(1, sizeof *k);
	k->db = *db;
	k->cons = c;
	k->binlog = binlog;
	atomic_init(&k->stop, 0);
	atomic_init(&k->done, 0);
	atomic_init(&k->refs, 2);
	pthread_mutex_init(&k->mu, NULL);
	if (pthread_create(&k->thr, NULL, chk_main, k) != 0) {
		u_err(err, "cannot start the check thread");
		pthread_mutex_destroy(&k->mu);
		memset(k->db.password, 0, sizeof k->db.password);
		free(k);
		return NULL;
	}
	return k;
}

void chk_get(struct chk *k, struct chk_figures *out)
{
	pthread_mutex_lock(&k->mu);
	*out = k->fig;
	pthread_mutex_unlock(&k->mu);
}

void chk_stop(struct chk *k, int join)
{
	if (!k)
		return;
	atomic_store(&k->stop, 1);
	pthread_mutex_lock(&k->mu);
	k->cons = NULL; /* never called again, even by a round still running */
	pthread_mutex_unlock(&k->mu);
	if (join)
		pthread_join(k->thr, NULL);
	else
		pthread_detach(k->thr); /* it ends within 20 ms, or when its query returns */
	chk_release(k);
}
