/*
 * capture_trigger.c - trigger capture: reads the users_change_events rows after the cursor in
 * log_id order, holds at a gap (a missing id below a visible one) for the gap wait, then skips
 * it but re-checks the skipped ids until the horizon passes (a row that committed late is sent
 * late); keeps progress, the counters and the skipped ranges in the topic's row of
 * latest_cdc_timestamp. Runs on the relay's thread, on the relay's connection.
 */
#include "capture.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SKIPS  128     /* skipped id ranges re-checked for late commits */
#define RECHECK_US 1000000 /* how often the skipped ranges are re-checked */

#define ROW_COLS                                                                           \
	"log_id, CAST(UNIX_TIMESTAMP(event_timestamp) * 1000000 AS SIGNED), customer_id, "  \
	"store_id, address_id, active, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED), "       \
	"first_name, last_name, email FROM users_change_events "

/* A range of ids skipped after the gap wait, re-checked until the horizon passes. */
struct skip {
	int64_t lo, hi;
	int64_t since_us;
};

struct ctrig {
	struct cap base;
	struct cap_config cfg;
	char topic[256], db[65];

	MYSQL *m;
	MYSQL_STMT *sel, *late_sel, *save;
	int step;         /* @@auto_increment_increment */
	int64_t first_id; /* @@auto_increment_offset: the id expected when nothing was read */
	int loaded;       /* progress read from MySQL */

	int64_t cursor;   /* highest id read and handled (produced or skipped) */
	int64_t progress; /* every id <= progress acknowledged (or given up) */
	int64_t progress_event_us;
	int64_t saved_progress;
	uint64_t skipped_total; /* persisted */
	uint64_t skipped_run, resent_run;
	int64_t gap_id, gap_since;

	struct skip skips[MAX_SKIPS];
	int nskips;
	int skips_dirty;             /* the ranges changed since the last save */
	struct skip seen[MAX_SKIPS]; /* gaps seen ahead of the cursor, with when first seen */
	int nseen;
	uint64_t late_out; /* late rows emitted, not yet acknowledged */
	int64_t last_recheck_us;
};

/* "lo-hi,lo-hi,..." of the skipped ranges, for the progress row. */
static void skips_fmt(const struct ctrig *t, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < t->nskips && o + 48 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%lld-%lld", i ? "," : "",
				      (long long)t->skips[i].lo, (long long)t->skips[i].hi);
}

/* Loads skipped ranges saved by an earlier run: they are re-checked from now on. */
static void skips_parse(struct ctrig *t, const char *s)
{
	long long lo, hi;
	int used;
	while (t->nskips < MAX_SKIPS && sscanf(s, "%lld-%lld%n", &lo, &hi, &used) == 2) {
		if (lo > 0 && hi >= lo)
			t->skips[t->nskips++] = (struct skip){lo, hi, u_mono_us()};
		s += used;
		if (*s != ',')
			break;
		s++;
	}
}

static void t_close(struct cap *c)
{
	struct ctrig *t = (struct ctrig *)c;
	if (t->sel)
		mysql_stmt_close(t->sel);
	if (t->late_sel)
		mysql_stmt_close(t->late_sel);
	if (t->save)
		mysql_stmt_close(t->save);
	t->sel = t->late_sel = t->save = NULL;
	t->m = NULL;
}

