/*
 * consumer.c - reads the topic by assign (every partition, from the offsets for now - horizon),
 * decodes each envelope (cdctop's, or a Debezium connector's through debezium.c, judged per
 * message or forced), feeds the window store, holds the watermark while partitions still
 * have a backlog, and keeps the figures the monitor shows (per-partition offsets, rates,
 * end-to-end latency, the first rejected messages). Each partition has its own queue, and
 * cons_run merges their heads in log_id order (Debezium: binlog order), so the seen-id set
 * stays a few intervals (Debezium: appended to) and
 * event times arrive nearly in order even when partitions are fetched unevenly (a rebuild).
 * cons_run's thread owns the rd_kafka handles: two, a 5 ms and a 1 ms fetch wait, the data
 * partitions on the second while messages arrive (adapt_wait, move_parts);
 * a mutex guards the store and the figures, which any thread reads through cons_view and
 * cons_stats. Must never stop or crash on a bad message, and never hold the lock across a
 * Kafka call.
 */
#include "consumer.h"
#include "checkpoint.h"
#include "debezium.h"
#include "envelope.h"
#include "heartbeat.h"
#include "kwake.h"
#include "util.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONS_BATCH     1024
#define CONS_PBUF      256 /* messages taken from one partition queue at a time */
#define CONS_STALL_US  100000LL /* longest wait for one partition to keep the merge in order */
#define CONS_POLL_MS   100
#define CONS_QUERY_MS  5000
#define LAT_BUCKETS    496 /* 16 exact + 8 per power of two up to 2^63 */
#define LAT_ROTATE_US  (10 * 1000000LL) /* latency covers the last 10-20 s of events */
#define PROBE_EVERY_US 2000000LL         /* how often a broken connection is re-checked */
#define CKPT_EVERY_US  1000000LL         /* a checkpoint at most this often, when changed */
#define HB_LOOK_US     5000000LL         /* how often a missing heartbeat topic is looked for */
#define MYSQL_CHUNK    4096              /* rows from MySQL added per hold of the lock */
#define CKPT_MAGIC     0x31534e43u       /* "CNS1": the consumer's checkpoint payload */
#define CONS_GHASH     2048              /* group value hash slots: > 2 * CONS_MAX_GROUPS */
#define WAIT_SLOW_MS   "5"               /* fetch.wait.max.ms while nothing arrives */
#define WAIT_QUICK_MS  "1"               /* ... while messages arrive (the quick handle) */
#define QUICK_HOLD_US  2000000LL         /* the quick handle reads until this long without any */
_Static_assert(CONS_GHASH >= 2 * CONS_MAX_GROUPS && CONS_GHASH <= 65536, "CONS_GHASH");

/* One decoded message of a batch, judged later under the lock. */
struct item {
	int32_t part;
	int64_t offset;
	int64_t log_id, event_us; /* log_id: the merge's order (Debezium: the binlog order) */
	int64_t id;               /* the identity the store dedups by (cdctop: log_id) */
	uint32_t store_id;
	int kind; /* IT_EVENT, IT_BAD (rejected by the decoder), IT_END (partition end), ... */
};

/* IT_UPD, IT_DEL: a Debezium update or delete; IT_SKIP: a tombstone, heartbeat, other table */
enum { IT_EVENT = 0, IT_BAD, IT_END, IT_UPD, IT_DEL, IT_SKIP };

/* Rejected messages kept for display: the CONS_MAX_REJECTS lowest (partition, offset), so
   the list does not depend on the order partitions were read in. Sorted. */
struct rejset {
	int n;
	int32_t part[CONS_MAX_REJECTS];
	int64_t off[CONS_MAX_REJECTS];
	char text[CONS_MAX_REJECTS][160];
};

/* Decoded messages taken from one partition's queue, not yet merged. */
struct pbuf {
	struct item *it; /* CONS_PBUF */
	int n, i;        /* it[i..n) are pending */
};

/* Per-partition state private to the consumer thread. */
struct pstate {
	int64_t low, high; /* watermarks as last known (-1 unknown) */
	int64_t pos;       /* next offset to read */
	int64_t taken;     /* next offset after the last message taken from its queue */
	int64_t max_ev;    /* max event time read from it since the (re)build, INT64_MIN none */
	int64_t committed;
	int64_t poke_mark; /* refill pokes again once taken passes this (what was queued then) */
};

/* A latency histogram of microseconds (see lat_bucket). */
struct hist {
	uint64_t b[LAT_BUCKETS];
	uint64_t n;
};

struct cons {
	char *topic;
	int64_t horizon_us;
	int64_t topic_wait_us;
	char *state_path;       /* checkpoint file, NULL none */
	struct db_target *db;   /* MySQL to rebuild from, NULL none */
	int binlog;
	char *hb_topic;         /* NULL none */
	int format;             /* enum cons_format */
	int dbz_first;          /* auto: the last message decoded was Debezium's, try it first */
	char *group_by, *table; /* Debezium: the column counted by, the one table (NULL any) */
	struct dbz_cache *dcache; /* Debezium: the schema last seen (thread-private) */
	/* Debezium group values: the distinct ids counted (thread-private; at most gmax, found
	   by ghash: index + 1, 0 free), and the texts of the coded ones (written under mu, by
	   the consumer thread only) */
	uint32_t gids[CONS_MAX_GROUPS];
	int ngids, gmax;
	uint16_t ghash[CONS_GHASH];
	char gtext[CONS_MAX_GROUPS][DBZ_VALMAX];
	int gstr[CONS_MAX_GROUPS]; /* the coded value was a JSON string */
	int ngtext;
	rd_kafka_queue_t *hbq;  /* the heartbeat partition's queue, once assigned */
	int hb_pending;         /* a heartbeat waits for the data it covers to be read */
	struct hb hb;
	int64_t hb_look_t0;
	char cluster[128];      /* the cluster id as last seen ("" unknown) */
	int restored;           /* the store came from the checkpoint: setup resumes */
	int64_t resume[CONS_MAX_PARTS]; /* the checkpoint's positions, -1 none */
	int resume_n;
	int mysql_pending;      /* read MySQL's log into the store after the next setup */
	int mysql_reset;        /* ... after forgetting everything (a rebuild) */
	int topic_rebuild;      /* a rebuild from the topic: note its size once caught up */
	uint64_t ckpt_sig;      /* what the last checkpoint reflected */
	int64_t ckpt_t0;
	int64_t lost_upto[CONS_MAX_PARTS]; /* per partition: messages below this are known gone */
	struct kc *kc;
	/* the fetch wait adapts (librdkafka reads fetch.wait.max.ms once, at rd_kafka_new, and
	   a mock broker holds an empty fetch for all of it, data or not): slow waits 5 ms and
	   holds the heartbeat partition always, quick waits 1 ms and holds the data partitions
	   while messages arrive; rk is the one holding them now (slow when quick is NULL) */
	rd_kafka_t *rk, *slow, *quick;
	rd_kafka_queue_t *q, *qq;             /* slow's and quick's consumer queues: callbacks */
	int64_t data_at;                      /* mono us the last message was taken */
	rd_kafka_queue_t *pq[CONS_MAX_PARTS]; /* each partition's own queue */
	struct pbuf pb[CONS_MAX_PARTS];
	int64_t stall_since[CONS_MAX_PARTS]; /* mono us since it was lagging and empty, or 0 */
	int wake[2]; /* a pipe the queues write to when they get something */
	struct kwake *kw; /* wakes a broker thread when a drained partition waits (kwake.h) */

	atomic_int stop;
	atomic_int rebuild;

	/* thread-private */
	int nparts, assigned;
	struct pstate ps[CONS_MAX_PARTS];
	struct item *items;
	int64_t rate_t0, hist_t0, probe_t0;
	uint64_t rate_n0;

	/* guarded by mu */
	pthread_mutex_t mu;
	struct ws *ws;
	struct cons_stats st;
	struct hist lat_cur, lat_prev;
	struct rejset rej; /* written only by the consumer thread */
};

