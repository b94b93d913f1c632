/*
 * check.c - the check thread: reads the consumer's held count (cons_held), then MySQL's count
 * for the same seconds on its own connection, about once a second (less often when the count
 * is slow, but at least every 2 s), and keeps the latest pair. Under trigger capture the count
 * is incremental: settled rows are cached per second and only newer ones are read, by primary
 * key (a COUNT over 3.6 M rows took 1.6 s). The consumer is called only under the thread's own
 * mutex, which chk_stop takes, so it is never called after chk_stop.
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
#define RESYNC_US    (600 * 1000000LL) /* the cache of settled rows is rebuilt this often */
#define EMPTY_US     20000  /* nothing held yet: looked for this often in the first second */
#define EMPTY_SLOW_US 200000 /* and this often after it (a source with no events at all) */

struct chk {
	struct db_target db;
	struct cons *cons; /* NULL once stopped */
	int binlog;
	int64_t horizon_s;
	/* the settled rows per second (trigger capture): see settle() */
	struct slot *cache;
	int nslots, cached, no_incremental;
	int counted_once; /* the first round counted in full (see count_mysql) */
	int64_t settled;   /* every id <= this is committed or rolled back for good */
	int64_t synced_us; /* when the cache was last rebuilt whole */
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
	free(k->cache);
	free(k);
}

/* Runs sql binding n integers, calling row(ctx, cols, ncols) for each result row of up to
   3 integer columns (NULL as 0). -1 with err. */
static int query(MYSQL *m, const char *sql, const long long *args, int n,
		 void (*row)(void *, const long long *), void *ctx, char *err)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st)
		return u_err(err, "out of memory");
	long long p[4], r[3] = {0, 0, 0};
	my_bool nul[3];
	MYSQL_BIND pb[4], rb[3];
	memset(pb, 0, sizeof pb);
	memset(rb, 0, sizeof rb);
	for (int i = 0; i < n; i++) {
		p[i] = args[i];
		pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
		pb[i].buffer = &p[i];
	}
	for (int i = 0; i < 3; i++) {
		rb[i].buffer_type = MYSQL_TYPE_LONGLONG;
		rb[i].buffer = &r[i];
		rb[i].is_null = &nul[i];
	}
	int bad = mysql_stmt_prepare(st, sql, strlen(sql)) || (n && mysql_stmt_bind_param(st, pb)) ||
		  mysql_stmt_execute(st);
	unsigned cols = bad ? 0 : mysql_stmt_field_count(st);
	if (!bad && cols > 3)
		cols = 3;
	bad = bad || mysql_stmt_bind_result(st, rb) || mysql_stmt_store_result(st);
	int f;
	while (!bad && (f = mysql_stmt_fetch(st)) == 0) {
		for (unsigned i = 0; i < cols; i++)
			if (nul[i])
				r[i] = 0;
		row(ctx, r);
	}
	if (bad)
		u_err(err, "mysql: %s", mysql_stmt_error(st));
	mysql_stmt_close(st);
	return bad ? -1 : 0;
}

/* One second's change rows as the cache keeps them. */
struct slot {
	int64_t sec;
	uint64_t n;
};

/* Adds a (second, rows) result row to the cache. */
static void add_row(void *ctx, const long long *r)
{
	struct chk *k = ctx;
	struct slot *s = &k->cache[(uint64_t)r[0] % (uint64_t)k->nslots];
	if (s->sec != r[0]) {
		s->sec = r[0];
		s->n = 0;
	}
	s->n += (uint64_t)r[1];
}

/* Sums a (second, rows, rows with judged ids) result row from from_s on. */
struct tail {
	int64_t from_s;
	uint64_t all, judged;
};

static void tail_row(void *ctx, const long long *r)
{
	struct tail *t = ctx;
	if (r[0] >= t->from_s) {
		t->all += (uint64_t)r[1];
		t->judged += (uint64_t)r[2];
	}
}

static void one_value(void *ctx, const long long *r)
{
	*(long long *)ctx = r[0];
}

/*
 * Brings the per-second cache of settled change rows up to date. Settled: every id up to it
 * is committed or rolled back for good. An id is taken when its row is inserted, and its
 * event_timestamp is that moment, so every row inserted before the oldest open transaction
 * began (less a second: trx_started is whole seconds) is settled; with no transaction open,
 * all are. Only rows above the last settled id are read, by primary key; every RESYNC_US (or
 * when the table shrank) the cache is rebuilt whole. -1 with err (INNODB_TRX needs PROCESS:
 * the caller then counts in full).
 */
