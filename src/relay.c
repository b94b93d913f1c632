/*
 * relay.c - capture + relay. Reads users_change_events rows after the cursor in log_id order
 * (holding at a gap for --gap-wait, then skipping it but re-checking the skipped ids for the
 * horizon), publishes each as an envelope with an idempotent acks=all producer, and advances
 * latest_cdc_timestamp only to the highest log_id below which every message is acknowledged.
 * Runs on one thread (relay_run); other threads only call relay_stats and relay_stop. Never
 * skips a failed delivery (it is re-sent), never blocks the caller's UI, never exits the
 * process: errors are published in the stats and, when verbose, logged once per state change.
 */
#include "relay.h"
#include "binlog.h"
#include "envelope.h"
#include "heartbeat.h"
#include "tablestats.h"
#include "util.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_ROWS   5000        /* rows per SELECT */
#define MAX_INFLIGHT 200000      /* unacknowledged messages before reading pauses */
#define MAX_SKIPS    128         /* skipped id ranges re-checked for late commits */
#define LATE_BIT     (1ULL << 63) /* opaque flag: a late row, outside the progress queue */
#define HB_SEQ       (1ULL << 62) /* opaque of a heartbeat message: no progress attached */
#define HB_EVERY_US  500000       /* a heartbeat at most this often, while caught up */
#define HB_BINLOG_LAG_US 1500000  /* binlog capture: the clock stays this far behind NOW() */
#define SAVE_EVERY_US  100000
#define RECHECK_US     1000000
#define IDLE_MAX_US    50000
#define ACTIVE_US      1000000 /* rows seen this recently: keep polling every ms */

/* A produced change row waiting for its acknowledgement. */
struct entry {
	int64_t log_id;
	int64_t event_us;
	int acked;
	struct blc_pos resume; /* binlog capture: where to restart to read it again */
};

/* A range of ids skipped after the gap wait, re-checked until the horizon passes. */
struct skip {
	int64_t lo, hi;
	int64_t since_us;
};

/* A message whose delivery failed, kept (key and value copied) to be produced again. */
struct resend {
	void *key, *val;
	size_t klen, vlen;
	uint64_t seq;
	struct resend *next;
};

struct relay {
	struct relay_config cfg;
	struct kc *kc;
	struct db_target db;
	atomic_int stop; /* lock-free: set from signal handlers and other threads */

	MYSQL *m;
	MYSQL_STMT *sel, *late_sel, *save;
	rd_kafka_t *rk;
	int step; /* @@auto_increment_increment */
	int64_t first_id; /* @@auto_increment_offset: the id expected when nothing was read */
	struct blc *bl;           /* binlog capture: the replication stream */
	struct env_enc *enc;      /* the envelope, built once, updated per row */
	struct blc_pos pos_progress, pos_saved; /* binlog capture: resume position */
	MYSQL_STMT *save_bl;
	int loaded; /* progress read from MySQL */

	int64_t cursor;   /* highest id read and handled (produced or skipped) */
	int64_t progress; /* every id <= progress acknowledged (or given up) */
	int64_t progress_event_us;
	int64_t saved_progress;
	uint64_t relayed_total; /* messages acknowledged into this topic instance (persisted) */
	uint64_t skipped_total;
	int64_t gap_id, gap_since;

	struct entry *q; /* ring of produced entries, in log_id order */
	size_t qcap, qhead, qn;
	uint64_t qhead_seq;
	uint64_t late_inflight;

	struct skip skips[MAX_SKIPS];
	int nskips;
	int skips_dirty; /* the ranges changed since the last save */
	struct skip seen[MAX_SKIPS]; /* gaps seen ahead of the cursor, with when first seen */
	int nseen;
	struct resend *resends;
	int fatal_delivery; /* once mode: a delivery failure ends the run */

	pthread_mutex_t mu; /* guards st */
	struct relay_stats st;
	int64_t last_save_us, last_recheck_us;
	struct tstats *ts; /* the pane's table figures, looked up on their own thread */
	int64_t rate_t0;
	uint64_t rate_n0;
	char state[64], logged_state[64];
	int64_t state_since;
	int kafka_down;     /* all brokers down reported, no delivery since */
	int64_t last_ack_us; /* when the last delivery report came (mono) */

	char lock_name[65];  /* GET_LOCK name held on m: one relay per database and topic */
	char hb_topic[256];  /* the heartbeat topic, "" when heartbeats are off */
	int64_t last_hb_us;  /* mono time of the last heartbeat sent */
	int nparts;          /* partitions of the topic */
	int64_t acked_next[HB_MAX_PARTS]; /* per partition: the offset after the last acked */
};

static void skip_remove(struct relay *r, int64_t id);
static void skips_fmt(const struct relay *r, char *buf, size_t cap);
static void skips_parse(struct relay *r, const char *s);
static int source_open(struct relay *r, char *err);

/* Publishes a state change: into the stats, and once to the log when verbose. */
static void set_state(struct relay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_state(struct relay *r, const char *fmt, ...)
{
	char s[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	if (!strcmp(s, r->state))
		return;
	snprintf(r->state, sizeof r->state, "%s", s);
	r->state_since = u_mono_us();
	pthread_mutex_lock(&r->mu);
	snprintf(r->st.state, sizeof r->st.state, "%s", s);
	pthread_mutex_unlock(&r->mu);
}

/* Logs the state once it has held for a second (so a busy relay switching between
   "relaying" and "caught up" every batch says so once, not per batch). */
static void log_state(struct relay *r, int now_too)
{
	if (!r->cfg.verbose || !strcmp(r->state, r->logged_state))
		return;
	int first = !r->logged_state[0] || !strcmp(r->logged_state, "connecting");
	if (!now_too && !first && u_mono_us() - r->state_since < 1000000)
		return;
	snprintf(r->logged_state, sizeof r->logged_state, "%s", r->state);
	if (!strncmp(r->state, "kafka", 5)) { /* say why, once */
		char why[256];
		pthread_mutex_lock(&r->mu);
		snprintf(why, sizeof why, "%s", r->st.last_error);
		pthread_mutex_unlock(&r->mu);
		u_log("relay: %s (%s)", r->state, why[0] ? why : "no acknowledgement");
	} else {
		u_log("relay: %s", r->state);
	}
}

/* Records the last error for the status line (logged once per distinct message). */
static void set_error(struct relay *r, const char *msg)
{
	pthread_mutex_lock(&r->mu);
	int same = !strcmp(r->st.last_error, msg);
	snprintf(r->st.last_error, sizeof r->st.last_error, "%s", msg);
	pthread_mutex_unlock(&r->mu);
	if (!same && r->cfg.verbose)
		u_log("relay: %s", msg);
}

struct relay *relay_new(const struct relay_config *cfg, struct kc *kc,
			const struct db_target *db, char *err)
{
	if (!cfg->topic || !u_valid_topic(cfg->topic)) {
		u_err(err, "bad topic name");
		return NULL;
	}
	struct relay *r = u_calloc(1, sizeof *r);
	r->cfg = *cfg;
	r->kc = kc;
	r->db = *db;
	r->step = 1;
	pthread_mutex_init(&r->mu, NULL);
	r->qcap = 1024;
	r->q = u_malloc(r->qcap * sizeof *r->q);
	r->enc = env_enc_new();
	if (!r->enc) {
		u_err(err, "out of memory for the envelope encoder");
		relay_free(r);
		return NULL;
	}
	int ln = snprintf(r->lock_name, sizeof r->lock_name, "cdctop.relay.%s.%s", db->db, cfg->topic);
	if (ln < 0 || (size_t)ln >= sizeof r->lock_name) { /* long names: a hash of them */
		uint64_t h = u_hash(u_hash(u_hash(U_HASH_SEED, db->db), "."), cfg->topic);
		snprintf(r->lock_name, sizeof r->lock_name, "cdctop.relay.%016llx",
			 (unsigned long long)h);
	}
	if (cfg->heartbeat && hb_topic(cfg->topic, r->hb_topic, sizeof r->hb_topic) < 0)
		r->hb_topic[0] = 0;
	for (int i = 0; i < HB_MAX_PARTS; i++)
		r->acked_next[i] = -1;
	snprintf(r->st.state, sizeof r->st.state, "starting");
	return r;
}

int relay_claim(struct relay *r, char *err)
{
	if (r->m)
		return 0;
	int rc = source_open(r, err);
	return rc == U_EFATAL ? RELAY_E_FATAL : rc < 0 ? -1 : 0;
}

void relay_stop(struct relay *r)
{
	atomic_store_explicit(&r->stop, 1, memory_order_relaxed);
}

void relay_stats(struct relay *r, struct relay_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
}

/* Sleeps up to us, serving delivery reports meanwhile; returns early on stop. */
static void idle(struct relay *r, int64_t us)
{
	int64_t end = u_mono_us() + us;
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int64_t left = end - u_mono_us();
		if (left <= 0)
			break;
		int ms = (int)(left / 1000);
		if (ms > 50)
			ms = 50;
		if (r->rk)
			rd_kafka_poll(r->rk, ms ? ms : 1);
		else
			u_sleep_us(ms ? ms * 1000 : 1000);
	}
}

/* ---- MySQL side ---- */

/* Closes the source: the connection and its statements. */
static void source_close(struct relay *r)
{
	if (r->sel)
		mysql_stmt_close(r->sel);
	if (r->late_sel)
		mysql_stmt_close(r->late_sel);
	if (r->save)
		mysql_stmt_close(r->save);
	if (r->save_bl)
		mysql_stmt_close(r->save_bl);
	r->sel = r->late_sel = r->save = r->save_bl = NULL;
	if (r->m)
		mysql_close(r->m);
	r->m = NULL;
}

#define ROW_COLS                                                                           \
	"log_id, CAST(UNIX_TIMESTAMP(event_timestamp) * 1000000 AS SIGNED), customer_id, "  \
	"store_id, address_id, active, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED), "       \
	"first_name, last_name, email FROM users_change_events "

/* Prepares one statement into *out: 0, or U_ENOTFOUND (a table it names does not exist) or
   U_EFAIL, with err. */
static int prepare_code(MYSQL *m, const char *sql, MYSQL_STMT **out, char *err)
{
	MYSQL_STMT *st = *out = mysql_stmt_init(m);
	if (!st)
		return u_err(err, "out of memory");
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		unsigned code = mysql_stmt_errno(st);
		u_err(err, "cannot prepare '%.60s...': %s", sql, mysql_stmt_error(st));
		mysql_stmt_close(st);
		*out = NULL;
		return code == ER_NO_SUCH_TABLE ? U_ENOTFOUND : U_EFAIL;
	}
	return 0;
}

