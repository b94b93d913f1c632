/*
 * pipeline.c - the monitor's engine: the start-up that may fail (server, init, Kafka, topic),
 * the five threads and their teardown, and the routing of commands. The threads: the injector
 * (injector.c), the relay (relay_run), the consumer (cons_run), the Kafka probe (probe.c) and
 * the publisher (publish.c), which fills the panes' views the UI reads. Threads never exit the
 * process and never touch the terminal: they report errors to the publisher. pl->mu guards
 * only the stop flag; each module locks its own state. On a foreign topic (opt_foreign: a
 * Debezium connector's) there is no MySQL, injector, relay or check line: only the consumer,
 * the probe and the publisher run.
 */
#include "pipeline.h"
#include "check.h"
#include "consumer.h"
#include "db.h"
#include "heartbeat.h"
#include "injector.h"
#include "kconf.h"
#include "probe.h"
#include "publish.h"
#include "relay.h"
#include "tablestats.h"
#include "schema.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PL_EXIT_WAIT_US 700000 /* how long quitting waits for the threads */

/* The argument of the relay's or the consumer's thread. */
struct pl_worker {
	struct pl *pl;
	enum pub_thread which;
};

struct pl {
	struct opts o;
	struct db_target db;
	struct kc *kc;
	struct probe *probe;
	struct relay *relay;
	struct cons *cons;
	struct injr *injr;
	struct pub *pub;
	struct chk *chk; /* the check line's own thread and connection */
	struct tstats *ts; /* the capture pane's table figures, on theirs */
	int foreign;     /* opt_foreign: only the consumer, the probe and the publisher */
	char state_path[4096]; /* the consumer's checkpoint */
	char hb_topic[256];
	int nparts;
	int wake[2];

	pthread_t th_inj, th_relay, th_cons, th_probe, th_pub;
	struct pl_worker w_relay, w_cons;
	int started, joined; /* bits, in pl_stop_within's order */

	pthread_mutex_t mu; /* guards stopping */
	int stopping;
	int mock_down; /* the mock's brokers are down (k); the injector thread's own */
};

/* Empties the wake pipe; the UI calls it when poll says the pipe is readable. */
void pl_drain_wake(struct pl *pl)
{
	char buf[64];
	while (read(pl->wake[0], buf, sizeof buf) > 0)
		;
}

/* The wake pipe's read end, for the UI's poll. */
int pl_wake_fd(const struct pl *pl)
{
	return pl->wake[0];
}

/* ---- relay and consumer threads ----------------------------------------------------- */

/* 1 once stop was asked. */
static int pl_stopping(struct pl *pl)
{
	pthread_mutex_lock(&pl->mu);
	int s = pl->stopping;
	pthread_mutex_unlock(&pl->mu);
	return s;
}

/* The relay's or the consumer's thread: runs relay_run or cons_run until it returns; a fatal
   error goes to the status line. */
static void *pl_worker_main(void *arg)
{
	struct pl_worker *wk = arg;
	struct pl *pl = wk->pl;
	int relay = wk->which == PUB_RELAY;
	pthread_setname_np(pthread_self(), relay ? "cdctop:relay" : "cdctop:consume");
	char err[U_ERRLEN] = "";
	int rc = relay ? relay_run(pl->relay, err) : cons_run(pl->cons, err);
	pub_ended(pl->pub, wk->which, rc < 0 && !pl_stopping(pl) ? err : NULL);
	return NULL;
}

/* The injector's and the probe's reports: events and wake-ups for the publisher. */
static void pl_on_inject(void *arg, int level, int answer, const char *text)
{
	pub_event(((struct pl *)arg)->pub, level, answer, text);
}

/* The relay's fault events (x, d). */
static void pl_on_relay(void *arg, int level, const char *text)
{
	pub_event(((struct pl *)arg)->pub, level, 1, text);
}