static int settle(struct chk *k, MYSQL *m, char *err)
{
	long long oldest = 0, top = 0;
	if (query(m,
		  "SELECT COALESCE(CAST(UNIX_TIMESTAMP(MIN(trx_started)) AS SIGNED), 0) FROM "
		  "information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()",
		  NULL, 0, one_value, &oldest, err) < 0)
		return -1;
	if (!oldest) {
		if (query(m, "SELECT COALESCE(MAX(log_id), 0) FROM users_change_events", NULL, 0,
			  one_value, &top, err) < 0)
			return -1;
	} else {
		long long before = oldest - 1;
		if (query(m,
			  "SELECT COALESCE((SELECT log_id FROM users_change_events WHERE "
			  "event_timestamp < FROM_UNIXTIME(?) ORDER BY event_timestamp DESC LIMIT 1), 0)",
			  &before, 1, one_value, &top, err) < 0)
			return -1;
	}
	int64_t now = u_mono_us();
	if (!k->cached || top < k->settled || now - k->synced_us >= RESYNC_US) {
		memset(k->cache, 0, (size_t)k->nslots * sizeof k->cache[0]);
		long long a[2] = {top, k->horizon_s + 2};
		if (query(m,
			  "SELECT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp)) AS SIGNED), COUNT(*) FROM "
			  "users_change_events WHERE log_id <= ? AND event_timestamp >= NOW(6) - "
			  "INTERVAL ? SECOND GROUP BY 1",
			  a, 2, add_row, k, err) < 0) {
			k->cached = 0;
			return -1;
		}
		k->cached = 1;
		k->synced_us = now;
	} else if (top > k->settled) {
		long long a[2] = {k->settled, top};
		if (query(m,
			  "SELECT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp)) AS SIGNED), COUNT(*) FROM "
			  "users_change_events WHERE log_id > ? AND log_id <= ? GROUP BY 1",
			  a, 2, add_row, k, err) < 0) {
			k->cached = 0;
			return -1;
		}
	}
	k->settled = top;
	return 0;
}

/* MySQL's rows from second from_s on, and those with ids <= max_id: the settled rows from the
   cache plus the rows above them, read each time. -1 with err. */
static int count_incremental(struct chk *k, MYSQL *m, int64_t from_s, int64_t max_id,
			     uint64_t *all, uint64_t *judged, char *err)
{
	if (settle(k, m, err) < 0)
		return -1;
	uint64_t cached = 0;
	for (int i = 0; i < k->nslots; i++)
		if (k->cache[i].sec >= from_s)
			cached += k->cache[i].n;
	struct tail t = {from_s, 0, 0};
	long long a[2] = {max_id, k->settled};
	if (query(m,
		  "SELECT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp)) AS SIGNED), COUNT(*), "
		  "COALESCE(SUM(log_id <= ?), 0) FROM users_change_events WHERE log_id > ? GROUP BY 1",
		  a, 2, tail_row, &t, err) < 0)
		return -1;
	*all = cached + t.all;
	/* the consumer below the settled rows: some of them it has not judged yet */
	*judged = max_id >= k->settled ? cached + t.judged : 0;
	return 0;
}

/* MySQL's rows from second from_s on, and those with ids <= max_id, counted whole (the
   customer table under binlog capture, or without the PROCESS privilege). -1 with err. */
static int count_full(struct chk *k, MYSQL *m, int64_t from_s, int64_t max_id, uint64_t *all,
		      uint64_t *judged, char *err)
{
	const char *sql =
	    k->binlog ? "SELECT 0, COUNT(*), COALESCE(SUM(customer_id <= ?), 0) FROM customer WHERE "
			"UNIX_TIMESTAMP(create_date) >= ?"
		      : "SELECT 0, COUNT(*), COALESCE(SUM(log_id <= ?), 0) FROM users_change_events "
			"WHERE event_timestamp >= FROM_UNIXTIME(?)";
	struct tail t = {INT64_MIN, 0, 0};
	long long a[2] = {max_id, from_s};
	if (query(m, sql, a, 2, tail_row, &t, err) < 0)
		return -1;
	*all = t.all;
	*judged = t.judged;
	return 0;
}

/* The count by whichever way works here. */
static int count_mysql(struct chk *k, MYSQL *m, int64_t from_s, int64_t max_id, uint64_t *all,
		       uint64_t *judged, char *err)
{
	if (!k->binlog && !k->no_incremental) {
		if (!k->cached && !k->counted_once) {
			/* the first figure at once from a plain count (an index range); the per-second
			   cache, a longer GROUP BY, is built from the next round on */
			k->counted_once = 1;
			return count_full(k, m, from_s, max_id, all, judged, err);
		}
		if (count_incremental(k, m, from_s, max_id, all, judged, err) == 0)
			return 0;
		if (mysql_errno(m) == 1227) /* ER_SPECIFIC_ACCESS_DENIED: no PROCESS for INNODB_TRX */
			k->no_incremental = 1;
		else
			return -1;
	}
	return count_full(k, m, from_s, max_id, all, judged, err);
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
	int empty = 0; /* rounds running that found nothing held */
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
			/* nothing held yet: a store restored from the checkpoint is held within
			   milliseconds of the start, and its first count should not wait for a poll */
			wait = ++empty * EMPTY_US < EVERY_US ? EMPTY_US : EMPTY_SLOW_US;
		}
		if (rc == 0)
			empty = 0;
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

struct chk *chk_start(const struct db_target *db, struct cons *c, int binlog, int64_t horizon_s,
		       char *err)
{
	struct chk *k = u_calloc(1, sizeof *k);
	k->db = *db;
	k->cons = c;
	k->binlog = binlog;
	k->horizon_s = horizon_s > 0 ? horizon_s : 3600;
	k->nslots = (int)k->horizon_s + 8;
	k->cache = u_calloc((size_t)k->nslots, sizeof k->cache[0]);
	atomic_init(&k->stop, 0);
	atomic_init(&k->done, 0);
	atomic_init(&k->refs, 2);
	pthread_mutex_init(&k->mu, NULL);
	if (pthread_create(&k->thr, NULL, chk_main, k) != 0) {
		u_err(err, "cannot start the check thread");
		pthread_mutex_destroy(&k->mu);
		memset(k->db.password, 0, sizeof k->db.password);
		free(k->cache);
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