/* Prepares one statement, or sets err. */
static MYSQL_STMT *prepare(MYSQL *m, const char *sql, char *err)
{
	MYSQL_STMT *st;
	return prepare_code(m, sql, &st, err) < 0 ? NULL : st;
}

/* Binds one string parameter. */
static void bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	*len = strlen(s);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	b->buffer_length = *len;
	b->length = len;
}

/* Binds one 64-bit integer. */
static void bind_ll(MYSQL_BIND *b, void *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
}

static int source_open_binlog(struct relay *r, char *err);

/* Runs a prepared query binding one string and reading one integer (NULL: -1). */
static int query_ll_str(MYSQL *m, const char *sql, const char *arg, long long *out, char *err)
{
	MYSQL_STMT *st = prepare(m, sql, err);
	if (!st)
		return -1;
	MYSQL_BIND b, rb;
	unsigned long al;
	my_bool isnull = 0;
	memset(&b, 0, sizeof b);
	memset(&rb, 0, sizeof rb);
	bind_str(&b, arg, &al);
	bind_ll(&rb, out);
	rb.is_null = &isnull;
	int bad = mysql_stmt_bind_param(st, &b) || mysql_stmt_execute(st) ||
		  mysql_stmt_bind_result(st, &rb) || mysql_stmt_store_result(st) ||
		  mysql_stmt_fetch(st) != 0;
	if (bad)
		u_err(err, "mysql: %s", mysql_stmt_error(st));
	else if (isnull)
		*out = -1;
	mysql_stmt_close(st);
	return bad ? -1 : 0;
}

/*
 * Takes the named lock of this database and topic on the relay's connection (GET_LOCK: it
 * dies with the connection, so with the process, kill -9 included). Held by another
 * connection: fatal, with the holder named. The lock is taken again on each reconnect.
 */
static int take_lock(struct relay *r, char *err)
{
	long long got = 0, holder = -1;
	if (query_ll_str(r->m, "SELECT GET_LOCK(?, 0)", r->lock_name, &got, err) < 0)
		return -1;
	if (got == 1)
		return 0;
	query_ll_str(r->m, "SELECT IS_USED_LOCK(?)", r->lock_name, &holder, err);
	char who[200] = "";
	if (holder > 0) {
		char q[160];
		snprintf(q, sizeof q,
			 "SELECT CONCAT(USER, '@', HOST) FROM information_schema.PROCESSLIST WHERE ID = %lld",
			 holder);
		if (!mysql_query(r->m, q)) {
			MYSQL_RES *res = mysql_store_result(r->m);
			MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
			if (row && row[0])
				snprintf(who, sizeof who, ", %.120s", row[0]);
			if (res)
				mysql_free_result(res);
		}
	}
	u_err(err,
	      "another cdctop relay (MySQL connection %lld%s) is relaying %s to topic %s: "
	      "stop it first, or use another topic with -t",
	      holder, who, r->db.db, r->cfg.topic);
	return U_EFATAL;
}

/* Opens the source: connects (db_connect), takes the lock, checks the CDC tables, prepares
   statements and loads the saved progress. 0; U_EFATAL (the lock is another relay's, a server
   setting), U_ENOTFOUND (no CDC tables: run cdctop init) or U_EFAIL, with err. */
static int source_open(struct relay *r, char *err)
{
	r->m = db_connect(&r->db, 1, err);
	if (!r->m)
		return U_EFAIL;
	int rc = take_lock(r, err);
	if (rc < 0)
		goto fail;
	if (r->cfg.binlog)
		return source_open_binlog(r, err);
	rc = U_EFAIL;
	long long step = 1;
	if (db_query_ll(r->m, "SELECT @@auto_increment_increment", &step, err) < 0)
		goto fail;
	r->step = step > 0 ? (int)step : 1;
	long long offset = 1;
	if (db_query_ll(r->m, "SELECT @@auto_increment_offset", &offset, err) < 0)
		goto fail;
	r->first_id = offset > 0 ? offset : 1;
	rc = prepare_code(r->m, "SELECT " ROW_COLS "WHERE log_id > ? ORDER BY log_id LIMIT ?",
			  &r->sel, err);
	if (rc == U_ENOTFOUND)
		u_err(err, "no users_change_events table in '%s': run cdctop init", r->db.db);
	if (rc < 0)
		goto fail;
	rc = U_EFAIL;
	r->late_sel =
	    prepare(r->m, "SELECT " ROW_COLS "WHERE log_id BETWEEN ? AND ? ORDER BY log_id", err);
	r->save = r->late_sel ? prepare(r->m,
					"UPDATE latest_cdc_timestamp SET last_log_id = ?, "
					"last_event_timestamp = IF(? = 0, NULL, TIMESTAMPADD("
					"MICROSECOND, ?, FROM_UNIXTIME(0))), relayed = ?, "
					"skipped = ?, pending_gaps = ? WHERE topic = ?",
					err)
			      : NULL;
	if (!r->save)
		goto fail;
	/* the progress row of this topic */
	MYSQL_STMT *ins = prepare(r->m, "INSERT IGNORE INTO latest_cdc_timestamp (topic) VALUES (?)",
				  err);
	if (!ins)
		goto fail;
	MYSQL_BIND b[1];
	unsigned long tl;
	memset(b, 0, sizeof b);
	bind_str(&b[0], r->cfg.topic, &tl);
	int bad = mysql_stmt_bind_param(ins, b) || mysql_stmt_execute(ins);
	if (bad)
		u_err(err, "cannot create the progress row: %s", mysql_stmt_error(ins));
	mysql_stmt_close(ins);
	if (bad)
		goto fail;
	MYSQL_STMT *get = prepare(r->m,
				  "SELECT last_log_id, relayed, skipped, pending_gaps FROM "
				  "latest_cdc_timestamp WHERE topic = ?",
				  err);
	if (!get)
		goto fail;
	long long v[3] = {0, 0, 0};
	char gaps[4001] = "";
	unsigned long glen = 0;
	MYSQL_BIND rb[4];
	memset(rb, 0, sizeof rb);
	for (int i = 0; i < 3; i++)
		bind_ll(&rb[i], &v[i]);
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
		goto fail;
	if (!r->loaded) { /* first connect of this run; later ones keep the cursor */
		r->loaded = 1;
		r->progress = r->saved_progress = r->cursor = v[0];
		r->relayed_total = (uint64_t)v[1];
		r->skipped_total = (uint64_t)v[2];
		gaps[glen < sizeof gaps ? glen : sizeof gaps - 1] = 0;
		skips_parse(r, gaps);
	}
	if (mysql_autocommit(r->m, 1)) {
		u_err(err, "cannot set autocommit: %s", mysql_error(r->m));
		goto fail;
	}
	return 0;
fail:
	source_close(r);
	return rc;
}