/* k, on the injector's thread: every broker of the in-process mock down, or up again. */
static void pl_on_fault(void *arg, int64_t what)
{
	(void)what; /* the one fault run there: the mock's brokers, toggled */
	struct pl *pl = arg;
	rd_kafka_mock_cluster_t *mc = kc_mock(pl->kc);
	if (!mc)
		return;
	int down = !pl->mock_down, n = kc_mock_brokers(pl->kc), bad = 0;
	for (int b = 1; b <= n; b++) /* the mock numbers its brokers from 1 */
		if ((down ? rd_kafka_mock_broker_set_down(mc, b) : rd_kafka_mock_broker_set_up(mc, b)))
			bad++;
	pl->mock_down = down;
	if (!down)
		kc_mock_nodelay(pl->kc); /* the brokers' listeners are new */
	pub_mock_down(pl->pub, down);
	char ev[VIEW_TEXT];
	if (bad)
		snprintf(ev, sizeof ev, "k: %d of %d mock brokers did not answer", bad, n);
	else if (down)
		snprintf(ev, sizeof ev, "k: all %d mock brokers down: rows wait in the change log; "
		                        "k brings them up", n);
	else
		snprintf(ev, sizeof ev, "k: the %d mock brokers are up again: the backlog drains", n);
	pub_event(pl->pub, bad || down ? VIEW_WARN : VIEW_INFO, 1, ev);
}

static void pl_on_probe(void *arg, int level, const char *text)
{
	pub_event(((struct pl *)arg)->pub, level, 0, text);
}

/* The mock cluster of a pipeline freed with pl_free_for_exit: process exit ends it. Kept here
 * so that it stays reachable (not a leak) until then. */
static struct kc *pl_exit_kc;
/* A pipeline whose threads did not stop in time for exit: left whole to process exit. */
static struct pl *pl_exit_pl;

/* ThreadSanitizer reports threads alive at exit: its builds take the slow, full teardown. */
#if defined(__SANITIZE_THREAD__)
#define PL_FULL_TEARDOWN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PL_FULL_TEARDOWN 1
#endif
#endif
#ifndef PL_FULL_TEARDOWN
#define PL_FULL_TEARDOWN 0
#endif

/* ---- start-up and shutdown ---------------------------------------------------------- */

/* Makes sure the database has what the pipeline needs: init on the private server, a check
 * on a named one (cdctop never creates objects on a user's server unasked). */
static int pl_check_db(struct pl *pl, char *err)
{
	char e[U_ERRLEN];
	MYSQL *m = db_connect(&pl->db, 0, err);
	if (!m)
		return -1;
	int rc = 0;
	if (pl->db.private_server) {
		struct schema_report r;
		if (schema_private_db(m, pl->db.db, err) < 0)
			rc = -1;
		else if (schema_init(m, pl->db.db, pl->o.capture == CAPTURE_TRIGGER, &r, e) < 0)
			rc = u_err(err, "init: %s", e);
	} else {
		int has = schema_has_table(m, pl->db.db, "users_change_events", e);
		if (has < 0)
			rc = u_err(err, "%s: %s", pl->db.label, e);
		else if (!has)
			rc = u_err(err,
			           "%s has no change table: run cdctop init (with the same "
			           "options) first",
			           pl->db.label);
	}
	mysql_close(m);
	return rc;
}

/* The Kafka target for the header: the mock's first address and broker count, or -b. */
static void pl_kafka_label(struct pl *pl, char *buf, size_t len)
{
	const char *bs = kc_bootstrap(pl->kc);
	if (kc_is_mock(pl->kc)) {
		size_t n = strcspn(bs, ",");
		snprintf(buf, len, "mock %.*s (%d brokers)", (int)n, bs, kc_mock_brokers(pl->kc));
	} else {
		snprintf(buf, len, "%s", bs);
	}
}

/* The consumer's checkpoint: in the state dir, one file per MySQL target, database and
 * topic ("<state>/windows-<topic>-<hash>.ckpt"). */
