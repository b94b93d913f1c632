/*
 * relay.c - the relay: takes the rows a capture (capture.h: the change table or the binlog)
 * reads, publishes each as an envelope with an idempotent acks=all producer, keeps the
 * produced rows in an in-flight queue in read order and tells the capture how far every row is
 * acknowledged, so that saved progress never passes an unacknowledged one. Owns the MySQL
 * connection (with the lock: one relay per database and topic) and the heartbeats. Runs on one
 * thread (relay_run); other threads only call relay_stats, relay_stop and the two faults shown
 * live (relay_crash, relay_redeliver: flags the loop acts on). Never skips a failed
 * delivery (it is re-sent), never blocks the caller's UI, never exits the process: errors are
 * published in the stats and, when verbose, logged once per state change.
 */
#include "relay.h"
#include "capture.h"
#include "envelope.h"
#include "heartbeat.h"
#include "util.h"
#include "view.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INFLIGHT 200000      /* unacknowledged messages before reading pauses */
#define LATE_BIT     (1ULL << 63) /* opaque flag: a late row, outside the progress queue */
#define HB_SEQ       (1ULL << 62) /* opaque of a heartbeat message: no progress attached */
#define REDO_SEQ     (1ULL << 61) /* opaque of a message produced again (relay_redeliver) */
#define CRASH_WAIT_US 3000000     /* relay_crash: at most this long for unsaved acks */
#define CRASH_LOCK_WAIT_US 10000000 /* and this long for the old connection's lock to go */
#define HB_EVERY_US  500000       /* a heartbeat at most this often, while caught up */
#define SAVE_EVERY_US  100000
#define IDLE_MAX_US    50000
#define ACTIVE_US      1000000 /* rows seen this recently: keep polling every ACTIVE_POLL_US */
#define ACTIVE_POLL_US 1000    /* from the start of one read to the next, while rows flow */
#define ACTIVE_MIN_US  200     /* and at least this long between them */

/* A produced change row waiting for its acknowledgement. */
struct entry {
	int64_t log_id;
	int64_t event_us;
	int acked;
	struct cap_pos resume; /* the capture's: where to restart to read it again */
};

/* A message whose delivery failed, kept (key and value copied) to be produced again. */
struct resend {
	void *key, *val;
	size_t klen, vlen;
	uint64_t seq;
	struct resend *next;
};

/* An acknowledged message kept for relay_redeliver. */
struct kept {
	char key[32];
	size_t klen, vlen;
	char val[ENV_MAX];
};

struct relay {
	struct relay_config cfg;
	struct kc *kc;
	struct db_target db;
	struct cap_config capcfg; /* a crash makes the capture anew from it */
	atomic_int stop; /* lock-free: set from signal handlers and other threads */
	atomic_int crash, redeliver; /* relay_crash, relay_redeliver asked */
	int crashing;                /* delivery reports ignored: the producer is being dropped */
	int64_t crash_asked;         /* mono us the relay thread saw crash, 0 none */
	int64_t saved_progress;      /* progress at the last save */
	struct kept *kept;           /* ring of the last RELAY_REDELIVER acknowledged */
	int nkept, kept_at;

	MYSQL *m;        /* the source connection: the lock, the clock, the capture's statements */
	rd_kafka_t *rk;
	struct cap *cap; /* where the rows come from */
	struct cap_sink sink;
	uint64_t relayed_total; /* messages acknowledged into this topic instance (persisted) */

	struct entry *q; /* ring of produced entries, in read order */
	size_t qcap, qhead, qn;
	uint64_t qhead_seq;
	uint64_t late_inflight;
	struct resend *resends;
	int fatal_delivery; /* once mode: a delivery failure ends the run */

