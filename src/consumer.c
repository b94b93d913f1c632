/*
 * consumer.c - reads the topic by assign (every partition, from the offsets for now - horizon),
 * decodes each envelope, feeds the window store, holds the watermark while partitions still
 * have a backlog, and keeps the figures the monitor shows (per-partition offsets, rates,
 * end-to-end latency, the first rejected messages). Each partition has its own queue, and
 * cons_run merges their heads in log_id order, so the seen-id set stays a few intervals and
 * event times arrive nearly in order even when partitions are fetched unevenly (a rebuild).
 * cons_run's thread owns the rd_kafka handle;
 * a mutex guards the store and the figures, which any thread reads through cons_view and
 * cons_stats. Must never stop or crash on a bad message, and never hold the lock across a
 * Kafka call.
 */
#include "consumer.h"
#include "envelope.h"
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

/* One decoded message of a batch, judged later under the lock. */
struct item {
	int32_t part;
	int64_t offset;
	int64_t log_id, event_us;
	uint32_t store_id;
	int kind; /* IT_EVENT, IT_BAD (rejected by env_decode), IT_END (partition end) */
};

enum { IT_EVENT = 0, IT_BAD, IT_END };

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
	struct kc *kc;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;                  /* the consumer queue: callbacks, errors */
	rd_kafka_queue_t *pq[CONS_MAX_PARTS]; /* each partition's own queue */
	struct pbuf pb[CONS_MAX_PARTS];
	int64_t stall_since[CONS_MAX_PARTS]; /* mono us since it was lagging and empty, or 0 */
	int wake[2]; /* a pipe the queues write to when they get something */

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

/* Applies k=v unless the user set k with -X/-F. */
static int conf_default(struct kc *kc, rd_kafka_conf_t *conf, const char *k, const char *v,
			char *err)
{
	char e[512];
	if (kc_has_prop(kc, k))
		return 0;
	if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
		return u_err(err, "kafka consumer: %s", e);
	return 0;
}

