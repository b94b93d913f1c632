/*
 * capture_binlog.c - binlog capture: the customer rows of the row binlog (binlog.c, its own
 * replication connection), resumed at the transaction of the oldest row Kafka has not
 * acknowledged; the resume position, the last customer id and the relayed count are kept in the
 * topic's row of latest_cdc_binlog. A topic's first run starts at the server's current position
 * and sends the horizon's customers from the customer table (re-reads are deduplicated
 * downstream). Runs on the relay's thread; its statements live on the relay's connection.
 */
#include "binlog.h"
#include "capture.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cbin {
	struct cap base;
	struct cap_config cfg;
	char topic[256];
	struct db_target db;

	MYSQL *m;
	MYSQL_STMT *save;
	struct blc *bl;                        /* the replication stream, NULL until opened */
	struct blc_pos pos_progress, pos_saved; /* the resume position: to save, saved */
	int loaded;

	int64_t cursor;   /* customer id of the last row read */
	int64_t progress; /* highest customer id acknowledged */
	int64_t saved_progress;
	int64_t last_save_us;
	uint64_t resent_run;
};

static struct cap_pos to_cap(const struct blc_pos *p)
{
	struct cap_pos c;
	memcpy(c.file, p->file, sizeof c.file);
	c.off = p->pos;
	return c;
}

static struct blc_pos to_blc(const struct cap_pos *p)
{
	struct blc_pos b;
	memcpy(b.file, p->file, sizeof b.file);
	b.pos = p->off;
	return b;
}

static void b_close(struct cap *c)
{
	struct cbin *b = (struct cbin *)c;
	if (b->save)
		mysql_stmt_close(b->save);
	b->save = NULL;
	b->m = NULL;
}

/* Loads the saved position, the first time only. */
static int load_position(struct cbin *b, uint64_t *relayed, char *err)
{
	MYSQL_STMT *get;
	if (db_prepare(b->m,
		       "SELECT file, pos, last_customer_id, relayed FROM latest_cdc_binlog WHERE "
		       "topic = ?",
		       &get, err) < 0)
		return U_EFAIL;
	MYSQL_BIND pb[1], rb[4];
	unsigned long tl, fl = 0;
	long long pos = 0, last = 0, rel = 0;
	char file[64] = "";
	memset(pb, 0, sizeof pb);
	memset(rb, 0, sizeof rb);
	db_bind_str(&pb[0], b->topic, &tl);
	rb[0].buffer_type = MYSQL_TYPE_STRING;
	rb[0].buffer = file;
	rb[0].buffer_length = sizeof file - 1;
	rb[0].length = &fl;
	db_bind_ll(&rb[1], &pos);
	db_bind_ll(&rb[2], &last);
	db_bind_ll(&rb[3], &rel);
	int bad = mysql_stmt_bind_param(get, pb) || mysql_stmt_execute(get) ||
		  mysql_stmt_bind_result(get, rb) || mysql_stmt_store_result(get);
	if (bad)
		u_err(err, "cannot read the binlog progress: %s", mysql_stmt_error(get));
	else if (mysql_stmt_fetch(get) == 0) {
		file[fl < sizeof file ? fl : sizeof file - 1] = 0;
		snprintf(b->pos_progress.file, sizeof b->pos_progress.file, "%s", file);
		b->pos_progress.pos = (uint64_t)pos;
		b->pos_saved = b->pos_progress;
		b->progress = b->saved_progress = b->cursor = last;
		*relayed = (uint64_t)rel;
	}
	mysql_stmt_close(get);
	if (bad)
		return U_EFAIL;
	b->loaded = 1;
	return 0;
}

/* Checks the preconditions, prepares the progress statement, loads the saved position. A
   failed precondition is fatal (retrying cannot fix a server setting). */
static int b_open(struct cap *c, MYSQL *m, uint64_t *relayed, char *err)
{
	struct cbin *b = (struct cbin *)c;
	b->m = m;
	int rc = U_EFATAL;
	if (blc_check(m, err) < 0)
		goto fail;
	rc = db_prepare(m,
			"INSERT INTO latest_cdc_binlog (topic, file, pos, last_customer_id, "
			"relayed) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE file = "
			"VALUES(file), pos = VALUES(pos), last_customer_id = "
			"VALUES(last_customer_id), relayed = VALUES(relayed)",
			&b->save, err);
	if (rc == U_ENOTFOUND)
		u_err(err, "no latest_cdc_binlog table in '%s': run cdctop init", b->db.db);
	if (rc < 0)
		goto fail;
	if (!b->loaded && (rc = load_position(b, relayed, err)) < 0)
		goto fail;
	return 0;
fail:
	b_close(c);
	return rc;
}