/* Binlog capture: checks the preconditions, prepares the progress statement, loads the saved
   position. A failed precondition is fatal (retrying cannot fix a server setting). */
static int source_open_binlog(struct relay *r, char *err)
{
	int rc = U_EFATAL;
	if (blc_check(r->m, err) < 0)
		goto fail;
	rc = prepare_code(r->m,
			  "INSERT INTO latest_cdc_binlog (topic, file, pos, last_customer_id, "
			  "relayed) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE file = "
			  "VALUES(file), pos = VALUES(pos), last_customer_id = "
			  "VALUES(last_customer_id), relayed = VALUES(relayed)",
			  &r->save_bl, err);
	if (rc == U_ENOTFOUND)
		u_err(err, "no latest_cdc_binlog table in '%s': run cdctop init", r->db.db);
	if (rc < 0)
		goto fail;
	rc = U_EFAIL;
	if (!r->loaded) {
		MYSQL_STMT *get = prepare(r->m,
					  "SELECT file, pos, last_customer_id, relayed FROM "
					  "latest_cdc_binlog WHERE topic = ?",
					  err);
		if (!get)
			goto fail;
		MYSQL_BIND b[1], rb[4];
		unsigned long tl, fl = 0;
		long long pos = 0, last = 0, rel = 0;
		char file[64] = "";
		memset(b, 0, sizeof b);
		memset(rb, 0, sizeof rb);
		bind_str(&b[0], r->cfg.topic, &tl);
		rb[0].buffer_type = MYSQL_TYPE_STRING;
		rb[0].buffer = file;
		rb[0].buffer_length = sizeof file - 1;
		rb[0].length = &fl;
		bind_ll(&rb[1], &pos);
		bind_ll(&rb[2], &last);
		bind_ll(&rb[3], &rel);
		int bad = mysql_stmt_bind_param(get, b) || mysql_stmt_execute(get) ||
			  mysql_stmt_bind_result(get, rb) || mysql_stmt_store_result(get);
		if (bad)
			u_err(err, "cannot read the binlog progress: %s", mysql_stmt_error(get));
		else if (mysql_stmt_fetch(get) == 0) {
			file[fl < sizeof file ? fl : sizeof file - 1] = 0;
			snprintf(r->pos_progress.file, sizeof r->pos_progress.file, "%s", file);
			r->pos_progress.pos = (uint64_t)pos;
			r->pos_saved = r->pos_progress;
			r->progress = r->saved_progress = r->cursor = last;
			r->relayed_total = (uint64_t)rel;
		}
		mysql_stmt_close(get);
		if (bad)
			goto fail;
		r->loaded = 1;
	}
	return 0;
fail:
	source_close(r);
	return rc;
}

/* Binlog capture: saves the resume position if it moved. */
static int save_binlog_progress(struct relay *r, int force, char *err)
{
	if (!r->pos_progress.file[0] ||
	    (!force && !blc_pos_cmp(&r->pos_progress, &r->pos_saved) &&
	     r->progress == r->saved_progress))
		return 0;
	/* a save is itself a binlog event that moves the position: when only the position
	   moved (no customer relayed), save it once a minute, so an idle relay stays idle
	   yet never restarts at a file that has since been purged */
	if (!force && r->progress == r->saved_progress &&
	    u_mono_us() - r->last_save_us < 60 * 1000000LL)
		return 0;
	long long pos = (long long)r->pos_progress.pos, last = r->progress,
		  rel = (long long)r->relayed_total;
	MYSQL_BIND b[5];
	unsigned long tl, fl;
	memset(b, 0, sizeof b);
	bind_str(&b[0], r->cfg.topic, &tl);
	bind_str(&b[1], r->pos_progress.file, &fl);
	bind_ll(&b[2], &pos);
	bind_ll(&b[3], &last);
	bind_ll(&b[4], &rel);
	if (mysql_stmt_bind_param(r->save_bl, b) || mysql_stmt_execute(r->save_bl))
		return u_err(err, "cannot save progress: %s", mysql_stmt_error(r->save_bl));
	r->pos_saved = r->pos_progress;
	r->saved_progress = r->progress;
	r->last_save_us = u_mono_us();
	return 0;
}

/* Saves progress (and counters) if it moved or force. -1 on a MySQL error. */
static int save_progress(struct relay *r, int force, char *err)
{
	if (r->m && r->cfg.binlog)
		return save_binlog_progress(r, force, err);
	if (!r->m || (!force && r->progress == r->saved_progress && !r->skips_dirty))
		return 0;
	long long p = r->progress, ev = r->progress_event_us, rel = (long long)r->relayed_total,
		  sk = (long long)r->skipped_total;
	char gaps[4000];
	skips_fmt(r, gaps, sizeof gaps);
	MYSQL_BIND b[7];
	unsigned long tl, gl;
	memset(b, 0, sizeof b);
	bind_ll(&b[0], &p);
	bind_ll(&b[1], &ev);
	bind_ll(&b[2], &ev);
	bind_ll(&b[3], &rel);
	bind_ll(&b[4], &sk);
	bind_str(&b[5], gaps, &gl);
	bind_str(&b[6], r->cfg.topic, &tl);
	if (mysql_stmt_bind_param(r->save, b) || mysql_stmt_execute(r->save))
		return u_err(err, "cannot save progress: %s", mysql_stmt_error(r->save));
	r->saved_progress = r->progress;
	r->skips_dirty = 0;
	r->last_save_us = u_mono_us();
	return 0;
}

/* ---- Kafka side ---- */

/* Pushes a produced entry onto the progress queue; returns its sequence number. */
static uint64_t q_push(struct relay *r, int64_t log_id, int64_t event_us,
		       const struct blc_pos *resume)
{
	if (r->qn == r->qcap) {
		struct entry *nq = u_malloc(2 * r->qcap * sizeof *nq);
		for (size_t i = 0; i < r->qn; i++)
			nq[i] = r->q[(r->qhead + i) % r->qcap];
		free(r->q);
		r->q = nq;
		r->qhead = 0;
		r->qcap *= 2;
	}
	struct entry *e = &r->q[(r->qhead + r->qn) % r->qcap];
	e->log_id = log_id;
	e->event_us = event_us;
	e->acked = 0;
	if (resume)
		e->resume = *resume;
	r->qn++;
	return r->qhead_seq + r->qn - 1;
}