static int pl_state_path(struct pl *pl, const struct opts *o, char *err)
{
	struct srv_paths sp;
	const char *base = pl->db.private_server ? pl->db.paths.base : NULL;
	if (!base) {
		if (srv_paths(NULL, &sp, err) < 0)
			return -1;
		base = sp.base;
	}
	char port[16];
	snprintf(port, sizeof port, ":%u:", pl->db.port);
	uint64_t h = U_HASH_SEED;
	const char *parts[] = {pl->db.host, port, pl->db.socket, "\n", pl->db.db, "\n", o->topic};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		h = u_hash(h, parts[i]);
	int n = snprintf(pl->state_path, sizeof pl->state_path, "%.3900s/windows-%.100s-%016llx.ckpt",
			 base, o->topic, (unsigned long long)h);
	if (n < 0 || (size_t)n >= sizeof pl->state_path)
		return u_err(err, "state dir path too long: %.60s...", base);
	return 0;
}

/* The Kafka side: the client configuration (the mock without -b), the probe and its handle,
 * the topic and its partitions. */
static int pl_open_kafka(struct pl *pl, const struct opts *o, char *err)
{
	char e[U_ERRLEN];
	pl->kc = kc_new(o, err);
	if (!pl->kc)
		return -1;
	pl->probe = probe_new(pl->kc, o->topic, pl_on_probe, pl, err);
	if (!pl->probe)
		return -1;
	rd_kafka_t *rk = probe_handle(pl->probe);
	if (pl->foreign) { /* never created: it must be there */
		int r = kc_check_topic(pl->kc, o->topic, 10000, e);
		if (r == U_ENOTFOUND)
			return u_err(err, "kafka: topic '%.100s' does not exist at %.100s: name the "
			                  "connector's topic with -t (one cdctop does not write is "
			                  "never created)",
			             o->topic, kc_bootstrap(pl->kc));
		if (r < 0)
			return u_err(err, "kafka: %s", e);
	} else if (kc_ensure_topic(pl->kc, rk, o->topic, o->partitions, 10000, e) < 0) {
		return u_err(err, "kafka: %s", e);
	}
	pl->nparts = kc_topic_partitions(rk, o->topic, 10000, e);
	if (pl->nparts < 0)
		return u_err(err, "kafka: %s", e);
	if (pl->nparts > CONS_MAX_PARTS)
		pl->nparts = CONS_MAX_PARTS;
	probe_set_partitions(pl->probe, pl->nparts);
	return 0;
}

/* The relay, claimed (one relay per database and topic: a second monitor stops here, before
 * the screen), and the heartbeat topic it writes to. */
static int pl_open_relay(struct pl *pl, const struct opts *o, char *err)
{
	char e[U_ERRLEN];
	struct relay_config rc = {
	    .topic = o->topic,
	    .partitions = pl->nparts,
	    .gap_wait_us = o->gap_wait_us,
	    .horizon_us = o->horizon_us,
	    .binlog = o->capture == CAPTURE_BINLOG,
	    .heartbeat = 1,
	    .event = pl_on_relay,
	    .event_arg = pl,
	};
	pl->relay = relay_new(&rc, pl->kc, &pl->db, e);
	if (!pl->relay)
		return u_err(err, "relay: %s", e);
	if (relay_claim(pl->relay, e) < 0)
		return u_err(err, "%s", e);
	/* the heartbeat topic exists before the consumer looks for it */
	if (hb_topic(o->topic, pl->hb_topic, sizeof pl->hb_topic) < 0 ||
	    kc_ensure_topic(pl->kc, probe_handle(pl->probe), pl->hb_topic, 1, 10000, e) < 0)
		pl->hb_topic[0] = 0; /* the relay says why on the status line */
	return 0;
}

/* The consumer, with its checkpoint in the state dir. */
static int pl_open_consumer(struct pl *pl, const struct opts *o, char *err)
{
	char e[U_ERRLEN];
	/* a foreign topic's windows are rebuilt from the topic (no checkpoint, no MySQL) */
	if (!pl->foreign && pl_state_path(pl, o, err) < 0)
		return -1;
	struct cons_config cc = {
	    .topic = o->topic,
	    .horizon_us = o->horizon_us,
	    .lateness_us = o->lateness_us,
	    .state_path = pl->foreign ? NULL : pl->state_path,
	    .db = pl->foreign ? NULL : &pl->db,
	    .binlog = o->capture == CAPTURE_BINLOG,
	    .hb_topic = pl->hb_topic[0] ? pl->hb_topic : NULL,
	    .format = o->format == FORMAT_CDCTOP     ? CONS_FMT_CDCTOP
	              : o->format == FORMAT_DEBEZIUM ? CONS_FMT_DEBEZIUM
	                                             : CONS_FMT_AUTO,
	    .group_by = o->group_by,
	    .table = o->table,
	};
	pl->cons = cons_new(&cc, pl->kc, e);
	if (!pl->cons)
		return u_err(err, "consumer: %s", e);
	return 0;
}