/* Creates the progress row if missing and, on the first open, loads it. */
static int load_progress(struct ctrig *t, uint64_t *relayed, char *err)
{
	MYSQL_STMT *ins;
	if (db_prepare(t->m, "INSERT IGNORE INTO latest_cdc_timestamp (topic) VALUES (?)", &ins,
		       err) < 0)
		return U_EFAIL;
	MYSQL_BIND b[1];
	unsigned long tl;
	memset(b, 0, sizeof b);
	db_bind_str(&b[0], t->topic, &tl);
	int bad = mysql_stmt_bind_param(ins, b) || mysql_stmt_execute(ins);
	if (bad)
		u_err(err, "cannot create the progress row: %s", mysql_stmt_error(ins));
	mysql_stmt_close(ins);
	if (bad)
		return U_EFAIL;
	MYSQL_STMT *get;
	if (db_prepare(t->m,
		       "SELECT last_log_id, relayed, skipped, pending_gaps FROM "
		       "latest_cdc_timestamp WHERE topic = ?",
		       &get, err) < 0)
		return U_EFAIL;
	long long v[3] = {0, 0, 0};
	char gaps[4001] = "";
	unsigned long glen = 0;
	MYSQL_BIND rb[4];
	memset(rb, 0, sizeof rb);
	for (int i = 0; i < 3; i++)
		db_bind_ll(&rb[i], &v[i]);
	rb[3].buffer_type = MYSQL_TYPE_STRING;
	rb[3].buffer = gaps;
	rb[3].buffer_length = sizeof gaps - 1;
	rb[3].length = &glen;
	bad = mysql_stmt_bind_param(get, b) || mysql_stmt_execute(get) ||
	      mysql_stmt_bind_result(get, rb) || mysql_stmt_store_result(get);
	if (!bad && mysql_stmt_fetch(get) != 0)
		bad = 1;
	if (bad)
		u_err(err, "cannot read the progress row: %s", mysql_stmt_error(get));
	mysql_stmt_close(get);
	if (bad)
		return U_EFAIL;
	if (!t->loaded) { /* first connect of this run; later ones keep the cursor */
		t->loaded = 1;
		t->progress = t->saved_progress = t->cursor = v[0];
		*relayed = (uint64_t)v[1];
		t->skipped_total = (uint64_t)v[2];
		gaps[glen < sizeof gaps ? glen : sizeof gaps - 1] = 0;
		skips_parse(t, gaps);
	}
	return 0;
}

static int t_open(struct cap *c, MYSQL *m, uint64_t *relayed, char *err)
{
	struct ctrig *t = (struct ctrig *)c;
	t->m = m;
	int rc = U_EFAIL;
	long long step = 1;
	if (db_query_ll(m, "SELECT @@auto_increment_increment", &step, err) < 0)
		goto fail;
	t->step = step > 0 ? (int)step : 1;
	long long offset = 1;
	if (db_query_ll(m, "SELECT @@auto_increment_offset", &offset, err) < 0)
		goto fail;
	t->first_id = offset > 0 ? offset : 1;
	rc = db_prepare(m, "SELECT " ROW_COLS "WHERE log_id > ? ORDER BY log_id LIMIT ?", &t->sel,
			err);
	if (rc == U_ENOTFOUND)
		u_err(err, "no users_change_events table in '%s': run cdctop init", t->db);
	if (rc < 0)
		goto fail;
	rc = U_EFAIL;
	if (db_prepare(m, "SELECT " ROW_COLS "WHERE log_id BETWEEN ? AND ? ORDER BY log_id",
		       &t->late_sel, err) < 0 ||
	    db_prepare(m,
		       "UPDATE latest_cdc_timestamp SET last_log_id = ?, "
		       "last_event_timestamp = IF(? = 0, NULL, TIMESTAMPADD("
		       "MICROSECOND, ?, FROM_UNIXTIME(0))), relayed = ?, "
		       "skipped = ?, pending_gaps = ? WHERE topic = ?",
		       &t->save, err) < 0)
		goto fail;
	if ((rc = load_progress(t, relayed, err)) < 0)
		goto fail;
	rc = U_EFAIL;
	if (mysql_autocommit(m, 1)) {
		u_err(err, "cannot set autocommit: %s", mysql_error(m));
		goto fail;
	}
	return 0;
fail:
	t_close(c);
	return rc;
}

static int t_save(struct cap *c, uint64_t relayed, int force, char *err)
{
	struct ctrig *t = (struct ctrig *)c;
	if (!t->save || (!force && t->progress == t->saved_progress && !t->skips_dirty))
		return 0;
	long long p = t->progress, ev = t->progress_event_us, rel = (long long)relayed,
		  sk = (long long)t->skipped_total;
	char gaps[4000];
	skips_fmt(t, gaps, sizeof gaps);
	MYSQL_BIND b[7];
	unsigned long tl, gl;
	memset(b, 0, sizeof b);
	db_bind_ll(&b[0], &p);
	db_bind_ll(&b[1], &ev);
	db_bind_ll(&b[2], &ev);
	db_bind_ll(&b[3], &rel);
	db_bind_ll(&b[4], &sk);
	db_bind_str(&b[5], gaps, &gl);
	db_bind_str(&b[6], t->topic, &tl);
	if (mysql_stmt_bind_param(t->save, b) || mysql_stmt_execute(t->save))
		return u_err(err, "cannot save progress: %s", mysql_stmt_error(t->save));
	t->saved_progress = t->progress;
	t->skips_dirty = 0;
	return 1;
}