/* Moves progress over the acknowledged head of the queue. */
static void q_advance(struct relay *r)
{
	while (r->qn && r->q[r->qhead].acked) {
		struct entry *e = &r->q[r->qhead];
		if (e->log_id > r->progress) {
			r->progress = e->log_id;
			r->progress_event_us = e->event_us;
		}
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qn--;
		r->qhead_seq++;
	}
	if (r->cfg.binlog) { /* resume at the oldest unacknowledged row's transaction */
		struct blc_stats bs;
		if (r->qn)
			r->pos_progress = r->q[r->qhead].resume;
		else if (r->bl) {
			blc_stats(r->bl, &bs);
			if (bs.safe.file[0])
				r->pos_progress = bs.safe;
		}
		return;
	}
	/* nothing in flight: ids up to the cursor were skipped or acknowledged */
	if (!r->qn && r->cursor > r->progress && !r->gap_id)
		r->progress = r->cursor;
}

/* Delivery report: acknowledges an entry, or keeps a failed message for re-sending. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	struct relay *r = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)msg->_private;
	if (seq == HB_SEQ)
		return; /* a heartbeat: lost ones are simply replaced by the next */
	if (!msg->err && msg->partition >= 0 && msg->partition < HB_MAX_PARTS &&
	    msg->offset + 1 > r->acked_next[msg->partition])
		r->acked_next[msg->partition] = msg->offset + 1;
	if (msg->err) {
		char e[200];
		snprintf(e, sizeof e, "kafka: delivery failed (%s), re-sending",
			 rd_kafka_err2str(msg->err));
		pthread_mutex_lock(&r->mu);
		r->st.delivery_errors++;
		r->st.kafka_ok = 0;
		pthread_mutex_unlock(&r->mu);
		set_error(r, e);
		if (r->cfg.once)
			r->fatal_delivery = (int)msg->err;
		struct resend *s = u_calloc(1, sizeof *s);
		s->klen = msg->key_len;
		s->vlen = msg->len;
		s->key = u_malloc(s->klen ? s->klen : 1);
		s->val = u_malloc(s->vlen ? s->vlen : 1);
		if (msg->key_len)
			memcpy(s->key, msg->key, s->klen);
		if (msg->len)
			memcpy(s->val, msg->payload, s->vlen);
		s->seq = seq;
		s->next = r->resends;
		r->resends = s;
		return;
	}
	r->relayed_total++;
	r->kafka_down = 0;
	r->last_ack_us = u_mono_us();
	pthread_mutex_lock(&r->mu);
	r->st.relayed++;
	r->st.kafka_ok = 1;
	pthread_mutex_unlock(&r->mu);
	if (seq & LATE_BIT) {
		r->late_inflight--;
		if (!r->cfg.binlog)
			skip_remove(r, (int64_t)(seq & ~LATE_BIT));
		return;
	}
	if (seq >= r->qhead_seq && seq - r->qhead_seq < r->qn)
		r->q[(r->qhead + (seq - r->qhead_seq)) % r->qcap].acked = 1;
}

/* Error callback: broker-level trouble shows as kafka down until a delivery succeeds. */
static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	(void)rk;
	struct relay *r = opaque;
	char e[256];
	if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__TRANSPORT ||
	    code == RD_KAFKA_RESP_ERR__RESOLVE) {
		pthread_mutex_lock(&r->mu);
		r->st.kafka_ok = 0;
		pthread_mutex_unlock(&r->mu);
		if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
			r->kafka_down = 1;
	}
	/* the status line gets librdkafka's words; the log gets the state change */
	snprintf(e, sizeof e, "kafka: %.200s", reason);
	pthread_mutex_lock(&r->mu);
	snprintf(r->st.last_error, sizeof r->st.last_error, "%s", e);
	pthread_mutex_unlock(&r->mu);
	if (code == RD_KAFKA_RESP_ERR__FATAL) {
		char fe[200];
		rd_kafka_fatal_error(r->rk, fe, sizeof fe);
		snprintf(e, sizeof e, "kafka: fatal producer error: %.180s", fe);
		set_error(r, e);
	}
}

/* Sets a property unless the user set it with -X/-F. */
static int set_default(struct relay *r, rd_kafka_conf_t *c, const char *k, const char *v, char *err)
{
	char e[256];
	if (kc_has_prop(r->kc, k))
		return 0;
	if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
		return u_err(err, "kafka property %s: %s", k, e);
	return 0;
}

/* Creates the idempotent producer and makes sure the topic exists. */
static int kafka_open(struct relay *r, char *err)
{
	rd_kafka_conf_t *c = kc_conf(r->kc, err);
	if (!c)
		return -1;
	if (set_default(r, c, "enable.idempotence", "true", err) < 0 ||
	    set_default(r, c, "acks", "all", err) < 0 ||
	    set_default(r, c, "linger.ms", "2", err) < 0 ||
	    set_default(r, c, "batch.num.messages", "10000", err) < 0 ||
	    set_default(r, c, "queue.buffering.max.messages", "1000000", err) < 0 ||
	    set_default(r, c, "queue.buffering.max.kbytes", "1048576", err) < 0 ||
	    set_default(r, c, "message.timeout.ms", r->cfg.once ? "20000" : "60000", err) < 0 ||
	    set_default(r, c, "reconnect.backoff.max.ms", "1000", err) < 0) {
		rd_kafka_conf_destroy(c);
		return -1;
	}
	rd_kafka_conf_set_opaque(c, r);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_error_cb(c, on_error);
	char e[512];
	r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
	if (!r->rk) {
		rd_kafka_conf_destroy(c);
		return u_err(err, "kafka: cannot create producer: %s", e);
	}
	if (kc_ensure_topic(r->kc, r->rk, r->cfg.topic, r->cfg.partitions, 10000, err) < 0)
		return -1;
	if (r->hb_topic[0] && kc_ensure_topic(r->kc, r->rk, r->hb_topic, 1, 10000, e) < 0) {
		char msg[U_ERRLEN];
		snprintf(msg, sizeof msg,
			 "no heartbeat topic (%.150s): windows turn final only as new rows arrive", e);
		set_error(r, msg);
		if (r->cfg.verbose)
			u_log("relay: %s", msg);
		r->hb_topic[0] = 0;
	}
	return 0;
}

/* Total messages the topic holds ever written (sum of high watermarks); -1 if unknown. */
static int64_t topic_high_sum(struct relay *r, char *err)
{
	int n = kc_topic_partitions(r->rk, r->cfg.topic, 10000, err);
	if (n < 0)
		return -1;
	int64_t sum = 0;
	for (int p = 0; p < n; p++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(r->rk, r->cfg.topic, p, &lo, &hi, 5000);
		if (e)
			return u_err(err, "kafka: cannot read the watermarks of %s[%d]: %s",
				     r->cfg.topic, p, rd_kafka_err2str(e));
		sum += hi;
		/* what earlier relays wrote: a heartbeat claims at least that much */
		if (p < HB_MAX_PARTS && hi > r->acked_next[p])
			r->acked_next[p] = hi;
	}
	r->nparts = n < HB_MAX_PARTS ? n : HB_MAX_PARTS;
	return sum;
}

static int resend_snapshot(struct relay *r, char *err);