/* The publisher, reading every source; its labels and settings as the command line says. */
static void pl_open_publisher(struct pl *pl, const struct opts *o)
{
	char klabel[VIEW_TEXT], note[VIEW_TEXT];
	pl_kafka_label(pl, klabel, sizeof klabel);
	snprintf(note, sizeof note, "capture: Debezium topic %.200s, not written by cdctop",
	         o->topic);
	int64_t window_s = o->window_us / 1000000;
	struct pub_config pc = {
	    .mysql_label = pl->foreign ? "" : pl->db.label,
	    .kafka_label = klabel,
	    .topic = o->topic,
	    .capture_binlog = o->capture == CAPTURE_BINLOG,
	    .foreign = pl->foreign ? note : NULL,
	    .group_by = o->group_by,
	    .horizon_us = o->horizon_us,
	    .window_s = window_s,
	    .slide_s = o->slide_us ? o->slide_us / 1000000 : window_s,
	    .lateness_us = o->lateness_us,
	    .wake_fd = pl->wake[1],
	    .relay = pl->relay,
	    .cons = pl->cons,
	    .injr = pl->injr,
	    .probe = pl->probe,
	};
	pl->pub = pub_new(&pc);
}

/* Start-up that may fail, before any thread or the terminal: see pipeline.h. */
struct pl *pl_new(const struct opts *o, char *err)
{
	struct pl *pl = u_calloc(1, sizeof *pl);
	pl->o = *o;
	pl->wake[0] = pl->wake[1] = -1;
	pl->foreign = opt_foreign(o);
	pthread_mutex_init(&pl->mu, NULL);
	if (pipe2(pl->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		u_err(err, "cannot create a pipe: %s", strerror(errno));
		goto fail;
	}
	if (pl->foreign) { /* no MySQL, relay or injector: the topic is someone else's */
		if (pl_open_kafka(pl, o, err) < 0 || pl_open_consumer(pl, o, err) < 0)
			goto fail;
		pl_open_publisher(pl, o);
		return pl;
	}
	if (db_resolve(o, &pl->db, 1, err) < 0 || pl_check_db(pl, err) < 0 ||
	    pl_open_kafka(pl, o, err) < 0 || pl_open_relay(pl, o, err) < 0 ||
	    pl_open_consumer(pl, o, err) < 0)
		goto fail;
	uint64_t seed = o->seed_set ? o->seed : (uint64_t)u_now_us() ^ ((uint64_t)getpid() << 32);
	pl->injr = injr_new(&pl->db, seed, (int)o->n, o->rate > 0 ? o->rate : 20, pl_on_inject,
	                   pl_on_fault, pl);
	pl_open_publisher(pl, o);
	return pl;
fail:
	pl_free(pl);
	return NULL;
}

/* Starts the five threads with every signal blocked in them. */
int pl_start(struct pl *pl, char *err)
{
	sigset_t all, old;
	char ce[U_ERRLEN];
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the threads inherit a full mask */
	/* before the publisher, which reads pl->chk; a foreign topic has no MySQL to check */
	pl->chk = pl->foreign ? NULL
	                      : chk_start(&pl->db, pl->cons, pl->o.capture == CAPTURE_BINLOG,
	                                  pl->o.horizon_us / 1000000, ce);
	if (!pl->chk && !pl->foreign) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return u_err(err, "%s", ce);
	}
	/* the capture pane's table figures: counting rows is slow on big tables, so never on the
	   relay's thread or connection */
	if (!pl->foreign) {
		pl->ts = tstats_start(&pl->db, pl->o.capture == CAPTURE_BINLOG, ce);
		if (!pl->ts) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return u_err(err, "%s", ce);
		}
	}
	pub_set_sources(pl->pub, pl->chk, pl->ts);
	pl->w_relay = (struct pl_worker){pl, PUB_RELAY};
	pl->w_cons = (struct pl_worker){pl, PUB_CONSUMER};
	int rc = 0;
	struct {
		pthread_t *th;
		void *(*fn)(void *);
		const char *name;
		void *arg;
		int skip; /* a foreign topic's monitor: no injector, no relay */
	} t[] = {
	    {&pl->th_pub, pub_main, "publisher", pl->pub, 0},
	    {&pl->th_inj, injr_main, "injector", pl->injr, pl->foreign},
	    {&pl->th_relay, pl_worker_main, "relay", &pl->w_relay, pl->foreign},
	    {&pl->th_cons, pl_worker_main, "consumer", &pl->w_cons, 0},
	    {&pl->th_probe, probe_main, "probe", pl->probe, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (t[i].skip)
			continue;
		int e = pthread_create(t[i].th, NULL, t[i].fn, t[i].arg);
		if (e) {
			rc = u_err(err, "cannot start the %s thread: %s", t[i].name, strerror(e));
			break;
		}
		pl->started |= 1 << i;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		pl_stop(pl);
	return rc;
}

/* Copies the published snapshot if it is newer than have (only the windows in use). */
uint64_t pl_snapshot(struct pl *pl, struct view_snap *dst, uint64_t have)
{
	return pub_snapshot(pl->pub, dst, have);
}

/* Routes a command to the injector's queue or the publisher's; never waits for either. */
int pl_send(struct pl *pl, enum pl_cmd cmd, int64_t i, int64_t j, double d)
{
	if (!pl->injr && (cmd <= PL_CMD_BATCH || cmd >= PL_CMD_KAFKA))
		return -2; /* a foreign topic's monitor: no injector, no relay */
	switch (cmd) {
	case PL_CMD_INJECT:
		return injr_send(pl->injr, INJR_INJECT, 0, 0);
	case PL_CMD_AUTO:
		return injr_send(pl->injr, INJR_AUTO, i, 0);
	case PL_CMD_RATE:
		return injr_send(pl->injr, INJR_RATE, 0, d);
	case PL_CMD_BATCH:
		return injr_send(pl->injr, INJR_BATCH, i, 0);
	case PL_CMD_WINDOW:
		return pub_send(pl->pub, PUB_WINDOW, i, j);
	case PL_CMD_REBUILD:
		return pub_send(pl->pub, PUB_REBUILD, 0, 0);
	case PL_CMD_KAFKA:
		if (!kc_is_mock(pl->kc))
			return -3;
		return injr_send(pl->injr, INJR_FAULT, 0, 0);
	case PL_CMD_CRASH:
		relay_crash(pl->relay);
		return 0;
	case PL_CMD_HOLD:
		return injr_send(pl->injr, INJR_HOLD, pl->o.gap_wait_us + PL_HOLD_EXTRA_US, 0);
	case PL_CMD_ROLLBACK:
		return injr_send(pl->injr, INJR_ROLLBACK, 0, 0);
	case PL_CMD_REDELIVER:
		relay_redeliver(pl->relay);
		return 0;
	}
	return -1;
}

/* Stops every thread and joins it; with wait_us >= 0, joins only until that much time has
 * passed. Returns how many threads are still running. */
static int pl_stop_within(struct pl *pl, int64_t wait_us)
{
	if (!pl)
		return 0;
	pthread_mutex_lock(&pl->mu);
	int first = !pl->stopping;
	pl->stopping = 1;
	pthread_mutex_unlock(&pl->mu);
	if (first && pl->pub)
		pub_stop(pl->pub);
	if (first && pl->injr)
		injr_stop(pl->injr);
	if (first && pl->probe)
		probe_stop(pl->probe);
	if (first && pl->relay)
		relay_stop(pl->relay);
	if (first && pl->cons)
		cons_stop(pl->cons);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl); /* pthread_timedjoin_np's clock */
	int64_t ns = (int64_t)dl.tv_nsec + (wait_us > 0 ? wait_us : 0) * 1000;
	dl.tv_sec += (time_t)(ns / 1000000000);
	dl.tv_nsec = (long)(ns % 1000000000);
	pthread_t *th[] = {&pl->th_pub, &pl->th_inj, &pl->th_relay, &pl->th_cons, &pl->th_probe};
	int left = 0;
	for (int i = 0; i < (int)(sizeof th / sizeof th[0]); i++) {
		if (!(pl->started & (1 << i)) || (pl->joined & (1 << i)))
			continue;
		int e = wait_us < 0 ? pthread_join(*th[i], NULL)
		                    : pthread_timedjoin_np(*th[i], NULL, &dl);
		if (e == 0)
			pl->joined |= 1 << i;
		else
			left++;
	}
	/* the check thread reads the consumer, and the publisher reads it: after the publisher,
	   before the consumer is freed */
	if (pl->chk && (!(pl->started & 1) || (pl->joined & 1))) {
		chk_stop(pl->chk, wait_us < 0);
		pl->chk = NULL;
	}
	if (pl->ts && (!(pl->started & 1) || (pl->joined & 1))) { /* the publisher reads it too */
		tstats_stop(pl->ts);
		pl->ts = NULL;
	}
	return left;
}