	pthread_mutex_t mu; /* guards st */
	struct relay_stats st;
	int64_t last_save_us;
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

static int source_open(struct relay *r, char *err);
static int emit(void *ctx, const struct cap_row *row, int late, char *err);
static void note(void *ctx, const char *msg);
static void poll_kafka(void *ctx);

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

/* The capture the configuration names (the one choice of trigger or binlog). */
static struct cap *cap_new(struct relay *r)
{
	return r->cfg.binlog ? cap_binlog_new(&r->capcfg) : cap_trigger_new(&r->capcfg);
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
	pthread_mutex_init(&r->mu, NULL);
	r->qcap = 1024;
	r->q = u_malloc(r->qcap * sizeof *r->q);
	r->kept = u_malloc(RELAY_REDELIVER * sizeof *r->kept);
	int ln = snprintf(r->lock_name, sizeof r->lock_name, "cdctop.relay.%s.%s", db->db, cfg->topic);
	if (ln < 0 || (size_t)ln >= sizeof r->lock_name) { /* long names: a hash of them */
		uint64_t h = u_hash(u_hash(u_hash(U_HASH_SEED, db->db), "."), cfg->topic);
		snprintf(r->lock_name, sizeof r->lock_name, "cdctop.relay.%016llx",
			 (unsigned long long)h);
	}
	r->capcfg = (struct cap_config){.topic = cfg->topic,
				        .db = &r->db,
				        .gap_wait_us = cfg->gap_wait_us,
				        .horizon_us = cfg->horizon_us,
				        .verbose = cfg->verbose};
	r->cap = cap_new(r);
	r->sink = (struct cap_sink){.emit = emit, .note = note, .poll = poll_kafka, .ctx = r};
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

void relay_crash(struct relay *r)
{
	atomic_store_explicit(&r->crash, 1, memory_order_relaxed);
}

void relay_redeliver(struct relay *r)
{
	atomic_store_explicit(&r->redeliver, 1, memory_order_relaxed);
}

void relay_stats(struct relay *r, struct relay_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
}

/* Sleeps up to us, serving delivery reports meanwhile; returns early on stop. While messages
   are in flight it flushes: the relay sleeps only when it has nothing more to add to a batch,
   so lingering for more (linger.ms, which packs a drain's batches) is pure latency then:
   rd_kafka_flush has the broker threads send at once (bench_watch: COMMIT -> counted p50
   7.0 -> 5.x ms; linger.ms=0 instead halved relay.drain). */
static void idle(struct relay *r, int64_t us)
{
	int64_t end = u_mono_us() + us;
	int flushed = 0;
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int64_t left = end - u_mono_us();
		int ms = left > 50000 ? 50 : (int)(left / 1000);
		if (r->rk && rd_kafka_outq_len(r->rk) > 0 && (left > 0 || !flushed)) {
			/* returns once all are acknowledged; once even when no time is left */
			rd_kafka_flush(r->rk, ms > 0 ? ms : 1);
			flushed = 1;
		} else if (left <= 0) {
			break;
		} else if (ms > 0) {
			if (r->rk)
				rd_kafka_poll(r->rk, ms);
			else
				u_sleep_us(ms * 1000);
		} else { /* under a ms: rd_kafka_poll's timeout is in ms */
			if (r->rk)
				rd_kafka_poll(r->rk, 0);
			u_sleep_us(left);
		}
	}
}

/* ---- MySQL side ---- */

/* Closes the source: the capture's statements and the connection. */
static void source_close(struct relay *r)
{
	if (r->cap)
		r->cap->ops->close(r->cap);
	if (r->m)
		mysql_close(r->m);
	r->m = NULL;
}

/* Runs a prepared query binding one string and reading one integer (NULL: -1). */
static int query_ll_str(MYSQL *m, const char *sql, const char *arg, long long *out, char *err)
{
	MYSQL_STMT *st;
	if (db_prepare(m, sql, &st, err) < 0)
		return -1;
	MYSQL_BIND b, rb;
	unsigned long al;
	my_bool isnull = 0;
	memset(&b, 0, sizeof b);
	memset(&rb, 0, sizeof rb);
	db_bind_str(&b, arg, &al);
	db_bind_ll(&rb, out);
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

/* Opens the source: connects (db_connect), takes the lock, opens the capture on the
   connection (its statements, its saved progress). 0; U_EFATAL (the lock is another relay's,
   a server setting), U_ENOTFOUND (no CDC tables: run cdctop init) or U_EFAIL, with err. */
static int source_open(struct relay *r, char *err)
{
	r->m = db_connect(&r->db, 1, err);
	if (!r->m)
		return U_EFAIL;
	int rc = take_lock(r, err);
	if (rc == 0)
		rc = r->cap->ops->open(r->cap, r->m, &r->relayed_total, err);
	if (rc < 0)
		source_close(r);
	return rc;
}

/* Saves progress (and counters) if it moved or force. A code on a MySQL error. */
static int save_progress(struct relay *r, int force, char *err)
{
	if (!r->m)
		return 0;
	int rc = r->cap->ops->save(r->cap, r->relayed_total, force, err);
	if (rc > 0)
		r->last_save_us = u_mono_us();
	if (rc >= 0) /* saved, or nothing had moved */
		r->saved_progress = r->cap->ops->progress(r->cap);
	return rc < 0 ? rc : 0;
}

/* ---- Kafka side ---- */

/* Pushes a produced entry onto the progress queue; returns its sequence number. */
static uint64_t q_push(struct relay *r, int64_t log_id, int64_t event_us,
		       const struct cap_pos *resume)
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
	e->resume = *resume;
	r->qn++;
	return r->qhead_seq + r->qn - 1;
}

/* Moves progress over the acknowledged head of the queue: tells the capture. */
static void q_advance(struct relay *r)
{
	int64_t best = 0, best_us = 0;
	while (r->qn && r->q[r->qhead].acked) {
		struct entry *e = &r->q[r->qhead];
		if (e->log_id > best) {
			best = e->log_id;
			best_us = e->event_us;
		}
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qn--;
		r->qhead_seq++;
	}
	r->cap->ops->acked(r->cap, r->qn ? &r->q[r->qhead].resume : NULL, best, best_us);
}

/* Delivery report: acknowledges an entry, or keeps a failed message for re-sending. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	struct relay *r = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)msg->_private;
	if (seq == HB_SEQ || r->crashing)
		return; /* a heartbeat: lost ones are simply replaced by the next */
	if (!msg->err && msg->partition >= 0 && msg->partition < HB_MAX_PARTS &&
	    msg->offset + 1 > r->acked_next[msg->partition])
		r->acked_next[msg->partition] = msg->offset + 1;
	if (seq == REDO_SEQ) { /* produced again on purpose: a failed one is not re-sent */
		pthread_mutex_lock(&r->mu);
		if (msg->err)
			r->st.delivery_errors++;
		else
			r->st.redelivered++;
		pthread_mutex_unlock(&r->mu);
		return;
	}
	if (!msg->err && msg->key_len <= sizeof r->kept[0].key && msg->len <= ENV_MAX) {
		struct kept *k = &r->kept[r->kept_at];
		k->klen = msg->key_len;
		k->vlen = msg->len;
		memcpy(k->key, msg->key, k->klen);
		memcpy(k->val, msg->payload, k->vlen);
		r->kept_at = (r->kept_at + 1) % RELAY_REDELIVER;
		if (r->nkept < RELAY_REDELIVER)
			r->nkept++;
	}
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
		r->cap->ops->late_acked(r->cap, (int64_t)(seq & ~LATE_BIT));
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

/* Creates the idempotent producer and makes sure the topic exists. */
static int kafka_open(struct relay *r, char *err)
{
	rd_kafka_conf_t *c = kc_conf(r->kc, err);
	if (!c)
		return -1;
	if (kc_default(r->kc, c, "enable.idempotence", "true", err) < 0 ||
	    kc_default(r->kc, c, "acks", "all", err) < 0 ||
	    kc_default(r->kc, c, "linger.ms", "2", err) < 0 ||
	    kc_default(r->kc, c, "batch.num.messages", "10000", err) < 0 ||
	    kc_default(r->kc, c, "queue.buffering.max.messages", "1000000", err) < 0 ||
	    kc_default(r->kc, c, "queue.buffering.max.kbytes", "1048576", err) < 0 ||
	    kc_default(r->kc, c, "message.timeout.ms", r->cfg.once ? "20000" : "60000", err) < 0 ||
	    kc_default(r->kc, c, "reconnect.backoff.max.ms", "1000", err) < 0) {
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

/* If the topic holds less than progress says was sent, the capture re-sends from the
   horizon. */
static int check_lost_topic(struct relay *r, char *err)
{
	int64_t held = topic_high_sum(r, err);
	if (held < 0)
		return -1;
	if ((uint64_t)held >= r->relayed_total || r->cap->ops->progress(r->cap) == 0)
		return 0;
	uint64_t sent = r->relayed_total;
	r->relayed_total = (uint64_t)held;
	char what[160] = "";
	int rc = r->cap->ops->rewind(r->cap, &r->sink, what, sizeof what, err);
	if (what[0]) {
		char msg[256];
		snprintf(msg, sizeof msg, "topic %s holds %lld messages but %llu were sent: re-sending %s",
			 r->cfg.topic, (long long)held, (unsigned long long)sent, what);
		set_error(r, msg);
	}
	return rc < 0 ? -1 : 0;
}

/* ---- the capture loop ---- */

/* Encodes and produces one change; seq is its opaque. -1 (err) only on a local error. */
static int produce(struct relay *r, const struct cdc_row *c, uint64_t seq, char *err)
{
	char buf[ENV_MAX], key[24];
	int n = env_encode(c, r->db.db, u_now_us(), buf, sizeof buf);
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

/* The capture's sink: queues an in-order row (progress waits for its acknowledgement) or
   counts a late one, and produces it. */
static int emit(void *ctx, const struct cap_row *row, int late, char *err)
{
	struct relay *r = ctx;
	if (late) {
		if (produce(r, &row->row, LATE_BIT | (uint64_t)row->row.log_id, err) < 0)
			return -1;
		r->late_inflight++;
		return 0;
	}
	uint64_t seq = q_push(r, row->row.log_id, row->row.event_us, &row->resume);
	if (produce(r, &row->row, seq, err) < 0) {
		r->qn--; /* not produced */
		return -1;
	}
	return 0;
}

/* The capture's line for the status line. */
static void note(void *ctx, const char *msg)
{
	set_error(ctx, msg);
}

/* The capture's pause in a long re-send: delivery reports are served. */
static void poll_kafka(void *ctx)
{
	struct relay *r = ctx;
	rd_kafka_poll(r->rk, 0);
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

/* 1 when nothing is read but not yet acknowledged (and the capture holds none back). */
static int all_acked(struct relay *r)
{
	return !r->qn && !r->late_inflight && !r->resends && r->cap->ops->caught_up(r->cap);
}

/* Copies the loop's own figures and the capture's into the shared stats. */
static void publish(struct relay *r)
{
	int64_t now = u_mono_us();
	pthread_mutex_lock(&r->mu);
	r->cap->ops->stats(r->cap, (int64_t)r->qn, &r->st);
	r->st.inflight = (int)(r->qn + r->late_inflight);
	if (now - r->rate_t0 >= 1000000) {
		double dt = (double)(now - r->rate_t0) / 1e6;
		double inst = (double)(r->st.relayed - r->rate_n0) / dt;
		r->st.rate = r->rate_t0 ? 0.5 * r->st.rate + 0.5 * inst : inst;
		r->rate_t0 = now;
		r->rate_n0 = r->st.relayed;
	}
	r->st.mysql_ok = r->m != NULL;
	pthread_mutex_unlock(&r->mu);
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

/* Tells the relay's owner what a fault did (the status line). */
static void fault_event(struct relay *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fault_event(struct relay *r, int level, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (r->cfg.event)
		r->cfg.event(r->cfg.event_arg, level, buf);
	if (r->cfg.verbose)
		u_log("relay: %s", buf);
}

/* relay_redeliver: produces the kept messages again, oldest first. */
static void redeliver(struct relay *r)
{
	int n = 0;
	for (int i = 0; i < r->nkept && r->rk; i++) {
		struct kept *k = &r->kept[(r->kept_at - r->nkept + i + RELAY_REDELIVER) % RELAY_REDELIVER];
		if (!rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->cfg.topic),
		                       RD_KAFKA_V_KEY(k->key, k->klen), RD_KAFKA_V_VALUE(k->val, k->vlen),
		                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                       RD_KAFKA_V_OPAQUE((void *)(uintptr_t)REDO_SEQ), RD_KAFKA_V_END))
			n++;
	}
	if (n)
		fault_event(r, VIEW_WARN, "d: produced the last %d acknowledged messages again: "
		                                "the consumer must ignore them as duplicates", n);
	else
		fault_event(r, VIEW_WARN, "d: nothing acknowledged yet to deliver again");
}

/* Frees the messages kept for re-sending. */
static void free_resends(struct relay *r)
{
	while (r->resends) {
		struct resend *s = r->resends;
		r->resends = s->next;
		free(s->key);
		free(s->val);
		free(s);
	}
}

/* relay_crash, once some acknowledged rows are not in saved progress: drops everything a
   killed process would lose (the producer purged and destroyed unflushed, the queue, the
   capture's state, the connection and its lock), saves nothing, then opens again from saved
   progress. 0 restarted, 1 stop asked meanwhile, else a code with err. */
static int crash_restart(struct relay *r, char *err)
{
	int64_t saved = r->saved_progress, reached = r->cap->ops->progress(r->cap);
	size_t dropped = r->qn + r->late_inflight;
	r->crashing = 1;
	rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(r->rk);
	r->rk = NULL;
	r->crashing = 0;
	source_close(r); /* the lock goes with the connection, as with kill -9 */
	cap_free(r->cap);
	r->cap = cap_new(r);
	r->qn = r->qhead = 0;
	r->late_inflight = 0;
	free_resends(r);
	r->fatal_delivery = r->kafka_down = 0;
	r->relayed_total = 0; /* the saved count is read again */
	r->nkept = r->kept_at = 0;
	for (int i = 0; i < HB_MAX_PARTS; i++)
		r->acked_next[i] = -1;
	pthread_mutex_lock(&r->mu);
	r->st.crashes++;
	r->st.inflight = 0;
	pthread_mutex_unlock(&r->mu);
	set_state(r, "crashed, restarting");
	fault_event(r, VIEW_WARN,
	            "x: relay crashed (as kill -9): %zu in flight dropped, saved progress %lld, "
	            "acknowledged to %lld: restarting from saved progress",
	            dropped, (long long)saved, (long long)reached);
	/* the server drops the old connection's lock when it has seen it close, which may come
	   after the new connection asks: the lock is refused meanwhile (U_EFATAL), as it would be
	   to a process restarted after kill -9 */
	int64_t until = u_mono_us() + CRASH_LOCK_WAIT_US;
	int c;
	while ((c = source_open_retry(r, err)) == U_EFATAL && u_mono_us() < until &&
	       !atomic_load_explicit(&r->stop, memory_order_relaxed))
		idle(r, 100000);
	if (c)
		return c;
	if (kafka_open(r, err) < 0 || check_lost_topic(r, err) < 0)
		return -1;
	r->last_ack_us = u_mono_us();
	fault_event(r, VIEW_WARN,
	            "x: relay restarted from saved progress %lld: the rows after it reach the "
	            "topic again, the consumer must ignore them",
	            (long long)r->cap->ops->progress(r->cap));
	return 0;
}

/* The faults asked by other threads, on the relay's thread: 0, 1 stop, else a code. */
static int faults(struct relay *r, char *err)
{
	if (atomic_exchange_explicit(&r->redeliver, 0, memory_order_relaxed))
		redeliver(r);
	if (!atomic_load_explicit(&r->crash, memory_order_relaxed))
		return 0;
	int64_t now = u_mono_us();
	if (!r->crash_asked)
		r->crash_asked = now;
	if (r->cap->ops->progress(r->cap) <= r->saved_progress &&
	    now - r->crash_asked < CRASH_WAIT_US)
		return 0;
	atomic_store_explicit(&r->crash, 0, memory_order_relaxed);
	r->crash_asked = 0;
	return crash_restart(r, err);
}

/* Connects, opens the producer and checks the topic was not lost. 0 to run, 1 when stopped
   while connecting, -1 with err. */
static int run_begin(struct relay *r, char *err)
{
	set_state(r, "connecting");
	r->last_ack_us = u_mono_us();
	int c = r->m ? 0 : source_open_retry(r, err); /* relay_claim may have connected already */
	if (c)
		return c < 0 ? -1 : 1;
	pthread_mutex_lock(&r->mu); /* the capture's figures show from the start */
	r->cap->ops->stats(r->cap, 0, &r->st);
	r->st.progress_known = 1;
	pthread_mutex_unlock(&r->mu);
	if (kafka_open(r, err) < 0 || check_lost_topic(r, err) < 0) {
		source_close(r);
		return -1;
	}
	char from[80];
	if (r->cfg.verbose && r->cap->ops->where(r->cap, from, sizeof from))
		u_log("relay: from %s to %s (%s%s)", from, r->cfg.topic,
		      kc_is_mock(r->kc) ? "in-process mock cluster, it ends with this process: "
					: "",
		      kc_bootstrap(r->kc));
	return 0;
}

/* The loop's pacing. */
struct run_loop {
	int64_t idle_us, last_rows_us;
};

/* The state line after a pass that read n rows; held_since: the capture holds rows back
   (a gap wait) since then. */
static void run_state(struct relay *r, int n, int64_t held_since, const char *hold, int64_t now)
{
	int waiting = r->qn || r->late_inflight;
	if (!waiting)
		r->last_ack_us = now;
	if (waiting && (r->kafka_down || now - r->last_ack_us > 3000000))
		set_state(r, "kafka unreachable, rows waiting");
	else if (held_since)
		set_state(r, "%s", hold);
	else if (n > 0)
		set_state(r, "relaying");
	else if (waiting)
		set_state(r, "waiting for acks");
	else
		set_state(r, "caught up");
	log_state(r, held_since && now - held_since >= 100000);
}

/* Sleeps after a pass that read n rows (drained: all the source held), begun at start: not at
   all while a backlog drains; after a read that left nothing to read, while rows came in the
   last ACTIVE_US, until ACTIVE_POLL_US after the pass began (flushing, in idle; ACTIVE_MIN_US
   at least), so a row waits about that long for the next read whatever the pass cost; once
   a second passes with no rows, longer and longer, so an idle relay costs next to nothing.
   Sleeping at once after the short read sends its rows before another read that would find
   nothing (bench_watch with per-row timestamps: COMMIT returned -> produced 0.9 -> 0.7 ms,
   produced -> acknowledged 0.4 -> 0.2 ms; reading every 500 us took 0.25 ms more off, for
   +9 % of a core of relay and mysqld while rows flow). */
static void run_pace(struct relay *r, struct run_loop *l, int n, int drained, int64_t held_since,
		     int64_t start, int64_t now)
{
	if (n > 0) {
		l->idle_us = ACTIVE_POLL_US;
		l->last_rows_us = now;
		if (!drained)
			return;
	}
	if (held_since) {
		idle(r, 10000);
		return;
	}
	int active = now - l->last_rows_us < ACTIVE_US;
	int64_t us = l->idle_us;
	if (active) { /* the cadence, but never reads back to back when a pass costs a ms */
		us = start + l->idle_us - u_mono_us();
		if (us < ACTIVE_MIN_US)
			us = ACTIVE_MIN_US;
	}
	idle(r, us);
	if (!active)
		l->idle_us = l->idle_us * 2 > IDLE_MAX_US ? IDLE_MAX_US : l->idle_us * 2;
}

/* Reads up to the in-flight limit; the rows read (>= 0; *drained: the capture found all the
   source held), or RUN_AGAIN when the pass should start over (MySQL lost or a read failed,
   already reported), or -1 with err (fatal). */
enum { RUN_AGAIN = -100 };
static int run_read(struct relay *r, int *drained, char *err)
{
	char e[U_ERRLEN];
	size_t inflight = r->qn + r->late_inflight;
	if (inflight >= MAX_INFLIGHT) {
		set_state(r, "waiting for kafka (in-flight limit)");
		rd_kafka_poll(r->rk, 10);
		return 0;
	}
	int n = r->cap->ops->next(r->cap, &r->sink, (int)(MAX_INFLIGHT - inflight), drained, e);
	if (n == U_EFATAL)
		return u_err(err, "%s", e);
	if (n == U_ECONNLOST) { /* reconnect, keep what is in flight */
		set_error(r, e);
		set_state(r, "mysql down, retrying");
		log_state(r, 1);
		source_close(r);
		return RUN_AGAIN;
	}
	if (n < 0) {
		set_error(r, e);
		idle(r, 200000);
		return RUN_AGAIN;
	}
	return n;
}

/* One pass of the loop: acks, re-sends, a read, progress, the heartbeat, the figures.
   0 to go on, 1 to stop (the source could not be reopened, or --once is done), -1 with err. */
static int run_pass(struct relay *r, struct run_loop *l, char *err)
{
	char e[U_ERRLEN];
	int64_t start = u_mono_us();
	rd_kafka_poll(r->rk, 0);
	q_advance(r);
	int fc = faults(r, e); /* x and d, asked from the monitor */
	if (fc == 1)
		return 1;
	if (fc < 0) {
		if (fc == U_EFATAL || fc == U_ENOTFOUND || !r->rk)
			return u_err(err, "%s", e);
		set_error(r, e);
		return 0;
	}
	if (r->cfg.once && r->fatal_delivery)
		return u_err(err,
			     "kafka: delivery to %s failed (%s): check -b and that the brokers are up",
			     kc_bootstrap(r->kc), rd_kafka_err2str(r->fatal_delivery));
	if (do_resends(r, e) < 0)
		set_error(r, e);
	if (!r->m) {
		int c = source_open_retry(r, e);
		if (c == U_EFATAL) /* the lock went to another relay meanwhile */
			return u_err(err, "%s", e);
		if (c != 0)
			return 1;
		set_state(r, "mysql reconnected");
		log_state(r, 1);
	}
	/* the clock is read before the read that may find nothing: then every row committed
	   before it has been read */
	int64_t hb_clock = INT64_MIN;
	if (r->hb_topic[0] && !r->cfg.once && all_acked(r) &&
	    u_mono_us() - r->last_hb_us >= HB_EVERY_US)
		hb_clock = source_clock(r);
	int drained = 0;
	int n = run_read(r, &drained, err);
	if (n == RUN_AGAIN)
		return 0;
	if (n < 0)
		return -1;
	int64_t now = u_mono_us();
	q_advance(r);
	if (now - r->last_save_us >= SAVE_EVERY_US || n == 0) {
		if (save_progress(r, 0, e) < 0) {
			set_error(r, e);
			if (r->cfg.once)
				return u_err(err, "%s", e);
			source_close(r);
			idle(r, 1000000); /* a save that keeps failing must not spin */
			return 0;
		}
	}
	if (hb_clock != INT64_MIN && n == 0 && all_acked(r))
		send_heartbeat(r, hb_clock - r->cap->ops->clock_lag_us);
	publish(r);
	char hold[64];
	int64_t held_since = r->cap->ops->waiting(r->cap, hold, sizeof hold);
	run_state(r, n, held_since, hold, now);
	if (r->cfg.once && n == 0 && all_acked(r))
		return 1;
	run_pace(r, l, n, drained, held_since, start, now);
	return 0;
}

/* Stops: flushes what is in flight and saves progress; --once also
   sends the source's clock at the drain's end. rc: the loop's outcome, returned (or -1 with
   err when --once leaves messages unacknowledged). */
static int run_end(struct relay *r, int rc, char *err)
{
	char e[U_ERRLEN];
	int64_t last_clock = r->hb_topic[0] && r->cfg.once && rc == 0 ? source_clock(r) : INT64_MIN;
	drain(r, r->cfg.once ? 30000000 : 5000000, e);
	if (last_clock != INT64_MIN && all_acked(r)) {
		send_heartbeat(r, last_clock - r->cap->ops->clock_lag_us);
		rd_kafka_flush(r->rk, 2000);
	}
	publish(r);
	if (rc == 0 && r->cfg.once && (r->qn || r->fatal_delivery))
		rc = u_err(err, "kafka: %zu messages not acknowledged by %s: check -b and that "
				"the brokers are up",
			   r->qn, kc_bootstrap(r->kc));
	if (r->cfg.verbose)
		u_log("relay: stopped at progress %lld (%llu relayed this run)",
		      (long long)r->cap->ops->progress(r->cap), (unsigned long long)r->st.relayed);
	return rc;
}

int relay_run(struct relay *r, char *err)
{
	int c = run_begin(r, err);
	if (c)
		return c < 0 ? -1 : 0;
	struct run_loop l = {.idle_us = ACTIVE_POLL_US};
	int rc = 0;
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int p = run_pass(r, &l, err);
		if (p) {
			rc = p < 0 ? -1 : 0;
			break;
		}
	}
	return run_end(r, rc, err);
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
	source_close(r);
	cap_free(r->cap);
	free_resends(r);
	free(r->q);
	free(r->kept);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