/* The bucket of a latency in us: exact below 16 us, then 8 per power of two (<= 12.5%). */
static int lat_bucket(int64_t us)
{
	if (us < 16)
		return us < 0 ? 0 : (int)us;
	int msb = 63 - __builtin_clzll((unsigned long long)us);
	int b = msb * 8 + (int)((us >> (msb - 3)) & 7) - 16;
	return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

/* The range [lo, hi) of us that bucket b covers. */
static void lat_range(int b, int64_t *lo, int64_t *hi)
{
	if (b < 16) {
		*lo = b;
		*hi = b + 1;
		return;
	}
	int msb = (b + 16) / 8, sub = (b + 16) % 8;
	*lo = (int64_t)(8 + sub) << (msb - 3);
	*hi = (int64_t)(9 + sub) << (msb - 3);
}

/* The p-quantile (0..1) over two histograms, interpolated inside its bucket; 0 when both
   are empty. */
static int64_t lat_quantile(const struct hist *a, const struct hist *b, double p)
{
	uint64_t n = a->n + b->n;
	if (!n)
		return 0;
	double rank = p * (double)(n - 1);
	uint64_t seen = 0;
	for (int i = 0; i < LAT_BUCKETS; i++) {
		uint64_t in = a->b[i] + b->b[i];
		if (in && (double)(seen + in) > rank) {
			int64_t lo, hi;
			lat_range(i, &lo, &hi);
			double f = (rank - (double)seen + 0.5) / (double)in;
			return lo + (int64_t)(f * (double)(hi - lo));
		}
		seen += in;
	}
	int64_t lo, hi;
	lat_range(LAT_BUCKETS - 1, &lo, &hi);
	return lo;
}

/* 1 if (part, off) would be kept by r: it is not full, or the key is below its last. */
static int rej_wants(const struct rejset *r, int32_t part, int64_t off)
{
	if (r->n < CONS_MAX_REJECTS)
		return 1;
	int l = r->n - 1;
	return part < r->part[l] || (part == r->part[l] && off < r->off[l]);
}

/* Keeps (part, off, text) in r if it is among the lowest keys; r stays sorted. */
static void rej_keep(struct rejset *r, int32_t part, int64_t off, const char *text)
{
	if (!rej_wants(r, part, off))
		return;
	int i = r->n < CONS_MAX_REJECTS ? r->n++ : CONS_MAX_REJECTS - 1;
	for (; i > 0 && (r->part[i - 1] > part || (r->part[i - 1] == part && r->off[i - 1] > off));
	     i--) {
		r->part[i] = r->part[i - 1];
		r->off[i] = r->off[i - 1];
		memcpy(r->text[i], r->text[i - 1], sizeof r->text[0]);
	}
	r->part[i] = part;
	r->off[i] = off;
	snprintf(r->text[i], sizeof r->text[0], "%s", text);
}

/* Publishes an error for the status line (lock held by the caller). */
static void set_error_locked(struct cons *c, const char *msg)
{
	snprintf(c->st.last_error, sizeof c->st.last_error, "%s", msg);
}

/* Publishes an error and the Kafka state, taking the lock. */
static void set_error(struct cons *c, const char *msg, int kafka_ok)
{
	pthread_mutex_lock(&c->mu);
	set_error_locked(c, msg);
	c->st.kafka_ok = kafka_ok;
	pthread_mutex_unlock(&c->mu);
}

/* librdkafka's error callback (served on the consumer thread by the poll): keeps the error. */
static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	(void)rk;
	struct cons *c = opaque;
	char msg[U_ERRLEN];
	snprintf(msg, sizeof msg, "kafka: %s", reason);
	int down = e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
		   e == RD_KAFKA_RESP_ERR__RESOLVE;
	pthread_mutex_lock(&c->mu);
	set_error_locked(c, msg);
	if (down)
		c->st.kafka_ok = 0;
	pthread_mutex_unlock(&c->mu);
}

/* Auto-commit result (consumer thread): records the committed offsets for the Kafka pane. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
		      rd_kafka_topic_partition_list_t *offs, void *opaque)
{
	(void)rk;
	struct cons *c = opaque;
	if (e || !offs)
		return;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < offs->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &offs->elems[i];
		if (p->err || p->offset < 0 || p->partition < 0 || p->partition >= c->st.nparts ||
		    strcmp(p->topic, c->topic))
			continue;
		c->st.parts[p->partition].committed = p->offset;
		c->ps[p->partition].committed = p->offset;
	}
	pthread_mutex_unlock(&c->mu);
}

/* Releases the partition queues (what they hold is fetched again), and their waker. */
static void close_queues(struct cons *c)
{
	kw_stop(c->kw);
	c->kw = NULL;
	for (int i = 0; i < CONS_MAX_PARTS; i++) {
		if (c->pq[i]) {
			rd_kafka_queue_io_event_enable(c->pq[i], -1, NULL, 0);
			rd_kafka_queue_destroy(c->pq[i]);
			c->pq[i] = NULL;
		}
		c->stall_since[i] = 0;
	}
}

/* Releases the partition queues and whatever they had delivered but was not merged. */
static void drop_queues(struct cons *c)
{
	close_queues(c);
	for (int i = 0; i < CONS_MAX_PARTS; i++)
		c->pb[i].n = c->pb[i].i = 0;
}

/* Takes each partition's queue off the consumer queue (before assign, so no message takes
   the shared path) and has it wake the pipe when something arrives. */
static void open_queues(struct cons *c, int n)
{
	for (int i = 0; i < n; i++) {
		c->pq[i] = rd_kafka_queue_get_partition(c->rk, c->topic, i);
		if (!c->pq[i])
			continue; /* its messages then arrive on the consumer queue */
		rd_kafka_queue_forward(c->pq[i], NULL);
		if (c->wake[1] >= 0)
			rd_kafka_queue_io_event_enable(c->pq[i], c->wake[1], "p", 1);
		if (!c->pb[i].it)
			c->pb[i].it = u_malloc(CONS_PBUF * sizeof(struct item));
	}
	if (kw_needed())
		c->kw = kw_start(c->rk, c->topic, n);
}

/* A consumer handle with cdctop's defaults and fetch.wait.max.ms wait (the caller's
   cfg->fetch_wait_ms over the user's -X over wait); c is its callbacks' opaque. NULL with err. */