/* Releases the partition queues and whatever they had delivered but was not merged. */
static void drop_queues(struct cons *c)
{
	for (int i = 0; i < CONS_MAX_PARTS; i++) {
		if (c->pq[i]) {
			rd_kafka_queue_io_event_enable(c->pq[i], -1, NULL, 0);
			rd_kafka_queue_destroy(c->pq[i]);
			c->pq[i] = NULL;
		}
		c->pb[i].n = c->pb[i].i = 0;
		c->stall_since[i] = 0;
	}
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
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	if (!conf)
		return NULL;
	char group[300], wait[16], e[512];
	snprintf(group, sizeof group, "cdctop-%s", cfg->topic);
	snprintf(wait, sizeof wait, "%d", cfg->fetch_wait_ms > 0 ? cfg->fetch_wait_ms : 5);
	if (conf_default(kc, conf, "group.id", group, err) < 0 ||
	    conf_default(kc, conf, "client.id", "cdctop-consumer", err) < 0 ||
	    conf_default(kc, conf, "enable.auto.commit", "true", err) < 0 ||
	    conf_default(kc, conf, "auto.commit.interval.ms", "1000", err) < 0 ||
	    conf_default(kc, conf, "auto.offset.reset", "earliest", err) < 0 ||
	    /* the end of a partition is where its messages stop, not always its high watermark
	       (transaction markers take offsets too): the end events say where */
	    conf_default(kc, conf, "enable.partition.eof", "true", err) < 0 ||
	    conf_default(kc, conf, "reconnect.backoff.max.ms", "1000", err) < 0 ||
	    (cfg->fetch_wait_ms > 0 ? rd_kafka_conf_set(conf, "fetch.wait.max.ms", wait, e,
							sizeof e) != RD_KAFKA_CONF_OK &&
					  u_err(err, "kafka consumer: %s", e) < 0
				    : conf_default(kc, conf, "fetch.wait.max.ms", "5", err) < 0)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	struct cons *c = u_calloc(1, sizeof *c);
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
	if (!c->rk) {
		rd_kafka_conf_destroy(conf);
		free(c);
		u_err(err, "kafka consumer: %s", e);
		return NULL;
	}
	rd_kafka_poll_set_consumer(c->rk);
	c->q = rd_kafka_queue_get_consumer(c->rk);
	c->topic = u_strdup(cfg->topic);
	c->horizon_us = hs * 1000000;
	c->topic_wait_us = cfg->topic_wait_us;
	c->kc = kc;
	c->ws = ws_new(hs, cfg->lateness_us);
	c->items = u_malloc(CONS_BATCH * sizeof *c->items);
	for (int i = 0; i < CONS_MAX_PARTS; i++)
		c->pb[i].it = NULL;
	c->wake[0] = c->wake[1] = -1;
	if (pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) == 0)
		rd_kafka_queue_io_event_enable(c->q, c->wake[1], "c", 1);
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
	if (c->q) {
		rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
		rd_kafka_queue_destroy(c->q);
	}
	if (c->rk) {
		/* the committed offsets only feed the monitor's lag column: commit them without
		   waiting, and skip the consumer close, which waits for the group coordinator
		   without a bound and hangs the quit while the cluster is unreachable */
		rd_kafka_commit(c->rk, NULL, 1);
		rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
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
		int64_t from = p->pos > p->low ? p->pos : p->low;
		o->lag = p->high > from ? p->high - from : 0;
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
		set_error(c, e, strstr(e, "does not exist") != NULL);
		if (c->topic_wait_us > 0 && u_mono_us() - t0 >= c->topic_wait_us) {
			char d[32], klog[U_ERRLEN];
			u_fmt_duration(c->topic_wait_us, d, sizeof d);
			if (strstr(e, "does not exist"))
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
	rd_kafka_assign(c->rk, NULL);
	drop_queues(c);
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
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
	int64_t since_ms = (u_now_us() - c->horizon_us) / 1000;
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, c->topic, i)->offset = since_ms;
	rd_kafka_resp_err_t r = rd_kafka_offsets_for_times(c->rk, l, CONS_QUERY_MS);
	for (int i = 0; i < n; i++) {
		struct pstate *p = &c->ps[i];
		const rd_kafka_topic_partition_t *tp = &l->elems[i];
		/* no answer or no message at that time (the mock never answers by time): from
		   the beginning; the store expires what is older than the horizon */
		int64_t off = (!r && !tp->err && tp->offset >= 0) ? tp->offset : p->low;
		if (off < p->low)
			off = p->low;
		if (off > p->high)
			off = p->high;
		p->pos = p->taken = off;
		l->elems[i].offset = off;
		l->elems[i].err = 0;
	}
	open_queues(c, n);
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
	struct cdc_row row;
	char why[U_ERRLEN];
	it->part = part;
	it->offset = m->offset;
	it->kind = env_decode(m->payload, m->len, &row, why) < 0 ? IT_BAD : IT_EVENT;
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
	it->log_id = row.log_id;
	it->event_us = row.event_us;
	it->store_id = row.store_id;
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
			if (!c->stall_since[i])
				c->stall_since[i] = now;
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
		if (it->offset >= p->pos)
			p->pos = it->offset + 1;
		if (it->kind == IT_BAD) {
			st->rejected++;
			continue;
		}
		if (it->event_us > p->max_ev)
			p->max_ev = it->event_us;
		enum ws_result r = ws_add(c->ws, it->log_id, it->store_id, it->event_us);
		switch (r) {
		case WS_ADDED:
			st->counted++;
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
				 (int)it->part, (long long)it->offset, it->store_id, WS_MAX_STORES);
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

int cons_run(struct cons *c, char *err)
{
	struct rejset brej;
	c->rate_t0 = c->hist_t0 = c->probe_t0 = u_mono_us();
	while (!atomic_load(&c->stop)) {
		if (!c->assigned || atomic_exchange(&c->rebuild, 0)) {
			if (c->assigned)
				clear_state(c);
			c->assigned = 0;
			int r = setup(c, err);
			if (r < 0)
				return -1;
			if (r > 0)
				break;
		}
		/* the consumer queue serves callbacks and errors (and any message that did not
		   go to its partition's queue), then the partitions are merged */
		int k = 0;
		brej.n = 0;
		rd_kafka_message_t *m;
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
		tick(c, u_mono_us());
		if (k == 0 && stalled)
			u_sleep_us(500); /* a partition's fetch is in flight: it comes within ms */
		else if (k == 0)
			wait_wake(c, CONS_POLL_MS);
	}
	return 0;
}
