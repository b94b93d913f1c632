/*
 * bench_consumer.c - consumer + window store throughput through the real cons_* path: an
 * in-process mock cluster whose topic already holds N envelopes (default 1,000,000, realistic
 * fake customers, event times over the last 50 minutes), then cons_new/cons_run on a thread,
 * timed from cons_run's start until every message is consumed and counted. The mock keeps
 * ~5 MiB per partition (PLATFORM.md), so the topic has 32 partitions and lz4-compressed
 * batches; the bench checks that nothing was trimmed before it measures.
 * Then the same for Debezium MySQL messages with schemas on ({"schema":..,"payload":..}, the
 * schema of tests/fixtures/debezium/on/create5.value.json, each row its own binlog position;
 * N/4 of them by default, as the mock holds fewer of these larger messages), decoded by
 * debezium.c through the consumer's auto-detection (consumer.throughput_debezium).
 * The ratios against a bare librdkafka consumer take three runs of each side, alternated:
 * cdctop's median against the bare one's best, since a bare run's rate swings 2-3x between
 * runs seconds apart (it has a slow mode near 550k events/s and a fast one near 1M here), and
 * the ceiling is what the transport allowed at best.
 * The bare side runs twice a round, with librdkafka's defaults and roomy (see bare_rate), the
 * better taken: cdctop's consumer (per-partition queues, refill pokes) is faster than either.
 * Usage: bench_consumer [N [PARTITIONS]]; BENCH_X=key=value passes one librdkafka property
 * (e.g. queued.min.messages=20000) to the consumer. Prints one line per figure in bench/run.sh's
 * format ("BELOW" when under the 300,000 events/s target); exit 1 only if the counts are wrong
 * or it could not run.
 */
#include "consumer.h"
#include "debezium.h"
#include "envelope.h"
#include "fake.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC  "bench.consumer"
#define TOPIC_DBZ "bench.debezium"
#define SCHEMA_FROM "tests/fixtures/debezium/on/create5.value.json"
#define TARGET 300000.0

static struct cons *g_cons;
static char g_err[U_ERRLEN];
static int g_rc;
static double g_last_rate; /* the last printed consume's events/s and MiB of growth */
static long g_last_growth;

/* The consumer thread. */
static void *run(void *arg)
{
	(void)arg;
	g_rc = cons_run(g_cons, g_err);
	return NULL;
}

/* Sets a producer property or exits. */
static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char e[512];
	if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "bench_consumer: %s\n", e);
		exit(2);
	}
}

/* A figure in KiB from /proc/self/status ("VmRSS:", "VmHWM:"), or -1. */
static long vm_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key));
	if (f)
		fclose(f);
	return v;
}

/* Messages the topic holds (sum of high - low), or -1. */
static long long held(rd_kafka_t *rk, const char *topic, int parts)
{
	long long n = 0;
	for (int p = 0; p < parts; p++) {
		int64_t lo, hi;
		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000))
			return -1;
		n += hi - lo;
	}
	return n;
}

/* One Debezium create with schemas on, row i of n: its own binlog position, a GTID-less
   source, customer columns as the connector encodes them. Returns the length, -1 if too long. */