/* Records ids [lo, hi] as skipped after the gap wait. */
static void add_skip(struct ctrig *t, const struct cap_sink *s, int64_t lo, int64_t hi)
{
	if (t->nskips == MAX_SKIPS) { /* forget the oldest */
		memmove(t->skips, t->skips + 1, (MAX_SKIPS - 1) * sizeof t->skips[0]);
		t->nskips--;
	}
	t->skips[t->nskips++] = (struct skip){lo, hi, u_mono_us()};
	t->skips_dirty = 1;
	uint64_t n = (uint64_t)((hi - lo) / t->step + 1);
	t->skipped_total += n;
	t->skipped_run += n;
	char msg[128];
	if (lo == hi)
		snprintf(msg, sizeof msg, "gap: skipped log_id %lld after %lld ms (re-checked later)",
			 (long long)lo, (long long)(t->cfg.gap_wait_us / 1000));
	else
		snprintf(msg, sizeof msg, "gap: skipped log_id %lld..%lld after %lld ms (re-checked later)",
			 (long long)lo, (long long)hi, (long long)(t->cfg.gap_wait_us / 1000));
	s->note(s->ctx, msg);
}

/* Removes id from the skipped ranges once its late message is acknowledged. */
static void t_late_acked(struct cap *c, int64_t id)
{
	struct ctrig *t = (struct ctrig *)c;
	if (t->late_out)
		t->late_out--;
	for (int i = 0; i < t->nskips; i++) {
		struct skip *s = &t->skips[i];
		if (id < s->lo || id > s->hi)
			continue;
		if (id == s->lo)
			s->lo += t->step;
		else if (id == s->hi)
			s->hi -= t->step;
		else if (t->nskips < MAX_SKIPS) { /* split around it */
			memmove(s + 2, s + 1, (size_t)(t->nskips - i - 1) * sizeof *s);
			s[1] = (struct skip){id + t->step, s->hi, s->since_us};
			s->hi = id - t->step;
			t->nskips++;
		}
		if (s->lo > s->hi) {
			memmove(s, s + 1, (size_t)(t->nskips - i - 1) * sizeof *s);
			t->nskips--;
		}
		if (t->skipped_total)
			t->skipped_total--;
		if (t->skipped_run)
			t->skipped_run--;
		t->skips_dirty = 1;
		return;
	}
}

/* Re-checks skipped ranges: rows that committed after the gap wait are produced late; a
   range shrinks only when Kafka acknowledges them (t_late_acked), so a crash in between
   loses nothing. Ranges older than the horizon are given up. */
static int recheck_skips(struct ctrig *t, const struct cap_sink *sink, char *err)
{
	int64_t now = u_mono_us();
	struct cap_fetch f;
	struct cap_row row;
	if (t->late_out)
		return 0; /* the last ones are still on their way */
	for (int i = 0; i < t->nskips; i++) {
		struct skip *s = &t->skips[i];
		if (now - s->since_us > t->cfg.horizon_us) {
			memmove(s, s + 1, (size_t)(t->nskips - i - 1) * sizeof *s);
			t->nskips--;
			t->skips_dirty = 1;
			i--;
			continue;
		}
		long long lo = s->lo, hi = s->hi;
		MYSQL_BIND b[2];
		memset(b, 0, sizeof b);
		db_bind_ll(&b[0], &lo);
		db_bind_ll(&b[1], &hi);
		if (mysql_stmt_bind_param(t->late_sel, b) || mysql_stmt_execute(t->late_sel) ||
		    cap_bind_fetch(t->late_sel, &f) || mysql_stmt_store_result(t->late_sel))
			return u_err(err, "mysql: %s", mysql_stmt_error(t->late_sel));
		int found = 0;
		while (mysql_stmt_fetch(t->late_sel) == 0) {
			found++;
			cap_fetch_row(&f, &row);
			if (sink->emit(sink->ctx, &row, 1, err) < 0) {
				mysql_stmt_free_result(t->late_sel);
				return U_EFAIL;
			}
			t->late_out++;
		}
		mysql_stmt_free_result(t->late_sel);
		if (found && t->cfg.verbose)
			u_log("relay: %d skipped row(s) committed late and were relayed", found);
	}
	return 0;
}

