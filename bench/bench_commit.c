/*
 * bench_commit.c - COMMIT -> counted, as issue 17 defines it: the time from a batch's COMMIT
 * returning to the injector until the consumer has counted every row of it. Run by
 * bench/bench_watch.sh against its own private MariaDB (the relay of the trigger capture
 * running beside, as a process) and its standalone mock cluster: it writes batches of 20
 * through the injector's own code (inj_batch: one transaction, prepared statements) at RATE
 * customers/s, and runs cdctop's consumer in this process (cons_*, configured as `cdctop
 * watch` configures it). After each COMMIT it reads the consumer's counted figure every
 * POLL_US (on a thread of its own, so a slow COMMIT never delays the note of an earlier
 * batch) until it covers the batch, so a figure is late by about POLL_US plus one read; both
 * times are on the monotonic clock. Batches are told apart by the running count, so a batch
 * still being counted when the next one's COMMIT returned may be covered partly by that
 * batch's rows: such batches are AMBIGUOUS (their figure is a lower bound, and is at least
 * the 20 ms between COMMITs at 1,000/s anyway). Prints one line for the script to format:
 *   commit P50_MS P99_MS MAX_MS BATCHES WARM_S POLL_US AMBIGUOUS
 * over the batches after WARM_S s of warm-up (nearest-rank percentiles), and exits 1 when
 * the consumer did not count every row it wrote (within 30 s of the last COMMIT) or failed.
 * Usage: bench_commit DATADIR BOOTSTRAP SECONDS [RATE]; BENCH_COMMIT_TRACE=FILE writes each
 * batch's "SECONDS_SINCE_FIRST_COMMIT MS" there (warm-up included).
 */
#include "consumer.h"
#include "db.h"
#include "heartbeat.h"
#include "inject.h"
#include "kconf.h"
#include "opts.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH   20
#define POLL_US 100
#define WARM_S  2 /* batches before the measurement, at the same rate */
#define TAIL_US (30 * 1000000LL)

static struct cons *g_cons;
static char g_err[U_ERRLEN];
static int g_rc;
static atomic_int g_ended; /* cons_run returned (g_rc, g_err) */