/* Stops and joins every thread, however long that takes. */
void pl_stop(struct pl *pl)
{
	pl_stop_within(pl, -1);
}

/* Frees everything (the threads are joined); with keep_mock, an in-process mock cluster is
 * left to process exit. */
static void pl_release(struct pl *pl, int keep_mock)
{
	pub_free(pl->pub);
	injr_free(pl->injr);
	relay_free(pl->relay);
	cons_free(pl->cons);
	probe_free(pl->probe);
	if (keep_mock && pl->kc && kc_is_mock(pl->kc) && !pl_exit_kc)
		pl_exit_kc = pl->kc;
	else
		kc_free(pl->kc);
	for (int i = 0; i < 2; i++)
		if (pl->wake[i] >= 0)
			close(pl->wake[i]);
	pthread_mutex_destroy(&pl->mu);
	memset(pl->db.password, 0, sizeof pl->db.password);
	free(pl);
}

/* Stops, joins and frees everything. */
void pl_free(struct pl *pl)
{
	if (!pl)
		return;
	pl_stop_within(pl, -1);
	pl_release(pl, 0);
}

/* The teardown thread of pl_free_for_exit. */
static atomic_int pl_reaped;
static void *pl_reap(void *arg)
{
	pl_release(arg, 1);
	atomic_store(&pl_reaped, 1);
	return NULL;
}

/* Stops within PL_EXIT_WAIT_US and frees what may be freed; see pipeline.h. */
int pl_free_for_exit(struct pl *pl)
{
	if (!pl)
		return 0;
	if (PL_FULL_TEARDOWN) {
		pl_free(pl);
		return 0;
	}
	int64_t deadline = u_mono_us() + PL_EXIT_WAIT_US + 200000; /* quit within a second */
	if (pl_stop_within(pl, PL_EXIT_WAIT_US) > 0) {
		/* a thread is still inside a library call: it may use anything here */
		pl_exit_pl = pl;
		return 1;
	}
	/* librdkafka's destroy can wait without bound for a cluster that is gone (2.0.2):
	   free on a thread, and leave what is not done in time to process exit */
	pl_exit_pl = pl;
	pthread_t t;
	if (pthread_create(&t, NULL, pl_reap, pl) != 0) {
		pl_release(pl, 1);
		pl_exit_pl = NULL;
		return 0;
	}
	while (!atomic_load(&pl_reaped) && u_mono_us() < deadline)
		u_sleep_us(5000);
	if (!atomic_load(&pl_reaped)) {
		pthread_detach(t);
		return 1;
	}
	pthread_join(t, NULL);
	pl_exit_pl = NULL;
	return 0;
}