/* If the topic holds less than progress says was sent, re-send from the horizon. */
static int check_lost_topic(struct relay *r, char *err)
{
	int64_t held = topic_high_sum(r, err);
	if (held < 0)
		return -1;
	if ((uint64_t)held >= r->relayed_total || r->progress == 0)
		return 0;
	if (r->cfg.binlog) {
		char msg[256];
		snprintf(msg, sizeof msg,
			 "topic %s holds %lld messages but %llu were sent: re-sending the customers "
			 "of the horizon from the customer table",
			 r->cfg.topic, (long long)held, (unsigned long long)r->relayed_total);
		set_error(r, msg);
		r->relayed_total = (uint64_t)held;
		return resend_snapshot(r, err);
	}
	/* the first change row inside the horizon */
	long long from = 0;
	if (db_query_ll_arg(r->m,
			    "SELECT COALESCE(MIN(log_id), 0) FROM users_change_events WHERE "
			    "event_timestamp >= NOW(6) - INTERVAL ? SECOND",
			    (long long)(r->cfg.horizon_us / 1000000), &from, err) < 0)
		return -1;
	int64_t restart = from > 0 ? from - 1 : r->progress;
	if (restart > r->cursor)
		restart = r->cursor;
	char msg[256];
	snprintf(msg, sizeof msg,
		 "topic %s holds %lld messages but %llu were sent: re-sending change rows "
		 "after log_id %lld (horizon)",
		 r->cfg.topic, (long long)held, (unsigned long long)r->relayed_total,
		 (long long)restart);
	set_error(r, msg);
	pthread_mutex_lock(&r->mu);
	r->st.resent += (uint64_t)(r->cursor - restart);
	pthread_mutex_unlock(&r->mu);
	r->relayed_total = (uint64_t)held;
	r->cursor = restart;
	return 0;
}

/* ---- the capture loop ---- */

/* One fetched change row. */
struct row {
	long long log_id, event_us, customer_id, store_id, address_id, active, create_s;
	char first[46], last[46], email[51];
	unsigned long lf, ll, le;
	my_bool email_null;
};

/* Binds the result columns of a row select into rw. */
static int bind_row(MYSQL_STMT *st, struct row *rw)
{
	MYSQL_BIND b[10];
	memset(b, 0, sizeof b);
	bind_ll(&b[0], &rw->log_id);
	bind_ll(&b[1], &rw->event_us);
	bind_ll(&b[2], &rw->customer_id);
	bind_ll(&b[3], &rw->store_id);
	bind_ll(&b[4], &rw->address_id);
	bind_ll(&b[5], &rw->active);
	bind_ll(&b[6], &rw->create_s);
	char *bufs[3] = {rw->first, rw->last, rw->email};
	unsigned long *lens[3] = {&rw->lf, &rw->ll, &rw->le};
	size_t sizes[3] = {sizeof rw->first, sizeof rw->last, sizeof rw->email};
	for (int i = 0; i < 3; i++) {
		b[7 + i].buffer_type = MYSQL_TYPE_STRING;
		b[7 + i].buffer = bufs[i];
		b[7 + i].buffer_length = sizes[i] - 1;
		b[7 + i].length = lens[i];
	}
	b[9].is_null = &rw->email_null;
	return mysql_stmt_bind_result(st, b) ? -1 : 0;
}

/* Encodes and produces one change; seq is its opaque. -1 (err) only on a local error. */
static int produce(struct relay *r, const struct cdc_row *c, uint64_t seq, char *err)
{
	char buf[ENV_MAX], key[24];
	int n = env_enc_encode(r->enc, c, r->db.db, u_now_us(), buf, sizeof buf);
	int kn = env_key(c, key, sizeof key);
	if (n < 0)
		return u_err(err, "cannot encode log_id %lld", (long long)c->log_id);
	for (;;) {
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    r->rk, RD_KAFKA_V_TOPIC(r->cfg.topic), RD_KAFKA_V_KEY(key, (size_t)kn),
		    RD_KAFKA_V_VALUE(buf, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
		if (!e)
			break;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return u_err(err, "kafka: cannot produce: %s", rd_kafka_err2str(e));
		rd_kafka_poll(r->rk, 10);
	}
	pthread_mutex_lock(&r->mu);
	r->st.produced++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* Produces one fetched change row; seq is its opaque. */
static int produce_row(struct relay *r, const struct row *rw, uint64_t seq, char *err)
{
	struct cdc_row c;
	memset(&c, 0, sizeof c);
	c.log_id = rw->log_id;
	c.event_us = rw->event_us;
	c.customer_id = (uint32_t)rw->customer_id;
	c.store_id = (uint32_t)rw->store_id;
	c.address_id = (uint32_t)rw->address_id;
	c.active = (int)rw->active;
	c.create_us = rw->create_s * 1000000;
	memcpy(c.first_name, rw->first, rw->lf < 45 ? rw->lf : 45);
	memcpy(c.last_name, rw->last, rw->ll < 45 ? rw->ll : 45);
	if (!rw->email_null)
		memcpy(c.email, rw->email, rw->le < 50 ? rw->le : 50);
	c.email_null = rw->email_null != 0;
	return produce(r, &c, seq, err);
}

/* Produces again the messages whose delivery failed. */
static int do_resends(struct relay *r, char *err)
{
	while (r->resends) {
		struct resend *s = r->resends;
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    r->rk, RD_KAFKA_V_TOPIC(r->cfg.topic), RD_KAFKA_V_KEY(s->key, s->klen),
		    RD_KAFKA_V_VALUE(s->val, s->vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)s->seq), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return 0;
		if (e)
			return u_err(err, "kafka: cannot produce: %s", rd_kafka_err2str(e));
		r->resends = s->next;
		free(s->key);
		free(s->val);
		free(s);
	}
	return 0;
}

/* Records ids [lo, hi] as skipped after the gap wait. */
static void add_skip(struct relay *r, int64_t lo, int64_t hi)
{
	if (r->nskips == MAX_SKIPS) { /* forget the oldest */
		memmove(r->skips, r->skips + 1, (MAX_SKIPS - 1) * sizeof r->skips[0]);
		r->nskips--;
	}
	r->skips[r->nskips++] = (struct skip){lo, hi, u_mono_us()};
	r->skips_dirty = 1;
	uint64_t n = (uint64_t)((hi - lo) / r->step + 1);
	r->skipped_total += n;
	pthread_mutex_lock(&r->mu);
	r->st.skipped += n;
	pthread_mutex_unlock(&r->mu);
	char msg[128];
	snprintf(msg, sizeof msg, "gap: skipped log_id %lld%s%lld after %lld ms (re-checked later)",
		 (long long)lo, lo == hi ? "" : "..", lo == hi ? 0LL : (long long)hi,
		 (long long)(r->cfg.gap_wait_us / 1000));
	if (lo == hi)
		snprintf(msg, sizeof msg, "gap: skipped log_id %lld after %lld ms (re-checked later)",
			 (long long)lo, (long long)(r->cfg.gap_wait_us / 1000));
	set_error(r, msg);
}

/* MySQL errors that mean the connection is gone (reconnect) rather than a bad query. */
static int conn_lost(MYSQL_STMT *st)
{
	unsigned e = mysql_stmt_errno(st);
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONN_HOST_ERROR ||
	       e == CR_CONNECTION_ERROR || e == 1927 /* connection killed */ ||
	       e == 1053 /* server shutdown */ || e == 2013 || e == 2006;
}

/* Removes id from the skipped ranges once its late message is acknowledged. */
static void skip_remove(struct relay *r, int64_t id)
{
	for (int i = 0; i < r->nskips; i++) {
		struct skip *s = &r->skips[i];
		if (id < s->lo || id > s->hi)
			continue;
		if (id == s->lo)
			s->lo += r->step;
		else if (id == s->hi)
			s->hi -= r->step;
		else if (r->nskips < MAX_SKIPS) { /* split around it */
			memmove(s + 2, s + 1, (size_t)(r->nskips - i - 1) * sizeof *s);
			s[1] = (struct skip){id + r->step, s->hi, s->since_us};
			s->hi = id - r->step;
			r->nskips++;
		}
		if (s->lo > s->hi) {
			memmove(s, s + 1, (size_t)(r->nskips - i - 1) * sizeof *s);
			r->nskips--;
		}
		if (r->skipped_total)
			r->skipped_total--;
		pthread_mutex_lock(&r->mu);
		if (r->st.skipped)
			r->st.skipped--;
		pthread_mutex_unlock(&r->mu);
		r->skips_dirty = 1;
		return;
	}
}

/* Re-checks skipped ranges: rows that committed after the gap wait are produced late; a
   range shrinks only when Kafka acknowledges them (skip_remove), so a crash in between
   loses nothing. Ranges older than the horizon are given up. */
static int recheck_skips(struct relay *r, char *err)
{
	int64_t now = u_mono_us();
	struct row rw;
	if (r->late_inflight)
		return 0; /* the last ones are still on their way */
	for (int i = 0; i < r->nskips; i++) {
		struct skip *s = &r->skips[i];
		if (now - s->since_us > r->cfg.horizon_us) {
			memmove(s, s + 1, (size_t)(r->nskips - i - 1) * sizeof *s);
			r->nskips--;
			r->skips_dirty = 1;
			i--;
			continue;
		}
		long long lo = s->lo, hi = s->hi;
		MYSQL_BIND b[2];
		memset(b, 0, sizeof b);
		bind_ll(&b[0], &lo);
		bind_ll(&b[1], &hi);
		if (mysql_stmt_bind_param(r->late_sel, b) || mysql_stmt_execute(r->late_sel) ||
		    bind_row(r->late_sel, &rw) || mysql_stmt_store_result(r->late_sel))
			return u_err(err, "mysql: %s", mysql_stmt_error(r->late_sel));
		int found = 0;
		while (mysql_stmt_fetch(r->late_sel) == 0) {
			found++;
			if (produce_row(r, &rw, LATE_BIT | (uint64_t)rw.log_id, err) < 0) {
				mysql_stmt_free_result(r->late_sel);
				return -1;
			}
			r->late_inflight++;
		}
		mysql_stmt_free_result(r->late_sel);
		if (found && r->cfg.verbose)
			u_log("relay: %d skipped row(s) committed late and were relayed", found);
	}
	return 0;
}

/* "lo-hi,lo-hi,..." of the skipped ranges, for the progress row. */
static void skips_fmt(const struct relay *r, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < r->nskips && o + 48 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%lld-%lld", i ? "," : "",
				      (long long)r->skips[i].lo, (long long)r->skips[i].hi);
}