/* The consumer thread. */
static void *run(void *arg)
{
	(void)arg;
	g_rc = cons_run(g_cons, g_err);
	atomic_store(&g_ended, 1);
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* What the consumer has counted. */
static uint64_t counted(void)
{
	struct cons_stats st;
	cons_stats(g_cons, &st);
	return st.counted;
}

static uint64_t g_base;    /* counted before the first batch */
static long g_total;       /* batches to be written */
static int64_t *g_seen_at; /* [k]: when counted first covered batch k */
static atomic_long g_done; /* batches counted so far */
static atomic_int g_stop;

/* The watcher thread: reads counted every POLL_US and notes when it first covers each batch,
 * on a thread of its own so that a COMMIT which takes long cannot delay the note of an
 * earlier batch. */
static void *watcher(void *arg)
{
	(void)arg;
	long d = 0;
	while (d < g_total && !atomic_load(&g_stop)) {
		uint64_t c = counted();
		int64_t now = u_mono_us();
		while (d < g_total && c >= g_base + (uint64_t)(d + 1) * BATCH)
			g_seen_at[d++] = now;
		atomic_store(&g_done, d);
		u_sleep_us(POLL_US);
	}
	return NULL;
}

static int fail(const char *what, const char *err)
{
	fprintf(stderr, "bench_commit: %s: %s\n", what, err);
	return 2;
}

int main(int argc, char **argv)
{
	double rate = argc > 4 ? atof(argv[4]) : 1000;
	if (argc < 4 || atoi(argv[3]) < 1 || !(rate >= BATCH)) {
		fprintf(stderr, "usage: bench_commit DATADIR BOOTSTRAP SECONDS [RATE >= %d]\n", BATCH);
		return 2;
	}
	char *av[] = {"cdctop", "watch", "--datadir", argv[1], "-b", argv[2], NULL};
	struct opts o;
	char err[U_ERRLEN], hb[256];
	if (opt_parse(6, av, &o, err) != 0)
		return fail("options", err);
	struct db_target t;
	if (db_resolve(&o, &t, 0, err) < 0)
		return fail("mysql", err);
	MYSQL *m = db_connect(&t, 1, err);
	if (!m)
		return fail("mysql", err);
	struct inj *j = inj_new(m, t.db, 17, err);
	if (!j)
		return fail("inject", err);
	struct kc *kc = kc_new(&o, err);
	if (!kc)
		return fail("kafka", err);
	struct cons_config cfg = {.topic = o.topic,
				  .horizon_us = o.horizon_us,
				  .lateness_us = o.lateness_us,
				  .topic_wait_us = 10000000,
				  .hb_topic = hb_topic(o.topic, hb, sizeof hb) == 0 ? hb : NULL,
				  .format = CONS_FMT_CDCTOP};
	g_cons = cons_new(&cfg, kc, err);
	if (!g_cons)
		return fail("consumer", err);
	pthread_t th;
	if (pthread_create(&th, NULL, run, NULL) != 0)
		return fail("consumer", "cannot start its thread");

	/* caught up with what the topic holds: counted stays put for a second */
	uint64_t base = counted(), seen = base;
	for (int64_t still = u_mono_us(); u_mono_us() - still < 1000000;) {
		u_sleep_us(20000);
		uint64_t c = counted();
		if (c != seen) {
			seen = c;
			still = u_mono_us();
		}
	}
	base = seen;

	long total = (long)(rate * (WARM_S + atoi(argv[3])) / BATCH), warm = (long)(rate * WARM_S / BATCH);
	long long *lat = calloc((size_t)total, sizeof *lat);
	int64_t *at = calloc((size_t)total, sizeof *at);
	g_seen_at = calloc((size_t)total, sizeof *g_seen_at);
	if (!lat || !at || !g_seen_at)
		return fail("memory", "out of memory");
	g_base = base;
	g_total = total;
	pthread_t wt;
	if (pthread_create(&wt, NULL, watcher, NULL) != 0)
		return fail("watcher", "cannot start its thread");
	struct inj_pacer p;
	inj_pace_start(&p, rate, 0, u_mono_us());
	int rc = 0;
	for (long sent = 0; sent < total;) {
		int64_t now = u_mono_us(), due = inj_pace_next(&p, BATCH, now);
		if (due != 0) {
			u_sleep_us(due - now);
			continue;
		}
		struct inj_result res;
		memset(&res, 0, sizeof res);
		if (inj_batch(j, BATCH, &res, err) < 0 || res.n != BATCH)
			return fail("inject", err);
		at[sent++] = u_mono_us(); /* COMMIT returned */
	}
	for (int64_t deadline = u_mono_us() + TAIL_US; atomic_load(&g_done) < total;) {
		if (atomic_load(&g_ended)) {
			fprintf(stderr, "bench_commit: the consumer stopped: %s\n",
				g_rc ? g_err : "no error");
			rc = 1;
			break;
		}
		if (u_mono_us() > deadline) {
			fprintf(stderr,
				"bench_commit: the consumer counted %llu of the %ld rows written within "
				"30 s of the last COMMIT\n",
				(unsigned long long)(counted() - base), total * BATCH);
			rc = 1;
			break;
		}
		u_sleep_us(10000);
	}
	atomic_store(&g_stop, 1);
	pthread_join(wt, NULL);
	const char *trace = getenv("BENCH_COMMIT_TRACE");
	FILE *tf = trace && *trace ? fopen(trace, "w") : NULL;
	long ambiguous = 0;
	for (long k = 0; rc == 0 && k < total; k++) {
		if (k >= warm && k + 1 < total && g_seen_at[k] > at[k + 1])
			ambiguous++;
		/* a row can be counted before the COMMIT's OK reaches the client: 0, not negative */
		lat[k] = g_seen_at[k] > at[k] ? g_seen_at[k] - at[k] : 0;
		if (tf)
			fprintf(tf, "%.3f %.3f\n", (double)(at[k] - at[0]) / 1e6, (double)lat[k] / 1000);
	}
	if (tf)
		fclose(tf);
	uint64_t extra = counted() - base;
	cons_stop(g_cons);
	pthread_join(th, NULL);
	cons_free(g_cons);
	kc_free(kc);
	inj_free(j);
	mysql_close(m);
	if (rc == 0 && extra != (uint64_t)total * BATCH) {
		fprintf(stderr, "bench_commit: the consumer counted %llu rows, %ld were written\n",
			(unsigned long long)extra, total * BATCH);
		rc = 1;
	}
	if (rc)
		return rc;
	long n = total - warm;
	qsort(lat + warm, (size_t)n, sizeof *lat, cmp_ll);
	/* nearest rank: the smallest value with at least q of the batches at or below it */
	double p50 = (double)lat[warm + (n + 1) / 2 - 1] / 1000,
	       p99 = (double)lat[warm + (n * 99 + 99) / 100 - 1] / 1000;
	printf("commit %.2f %.2f %.2f %ld %d %d %ld\n", p50, p99, (double)lat[warm + n - 1] / 1000,
	       n, WARM_S, POLL_US, ambiguous);
	free(lat);
	free(at);
	free(g_seen_at);
	return 0;
}
