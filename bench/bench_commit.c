/*
 * bench_commit.c - COMMIT -> counted, as issue 17 defines it: the time from a batch's COMMIT
 * returning to the injector until the consumer has counted every row of it. Run by
 * bench/bench_watch.sh against its own private MariaDB (the relay of the trigger capture
 * running beside, as a process) and its standalone mock cluster: it writes batches of 20
 * through the injector's own code (inj_batch: one transaction, prepared statements) at RATE
 * customers/s, and runs cdctop's consumer in this process (cons_*, configured as `cdctop
 * watch` configures it). After each COMMIT it reads the consumer's counted figure every
 * POLL_US until it includes the batch, so a figure is late by at most POLL_US plus one read;
 * both times are on the monotonic clock. Prints one line for the script to format:
 *   commit P50_MS P99_MS MAX_MS BATCHES WARM_S POLL_US
 * over the batches after WARM_S s of warm-up, and exits 1 when the consumer did not count
 * every row it wrote (within 30 s of the last COMMIT).
 * Usage: bench_commit DATADIR BOOTSTRAP SECONDS [RATE]
 */
#include "consumer.h"
#include "db.h"
#include "heartbeat.h"
#include "inject.h"
#include "kconf.h"
#include "opts.h"
#include "util.h"

#include <pthread.h>
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

/* The consumer thread. */
static void *run(void *arg)
{
	(void)arg;
	g_rc = cons_run(g_cons, g_err);
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
	static struct cons_stats st;
	cons_stats(g_cons, &st);
	return st.counted;
}

static int fail(const char *what, const char *err)
{
	fprintf(stderr, "bench_commit: %s: %s\n", what, err);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4 || atoi(argv[3]) < 1) {
		fprintf(stderr, "usage: bench_commit DATADIR BOOTSTRAP SECONDS [RATE]\n");
		return 2;
	}
	double rate = argc > 4 ? atof(argv[4]) : 1000;
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
	pthread_create(&th, NULL, run, NULL);

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
	if (!lat || !at)
		return fail("memory", "out of memory");
	struct inj_pacer p;
	inj_pace_start(&p, rate, 0, u_mono_us());
	long sent = 0, done = 0;
	int64_t deadline = INT64_MAX;
	int rc = 0;
	while (done < total) {
		int64_t now = u_mono_us();
		if (sent < total && inj_pace_next(&p, BATCH, now) == 0) {
			struct inj_result res;
			memset(&res, 0, sizeof res);
			if (inj_batch(j, BATCH, &res, err) < 0 || res.n != BATCH)
				return fail("inject", err);
			at[sent++] = u_mono_us(); /* COMMIT returned */
			if (sent == total)
				deadline = at[sent - 1] + TAIL_US;
			continue;
		}
		uint64_t c = counted();
		now = u_mono_us();
		while (done < sent && c >= base + (uint64_t)(done + 1) * BATCH) {
			lat[done] = now - at[done];
			done++;
		}
		if (now > deadline) {
			fprintf(stderr,
				"bench_commit: the consumer counted %llu of the %ld rows written within "
				"30 s of the last COMMIT\n",
				(unsigned long long)(c - base), total * BATCH);
			rc = 1;
			break;
		}
		u_sleep_us(POLL_US);
	}
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
	double p50 = (double)lat[warm + n / 2] / 1000, p99 = (double)lat[warm + n * 99 / 100] / 1000;
	printf("commit %.2f %.2f %.2f %ld %d %d\n", p50, p99, (double)lat[warm + n - 1] / 1000, n,
	       WARM_S, POLL_US);
	free(lat);
	free(at);
	return 0;
}