/* Notes that ids [lo, hi] were seen missing at now (a gap below a visible id) and returns
   when they were first seen, so that gaps found behind the one being waited for have waited
   too when the cursor reaches them. Forgets gaps the cursor has passed. */
static int64_t seen_gap(struct ctrig *t, int64_t lo, int64_t hi, int64_t now)
{
	int64_t first = now;
	int j = 0;
	for (int i = 0; i < t->nseen; i++) {
		struct skip *g = &t->seen[i];
		if (g->hi <= t->cursor)
			continue; /* passed: drop */
		if (g->lo <= lo && lo <= g->hi && g->since_us < first)
			first = g->since_us;
		t->seen[j++] = *g;
	}
	t->nseen = j;
	if (first == now && t->nseen < MAX_SKIPS)
		t->seen[t->nseen++] = (struct skip){lo, hi, now};
	return first;
}

/* Reads the next rows after the cursor and emits them; rows past a gap wait for it.
   *drained: the select returned fewer rows than its limit, and that limit was not the single
   row read while waiting at a gap (a backlog may stand behind the gap). */
static int read_batch(struct ctrig *t, const struct cap_sink *s, int max, int *drained,
		      char *err)
{
	/* waiting at a gap, only the next row matters: do not re-read the backlog */
	long long after = t->cursor;
	long long limit = t->gap_id ? 1 : max < CAP_BATCH_ROWS ? max : CAP_BATCH_ROWS;
	MYSQL_BIND b[2];
	memset(b, 0, sizeof b);
	db_bind_ll(&b[0], &after);
	db_bind_ll(&b[1], &limit);
	struct cap_fetch f;
	struct cap_row row;
	if (mysql_stmt_bind_param(t->sel, b) || mysql_stmt_execute(t->sel) ||
	    cap_bind_fetch(t->sel, &f)) {
		u_err(err, "mysql: %s", mysql_stmt_error(t->sel));
		return db_conn_lost(t->sel) ? U_ECONNLOST : U_EFAIL;
	}
	int n = 0, rc, got = 0;
	int held = 0;
	int64_t prev = 0, now = u_mono_us();
	while ((rc = mysql_stmt_fetch(t->sel)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		got++;
		if (held) { /* note the later gaps in the rest of the result: their wait starts now */
			if (f.log_id > prev + t->step)
				seen_gap(t, prev + t->step, f.log_id - t->step, now);
			prev = f.log_id;
			continue;
		}
		if (f.log_id <= t->cursor)
			continue;
		int64_t expect = t->cursor ? t->cursor + t->step : t->first_id;
		if (f.log_id > expect) {
			if (t->gap_id != expect) {
				t->gap_id = expect;
				t->gap_since = seen_gap(t, expect, f.log_id - t->step, now);
			}
			if (now - t->gap_since < t->cfg.gap_wait_us) {
				held = 1;
				prev = f.log_id;
				continue;
			}
			add_skip(t, s, expect, f.log_id - t->step);
		}
		t->gap_id = 0;
		cap_fetch_row(&f, &row);
		if (s->emit(s->ctx, &row, 0, err) < 0) {
			mysql_stmt_free_result(t->sel);
			return U_EFAIL;
		}
		t->cursor = f.log_id;
		n++;
	}
	if (rc == 1) {
		u_err(err, "mysql: %s", mysql_stmt_error(t->sel));
		mysql_stmt_free_result(t->sel);
		return db_conn_lost(t->sel) ? U_ECONNLOST : U_EFAIL;
	}
	mysql_stmt_free_result(t->sel);
	if (!held && n == 0)
		t->gap_id = 0;
	*drained = got < limit && limit > 1;
	return n;
}

static int t_next(struct cap *c, const struct cap_sink *s, int max, int *drained, char *err)
{
	struct ctrig *t = (struct ctrig *)c;
	int n = read_batch(t, s, max, drained, err);
	if (n < 0)
		return n;
	int64_t now = u_mono_us();
	if (t->nskips && now - t->last_recheck_us >= RECHECK_US) {
		t->last_recheck_us = now;
		char e[U_ERRLEN];
		if (recheck_skips(t, s, e) < 0)
			s->note(s->ctx, e);
	}
	return n;
}

static void t_acked(struct cap *c, const struct cap_pos *oldest, int64_t log_id,
		    int64_t event_us)
{
	struct ctrig *t = (struct ctrig *)c;
	if (log_id > t->progress) {
		t->progress = log_id;
		t->progress_event_us = event_us;
	}
	/* nothing in flight: ids up to the cursor were skipped or acknowledged */
	if (!oldest && t->cursor > t->progress && !t->gap_id)
		t->progress = t->cursor;
}

static int t_rewind(struct cap *c, const struct cap_sink *s, char *what, size_t wcap, char *err)
{
	struct ctrig *t = (struct ctrig *)c;
	(void)s;
	/* the first change row inside the horizon */
	long long from = 0;
	if (db_query_ll_arg(t->m,
			    "SELECT COALESCE(MIN(log_id), 0) FROM users_change_events WHERE "
			    "event_timestamp >= NOW(6) - INTERVAL ? SECOND",
			    (long long)(t->cfg.horizon_us / 1000000), &from, err) < 0)
		return U_EFAIL;
	int64_t restart = from > 0 ? from - 1 : t->progress;
	if (restart > t->cursor)
		restart = t->cursor;
	snprintf(what, wcap, "change rows after log_id %lld (horizon)", (long long)restart);
	t->resent_run += (uint64_t)(t->cursor - restart);
	t->cursor = restart;
	return 0;
}

static int t_caught_up(struct cap *c)
{
	return !((struct ctrig *)c)->gap_id;
}

static int64_t t_waiting(struct cap *c, char *state, size_t cap)
{
	struct ctrig *t = (struct ctrig *)c;
	if (!t->gap_id)
		return 0;
	snprintf(state, cap, "waiting for gap at log_id %lld", (long long)t->gap_id);
	return t->gap_since;
}

static int64_t t_progress(struct cap *c)
{
	return ((struct ctrig *)c)->progress;
}

static const char *t_where(struct cap *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "log_id %lld", (long long)((struct ctrig *)c)->cursor);
	return buf;
}