/* Loads skipped ranges saved by an earlier run: they are re-checked from now on. */
static void skips_parse(struct relay *r, const char *s)
{
	long long lo, hi;
	int used;
	while (r->nskips < MAX_SKIPS && sscanf(s, "%lld-%lld%n", &lo, &hi, &used) == 2) {
		if (lo > 0 && hi >= lo)
			r->skips[r->nskips++] = (struct skip){lo, hi, u_mono_us()};
		s += used;
		if (*s != ',')
			break;
		s++;
	}
}

/* Notes that ids [lo, hi] were seen missing at now (a gap below a visible id) and returns
   when they were first seen, so that gaps found behind the one being waited for have waited
   too when the cursor reaches them. Forgets gaps the cursor has passed. */
static int64_t seen_gap(struct relay *r, int64_t lo, int64_t hi, int64_t now)
{
	int64_t first = now;
	int j = 0;
	for (int i = 0; i < r->nseen; i++) {
		struct skip *g = &r->seen[i];
		if (g->hi <= r->cursor)
			continue; /* passed: drop */
		if (g->lo <= lo && lo <= g->hi && g->since_us < first)
			first = g->since_us;
		r->seen[j++] = *g;
	}
	r->nseen = j;
	if (first == now && r->nseen < MAX_SKIPS)
		r->seen[r->nseen++] = (struct skip){lo, hi, now};
	return first;
}

/* Reads and produces the next rows. Returns rows produced, or U_ECONNLOST or U_EFAIL with
   err. */
static int capture_batch(struct relay *r, char *err)
{
	/* waiting at a gap, only the next row matters: do not re-read the backlog */
	long long after = r->cursor, limit = r->gap_id ? 1 : BATCH_ROWS;
	MYSQL_BIND b[2];
	memset(b, 0, sizeof b);
	bind_ll(&b[0], &after);
	bind_ll(&b[1], &limit);
	struct row rw;
	if (mysql_stmt_bind_param(r->sel, b) || mysql_stmt_execute(r->sel) ||
	    bind_row(r->sel, &rw)) {
		u_err(err, "mysql: %s", mysql_stmt_error(r->sel));
		return conn_lost(r->sel) ? U_ECONNLOST : U_EFAIL;
	}
	int n = 0, rc;
	int held = 0;
	int64_t prev = 0, now = u_mono_us();
	while ((rc = mysql_stmt_fetch(r->sel)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		if (held) { /* note the later gaps in the rest of the result: their wait starts now */
			if (rw.log_id > prev + r->step)
				seen_gap(r, prev + r->step, rw.log_id - r->step, now);
			prev = rw.log_id;
			continue;
		}
		if (rw.log_id <= r->cursor)
			continue;
		int64_t expect = r->cursor ? r->cursor + r->step : r->first_id;
		if (rw.log_id > expect) {
			if (r->gap_id != expect) {
				r->gap_id = expect;
				r->gap_since = seen_gap(r, expect, rw.log_id - r->step, now);
			}
			if (now - r->gap_since < r->cfg.gap_wait_us) {
				held = 1;
				prev = rw.log_id;
				continue;
			}
			add_skip(r, expect, rw.log_id - r->step);
		}
		r->gap_id = 0;
		uint64_t seq = q_push(r, rw.log_id, rw.event_us, NULL);
		if (produce_row(r, &rw, seq, err) < 0) {
			r->qn--; /* not produced */
			mysql_stmt_free_result(r->sel);
			return -1;
		}
		r->cursor = rw.log_id;
		n++;
	}
	if (rc == 1) {
		u_err(err, "mysql: %s", mysql_stmt_error(r->sel));
		mysql_stmt_free_result(r->sel);
		return conn_lost(r->sel) ? U_ECONNLOST : U_EFAIL;
	}
	mysql_stmt_free_result(r->sel);
	if (!held && n == 0)
		r->gap_id = 0;
	return n;
}

/* Binlog capture: reads the next rows from the replication stream (opening it at the saved
   position first) and produces them. Returns rows produced, or U_EFATAL (the saved position
   is lost, the stream cannot be read there) or U_EFAIL with err. */
static int capture_binlog(struct relay *r, char *err)
{
	if (!r->bl) {
		const struct blc_pos *at = r->pos_progress.file[0] ? &r->pos_progress : NULL;
		int rc = blc_open(&r->db, r->db.db, at, &r->bl, err);
		if (rc == U_ELOST) {
			char e[U_ERRLEN];
			snprintf(e, sizeof e,
				 "%.120s; to resnapshot the horizon: DELETE FROM "
				 "latest_cdc_binlog WHERE topic = '%.40s'",
				 err, r->cfg.topic);
			snprintf(err, U_ERRLEN, "%s", e);
			return U_EFATAL;
		}
		if (rc < 0)
			return U_EFAIL;
		if (r->cfg.verbose) {
			char b[80];
			u_log("relay: reading the binlog from %s",
			      at ? blc_pos_fmt(at, b, sizeof b) : "the current position");
		}
		if (!at) { /* first run of this topic: the stream starts now, the horizon's
			      customers come from the table (re-reads are deduplicated) */
			if (resend_snapshot(r, err) < 0)
				return -1;
			struct blc_stats bs;
			blc_stats(r->bl, &bs);
			r->pos_progress = bs.safe.file[0] ? bs.safe : bs.read;
		}
	}
	struct blc_row br;
	int n = 0;
	while (n < BATCH_ROWS && r->qn + r->late_inflight < MAX_INFLIGHT) {
		int rc = blc_next(r->bl, &br, n ? 0 : 100, err);
		if (rc == 0)
			break;
		if (rc < 0) { /* only a lost connection is worth a reopen */
			blc_free(r->bl);
			r->bl = NULL;
			return rc == U_ECONNLOST ? U_EFAIL : U_EFATAL;
		}
		uint64_t seq = q_push(r, br.row.log_id, br.row.event_us, &br.resume);
		if (produce(r, &br.row, seq, err) < 0) {
			/* the row left the stream: reopen where it (or an older unacked one) can
			   be read again, never past it */
			r->qn--;
			r->pos_progress = r->qn ? r->q[r->qhead].resume : br.resume;
			blc_free(r->bl);
			r->bl = NULL;
			return -1;
		}
		r->cursor = br.row.log_id;
		n++;
	}
	return n;
}

/* 1 unless a binlog stream is still behind the server (a heartbeat after the last event
   says it is not); trigger capture is caught up when a read returns nothing. */
static int binlog_caught_up(struct relay *r)
{
	if (!r->cfg.binlog)
		return 1;
	if (!r->bl)
		return 0;
	struct blc_stats bs;
	blc_stats(r->bl, &bs);
	return bs.caught_up;
}

/* Binlog capture, lost topic: re-sends the customers registered within the horizon from the
   customer table itself (event time = create_date, as in the binlog). */
static int resend_snapshot(struct relay *r, char *err)
{
	MYSQL_STMT *st = prepare(
	    r->m,
	    "SELECT customer_id, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED) * 1000000, "
	    "customer_id, store_id, address_id, active, CAST(UNIX_TIMESTAMP(create_date) AS "
	    "SIGNED), first_name, last_name, email FROM customer WHERE create_date >= "
	    "UTC_TIMESTAMP() - INTERVAL ? SECOND ORDER BY customer_id",
	    err);
	if (!st)
		return -1;
	struct row rw;
	int n = 0, rc = 0;
	long long horizon_s = r->cfg.horizon_us / 1000000;
	MYSQL_BIND hb;
	memset(&hb, 0, sizeof hb);
	bind_ll(&hb, &horizon_s);
	if (mysql_stmt_bind_param(st, &hb) || mysql_stmt_execute(st) || bind_row(st, &rw) ||
	    mysql_stmt_store_result(st)) {
		rc = u_err(err, "mysql: %s", mysql_stmt_error(st));
		goto out;
	}
	while (mysql_stmt_fetch(st) == 0) {
		if (produce_row(r, &rw, LATE_BIT | (uint64_t)rw.log_id, err) < 0) {
			rc = -1;
			break;
		}
		r->late_inflight++;
		n++;
		if (n % 10000 == 0)
			rd_kafka_poll(r->rk, 0);
	}
	pthread_mutex_lock(&r->mu);
	r->st.resent += (uint64_t)n;
	pthread_mutex_unlock(&r->mu);
out:
	mysql_stmt_close(st);
	return rc;
}

/* MySQL's clock in epoch us, or INT64_MIN when it cannot be read. */
static int64_t source_clock(struct relay *r)
{
	long long us = 0;
	char e[U_ERRLEN];
	if (!r->m || db_query_ll(r->m, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)",
				 &us, e) < 0)
		return INT64_MIN;
	return us;
}