static int dbz_message(const char *schema, long long i, const struct cdc_row *r, char *buf,
		       size_t cap)
{
	long long ms = r->event_us / 1000;
	int n = snprintf(
	    buf, cap,
	    "{\"schema\":%s,\"payload\":{\"before\":null,\"after\":{\"customer_id\":%u,"
	    "\"store_id\":%u,\"first_name\":\"%s\",\"last_name\":\"%s\",\"email\":\"%s\","
	    "\"address_id\":%u,\"active\":true,\"create_date\":%lld,\"last_update\":"
	    "\"2026-01-01T00:00:00Z\"},\"source\":{\"version\":\"2.1.4.Final\",\"connector\":"
	    "\"mysql\",\"name\":\"dbserver1\",\"ts_ms\":%lld,\"snapshot\":\"false\",\"db\":"
	    "\"sakila\",\"sequence\":null,\"table\":\"customer\",\"server_id\":223344,\"gtid\":null,"
	    "\"file\":\"mysql-bin.%06lld\",\"pos\":%lld,\"row\":0,\"thread\":12,\"query\":null},"
	    "\"op\":\"c\",\"ts_ms\":%lld,\"transaction\":null}}",
	    schema, r->customer_id, r->store_id, r->first_name, r->last_name, r->email,
	    r->address_id, ms, ms, 1 + i / 1000000, 4 + (i % 1000000) * 300, ms + 7);
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* The decoder alone on schema-wrapped messages (64 distinct rows, cycled), with the schema
   cache as the consumer uses it: the ceiling the consumer path could reach. */
static void decode_rate(const char *schema)
{
	static char msgs[64][8192];
	int lens[64];
	struct fake f;
	fake_init(&f, 2);
	for (int i = 0; i < 64; i++) {
		struct fake_person fp;
		struct cdc_row r;
		fake_person(&f, &fp);
		memset(&r, 0, sizeof r);
		r.event_us = u_now_us();
		r.customer_id = (uint32_t)i + 1;
		r.store_id = 1 + fake_below(&f, 2);
		memcpy(r.first_name, fp.first_name, sizeof r.first_name);
		memcpy(r.last_name, fp.last_name, sizeof r.last_name);
		memcpy(r.email, fp.email, sizeof r.email);
		lens[i] = dbz_message(schema, i, &r, msgs[i], sizeof msgs[i]);
	}
	static struct dbz_cache cache;
	struct dbz_event e;
	char err[U_ERRLEN];
	long n = 400000, ok = 0;
	int64_t t0 = u_mono_us();
	for (long i = 0; i < n; i++)
		ok += dbz_decode_cached(msgs[i % 64], (size_t)lens[i % 64], NULL, 0, "store_id",
					NULL, &cache, &e, err) == 0 && e.kind == DBZ_CREATE;
	double secs = (double)(u_mono_us() - t0) / 1e6;
	printf("debezium.decode %.0f events/s (dbz_decode of %ld schema-wrapped messages, avg %d "
	       "bytes, one thread, schema cache on; no Kafka)%s\n",
	       (double)n / secs, n, lens[0], ok == n ? "" : " WRONG");
}

/* Fills topic with n messages over parts partitions: cdctop envelopes, or Debezium messages
   with schema (not NULL). Prints what it filled; 0, or -1 when the mock did not keep them. */
static int fill(struct kc *kc, const char *topic, long long n, int parts, const char *schema)
{
	char err[U_ERRLEN];
	rd_kafka_conf_t *pc = kc_conf(kc, err);
	set(pc, "linger.ms", "20");
	set(pc, "batch.num.messages", "10000");
	set(pc, "batch.size", "1000000");
	set(pc, "compression.codec", "lz4");
	set(pc, "queue.buffering.max.messages", "1000000");
	set(pc, "queue.buffering.max.kbytes", "1048576");
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
	if (!p) {
		fprintf(stderr, "bench_consumer: producer: %s\n", err);
		return -1;
	}
	struct fake f;
	fake_init(&f, 1);
	int64_t now = u_now_us(), span = 50 * 60 * 1000000LL;
	int64_t t0 = u_mono_us();
	size_t bytes = 0;
	for (long long i = 0; i < n; i++) {
		struct fake_person fp;
		struct cdc_row r;
		fake_person(&f, &fp);
		memset(&r, 0, sizeof r);
		r.log_id = i + 1;
		r.event_us = now - span + span * i / n;
		r.customer_id = (uint32_t)(i % 65535) + 1;
		r.store_id = 1 + fake_below(&f, 2);
		r.address_id = r.customer_id;
		r.active = 1;
		r.create_us = r.event_us;
		memcpy(r.first_name, fp.first_name, sizeof r.first_name);
		memcpy(r.last_name, fp.last_name, sizeof r.last_name);
		memcpy(r.email, fp.email, sizeof r.email);
		static char buf[8192];
		char key[16];
		int len = schema ? dbz_message(schema, i, &r, buf, sizeof buf)
				 : env_encode(&r, "sakila", r.event_us, buf, ENV_MAX);
		int kl = env_key(&r, key, sizeof key);
		if (len < 0) {
			fprintf(stderr, "bench_consumer: message %lld does not fit\n", i);
			rd_kafka_destroy(p);
			return -1;
		}
		bytes += (size_t)len;
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
			    RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(buf, (size_t)len),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(p, 10);
		}
		rd_kafka_poll(p, 0);
	}
	rd_kafka_flush(p, 120000);
	double fill_s = (double)(u_mono_us() - t0) / 1e6;
	long long h = held(p, topic, parts);
	rd_kafka_destroy(p);
	if (h != n) {
		fprintf(stderr,
			"bench_consumer: the mock holds %lld of %lld messages (retention ~5 MiB per "
			"partition): use more partitions\n",
			h, n);
		return -1;
	}
	fprintf(stderr, "filled %lld %s (avg %zu bytes) in %.1f s on %d partitions\n", n,
		schema ? "Debezium messages" : "envelopes", bytes / (size_t)n, fill_s, parts);
	return (int)(bytes / (size_t)n);
}