static void t_stats(struct cap *c, int64_t queued, struct relay_stats *st)
{
	struct ctrig *t = (struct ctrig *)c;
	(void)queued;
	st->cursor = t->cursor;
	st->progress = t->progress;
	st->gap_id = t->gap_id;
	st->gap_wait_left_us = t->gap_id ? t->cfg.gap_wait_us - (u_mono_us() - t->gap_since) : 0;
	st->skipped = t->skipped_run;
	st->resent = t->resent_run;
}

static void t_free(struct cap *c)
{
	t_close(c);
	free(c);
}

static const struct cap_ops trigger_ops = {
    .clock_lag_us = 0,
    .open = t_open,
    .next = t_next,
    .acked = t_acked,
    .late_acked = t_late_acked,
    .rewind = t_rewind,
    .save = t_save,
    .caught_up = t_caught_up,
    .waiting = t_waiting,
    .progress = t_progress,
    .where = t_where,
    .stats = t_stats,
    .close = t_close,
    .free = t_free,
};

struct cap *cap_trigger_new(const struct cap_config *cfg)
{
	struct ctrig *t = u_calloc(1, sizeof *t);
	t->base.ops = &trigger_ops;
	t->cfg = *cfg;
	snprintf(t->topic, sizeof t->topic, "%s", cfg->topic);
	snprintf(t->db, sizeof t->db, "%s", cfg->db->db);
	t->cfg.topic = t->topic;
	t->cfg.db = NULL; /* not kept: the relay owns the connection */
	t->step = 1;
	return &t->base;
}