/* Saves the resume position if it moved. */
static int b_save(struct cap *c, uint64_t relayed, int force, char *err)
{
	struct cbin *b = (struct cbin *)c;
	if (!b->save || !b->pos_progress.file[0] ||
	    (!force && !blc_pos_cmp(&b->pos_progress, &b->pos_saved) &&
	     b->progress == b->saved_progress))
		return 0;
	/* a save is itself a binlog event that moves the position: when only the position
	   moved (no customer relayed), save it once a minute, so an idle relay stays idle
	   yet never restarts at a file that has since been purged */
	if (!force && b->progress == b->saved_progress &&
	    u_mono_us() - b->last_save_us < 60 * 1000000LL)
		return 0;
	long long pos = (long long)b->pos_progress.pos, last = b->progress,
		  rel = (long long)relayed;
	MYSQL_BIND pb[5];
	unsigned long tl, fl;
	memset(pb, 0, sizeof pb);
	db_bind_str(&pb[0], b->topic, &tl);
	db_bind_str(&pb[1], b->pos_progress.file, &fl);
	db_bind_ll(&pb[2], &pos);
	db_bind_ll(&pb[3], &last);
	db_bind_ll(&pb[4], &rel);
	if (mysql_stmt_bind_param(b->save, pb) || mysql_stmt_execute(b->save))
		return u_err(err, "cannot save progress: %s", mysql_stmt_error(b->save));
	b->pos_saved = b->pos_progress;
	b->saved_progress = b->progress;
	b->last_save_us = u_mono_us();
	return 1;
}

/* Re-sends the customers registered within the horizon from the customer table itself (event
   time = create_date, as in the binlog), as late rows. */
static int resend_snapshot(struct cbin *b, const struct cap_sink *s, char *err)
{
	MYSQL_STMT *st;
	if (db_prepare(b->m,
		       "SELECT customer_id, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED) * 1000000, "
		       "customer_id, store_id, address_id, active, CAST(UNIX_TIMESTAMP(create_date) "
		       "AS SIGNED), first_name, last_name, email FROM customer WHERE create_date >= "
		       "UTC_TIMESTAMP() - INTERVAL ? SECOND ORDER BY customer_id",
		       &st, err) < 0)
		return U_EFAIL;
	struct cap_fetch f;
	struct cap_row row;
	int n = 0, rc = 0;
	long long horizon_s = b->cfg.horizon_us / 1000000;
	MYSQL_BIND hb;
	memset(&hb, 0, sizeof hb);
	db_bind_ll(&hb, &horizon_s);
	if (mysql_stmt_bind_param(st, &hb) || mysql_stmt_execute(st) || cap_bind_fetch(st, &f) ||
	    mysql_stmt_store_result(st)) {
		rc = u_err(err, "mysql: %s", mysql_stmt_error(st));
		goto out;
	}
	while (mysql_stmt_fetch(st) == 0) {
		cap_fetch_row(&f, &row);
		if (s->emit(s->ctx, &row, 1, err) < 0) {
			rc = U_EFAIL;
			break;
		}
		if (++n % 10000 == 0)
			s->poll(s->ctx);
	}
	b->resent_run += (uint64_t)n;
out:
	mysql_stmt_close(st);
	return rc;
}

/* Opens the stream at the saved position (the current one, and a snapshot of the horizon,
   on a topic's first run). */
static int open_stream(struct cbin *b, const struct cap_sink *s, char *err)
{
	const struct blc_pos *at = b->pos_progress.file[0] ? &b->pos_progress : NULL;
	int rc = blc_open(&b->db, b->db.db, at, &b->bl, err);
	if (rc == U_ELOST) {
		char e[U_ERRLEN];
		snprintf(e, sizeof e,
			 "%.120s; to resnapshot the horizon: DELETE FROM latest_cdc_binlog WHERE "
			 "topic = '%.40s'",
			 err, b->topic);
		snprintf(err, U_ERRLEN, "%s", e);
		return U_EFATAL;
	}
	if (rc < 0)
		return U_EFAIL;
	if (b->cfg.verbose) {
		char p[80];
		u_log("relay: reading the binlog from %s",
		      at ? blc_pos_fmt(at, p, sizeof p) : "the current position");
	}
	if (!at) { /* first run of this topic: the stream starts now, the horizon's customers
		      come from the table (re-reads are deduplicated) */
		if (resend_snapshot(b, s, err) < 0)
			return U_EFAIL;
		struct blc_stats bs;
		blc_stats(b->bl, &bs);
		b->pos_progress = bs.safe.file[0] ? bs.safe : bs.read;
	}
	return 0;
}

/* *drained stays 0: a short count only means no row was ready in the stream's buffer (the
   next transaction's first events may be), and the read with no row yet already waits for
   one (up to 100 ms). */