/* What one consume measured, for the ratios. */
struct run_out {
	double rate;  /* events/s from cons_run's start */
	long growth;  /* KiB of peak RSS growth */
};

/* Consumes topic's n messages through cons_* and prints the figures unless out is given (then
   it only fills it); dbz: the Debezium topic (one figure). 0 when every message was counted
   as it must be, 1 if not, 2 on error. */
static int consume(struct kc *kc, const char *topic, long long n, int parts, int dbz,
		   int avg_bytes, struct run_out *out)
{
	char err[U_ERRLEN];
	struct cons_config cfg = {.topic = topic,
				  .horizon_us = 3600 * 1000000LL,
				  .lateness_us = 60 * 1000000LL,
				  .topic_wait_us = 10000000};
	g_cons = cons_new(&cfg, kc, err);
	if (!g_cons) {
		fprintf(stderr, "bench_consumer: %s\n", err);
		return 2;
	}
	struct cons_stats st;
	pthread_t th;
	long rss0 = vm_kib("VmRSS:");
	FILE *cr = fopen("/proc/self/clear_refs", "w"); /* "5": reset the peak RSS (VmHWM) */
	if (cr) {
		fputs("5", cr);
		fclose(cr);
	}
	int64_t t0 = u_mono_us();
	pthread_create(&th, NULL, run, NULL);
	int64_t first = 0, deadline = t0 + 300 * 1000000LL;
	size_t max_iv = 0;
	for (int tick = 0;; tick++) {
		u_sleep_us(2000);
		cons_stats(g_cons, &st);
		if (tick % 50 == 0) {
			struct ws_stats s1;
			cons_view(g_cons, 30, 0, NULL, 0, NULL, NULL, &s1, NULL);
			if (s1.id_intervals > max_iv)
				max_iv = s1.id_intervals;
		}
		if (!first && st.consumed > 0)
			first = u_mono_us();
		if (st.consumed >= (uint64_t)n || u_mono_us() > deadline)
			break;
	}
	int64_t t1 = u_mono_us();
	long hwm = vm_kib("VmHWM:");
	/* a view like the monitor's while it is all held */
	static struct ws_window wins[512];
	uint32_t ids[WS_MAX_STORES];
	int ns;
	struct ws_stats ws;
	int64_t wm;
	int64_t v0 = u_mono_us();
	int nw = cons_view(g_cons, 30, 0, wins, 512, ids, &ns, &ws, &wm);
	int64_t view_us = u_mono_us() - v0;
	uint64_t total = 0;
	for (int i = 0; i < nw; i++)
		for (int s = 0; s < ns; s++)
			total += wins[i].counts[s];
	cons_stop(g_cons);
	pthread_join(th, NULL);
	cons_free(g_cons);

	double secs = (double)(t1 - t0) / 1e6;
	double rate = (double)st.consumed / secs;
	double steady = first && t1 > first ? (double)st.consumed / ((double)(t1 - first) / 1e6) : 0;
	int ok = g_rc == 0 && st.consumed == (uint64_t)n && st.counted == (uint64_t)n &&
		 st.late == 0 && st.rejected == 0 && total == (uint64_t)n;
	if (out) {
		out->rate = rate;
		out->growth = hwm > rss0 ? hwm - rss0 : 0;
		return ok ? 0 : 1;
	}
	char a[32], b[32], d[32];
	if (dbz) {
		printf("consumer.throughput_debezium %.0f events/s (%s Debezium messages with "
		       "schemas on, avg %d bytes, on %d partitions, lz4, in %.2f s from cons_run's "
		       "start; %s/s from the first message; seen-id intervals up to %zu; peak RSS "
		       "growth %ld MiB; target >= %s)%s\n",
		       rate, u_fmt_count(n, a, sizeof a), avg_bytes, parts, secs,
		       u_fmt_count((long long)steady, b, sizeof b), max_iv,
		       (hwm > rss0 ? hwm - rss0 : 0) / 1024,
		       u_fmt_count((long long)TARGET, d, sizeof d),
		       !ok ? " WRONG COUNTS" : rate >= TARGET ? "" : " BELOW");
		g_last_rate = rate;
		return ok ? 0 : 1;
	}
	printf("consumer.throughput %.0f events/s (%s envelopes on %d partitions, lz4, in %.2f s "
	       "from cons_run's start; %s/s from the first message; target >= %s)%s\n",
	       rate, u_fmt_count(n, a, sizeof a), parts, secs,
	       u_fmt_count((long long)steady, b, sizeof b), u_fmt_count((long long)TARGET, d, sizeof d),
	       !ok ? " WRONG COUNTS" : rate >= TARGET ? "" : " BELOW");
	long grown = hwm > rss0 ? (hwm - rss0) / 1024 : 0;
	printf("consumer.rebuild_memory %ld MiB (peak RSS growth while consuming, librdkafka's "
	       "prefetch queues included; RSS before: %ld MiB with the mock cluster and its data; "
	       "window store %zu KiB, seen-id intervals up to %zu; target <= 64 MiB)%s\n",
	       grown, rss0 / 1024, ws.bytes / 1024, max_iv, grown <= 64 ? "" : " ABOVE");
	g_last_rate = rate;
	g_last_growth = grown;
	printf("consumer.view_30s %lld us (cons_view of %d 30 s windows over 50 minutes, 2 stores; "
	       "counted %llu, late %llu, rejected %llu, windows sum %llu)\n",
	       (long long)view_us, nw, (unsigned long long)st.counted, (unsigned long long)st.late,
	       (unsigned long long)st.rejected, (unsigned long long)total);
	return ok ? 0 : 1;
}