/*
 * Sends a heartbeat: every row committed before clock_us (read from MySQL before the read
 * that found nothing new) is acknowledged in the data topic below acked_next. Only while
 * nothing is in flight, so the offsets cover every row relayed.
 */
static void send_heartbeat(struct relay *r, int64_t clock_us)
{
	struct hb h = {.ts_us = clock_us, .nparts = r->nparts};
	char buf[HB_MAX_LEN];
	for (int i = 0; i < h.nparts; i++)
		h.offsets[i] = r->acked_next[i] > 0 ? r->acked_next[i] : 0;
	int n = hb_encode(&h, r->db.db, r->cfg.topic, buf, sizeof buf);
	if (n < 0)
		return;
	rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->hb_topic), RD_KAFKA_V_KEY(r->db.db, strlen(r->db.db)),
			  RD_KAFKA_V_VALUE(buf, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			  RD_KAFKA_V_OPAQUE((void *)(uintptr_t)HB_SEQ), RD_KAFKA_V_END);
	r->last_hb_us = u_mono_us();
}

/* 1 when nothing is read but not yet acknowledged (no row waits at a gap either). */
static int all_acked(struct relay *r)
{
	return !r->gap_id && !r->qn && !r->late_inflight && !r->resends && binlog_caught_up(r);
}