static int b_next(struct cap *c, const struct cap_sink *s, int max, int *drained, char *err)
{
	struct cbin *b = (struct cbin *)c;
	int rc;
	*drained = 0;
	if (!b->bl && (rc = open_stream(b, s, err)) < 0)
		return rc;
	struct blc_row br;
	struct cap_row row;
	int n = 0;
	if (max > CAP_BATCH_ROWS)
		max = CAP_BATCH_ROWS;
	while (n < max) {
		rc = blc_next(b->bl, &br, n ? 0 : 100, err);
		if (rc == 0)
			break;
		if (rc < 0) { /* only a lost connection is worth a reopen */
			blc_free(b->bl);
			b->bl = NULL;
			return rc == U_ECONNLOST ? U_EFAIL : U_EFATAL;
		}
		row.row = br.row;
		row.resume = to_cap(&br.resume);
		if (s->emit(s->ctx, &row, 0, err) < 0) {
			/* the row left the stream: reopen where it (or an older unacknowledged
			   one, b_acked says) can be read again, never past it */
			b->pos_progress = br.resume;
			blc_free(b->bl);
			b->bl = NULL;
			return U_EFAIL;
		}
		b->cursor = br.row.log_id;
		n++;
	}
	return n;
}

/* Resumes at the oldest unacknowledged row's transaction. */
static void b_acked(struct cap *c, const struct cap_pos *oldest, int64_t log_id,
		    int64_t event_us)
{
	struct cbin *b = (struct cbin *)c;
	(void)event_us;
	if (log_id > b->progress)
		b->progress = log_id;
	if (oldest) {
		b->pos_progress = to_blc(oldest);
	} else if (b->bl) {
		struct blc_stats bs;
		blc_stats(b->bl, &bs);
		if (bs.safe.file[0])
			b->pos_progress = bs.safe;
	}
}

static void b_late_acked(struct cap *c, int64_t log_id)
{
	(void)c;
	(void)log_id;
}

static int b_rewind(struct cap *c, const struct cap_sink *s, char *what, size_t wcap, char *err)
{
	snprintf(what, wcap, "the customers of the horizon from the customer table");
	return resend_snapshot((struct cbin *)c, s, err);
}

/* A heartbeat after the last event says the stream has read all the server has. */
static int b_caught_up(struct cap *c)
{
	struct cbin *b = (struct cbin *)c;
	if (!b->bl)
		return 0;
	struct blc_stats bs;
	blc_stats(b->bl, &bs);
	return bs.caught_up;
}

static int64_t b_waiting(struct cap *c, char *state, size_t cap)
{
	(void)c;
	(void)state;
	(void)cap;
	return 0;
}

static int64_t b_progress(struct cap *c)
{
	return ((struct cbin *)c)->progress;
}

static const char *b_where(struct cap *c, char *buf, size_t cap)
{
	(void)c;
	(void)buf;
	(void)cap;
	return NULL; /* open_stream says where it reads from */
}

static void b_stats(struct cap *c, int64_t queued, struct relay_stats *st)
{
	struct cbin *b = (struct cbin *)c;
	st->binlog = 1;
	st->cursor = b->cursor;
	st->progress = b->progress;
	st->gap_id = 0;
	st->gap_wait_left_us = 0;
	st->resent = b->resent_run;
	struct blc_stats bs;
	memset(&bs, 0, sizeof bs);
	if (b->bl)
		blc_stats(b->bl, &bs);
	st->backlog = queued;
	blc_pos_fmt(&bs.read, st->binlog_read, sizeof st->binlog_read);
	snprintf(st->binlog_read_file, sizeof st->binlog_read_file, "%s", bs.read.file);
	st->binlog_read_pos = bs.read.pos;
	blc_pos_fmt(&b->pos_saved, st->binlog_saved, sizeof st->binlog_saved);
	st->binlog_lag_s =
	    bs.caught_up || !bs.last_event_s ? 0 : u_now_us() / 1000000 - bs.last_event_s;
}

static void b_free(struct cap *c)
{
	struct cbin *b = (struct cbin *)c;
	blc_free(b->bl);
	b_close(c);
	free(b);
}

static const struct cap_ops binlog_ops = {
    .clock_lag_us = 1500000, /* the binlog's clock: whole seconds, the statement's start */
    .open = b_open,
    .next = b_next,
    .acked = b_acked,
    .late_acked = b_late_acked,
    .rewind = b_rewind,
    .save = b_save,
    .caught_up = b_caught_up,
    .waiting = b_waiting,
    .progress = b_progress,
    .where = b_where,
    .stats = b_stats,
    .close = b_close,
    .free = b_free,
};

struct cap *cap_binlog_new(const struct cap_config *cfg)
{
	struct cbin *b = u_calloc(1, sizeof *b);
	b->base.ops = &binlog_ops;
	b->cfg = *cfg;
	snprintf(b->topic, sizeof b->topic, "%s", cfg->topic);
	b->db = *cfg->db;
	b->cfg.topic = b->topic;
	b->cfg.db = &b->db;
	return &b->base;
}