static rd_kafka_t *open_handle(struct cons *c, struct kc *kc, const struct cons_config *cfg,
			       const char *wait, char *err)
{
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	if (!conf)
		return NULL;
	char group[300], forced[16], e[512];
	snprintf(group, sizeof group, "cdctop-%s", cfg->topic);
	snprintf(forced, sizeof forced, "%d", cfg->fetch_wait_ms);
	if (kc_default(kc, conf, "group.id", group, err) < 0 ||
	    kc_default(kc, conf, "client.id", "cdctop-consumer", err) < 0 ||
	    kc_default(kc, conf, "enable.auto.commit", "true", err) < 0 ||
	    /* partitions are assigned, never subscribed: the group only stores the committed
	       offsets, yet librdkafka's destroy waits out the session timeout (45 s by default)
	       while the coordinator is unreachable; the brokers' least (6 s) bounds it */
	    kc_default(kc, conf, "session.timeout.ms", "6000", err) < 0 ||
	    kc_default(kc, conf, "auto.commit.interval.ms", "1000", err) < 0 ||
	    kc_default(kc, conf, "auto.offset.reset", "earliest", err) < 0 ||
	    /* the end of a partition is where its messages stop, not always its high watermark
	       (transaction markers take offsets too): the end events say where */
	    kc_default(kc, conf, "enable.partition.eof", "true", err) < 0 ||
	    kc_default(kc, conf, "reconnect.backoff.max.ms", "1000", err) < 0 ||
	    /* each partition has its own queue, so this bounds the prefetch per partition: a
	       rebuild over many partitions must not hold the whole topic in memory. Before 2.3 a
	       broker thread re-decides to fetch a drained queue only once a second unless woken,
	       so kwake pokes it (bench, 32 partitions, 1M messages: 512 KiB 460k/s 38 MiB; 4 MiB
	       350k/s 285 MiB without the pokes). In messages, so that large ones (a Debezium
	       topic's 3 KB) are not held to a sixth of the small ones' count: about 1,300 (512 KiB
	       of cdctop's envelopes), at most 2 MiB (bench, 250k Debezium messages: 512 KiB
	       ~190k/s ~70 MiB; 1,300 or 2 MiB ~250-340k/s ~125 MiB) */
	    kc_default(kc, conf, "queued.min.messages", "1300", err) < 0 ||
	    kc_default(kc, conf, "queued.max.messages.kbytes", "2048", err) < 0 ||
	    (cfg->fetch_wait_ms > 0 ? rd_kafka_conf_set(conf, "fetch.wait.max.ms", forced, e,
							sizeof e) != RD_KAFKA_CONF_OK &&
					  u_err(err, "kafka consumer: %s", e) < 0
				    : kc_default(kc, conf, "fetch.wait.max.ms", wait, err) < 0)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		u_err(err, "kafka consumer: %s", e);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Moves the data partitions to handle to (slow or quick), each from the offset after the last
   message taken from its queue: what the old queues held beyond is dropped and fetched again,
   what was taken and not merged yet stays in the buffers, so nothing is lost or read twice.
   The heartbeat partition stays on slow. */
static void move_parts(struct cons *c, rd_kafka_t *to)
{
	if (!to || to == c->rk || !c->assigned || c->nparts <= 0)
		return;
	rd_kafka_t *from = c->rk;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->nparts);
	for (int i = 0; i < c->nparts; i++)
		rd_kafka_topic_partition_list_add(l, c->topic, i)->offset = c->ps[i].taken;
	rd_kafka_commit(from, NULL, 1); /* its last offsets, for the Kafka pane's lag */
	close_queues(c);
	rd_kafka_error_t *er = NULL;
	if (from == c->slow)
		er = rd_kafka_incremental_unassign(from, l);
	else
		rd_kafka_assign(from, NULL);
	if (er)
		rd_kafka_error_destroy(er);
	c->rk = to;
	open_queues(c, c->nparts);
	er = NULL;
	rd_kafka_resp_err_t ar = 0;
	if (to == c->slow)
		er = rd_kafka_incremental_assign(to, l);
	else
		ar = rd_kafka_assign(to, l);
	if (er || ar) { /* not assigned (the impossible): set up again from scratch */
		if (er)
			rd_kafka_error_destroy(er);
		c->assigned = 0;
	}
	rd_kafka_topic_partition_list_destroy(l);
	pthread_mutex_lock(&c->mu);
	c->st.wait_switches++;
	pthread_mutex_unlock(&c->mu);
}

struct cons *cons_new(const struct cons_config *cfg, struct kc *kc, char *err)
{
	if (!cfg || !cfg->topic || !*cfg->topic) {
		u_err(err, "consumer: no topic named");
		return NULL;
	}
	int64_t hs = cfg->horizon_us > 0 ? (cfg->horizon_us + 999999) / 1000000 : 3600;
	if (hs > WS_MAX_HORIZON_S) {
		u_err(err, "consumer: horizon too long (at most %lld s)", (long long)WS_MAX_HORIZON_S);
		return NULL;
	}
	struct cons *c = u_calloc(1, sizeof *c);
	c->wake[0] = c->wake[1] = -1;
	c->slow = open_handle(c, kc, cfg, WAIT_SLOW_MS, err);
	/* the user's fetch wait (-X fetch.wait.max.ms, or the caller's) is the one wait */
	if (c->slow && !cfg->fetch_wait_ms && !kc_has_prop(kc, "fetch.wait.max.ms") &&
	    !(c->quick = open_handle(c, kc, cfg, WAIT_QUICK_MS, err))) {
		rd_kafka_destroy_flags(c->slow, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		c->slow = NULL;
	}
	if (!c->slow) {
		free(c);
		return NULL;
	}
	c->rk = c->slow;
	c->q = rd_kafka_queue_get_consumer(c->slow);
	c->qq = c->quick ? rd_kafka_queue_get_consumer(c->quick) : NULL;
	c->topic = u_strdup(cfg->topic);
	c->state_path = cfg->state_path ? u_strdup(cfg->state_path) : NULL;
	if (cfg->db) {
		c->db = u_malloc(sizeof *c->db);
		*c->db = *cfg->db;
	}
	c->binlog = cfg->binlog;
	c->hb_topic = cfg->hb_topic ? u_strdup(cfg->hb_topic) : NULL;
	c->format = cfg->format;
	c->group_by = u_strdup(cfg->group_by && *cfg->group_by ? cfg->group_by : "store_id");
	c->table = cfg->table && *cfg->table ? u_strdup(cfg->table) : NULL;
	c->dcache = u_calloc(1, sizeof *c->dcache);
	for (int i = 0; i < CONS_MAX_PARTS; i++)
		c->resume[i] = -1;
	c->horizon_us = hs * 1000000;
	c->topic_wait_us = cfg->topic_wait_us;
	c->kc = kc;
	c->ws = ws_new(hs, cfg->lateness_us);
	c->gmax = ws_max_tracked(c->ws) - 1; /* and CONS_CODE_OTHER */
	c->items = u_malloc(CONS_BATCH * sizeof *c->items);
	for (int i = 0; i < CONS_MAX_PARTS; i++)
		c->pb[i].it = NULL;
	if (pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) == 0) {
		rd_kafka_queue_io_event_enable(c->q, c->wake[1], "c", 1);
		if (c->qq)
			rd_kafka_queue_io_event_enable(c->qq, c->wake[1], "c", 1);
	}
	pthread_mutex_init(&c->mu, NULL);
	atomic_init(&c->stop, 0);
	atomic_init(&c->rebuild, 0);
	return c;
}

void cons_free(struct cons *c)
{
	if (!c)
		return;
	drop_queues(c);
	if (c->hbq) {
		rd_kafka_queue_io_event_enable(c->hbq, -1, NULL, 0);
		rd_kafka_queue_destroy(c->hbq);
	}
	rd_kafka_queue_t *qs[2] = {c->q, c->qq};
	rd_kafka_t *rks[2] = {c->slow, c->quick};
	for (int i = 0; i < 2; i++) {
		if (qs[i]) {
			rd_kafka_queue_io_event_enable(qs[i], -1, NULL, 0);
			rd_kafka_queue_destroy(qs[i]);
		}
		if (!rks[i])
			continue;
		/* the committed offsets only feed the monitor's lag column: commit them without
		   waiting, and skip the consumer close, which waits for the group coordinator
		   without a bound and hangs the quit while the cluster is unreachable */
		rd_kafka_commit(rks[i], NULL, 1);
		rd_kafka_destroy_flags(rks[i], RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	}
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	for (int i = 0; i < CONS_MAX_PARTS; i++)
		free(c->pb[i].it);
	ws_free(c->ws);
	pthread_mutex_destroy(&c->mu);
	free(c->items);
	free(c->topic);
	free(c->state_path);
	if (c->db)
		memset(c->db->password, 0, sizeof c->db->password);
	free(c->db);
	free(c->hb_topic);
	free(c->group_by);
	free(c->table);
	free(c->dcache);
	free(c);
}

void cons_stop(struct cons *c)
{
	atomic_store(&c->stop, 1);
}

void cons_rebuild(struct cons *c)
{
	atomic_store(&c->rebuild, 1);
}

void cons_set_lateness(struct cons *c, int64_t lateness_us)
{
	pthread_mutex_lock(&c->mu);
	ws_set_lateness(c->ws, lateness_us);
	pthread_mutex_unlock(&c->mu);
}

void cons_stats(struct cons *c, struct cons_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	out->lat_p50_us = lat_quantile(&c->lat_cur, &c->lat_prev, 0.50);
	out->lat_p99_us = lat_quantile(&c->lat_cur, &c->lat_prev, 0.99);
	pthread_mutex_unlock(&c->mu);
}

int cons_view(struct cons *c, int64_t size_s, int64_t slide_s, struct ws_window *out, int max,
	      uint32_t *store_ids, int *nstores, struct ws_stats *st, int64_t *watermark_us)
{
	pthread_mutex_lock(&c->mu);
	int n = out && max > 0 ? ws_windows(c->ws, size_s, slide_s, out, max) : 0;
	if (store_ids && nstores)
		*nstores = ws_stores(c->ws, store_ids, WS_MAX_STORES);
	if (st)
		ws_stats(c->ws, st);
	if (watermark_us)
		*watermark_us = ws_watermark_us(c->ws);
	pthread_mutex_unlock(&c->mu);
	return n;
}

int cons_held(struct cons *c, int64_t *from_s, uint64_t *events, int64_t *max_id)
{
	int64_t hi;
	pthread_mutex_lock(&c->mu);
	int ok = ws_held(c->ws, from_s, &hi);
	*events = ok ? ws_count_since(c->ws, *from_s) : 0;
	*max_id = ws_max_id(c->ws);
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* The event time the watermark may follow: the least max event time over partitions that
 * still have unread data (INT64_MIN for one not read yet), or INT64_MAX when none has. */
static int64_t time_cap(const struct cons *c)
{
	int64_t cap = INT64_MAX;
	for (int i = 0; i < c->nparts; i++) {
		const struct pstate *p = &c->ps[i];
		if (p->high >= 0 && p->pos < p->high && p->max_ev < cap)
			cap = p->max_ev;
	}
	return cap;
}

/* Copies the thread's partition state into the published stats (lock held). */
static void publish_parts_locked(struct cons *c)
{
	int all = c->nparts > 0;
	c->st.nparts = c->nparts;
	for (int i = 0; i < c->nparts; i++) {
		const struct pstate *p = &c->ps[i];
		struct cons_part *o = &c->st.parts[i];
		o->id = i;
		o->low = p->low;
		o->high = p->high;
		o->position = p->pos;
		o->committed = p->committed;
		o->lag = cons_lag(p->high, p->low, p->pos);
		if (o->lag > 0)
			all = 0;
	}
	if (all)
		c->st.caught_up = 1;
}

/* Refreshes the cached watermarks librdkafka learnt from its fetch responses. */
static void refresh_watermarks(struct cons *c)
{
	for (int i = 0; i < c->nparts; i++) {
		int64_t lo = -1, hi = -1;
		if (rd_kafka_get_watermark_offsets(c->rk, c->topic, i, &lo, &hi))
			continue;
		if (hi >= 0)
			c->ps[i].high = hi;
		if (lo >= 0)
			c->ps[i].low = lo;
	}
}

/* The reason in a librdkafka log line, in place: without its "FAIL: [thrd:x]: x/bootstrap: "
   lead and its " (after 0ms in state ...)" tail. */
static const char *log_reason(char *line)
{
	char *p = line, *q;
	while ((q = strstr(p, "]: ")) != NULL)
		p = q + 3;
	if ((q = strstr(p, "/bootstrap: ")) != NULL)
		p = q + 12;
	if ((q = strstr(p, " (after ")) != NULL)
		*q = 0;
	return p;
}

/* Waits for the topic's partition count: bounded by topic_wait_us (0: until stopped).
   Returns the count, 0 when stopped, -1 with err when the wait ran out. */
static int find_partitions(struct cons *c, char *err)
{
	int64_t t0 = u_mono_us();
	char e[U_ERRLEN];
	for (;;) {
		if (atomic_load(&c->stop))
			return 0;
		int n = kc_topic_partitions(c->rk, c->topic, 1000, e);
		if (n > 0)
			return n;
		set_error(c, e, n == U_ENOTFOUND); /* the code, never the message text */
		if (c->topic_wait_us > 0 && u_mono_us() - t0 >= c->topic_wait_us) {
			char d[32], klog[U_ERRLEN];
			u_fmt_duration(c->topic_wait_us, d, sizeof d);
			if (n == U_ENOTFOUND)
				return u_err(err,
					     "topic '%.64s' does not exist at '%.80s' (waited %s): "
					     "relay something first, or name the topic with -t",
					     c->topic, kc_bootstrap(c->kc), d);
			kc_last_log(klog, sizeof klog);
			return u_err(err,
				     "cannot reach kafka at '%.80s' within %s (%.90s): check -b "
				     "and that the cluster is up",
				     kc_bootstrap(c->kc), d, *klog ? log_reason(klog) : e);
		}
		u_sleep_us(200000);
	}
}


/* ---- state that outlives the process: checkpoint, MySQL's log, the source clock ---- */

/* 1 when offsets saved in an earlier run still name the same messages: the same cluster,
   and not a mock (a mock's id is derived from an address, and it lives one process). */
static int offsets_trusted(const struct cons *c, const char *saved_cluster)
{
	return c->cluster[0] && !strcmp(c->cluster, saved_cluster) &&
	       strncmp(c->cluster, "mockCluster", 11) != 0;
}

/* Appends n bytes to a growing buffer. */
static void put(uint8_t **b, size_t *n, size_t *cap, const void *v, size_t len)
{
	if (*n + len > *cap) {
		while (*n + len > *cap)
			*cap = *cap ? *cap * 2 : 1024;
		*b = u_realloc(*b, *cap);
	}
	memcpy(*b + *n, v, len);
	*n += len;
}

/* A signature of what a checkpoint would hold: it changes with every applied message,
   heartbeat or rebuild. */
static uint64_t state_sig(const struct cons *c)
{
	uint64_t h = c->st.consumed * 1000003u + c->st.heartbeats * 7919u + (uint64_t)c->st.source;
	for (int i = 0; i < c->nparts; i++)
		h = h * 31 + (uint64_t)c->ps[i].pos;
	return h ^ (uint64_t)ws_clock_us(c->ws);
}

/* Writes the checkpoint: the store with the positions it reflects, taken under the lock
   between batches, so both describe the same messages. Skipped while a rebuild still reads
   (the store would be short of what the positions say). */
static void save_checkpoint(struct cons *c, int force)
{
	if (!c->state_path || !c->assigned || c->mysql_pending || c->st.rebuilding)
		return;
	int64_t t0 = u_mono_us();
	if (!force && t0 - c->ckpt_t0 < CKPT_EVERY_US)
		return;
	uint8_t *b = NULL;
	size_t n = 0, cap = 0, wl;
	pthread_mutex_lock(&c->mu);
	uint64_t sig = state_sig(c);
	if (sig == c->ckpt_sig && !force) {
		pthread_mutex_unlock(&c->mu);
		c->ckpt_t0 = t0;
		return;
	}
	uint32_t magic = CKPT_MAGIC;
	uint16_t tl = (uint16_t)strlen(c->topic), cl = (uint16_t)strlen(c->cluster);
	int32_t np = c->nparts, src = c->st.source;
	put(&b, &n, &cap, &magic, sizeof magic);
	put(&b, &n, &cap, &tl, sizeof tl);
	put(&b, &n, &cap, c->topic, tl);
	put(&b, &n, &cap, &cl, sizeof cl);
	put(&b, &n, &cap, c->cluster, cl);
	put(&b, &n, &cap, &src, sizeof src);
	put(&b, &n, &cap, &np, sizeof np);
	for (int i = 0; i < c->nparts; i++)
		put(&b, &n, &cap, &c->ps[i].pos, sizeof c->ps[i].pos);
	void *img = ws_encode(c->ws, &wl);
	pthread_mutex_unlock(&c->mu);
	put(&b, &n, &cap, img, wl);
	free(img);
	char e[U_ERRLEN];
	int rc = ckpt_write(c->state_path, b, n, e);
	free(b);
	int64_t dt = u_mono_us() - t0;
	pthread_mutex_lock(&c->mu);
	if (rc < 0)
		set_error_locked(c, e);
	else {
		c->st.ckpt_saves++;
		c->st.ckpt_us = dt;
	}
	pthread_mutex_unlock(&c->mu);
	c->ckpt_sig = sig;
	c->ckpt_t0 = t0;
}

/* A bounded reader over the checkpoint payload. */
struct rd {
	const uint8_t *p;
	size_t n, at;
};

static int rd_get(struct rd *r, void *v, size_t len)
{
	if (r->n - r->at < len)
		return -1;
	memcpy(v, r->p + r->at, len);
	r->at += len;
	return 0;
}

/* Restores the store and the positions from the checkpoint. 1 when restored; 0 when there
   is none or it cannot be used (the note says why, and a rebuild follows). */
static int restore_checkpoint(struct cons *c)
{
	if (!c->state_path)
		return 0;
	void *data;
	size_t len;
	char e[U_ERRLEN], why[U_ERRLEN] = "";
	int rc = ckpt_read(c->state_path, &data, &len, e);
	if (rc == CKPT_MISSING)
		return 0;
	if (rc < 0) {
		snprintf(why, sizeof why, "%s", e);
		goto refuse;
	}
	struct rd r = {data, len, 0};
	uint32_t magic = 0;
	uint16_t tl = 0, cl = 0;
	int32_t np = 0, src = 0;
	char topic[256] = "", cluster[128] = "";
	if (rd_get(&r, &magic, sizeof magic) || magic != CKPT_MAGIC || rd_get(&r, &tl, sizeof tl) ||
	    tl >= sizeof topic || rd_get(&r, topic, tl) || rd_get(&r, &cl, sizeof cl) ||
	    cl >= sizeof cluster || rd_get(&r, cluster, cl) || rd_get(&r, &src, sizeof src) ||
	    rd_get(&r, &np, sizeof np) || np < 0 || np > CONS_MAX_PARTS) {
		snprintf(why, sizeof why, "checkpoint %.180s is damaged (bad consumer header)",
			 c->state_path);
		goto refuse_free;
	}
	if (strcmp(topic, c->topic)) {
		snprintf(why, sizeof why, "checkpoint %.120s is for topic %.80s", c->state_path, topic);
		goto refuse_free;
	}
	int64_t pos[CONS_MAX_PARTS];
	for (int i = 0; i < np; i++)
		if (rd_get(&r, &pos[i], sizeof pos[i])) {
			snprintf(why, sizeof why, "checkpoint %.180s is damaged (truncated)", c->state_path);
			goto refuse_free;
		}
	pthread_mutex_lock(&c->mu);
	rc = ws_decode(c->ws, r.p + r.at, r.n - r.at, e);
	struct ws_stats st;
	ws_stats(c->ws, &st);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0) {
		snprintf(why, sizeof why, "checkpoint %.120s: %.120s", c->state_path, e);
		goto refuse_free;
	}
	free(data);
	memcpy(c->resume, pos, (size_t)np * sizeof pos[0]);
	c->resume_n = np;
	snprintf(c->cluster, sizeof c->cluster, "%s", cluster); /* compared after setup */
	c->restored = 1;
	pthread_mutex_lock(&c->mu);
	c->st.source = CONS_SRC_CHECKPOINT;
	c->st.source_events = st.added + st.late;
	char cnt[32];
	snprintf(c->st.note, sizeof c->st.note, "restored from the checkpoint: %s events",
		 u_fmt_count((long long)(st.added + st.late), cnt, sizeof cnt));
	pthread_mutex_unlock(&c->mu);
	return 1;
refuse_free:
	free(data);
refuse:
	pthread_mutex_lock(&c->mu);
	ws_reset(c->ws);
	snprintf(c->st.problem, sizeof c->st.problem, "%.160s: rebuilding", why);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/*
 * Reads MySQL's log of the horizon into the store (the change table, or the customer table
 * under binlog capture), each row as history (never late), deduplicated with what the store
 * holds. The clock read before the SELECT becomes the source clock: every row committed
 * before it is in the result. 0, or -1 with err (the store keeps what it had).
 */
static int read_mysql(struct cons *c, char *err)
{
	MYSQL *m = db_connect(c->db, 1, err);
	if (!m)
		return -1;
	long long t0 = 0, hs = c->horizon_us / 1000000;
	MYSQL_STMT *st = NULL;
	int rc = -1;
	if (db_query_ll(m, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)", &t0, err) < 0)
		goto out;
	const char *sql =
	    c->binlog ? "SELECT customer_id, store_id, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED) * "
			"1000000 FROM customer WHERE create_date >= UTC_TIMESTAMP() - INTERVAL ? SECOND"
		      : "SELECT log_id, store_id, CAST(UNIX_TIMESTAMP(event_timestamp) * 1000000 AS "
			"SIGNED) FROM users_change_events WHERE event_timestamp >= NOW(6) - "
			"INTERVAL ? SECOND ORDER BY log_id";
	st = mysql_stmt_init(m);
	long long id = 0, store = 0, ev = 0;
	MYSQL_BIND pb, rb[3];
	memset(&pb, 0, sizeof pb);
	memset(rb, 0, sizeof rb);
	pb.buffer_type = MYSQL_TYPE_LONGLONG;
	pb.buffer = &hs;
	long long *out[3] = {&id, &store, &ev};
	for (int i = 0; i < 3; i++) {
		rb[i].buffer_type = MYSQL_TYPE_LONGLONG;
		rb[i].buffer = out[i];
	}
	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_bind_param(st, &pb) ||
	    mysql_stmt_execute(st) || mysql_stmt_bind_result(st, rb)) {
		u_err(err, "mysql: %s", st ? mysql_stmt_error(st) : "out of memory");
		goto out;
	}
	uint64_t rows = 0;
	int f = 0;
	while (f == 0 && !atomic_load(&c->stop)) {
		pthread_mutex_lock(&c->mu);
		for (int k = 0; k < MYSQL_CHUNK && (f = mysql_stmt_fetch(st)) == 0; k++) {
			enum ws_result r = ws_add_history(c->ws, id, (uint32_t)store, ev);
			rows++;
			c->st.counted += r == WS_ADDED;
			c->st.expired += r == WS_EXPIRED;
			c->st.rejected += r == WS_NOROOM;
		}
		c->st.source_events = rows;
		pthread_mutex_unlock(&c->mu);
	}
	if (f == 1) {
		u_err(err, "mysql: %s", mysql_stmt_error(st));
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	ws_set_clock(c->ws, c->binlog ? t0 - 1000000 : t0);
	c->st.source = CONS_SRC_MYSQL;
	c->st.source_events = rows;
	pthread_mutex_unlock(&c->mu);
	rc = 0;
out:
	if (st)
		mysql_stmt_close(st);
	mysql_close(m);
	return rc;
}

/* Runs a pending read of MySQL's log (after setup, so positions are known); publishes what
   it did in the note. */
static void run_mysql_read(struct cons *c)
{
	char e[U_ERRLEN], why[sizeof c->st.note];
	pthread_mutex_lock(&c->mu);
	snprintf(why, sizeof why, "%s", c->st.note);
	c->st.rebuilding = 1;
	if (c->mysql_reset)
		ws_reset(c->ws);
	pthread_mutex_unlock(&c->mu);
	int64_t t0 = u_mono_us();
	int rc = read_mysql(c, e);
	int64_t ms = (u_mono_us() - t0) / 1000;
	pthread_mutex_lock(&c->mu);
	c->st.rebuilding = 0;
	char n[32];
	u_fmt_count((long long)c->st.source_events, n, sizeof n);
	if (rc < 0) {
		snprintf(c->st.note, sizeof c->st.note, "cannot read MySQL's change log: %.120s", e);
		set_error_locked(c, c->st.note);
	} else {
		snprintf(c->st.note, sizeof c->st.note, "%s MySQL's %s: %s rows in %lld ms%s%.50s",
			 c->mysql_reset ? "rebuilt from" : "filled in from",
			 c->binlog ? "customer table" : "change log", n, (long long)ms,
			 *why ? "; " : "", why);
	}
	pthread_mutex_unlock(&c->mu);
	c->mysql_pending = c->mysql_reset = 0;
}

/* Rewrites the lost-history line from lost_upto: "p0 from 12,000, p2 from 8,666: 20,666
   messages gone" (the lock held by the caller). */
static void lost_text_locked(struct cons *c)
{
	char a[32], *t = c->st.lost_text;
	size_t cap = sizeof c->st.lost_text, n = 0;
	t[0] = 0;
	for (int i = 0; i < c->nparts && n + 40 < cap; i++)
		if (c->lost_upto[i] > 0)
			n += (size_t)snprintf(t + n, cap - n, "%sp%d from %s", n ? ", " : "", i,
					      u_fmt_count(c->lost_upto[i], a, sizeof a));
	if (n && n + 30 < cap)
		snprintf(t + n, cap - n, ": %s messages gone",
			 u_fmt_count((long long)c->st.lost, a, sizeof a));
}

/* Notes messages [from, first_held) of a partition that left the topic before this
   consumer read them (the lock held by the caller). */
static void note_lost_locked(struct cons *c, int part, int64_t from, int64_t first_held)
{
	if (first_held <= from || first_held <= c->lost_upto[part])
		return;
	if (from < c->lost_upto[part])
		from = c->lost_upto[part];
	c->lost_upto[part] = first_held;
	c->st.lost += (uint64_t)(first_held - from);
	lost_text_locked(c);
	if (c->db)
		c->mysql_pending = 1; /* MySQL's log still has them */
}

static void note_lost(struct cons *c, int part, int64_t from, int64_t first_held)
{
	pthread_mutex_lock(&c->mu);
	note_lost_locked(c, part, from, first_held);
	pthread_mutex_unlock(&c->mu);
}

/* 1 when every partition has been read as far as the pending heartbeat says. */
static int hb_ready(const struct cons *c)
{
	if (!c->hb_pending || c->hb.nparts > c->nparts)
		return 0;
	for (int i = 0; i < c->hb.nparts; i++)
		if (c->ps[i].pos < c->hb.offsets[i])
			return 0;
	return 1;
}

/* Applies the pending heartbeat's clock to the store. */
static void hb_apply(struct cons *c)
{
	c->hb_pending = 0;
	pthread_mutex_lock(&c->mu);
	ws_set_clock(c->ws, c->hb.ts_us);
	c->st.clock_us = ws_clock_us(c->ws);
	c->st.heartbeats++;
	pthread_mutex_unlock(&c->mu);
}

/* Takes newly arrived heartbeats and applies each once every partition has been read as far
   as it says, so no row committed before its clock can still be on its way. A newer one
   replaces a pending one that is not ready yet. */
static void follow_clock(struct cons *c)
{
	if (c->hbq) {
		rd_kafka_message_t *ms[16];
		ssize_t n;
		while ((n = rd_kafka_consume_batch_queue(c->hbq, 0, ms, 16)) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				struct hb h;
				char e[U_ERRLEN];
				int ok = !ms[i]->err && hb_decode(ms[i]->payload, ms[i]->len, &h, e) == 0;
				rd_kafka_message_destroy(ms[i]);
				if (!ok)
					continue;
				if (hb_ready(c))
					hb_apply(c);
				if (!c->hb_pending || h.ts_us > c->hb.ts_us) {
					c->hb = h;
					c->hb_pending = 1;
				}
			}
		}
	}
	if (hb_ready(c))
		hb_apply(c);
}

/* The heartbeat partition's queue, taken off the consumer queue; NULL when the topic is
   not there (yet). Adds it to l at the end: only the newest heartbeat matters. */
static void open_heartbeat(struct cons *c, rd_kafka_topic_partition_list_t *l)
{
	char e[U_ERRLEN];
	c->hb_look_t0 = u_mono_us();
	if (!c->hb_topic || c->hbq || kc_topic_partitions_now(c->slow, c->hb_topic, 500, e) < 1)
		return;
	c->hbq = rd_kafka_queue_get_partition(c->slow, c->hb_topic, 0);
	if (!c->hbq)
		return;
	rd_kafka_queue_forward(c->hbq, NULL);
	if (c->wake[1] >= 0)
		rd_kafka_queue_io_event_enable(c->hbq, c->wake[1], "h", 1);
	rd_kafka_topic_partition_list_add(l, c->hb_topic, 0)->offset = RD_KAFKA_OFFSET_END;
}

/* Looks again for a heartbeat topic that was missing, and adds it to the assignment. */
static void look_for_heartbeat(struct cons *c)
{
	if (!c->hb_topic || c->hbq || !c->assigned || u_mono_us() - c->hb_look_t0 < HB_LOOK_US)
		return;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	open_heartbeat(c, l);
	if (l->cnt) {
		rd_kafka_error_t *er = rd_kafka_incremental_assign(c->slow, l);
		if (er) {
			rd_kafka_error_destroy(er);
			rd_kafka_queue_io_event_enable(c->hbq, -1, NULL, 0);
			rd_kafka_queue_destroy(c->hbq);
			c->hbq = NULL;
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Forgets every window and figure before a rebuild (the thread's own state included). */
static void clear_state(struct cons *c)
{
	pthread_mutex_lock(&c->mu);
	ws_reset(c->ws);
	uint64_t keep_ok = (uint64_t)c->st.kafka_ok;
	memset(&c->st, 0, sizeof c->st);
	c->st.kafka_ok = (int)keep_ok;
	memset(&c->lat_cur, 0, sizeof c->lat_cur);
	memset(&c->lat_prev, 0, sizeof c->lat_prev);
	pthread_mutex_unlock(&c->mu);
	memset(&c->rej, 0, sizeof c->rej);
	c->rate_n0 = 0;
}

/* Finds the partitions, their watermarks and the offsets for now - horizon, and assigns
   them. 0 when assigned, 1 when stopped meanwhile, -1 with err when the topic never
   appeared within topic_wait_us. */
static int setup(struct cons *c, char *err)
{
	char e[U_ERRLEN];
	int n = find_partitions(c, err);
	if (n < 0)
		return -1;
	if (n == 0)
		return 1;
	if (n > CONS_MAX_PARTS)
		return u_err(err, "topic '%.64s' has %d partitions; cdctop reads at most %d", c->topic,
			     n, CONS_MAX_PARTS);
	if (c->quick)
		rd_kafka_assign(c->quick, NULL);
	c->rk = c->slow;
	rd_kafka_assign(c->rk, NULL);
	drop_queues(c);
	if (c->hbq) {
		rd_kafka_queue_io_event_enable(c->hbq, -1, NULL, 0);
		rd_kafka_queue_destroy(c->hbq);
		c->hbq = NULL;
	}
	char saved_cluster[sizeof c->cluster];
	snprintf(saved_cluster, sizeof saved_cluster, "%s", c->cluster);
	char *cid = rd_kafka_clusterid(c->rk, 2000);
	snprintf(c->cluster, sizeof c->cluster, "%s", cid ? cid : "");
	if (cid)
		rd_kafka_mem_free(c->rk, cid);
	int resume = c->restored && c->resume_n == n && offsets_trusted(c, saved_cluster);
	memset(c->lost_upto, 0, sizeof c->lost_upto);
	c->nparts = n;
	for (int i = 0; i < n; i++) {
		struct pstate *p = &c->ps[i];
		p->low = p->high = -1;
		p->committed = -1;
		p->max_ev = INT64_MIN;
		for (int tries = 0;; tries++) {
			rd_kafka_resp_err_t r = rd_kafka_query_watermark_offsets(
			    c->rk, c->topic, i, &p->low, &p->high, CONS_QUERY_MS);
			if (!r)
				break;
			snprintf(e, sizeof e, "topic '%.64s' partition %d: cannot read offsets: %s",
				 c->topic, i, rd_kafka_err2str(r));
			set_error(c, e, 0);
			if (atomic_load(&c->stop))
				return 1;
			if (c->topic_wait_us > 0 && tries >= 2)
				return u_err(err, "%s: check -b and that the cluster is up", e);
			u_sleep_us(500000);
		}
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n + 1);
	int64_t since_ms = (u_now_us() - c->horizon_us) / 1000;
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, c->topic, i)->offset = since_ms;
	rd_kafka_resp_err_t r = rd_kafka_offsets_for_times(c->rk, l, CONS_QUERY_MS);
	for (int i = 0; i < n; i++) {
		struct pstate *p = &c->ps[i];
		const rd_kafka_topic_partition_t *tp = &l->elems[i];
		/* no answer or no message at that time (the mock never answers by time): from
		   the beginning; the store expires what is older than the horizon */
		int by_time = !r && !tp->err && tp->offset >= 0;
		int64_t off = by_time ? tp->offset : p->low;
		if (resume) /* the checkpoint's positions: what it holds was read up to there */
			off = c->resume[i];
		else if (c->restored) /* another cluster (a new mock): read it all, dedup sorts it */
			off = p->low;
		else if (p->low > 0 && (!by_time || off <= p->low)) {
			/* a rebuild that cannot tell whether retention took part of the horizon */
			note_lost(c, i, 0, p->low);
		}
		if (off < p->low) {
			note_lost(c, i, off, p->low);
			off = p->low;
		}
		if (off > p->high)
			off = resume ? p->low : p->high;
		p->pos = p->taken = off;
		p->poke_mark = 0;
		l->elems[i].offset = off;
		l->elems[i].err = 0;
	}
	if (c->restored && !resume && c->db) {
		/* positions from another cluster (or a mock's): what retention took from this one
		   while the store was saved cannot be told, and MySQL's log still has it */
		for (int i = 0; i < n && !c->mysql_pending; i++)
			c->mysql_pending = c->ps[i].low > 0;
	}
	c->restored = 0; /* a later setup (a rebuild) starts afresh */
	open_queues(c, n);
	open_heartbeat(c, l);
	rd_kafka_resp_err_t ar = rd_kafka_assign(c->rk, l);
	if (ar) {
		rd_kafka_topic_partition_list_destroy(l);
		return u_err(err, "topic '%.64s': cannot assign its partitions: %s", c->topic,
			     rd_kafka_err2str(ar));
	}
	/* the group's committed offsets, for the monitor's Kafka pane (best effort) */
	if (!rd_kafka_committed(c->rk, l, 1000))
		for (int i = 0; i < n; i++)
			if (!l->elems[i].err && l->elems[i].offset >= 0)
				c->ps[i].committed = l->elems[i].offset;
	rd_kafka_topic_partition_list_destroy(l);
	c->assigned = 1;
	pthread_mutex_lock(&c->mu);
	ws_set_time_cap(c->ws, time_cap(c));
	publish_parts_locked(c);
	c->st.kafka_ok = 1;
	c->st.last_error[0] = 0;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* 1 if gids[i] stands for the group value of ev (plain: the integer id). */
static int group_is(const struct cons *c, int i, int plain, uint32_t id,
		    const struct dbz_event *ev)
{
	uint32_t g = c->gids[i];
	if (plain)
		return g == id;
	return g >= CONS_CODE_TEXT0 && c->gstr[g - CONS_CODE_TEXT0] == ev->is_str &&
	       !strcmp(c->gtext[g - CONS_CODE_TEXT0], ev->val);
}

/* The store id of a Debezium group value: the integer itself, a code for any other value,
   or CONS_CODE_OTHER once gmax distinct ids are counted. */
static uint32_t group_id(struct cons *c, const struct dbz_event *ev)
{
	int plain = ev->is_int && ev->ival >= 0 && ev->ival < (int64_t)CONS_CODE_TEXT0;
	uint32_t id = plain ? (uint32_t)ev->ival : 0;
	uint32_t h = 2166136261u; /* FNV-1a of the value's kind and text, or the id mixed */
	if (plain) {
		h = id * 2654435761u;
		h ^= h >> 15;
	} else {
		h = (h ^ (uint32_t)ev->is_str) * 16777619u;
		for (const unsigned char *p = (const unsigned char *)ev->val; *p; p++)
			h = (h ^ *p) * 16777619u;
	}
	uint32_t k = h & (CONS_GHASH - 1);
	for (; c->ghash[k]; k = (k + 1) & (CONS_GHASH - 1))
		if (group_is(c, c->ghash[k] - 1, plain, id, ev))
			return c->gids[c->ghash[k] - 1];
	if (c->ngids >= c->gmax)
		return CONS_CODE_OTHER;
	if (!plain) {
		pthread_mutex_lock(&c->mu);
		id = CONS_CODE_TEXT0 + (uint32_t)c->ngtext;
		c->gstr[c->ngtext] = ev->is_str;
		memcpy(c->gtext[c->ngtext++], ev->val, DBZ_VALMAX);
		pthread_mutex_unlock(&c->mu);
	}
	c->gids[c->ngids++] = id;
	c->ghash[k] = (uint16_t)c->ngids;
	return id;
}

int cons_label(struct cons *c, uint32_t id, char *buf, size_t len)
{
	if (id == CONS_CODE_OTHER) {
		snprintf(buf, len, "other");
		return 2;
	}
	buf[0] = 0;
	if (id < CONS_CODE_TEXT0)
		return 0;
	int r = 1;
	pthread_mutex_lock(&c->mu);
	if (id - CONS_CODE_TEXT0 < (uint32_t)c->ngtext) {
		snprintf(buf, len, "%s", c->gtext[id - CONS_CODE_TEXT0]);
		r = c->gstr[id - CONS_CODE_TEXT0] ? 1 : 3;
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* A Debezium message into *it: its IT_ kind, IT_BAD with why. */
static int decode_dbz(struct cons *c, const rd_kafka_message_t *m, struct item *it, char *why)
{
	struct dbz_event ev;
	if (dbz_decode_cached(m->payload, m->len, m->key, m->key_len, c->group_by, c->table,
			      c->dcache, &ev, why) < 0)
		return IT_BAD;
	if (ev.kind == DBZ_SKIP)
		return IT_SKIP;
	/* merged in binlog order (snapshot rows first, at their start), else by event time */
	it->log_id = ev.order >= 0 ? ev.order : ev.event_us;
	it->id = ev.id;
	it->event_us = ev.event_us;
	it->store_id = ev.kind == DBZ_CREATE ? group_id(c, &ev) : 0; /* u, d: not in windows */
	return ev.kind == DBZ_UPDATE ? IT_UPD : ev.kind == DBZ_DELETE ? IT_DEL : IT_EVENT;
}

/* Decodes m's value by the topic's format into *it: IT_EVENT, IT_UPD, IT_DEL, IT_SKIP, or
   IT_BAD with why. Auto tries the format that last worked first, and keeps cdctop's reason
   for a message neither decodes unless Debezium's came first; a null value is a Debezium
   tombstone only with a JSON object for its key. */
static int decode_value(struct cons *c, const rd_kafka_message_t *m, struct item *it, char *why)
{
	struct cdc_row row;
	if (c->format == CONS_FMT_DEBEZIUM)
		return decode_dbz(c, m, it, why);
	if (c->format == CONS_FMT_AUTO && (c->dbz_first || !m->payload || !m->len)) {
		char why2[U_ERRLEN];
		if (m->payload && m->len) {
			int k = decode_dbz(c, m, it, why2);
			if (k != IT_BAD)
				return k;
		} else if (dbz_key_is_object(m->key, m->key_len)) {
			return IT_SKIP;
		}
		if (env_decode(m->payload, m->len, &row, why) < 0) {
			if (m->payload && m->len)
				snprintf(why, U_ERRLEN, "%s", why2);
			return IT_BAD;
		}
		c->dbz_first = 0;
	} else if (env_decode(m->payload, m->len, &row, why) < 0) {
		char why2[U_ERRLEN];
		if (c->format == CONS_FMT_CDCTOP || !m->payload || !m->len)
			return IT_BAD;
		int k = decode_dbz(c, m, it, why2);
		if (k != IT_BAD)
			c->dbz_first = 1;
		return k;
	}
	it->log_id = it->id = row.log_id;
	it->event_us = row.event_us;
	it->store_id = row.store_id;
	return IT_EVENT;
}

/* Decodes message m into *it outside the lock; a reject's reason goes to brej if it may be
   shown. Returns 1 when *it was written (an event, a reject or a partition's end), 0 for an
   error event or a foreign partition. */
static int decode_one(struct cons *c, const rd_kafka_message_t *m, struct item *it,
		      struct rejset *brej)
{
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->partition >= 0 &&
	    m->partition < c->nparts) {
		it->part = m->partition;
		it->offset = m->offset; /* the next offset: everything before it was read */
		it->kind = IT_END;
		it->log_id = INT64_MIN; /* merged at once: it follows its partition's events */
		return 1;
	}
	if (m->err) {
		char e[U_ERRLEN];
		snprintf(e, sizeof e, "kafka: %s", rd_kafka_message_errstr(m));
		set_error(c, e, m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
				    m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
		return 0;
	}
	int32_t part = m->partition;
	if (part < 0 || part >= c->nparts)
		return 0;
	char why[U_ERRLEN];
	it->part = part;
	it->offset = m->offset;
	it->kind = decode_value(c, m, it, why);
	if (it->kind == IT_BAD) {
		it->log_id = INT64_MIN; /* merged first */
		if (rej_wants(&c->rej, part, m->offset)) {
			char t[160];
			snprintf(t, sizeof t, "p%d@%lld: %.120s", (int)part, (long long)m->offset,
				 why);
			rej_keep(brej, part, m->offset, t);
		}
		return 1;
	}
	if (it->kind == IT_SKIP)
		it->log_id = INT64_MIN; /* merged first, like a reject */
	return 1;
}

/* Refills partition i's buffer from its queue without waiting; returns how many. */
static int refill(struct cons *c, int i, struct rejset *brej)
{
	struct pbuf *b = &c->pb[i];
	rd_kafka_message_t *ms[CONS_PBUF];
	b->n = b->i = 0;
	if (!c->pq[i])
		return 0;
	ssize_t n = rd_kafka_consume_batch_queue(c->pq[i], 0, ms, CONS_PBUF);
	for (ssize_t j = 0; j < n; j++) {
		int64_t next = ms[j]->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ? ms[j]->offset
		               : ms[j]->err                                   ? -1
		                                                              : ms[j]->offset + 1;
		if (next > c->ps[i].taken)
			c->ps[i].taken = next;
		b->n += decode_one(c, ms[j], &b->it[b->n], brej);
		rd_kafka_message_destroy(ms[j]);
	}
	/* fewer than two takes of this size left: have its broker thread refill it before the
	   merge waits on it, once per refill (not again before what was queued then is taken).
	   By the take, not CONS_PBUF: the prefetch bound is in bytes, and a queue of large
	   messages (a Debezium topic's 3 KB) holds fewer than two full takes. Only while the
	   broker holds more than is queued here (its last fetch's high watermark): a caught-up
	   consumer is not short of a refill, and poking it at every live take cost ~20 ms of
	   end-to-end latency (the ListOffsets round trips queue behind the mock's held fetches) */
	size_t left = n > 0 && c->kw ? rd_kafka_queue_length(c->pq[i]) : 0;
	int64_t lo = -1, hi = -1;
	if (n > 0 && c->kw && left < 2 * (size_t)n && c->ps[i].taken >= c->ps[i].poke_mark &&
	    !rd_kafka_get_watermark_offsets(c->rk, c->topic, i, &lo, &hi) &&
	    hi > c->ps[i].taken + (int64_t)left) {
		kw_poke(c->kw, i);
		c->ps[i].poke_mark = c->ps[i].taken + (int64_t)left + 1;
	}
	return b->n;
}

/* 1 if partition i has nothing pending here but still has unread data on the broker. */
static int lagging_dry(const struct cons *c, int i)
{
	const struct pstate *p = &c->ps[i];
	return c->pb[i].i == c->pb[i].n && p->high >= 0 && p->taken < p->high &&
	       p->taken >= p->low;
}

/*
 * Fills c->items from k on with the partitions' pending messages, lowest log_id first: each
 * partition is in log_id order, so this is a merge. While a partition that still has unread
 * data is momentarily empty here (its fetch in flight), nothing is merged past it, since its
 * next ids may be lower: *stalled is set and the caller retries shortly. A partition that
 * stays empty longer than CONS_STALL_US is passed over (order is then only approximate;
 * counts never depend on it). Returns the new count.
 */
static int merge(struct cons *c, int k, struct rejset *brej, int *stalled)
{
	int live[CONS_MAX_PARTS], nlive = 0;
	int64_t now = u_mono_us();
	*stalled = 0;
	for (int i = 0; i < c->nparts; i++) {
		if (c->pb[i].i < c->pb[i].n || refill(c, i, brej) > 0) {
			live[nlive++] = i;
			c->stall_since[i] = 0;
		} else if (lagging_dry(c, i)) {
			if (!c->stall_since[i]) {
				c->stall_since[i] = now;
				kw_poke(c->kw, i); /* its broker thread may be asleep for a second */
			}
			if (now - c->stall_since[i] < CONS_STALL_US)
				*stalled = 1;
		}
	}
	if (*stalled)
		return k;
	while (k < CONS_BATCH && nlive > 0) {
		int best = 0;
		int64_t key = c->pb[live[0]].it[c->pb[live[0]].i].log_id;
		for (int j = 1; j < nlive; j++) {
			const struct pbuf *b = &c->pb[live[j]];
			if (b->it[b->i].log_id < key) {
				key = b->it[b->i].log_id;
				best = j;
			}
		}
		int p = live[best];
		struct pbuf *b = &c->pb[p];
		c->items[k++] = b->it[b->i++];
		if (b->i == b->n && refill(c, p, brej) == 0) {
			live[best] = live[--nlive];
			if (lagging_dry(c, p))
				break; /* do not run ahead of it; the next round waits a little */
		}
	}
	return k;
}

/* Waits up to ms for a queue to signal the pipe, then empties the pipe. */
static void wait_wake(struct cons *c, int ms)
{
	if (c->wake[0] < 0) {
		u_sleep_us((int64_t)ms * 1000);
		return;
	}
	struct pollfd pfd = {.fd = c->wake[0], .events = POLLIN};
	if (poll(&pfd, 1, ms) > 0) {
		char buf[256];
		while (read(c->wake[0], buf, sizeof buf) > 0)
			;
	}
}

/* Adds a decoded batch to the store and the figures (lock held). */
static void apply_batch_locked(struct cons *c, int k, int64_t now, const struct rejset *brej)
{
	struct cons_stats *st = &c->st;
	for (int j = 0; j < brej->n; j++)
		rej_keep(&c->rej, brej->part[j], brej->off[j], brej->text[j]);
	ws_set_time_cap(c->ws, time_cap(c));
	for (int i = 0; i < k; i++) {
		const struct item *it = &c->items[i];
		struct pstate *p = &c->ps[it->part];
		if (it->kind == IT_END) {
			if (it->offset > p->pos)
				p->pos = it->offset;
			continue;
		}
		st->consumed++;
		if (it->offset > p->pos && p->pos >= 0) /* retention took what lay between */
			note_lost_locked(c, it->part, p->pos, it->offset);
		if (it->offset >= p->pos)
			p->pos = it->offset + 1;
		if (it->kind == IT_BAD) {
			st->rejected++;
			continue;
		}
		if (it->kind == IT_SKIP) {
			st->skipped++;
			continue;
		}
		if (it->kind == IT_UPD || it->kind == IT_DEL) {
			if (ws_mark_seen(c->ws, it->id))
				st->duplicates++;
			else if (it->kind == IT_UPD)
				st->updates++;
			else
				st->deletes++;
			continue;
		}
		if (it->event_us > p->max_ev)
			p->max_ev = it->event_us;
		enum ws_result r = ws_add(c->ws, it->id, it->store_id, it->event_us);
		switch (r) {
		case WS_ADDED:
			st->counted++;
			st->untracked += it->store_id == CONS_CODE_OTHER;
			break;
		case WS_DUPLICATE:
			st->duplicates++;
			break;
		case WS_LATE:
			st->late++;
			break;
		case WS_EXPIRED:
			st->expired++;
			break;
		case WS_NOROOM: {
			char t[160];
			snprintf(t, sizeof t, "p%d@%lld: store %u beyond the %d stores tracked",
				 (int)it->part, (long long)it->offset, it->store_id,
				 ws_max_tracked(c->ws));
			rej_keep(&c->rej, it->part, it->offset, t);
			st->rejected++;
			break;
		}
		}
		if (st->caught_up && (r == WS_ADDED || r == WS_LATE)) {
			int b = lat_bucket(now - it->event_us);
			c->lat_cur.b[b]++;
			c->lat_cur.n++;
		}
	}
	ws_set_time_cap(c->ws, time_cap(c));
	publish_parts_locked(c);
	if (k > 0)
		st->kafka_ok = 1;
	for (int j = 0; j < c->rej.n; j++)
		memcpy(st->rejects[j], c->rej.text[j], sizeof st->rejects[0]);
}

/* Once a second: the rate, the latency window, and a probe while Kafka looks down. */
static void tick(struct cons *c, int64_t mono)
{
	if (mono - c->rate_t0 >= 1000000) {
		pthread_mutex_lock(&c->mu);
		uint64_t n = c->st.consumed;
		double dt = (double)(mono - c->rate_t0) / 1e6;
		c->st.rate = n >= c->rate_n0 ? (double)(n - c->rate_n0) / dt : 0;
		c->rate_n0 = n;
		if (mono - c->hist_t0 >= LAT_ROTATE_US) {
			c->lat_prev = c->lat_cur;
			memset(&c->lat_cur, 0, sizeof c->lat_cur);
			c->hist_t0 = mono;
		}
		int ok = c->st.kafka_ok;
		pthread_mutex_unlock(&c->mu);
		c->rate_t0 = mono;
		if (!ok && c->nparts > 0 && mono - c->probe_t0 >= PROBE_EVERY_US) {
			c->probe_t0 = mono;
			/* not query_watermark_offsets: in 2.0.2 it blocks while brokers are down */
			const struct rd_kafka_metadata *md = NULL;
			if (!rd_kafka_metadata(c->rk, 0, NULL, &md, 500) && md && md->broker_cnt > 0) {
				pthread_mutex_lock(&c->mu);
				c->st.kafka_ok = 1;
				c->st.last_error[0] = 0;
				pthread_mutex_unlock(&c->mu);
			}
			if (md)
				rd_kafka_metadata_destroy(md);
		}
	}
}

/* Before a rebuild: forgets everything and picks the most durable source that still holds
   the horizon: the topic while no partition has lost messages to retention, else MySQL's
   log (when there is one). */
static void start_rebuild(struct cons *c)
{
	int lost = -1;
	int64_t low = 0;
	for (int i = 0; i < c->nparts && lost < 0; i++)
		if (c->ps[i].low > 0) {
			lost = i;
			low = c->ps[i].low;
		}
	clear_state(c);
	char a[32];
	pthread_mutex_lock(&c->mu);
	if (c->db && lost >= 0) {
		c->mysql_pending = c->mysql_reset = 1;
		snprintf(c->st.note, sizeof c->st.note,
			 "the topic no longer holds the horizon (p%d starts at %s)", lost,
			 u_fmt_count(low, a, sizeof a));
	} else {
		c->topic_rebuild = 1;
		c->st.rebuilding = 1;
		c->st.source = CONS_SRC_TOPIC;
		snprintf(c->st.note, sizeof c->st.note, "rebuilding from the topic");
	}
	pthread_mutex_unlock(&c->mu);
}

/* A rebuild from the topic is done once every partition was read to its end: says so. */
static void finish_topic_rebuild(struct cons *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->topic_rebuild && c->st.caught_up) {
		char n[32];
		c->topic_rebuild = 0;
		c->st.rebuilding = 0;
		c->st.source = CONS_SRC_TOPIC;
		c->st.source_events = c->st.consumed;
		snprintf(c->st.note, sizeof c->st.note, "rebuilt from the topic: %s messages re-read%s%.100s",
			 u_fmt_count((long long)c->st.consumed, n, sizeof n), c->st.lost_text[0] ? "; " : "",
			 c->st.lost_text);
	}
	pthread_mutex_unlock(&c->mu);
}

/* The quick handle takes the data partitions when messages arrive, the slow one once none
   came for QUICK_HOLD_US: an idle monitor costs what one 5 ms wait does, while rows flow a
   message waits at most 1 ms at a mock broker (bench_watch, COMMIT -> counted p50). Not
   before the topic was read to its end once: a backlog's fetches come back full anyway,
   and a move then would hold both handles' prefetch (bench consumer.rebuild_memory, 32
   partitions: 84 MiB, against ~50 with one handle). st.caught_up is this thread's to write. */
static void adapt_wait(struct cons *c, int k, int64_t mono)
{
	if (!c->quick)
		return;
	int data = 0;
	for (int j = 0; j < k && !data; j++)
		data = c->items[j].kind != IT_END;
	if (data)
		c->data_at = mono;
	if (data && c->rk == c->slow && c->st.caught_up)
		move_parts(c, c->quick);
	else if (c->rk == c->quick && mono - c->data_at >= QUICK_HOLD_US)
		move_parts(c, c->slow);
}

int cons_run(struct cons *c, char *err)
{
	struct rejset brej;
	c->rate_t0 = c->hist_t0 = c->probe_t0 = u_mono_us();
	if (!c->assigned && !restore_checkpoint(c)) {
		if (c->db) { /* no state: MySQL's log is the whole horizon, the topic may not be */
			c->mysql_pending = c->mysql_reset = 1;
			/* at once, before Kafka is even asked: a row committed after this read is
			   live, and comes through the topic (its latency measured) */
			run_mysql_read(c);
		} else {
			c->topic_rebuild = 1;
			pthread_mutex_lock(&c->mu);
			c->st.rebuilding = 1;
			pthread_mutex_unlock(&c->mu);
		}
	}
	while (!atomic_load(&c->stop)) {
		if (!c->assigned || atomic_exchange(&c->rebuild, 0)) {
			if (c->assigned)
				start_rebuild(c);
			c->assigned = 0;
			int r = setup(c, err);
			if (r < 0)
				return -1;
			if (r > 0)
				break;
		}
		if (c->mysql_pending)
			run_mysql_read(c);
		/* the consumer queue serves callbacks and errors (and any message that did not
		   go to its partition's queue), then the partitions are merged */
		int k = 0;
		brej.n = 0;
		rd_kafka_message_t *m;
		while (c->quick && (m = rd_kafka_consumer_poll(c->rk == c->slow ? c->quick : c->slow,
							       0)) != NULL)
			rd_kafka_message_destroy(m); /* callbacks served; it holds no data partition */
		while (k < CONS_BATCH && (m = rd_kafka_consumer_poll(c->rk, 0)) != NULL) {
			if (decode_one(c, m, &c->items[k], &brej)) {
				struct pstate *p = &c->ps[c->items[k].part];
				int64_t next = c->items[k].offset + (c->items[k].kind != IT_END);
				if (next > p->taken)
					p->taken = next;
				k++;
			}
			rd_kafka_message_destroy(m);
		}
		int stalled;
		k = merge(c, k, &brej, &stalled);
		int64_t now = u_now_us();
		refresh_watermarks(c);
		pthread_mutex_lock(&c->mu);
		if (k > 0 || brej.n > 0) {
			apply_batch_locked(c, k, now, &brej);
		} else { /* idle: watermarks still move (new data, retention), so may the cap */
			ws_set_time_cap(c->ws, time_cap(c));
			publish_parts_locked(c);
		}
		pthread_mutex_unlock(&c->mu);
		follow_clock(c);
		if (c->topic_rebuild)
			finish_topic_rebuild(c);
		int64_t mono = u_mono_us();
		adapt_wait(c, k, mono);
		tick(c, mono);
		save_checkpoint(c, 0);
		look_for_heartbeat(c);
		if (k == 0 && stalled)
			u_sleep_us(500); /* a partition's fetch is in flight: it comes within ms */
		else if (k == 0)
			wait_wake(c, CONS_POLL_MS);
	}
	save_checkpoint(c, 1);
	return 0;
}