/* Copies the table figures of the lookup thread (tablestats) into the shared stats. */
static void publish_tables(struct relay *r)
{
	struct ts_figures f;
	ts_set_progress(r->ts, r->progress);
	ts_get(r->ts, &f);
	if (!f.valid)
		return;
	if (r->cfg.binlog) {
		struct blc_stats bs;
		memset(&bs, 0, sizeof bs);
		if (r->bl)
			blc_stats(r->bl, &bs);
		pthread_mutex_lock(&r->mu);
		r->st.binlog = 1;
		r->st.customers = f.customers;
		r->st.backlog = (int64_t)r->qn;
		blc_pos_fmt(&bs.read, r->st.binlog_read, sizeof r->st.binlog_read);
		blc_pos_fmt(&f.server_pos, r->st.binlog_server, sizeof r->st.binlog_server);
		blc_pos_fmt(&r->pos_saved, r->st.binlog_saved, sizeof r->st.binlog_saved);
		r->st.binlog_lag_bytes = !strcmp(bs.read.file, f.server_pos.file)
					     ? (int64_t)f.server_pos.pos - (int64_t)bs.read.pos
					     : -1;
		r->st.binlog_lag_s = bs.caught_up || !bs.last_event_s
					 ? 0
					 : u_now_us() / 1000000 - bs.last_event_s;
		pthread_mutex_unlock(&r->mu);
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->st.max_log_id = f.max_log_id;
	r->st.customers = f.customers;
	r->st.change_rows = f.change_rows;
	r->st.backlog = f.backlog;
	r->st.oldest_us = f.oldest_us;
	pthread_mutex_unlock(&r->mu);
}

/* Copies the loop's own figures into the shared stats. */
static void publish(struct relay *r)
{
	int64_t now = u_mono_us();
	pthread_mutex_lock(&r->mu);
	r->st.cursor = r->cursor;
	r->st.progress = r->progress;
	r->st.inflight = (int)(r->qn + r->late_inflight);
	r->st.gap_id = r->gap_id;
	r->st.gap_wait_left_us =
	    r->gap_id ? r->cfg.gap_wait_us - (now - r->gap_since) : 0;
	if (now - r->rate_t0 >= 1000000) {
		double dt = (double)(now - r->rate_t0) / 1e6;
		double inst = (double)(r->st.relayed - r->rate_n0) / dt;
		r->st.rate = r->rate_t0 ? 0.5 * r->st.rate + 0.5 * inst : inst;
		r->rate_t0 = now;
		r->rate_n0 = r->st.relayed;
	}
	r->st.mysql_ok = r->m != NULL;
	pthread_mutex_unlock(&r->mu);
	if (r->ts)
		publish_tables(r);
}

/* Waits for every in-flight message (bounded), then saves progress. */
static void drain(struct relay *r, int64_t timeout_us, char *err)
{
	int64_t t0 = u_mono_us();
	char e[U_ERRLEN];
	while ((r->qn || r->late_inflight || r->resends) && u_mono_us() - t0 < timeout_us) {
		if (do_resends(r, e) < 0)
			break;
		rd_kafka_poll(r->rk, 20);
		q_advance(r);
		if (r->cfg.once && r->fatal_delivery)
			break;
	}
	q_advance(r);
	if (r->m && save_progress(r, 1, e) < 0 && err)
		snprintf(err, U_ERRLEN, "%s", e);
}

/* Connects to MySQL with backoff until it answers or stop (1); a code when retrying cannot
   help (U_EFATAL, U_ENOTFOUND) or in once mode. */
static int source_open_retry(struct relay *r, char *err)
{
	int64_t backoff = 250000;
	for (;;) {
		int rc = source_open(r, err);
		if (rc == 0) {
			pthread_mutex_lock(&r->mu);
			r->st.mysql_ok = 1;
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
		pthread_mutex_lock(&r->mu);
		r->st.mysql_ok = 0;
		pthread_mutex_unlock(&r->mu);
		if (r->cfg.once || rc == U_EFATAL || rc == U_ENOTFOUND)
			return rc;
		set_state(r, "mysql down, retrying"); log_state(r, 1);
		set_error(r, err);
		idle(r, backoff);
		if (atomic_load_explicit(&r->stop, memory_order_relaxed))
			return 1;
		backoff = backoff * 2 > 10000000 ? 10000000 : backoff * 2;
	}
}

int relay_run(struct relay *r, char *err)
{
	char e[U_ERRLEN];
	set_state(r, "connecting");
	r->last_ack_us = u_mono_us();
	int c = r->m ? 0 : source_open_retry(r, err); /* relay_claim may have connected already */
	if (c)
		return c < 0 ? -1 : 0;
	pthread_mutex_lock(&r->mu);
	r->st.binlog = r->cfg.binlog;
	pthread_mutex_unlock(&r->mu);
	if (kafka_open(r, err) < 0) {
		source_close(r);
		return -1;
	}
	if (check_lost_topic(r, err) < 0) {
		source_close(r);
		return -1;
	}
	if (r->cfg.verbose && !r->cfg.binlog)
		u_log("relay: from log_id %lld to %s (%s%s)", (long long)r->cursor, r->cfg.topic,
		      kc_is_mock(r->kc) ? "in-process mock cluster, it ends with this process: "
					: "",
		      kc_bootstrap(r->kc));
	if (!r->cfg.once) { /* counting rows is slow on big tables: never on this thread */
		r->ts = ts_start(&r->db, r->cfg.binlog, e);
		if (!r->ts)
			set_error(r, e);
	}
	int64_t idle_us = 1000, last_rows_us = 0;
	int rc = 0;
	int64_t last_summary = u_mono_us();
	uint64_t summary_n = 0;
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		rd_kafka_poll(r->rk, 0);
		q_advance(r);
		if (r->cfg.once && r->fatal_delivery) {
			rc = u_err(err,
				   "kafka: delivery to %s failed (%s): check -b and that the "
				   "brokers are up",
				   kc_bootstrap(r->kc), rd_kafka_err2str(r->fatal_delivery));
			break;
		}
		if (do_resends(r, e) < 0)
			set_error(r, e);
		int n = 0;
		if (!r->m) {
			int c = source_open_retry(r, e);
			if (c != 0) {
				if (c == U_EFATAL) /* the lock went to another relay meanwhile */
					rc = u_err(err, "%s", e);
				break;
			}
			set_state(r, "mysql reconnected"); log_state(r, 1);
		}
		/* the clock is read before the read that may find nothing: then every row
		   committed before it has been read */
		int64_t hb_clock = INT64_MIN;
		if (r->hb_topic[0] && !r->cfg.once && all_acked(r) &&
		    u_mono_us() - r->last_hb_us >= HB_EVERY_US)
			hb_clock = source_clock(r);
		if (r->qn + r->late_inflight < MAX_INFLIGHT) {
			n = r->cfg.binlog ? capture_binlog(r, e) : capture_batch(r, e);
			if (n == U_EFATAL) {
				rc = u_err(err, "%s", e);
				break;
			}
			if (n == U_ECONNLOST) { /* reconnect, keep what is in flight */
				set_error(r, e);
				set_state(r, "mysql down, retrying"); log_state(r, 1);
				source_close(r);
				continue;
			}
			if (n < 0) {
				set_error(r, e);
				idle(r, 200000);
				continue;
			}
		} else {
			set_state(r, "waiting for kafka (in-flight limit)");
			rd_kafka_poll(r->rk, 10);
		}
		int64_t now = u_mono_us();
		if (r->nskips && r->m && now - r->last_recheck_us >= RECHECK_US) {
			r->last_recheck_us = now;
			if (recheck_skips(r, e) < 0)
				set_error(r, e);
		}
		q_advance(r);
		if (now - r->last_save_us >= SAVE_EVERY_US || n == 0) {
			if (save_progress(r, 0, e) < 0) {
				set_error(r, e);
				if (r->cfg.once) {
					rc = u_err(err, "%s", e);
					break;
				}
				source_close(r);
				idle(r, 1000000); /* a save that keeps failing must not spin */
				continue;
			}
		}
		if (hb_clock != INT64_MIN && n == 0 && all_acked(r))
			send_heartbeat(r, r->cfg.binlog ? hb_clock - HB_BINLOG_LAG_US : hb_clock);
		publish(r);
		int waiting = r->qn || r->late_inflight;
		if (!waiting)
			r->last_ack_us = now;
		if (waiting && (r->kafka_down || now - r->last_ack_us > 3000000))
			set_state(r, "kafka unreachable, rows waiting");
		else if (r->gap_id)
			set_state(r, "waiting for gap at log_id %lld", (long long)r->gap_id);
		else if (n > 0)
			set_state(r, "relaying");
		else if (r->qn || r->late_inflight)
			set_state(r, "waiting for acks");
		else
			set_state(r, "caught up");
		log_state(r, r->gap_id && now - r->gap_since >= 100000);
		if (r->cfg.verbose && now - last_summary >= 10000000) {
			struct relay_stats s;
			relay_stats(r, &s);
			char f1[32], f2[32], f3[32], f4[32], f5[32];
			u_log("relay: relayed %s (%s), backlog %s, cursor %s, progress %s",
			      u_fmt_count((long long)s.relayed, f1, sizeof f1),
			      u_fmt_rate((double)(s.relayed - summary_n) * 1e6 /
			                     (double)(now - last_summary),
			                 f2, sizeof f2),
			      u_fmt_count(s.backlog, f3, sizeof f3),
			      u_fmt_count(r->cursor, f4, sizeof f4),
			      u_fmt_count(r->progress, f5, sizeof f5));
			summary_n = s.relayed;
			last_summary = now;
		}
		if (r->cfg.once && n == 0 && !r->gap_id && !r->qn && !r->late_inflight &&
		    !r->resends && binlog_caught_up(r))
			break;
		if (n > 0) {
			idle_us = 1000;
			last_rows_us = now;
		} else {
			idle(r, r->gap_id ? 10000 : idle_us);
			/* while rows flow (inject's batches come every few ms) a row waiting for
			   the next poll is pure latency: poll every ms until a second passes with
			   none, then back off so an idle relay costs next to nothing */
			if (now - last_rows_us >= ACTIVE_US)
				idle_us = idle_us * 2 > IDLE_MAX_US ? IDLE_MAX_US : idle_us * 2;
		}
	}
	ts_stop(r->ts);
	r->ts = NULL;
	/* stop: flush what is in flight, save progress */
	int64_t last_clock = r->hb_topic[0] && r->cfg.once && rc == 0 ? source_clock(r) : INT64_MIN;
	drain(r, r->cfg.once ? 30000000 : 5000000, e);
	if (last_clock != INT64_MIN && all_acked(r)) { /* --once: the clock at the drain's end */
		send_heartbeat(r, r->cfg.binlog ? last_clock - HB_BINLOG_LAG_US : last_clock);
		rd_kafka_flush(r->rk, 2000);
	}
	publish(r);
	if (rc == 0 && r->cfg.once && (r->qn || r->fatal_delivery))
		rc = u_err(err, "kafka: %zu messages not acknowledged by %s: check -b and that "
				"the brokers are up",
			   r->qn, kc_bootstrap(r->kc));
	if (r->cfg.verbose)
		u_log("relay: stopped at progress %lld (%llu relayed this run)",
		      (long long)r->progress, (unsigned long long)r->st.relayed);
	return rc;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	r->cfg.verbose = 0; /* the run has ended: its last word was said */
	if (r->rk) {
		rd_kafka_flush(r->rk, 100);
		rd_kafka_destroy(r->rk);
	}
	blc_free(r->bl);
	source_close(r);
	while (r->resends) {
		struct resend *s = r->resends;
		r->resends = s->next;
		free(s->key);
		free(s->val);
		free(s);
	}
	free(r->q);
	env_enc_free(r->enc);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