/* The ceiling: a bare librdkafka consumer of the same topic on kc (every partition assigned
   from the start, messages taken in batches and dropped, nothing decoded); events/s, or -1.
   roomy: queues that never fill (1,000,000 messages, 2 GiB a partition) and a 1 ms fetch
   backoff, since with librdkafka's defaults a bare run is at times held near 550-600k/s
   where roomy ones run near 1.1M; BENCH_BARE_X=k=v[,k=v...] adds properties to both. */
static double bare_rate(struct kc *kc, const char *topic, long long n, int parts, int roomy)
{
	char err[U_ERRLEN];
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	if (!conf)
		return -1;
	set(conf, "group.id", "bench-bare");
	set(conf, "enable.auto.commit", "false");
	set(conf, "enable.partition.eof", "false");
	if (roomy) {
		set(conf, "queued.min.messages", "1000000");
		set(conf, "queued.max.messages.kbytes", "2097151");
		set(conf, "fetch.error.backoff.ms", "1");
	}
	for (const char *x = getenv("BENCH_BARE_X"); x && *x;) { /* k=v[,k=v...] */
		char kv[256];
		size_t len = strcspn(x, ",");
		snprintf(kv, sizeof kv, "%.*s", (int)len, x);
		char *eq = strchr(kv, '=');
		if (eq) {
			*eq = 0;
			set(conf, kv, eq + 1);
		}
		x += len + (x[len] == ',');
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (!rk)
		return -1;
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
	for (int i = 0; i < parts; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
	int64_t t0 = u_mono_us(), deadline = t0 + 300 * 1000000LL;
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	long long got = 0;
	rd_kafka_message_t *ms[1024];
	while (got < n && u_mono_us() < deadline) {
		ssize_t k = rd_kafka_consume_batch_queue(q, 100, ms, 1024);
		for (ssize_t i = 0; i < k; i++) {
			got += !ms[i]->err;
			rd_kafka_message_destroy(ms[i]);
		}
	}
	double secs = (double)(u_mono_us() - t0) / 1e6;
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return got == n ? (double)n / secs : -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define ROUNDS 3 /* cdctop's consumer and the bare one, alternated: one rate alone swings 2x */

/* cdctop's consumer of topic against the bare one (with librdkafka's defaults, then roomy),
   alternated over ROUNDS rounds (the first of cdctop's is c0, the run already printed):
   cdctop's median in *cm, the best bare run in *bm, every rate in desc.
   0, 1 wrong counts, 2 on error. */
static int paired(struct kc *kc, const char *topic, long long n, int parts, int dbz, double c0,
		  double *cm, double *bm, char *desc, size_t dcap)
{
	double c[ROUNDS], b[ROUNDS];
	int rc = 0;
	size_t at = 0;
	for (int i = 0; i < ROUNDS; i++) {
		if (i == 0) {
			c[0] = c0;
		} else {
			struct run_out u = {0, 0};
			int r = consume(kc, topic, n, parts, dbz, 0, &u);
			if (r == 2)
				return 2;
			rc |= r;
			c[i] = u.rate;
		}
		double d = bare_rate(kc, topic, n, parts, 0), r = bare_rate(kc, topic, n, parts, 1);
		if (d <= 0 || r <= 0)
			return 2;
		b[i] = d > r ? d : r;
		if (at < dcap)
			at += (size_t)snprintf(desc + at, dcap - at, "%s%.0f/%.0f,%.0f", i ? " " : "",
					       c[i], d, r);
	}
	qsort(c, ROUNDS, sizeof *c, cmp_d);
	qsort(b, ROUNDS, sizeof *b, cmp_d);
	*cm = c[ROUNDS / 2];
	*bm = b[ROUNDS - 1];
	return rc;
}

/* The prefetch and ceiling figures for the envelope topic, after its main consume: a second
   client of the same mock with librdkafka's own prefetch (64 MiB a partition), then a bare
   librdkafka consumer. Second and third, so the first run's peak is clear of memory they
   freed. 0 ok, 1 wrong counts, 2 on error. */
static int ratios(struct kc *kc, const struct opts *o, long long n, int parts)
{
	char err[U_ERRLEN];
	struct opts o2 = *o;
	o2.brokers = kc_bootstrap(kc);
	o2.props[o2.nprops++] = "queued.max.messages.kbytes=65536";
	struct kc *kc2 = kc_new(&o2, err);
	struct run_out u = {0, 0};
	int rc = kc2 ? consume(kc2, TOPIC, n, parts, 0, 0, &u) : 2;
	kc_free(kc2);
	if (rc == 2) {
		fprintf(stderr, "bench_consumer: %s\n", err);
		return 2;
	}
	printf("consumer.prefetch_ratio %.2f (events/s with cdctop's prefetch bound / with "
	       "librdkafka's 64 MiB a partition, same topic, same run: %.0f / %.0f; peak RSS growth "
	       "%ld / %ld MiB)%s\n",
	       u.rate > 0 ? g_last_rate / u.rate : 0, g_last_rate, u.rate, g_last_growth,
	       u.growth / 1024, rc ? " WRONG COUNTS" : "");
	double cm = 0, bare = 0;
	char desc[320] = "";
	int pr = paired(kc, TOPIC, n, parts, 0, g_last_rate, &cm, &bare, desc, sizeof desc);
	printf("consumer.ceiling %.0f events/s (a bare librdkafka consumer of the same topic, same "
	       "run: batches taken and dropped, nothing decoded; best of %d with librdkafka's defaults "
	       "and %d roomy)%s\n",
	       bare, ROUNDS, ROUNDS, pr == 2 ? " FAILED" : "");
	printf("consumer.ratio %.2f (cdctop's consumer, median / the bare one, best, of %d runs "
	       "each alternated in this run: %.0f / %.0f; each cdctop/bare default,roomy: %s; goal "
	       ">= 0.8)%s\n",
	       bare > 0 ? cm / bare : 0, ROUNDS, cm, bare, desc,
	       pr == 1 ? " WRONG COUNTS" : bare > 0 && cm / bare >= 0.8 ? "" : " BELOW");
	return pr > rc ? pr : rc;
}

int main(int argc, char **argv)
{
	long long n = argc > 1 ? atoll(argv[1]) : 1000000;
	int parts = argc > 2 ? atoi(argv[2]) : 32;
	if (n < 1 || parts < 1 || parts > CONS_MAX_PARTS) {
		fprintf(stderr, "usage: bench_consumer [N [PARTITIONS (1..%d)]]\n", CONS_MAX_PARTS);
		return 2;
	}
	char err[U_ERRLEN];
	struct opts o;
	memset(&o, 0, sizeof o);
	o.mock_brokers = 3;
	const char *xp = getenv("BENCH_X");
	if (xp) {
		o.props[0] = xp;
		o.nprops = 1;
	}
	struct kc *kc = kc_new(&o, err);
	if (!kc || kc_ensure_topic(kc, NULL, TOPIC, parts, 5000, err) < 0 ||
	    kc_ensure_topic(kc, NULL, TOPIC_DBZ, parts, 5000, err) < 0) {
		fprintf(stderr, "bench_consumer: %s\n", err);
		return 2;
	}
	json_error_t je;
	json_t *fx = json_load_file(SCHEMA_FROM, 0, &je);
	char *schema = fx ? json_dumps(json_object_get(fx, "schema"), JSON_COMPACT) : NULL;
	json_decref(fx);
	if (!schema) {
		fprintf(stderr, "bench_consumer: %s: %s (run from the source tree)\n", SCHEMA_FROM,
			je.text);
		return 2;
	}
	decode_rate(schema);
	int avg = fill(kc, TOPIC, n, parts, NULL);
	int rc = avg < 0 ? 2 : consume(kc, TOPIC, n, parts, 0, avg, NULL);
	if (rc == 0)
		rc = ratios(kc, &o, n, parts);
	long long nd = n / 4 > 0 ? n / 4 : 1;
	int avgd = rc == 2 ? -1 : fill(kc, TOPIC_DBZ, nd, parts, schema);
	int rd = avgd < 0 ? 2 : consume(kc, TOPIC_DBZ, nd, parts, 1, avgd, NULL);
	if (rd == 0) { /* the same ceiling for the Debezium topic: what the transport allows */
		double cm = 0, bare = 0;
		char desc[320] = "";
		rd = paired(kc, TOPIC_DBZ, nd, parts, 1, g_last_rate, &cm, &bare, desc, sizeof desc);
		printf("consumer.ratio_debezium %.2f (cdctop's consumer / a bare librdkafka consumer "
		       "of the Debezium topic, median / best of %d runs each alternated in this run, the "
		       "bare one with librdkafka's defaults and roomy: %.0f / %.0f events/s; each "
		       "cdctop/default,roomy: %s)%s\n",
		       bare > 0 ? cm / bare : 0, ROUNDS, cm, bare, desc,
		       rd == 2 ? " FAILED" : rd == 1 ? " WRONG COUNTS" : "");
	}
	free(schema);
	kc_free(kc);
	return rc > rd ? rc : rd;
}
