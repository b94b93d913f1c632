/*
 * pipeline.c - the monitor's engine. Owns the start-up (server, init, Kafka, topic) and five
 * threads: the injector (its own MySQL connection, batches on command or at a rate, a ping a
 * second for the health shown on screen), the relay (relay_run), the consumer (cons_run), the
 * Kafka probe (watermarks and committed offsets about once a second on its own handle) and
 * the publisher, which runs the command queue and copies every figure into the snapshot the UI
 * reads. Threads never exit the process and never touch the terminal: they publish errors.
 * Locks: pl->mu (commands and the threads' figures) and snap_mu (the published snapshot) are
 * never held together, nor while calling into the relay or the consumer (they lock their own).
 */
#include "pipeline.h"
#include "check.h"
#include "consumer.h"
#include "db.h"
#include "heartbeat.h"
#include "inject.h"
#include "kconf.h"
#include "relay.h"
#include "schema.h"
#include "util.h"
#include "winstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PL_MAX_WINDOWS VIEW_MAX_WINDOWS
#define PL_MAX_PARTS   CONS_MAX_PARTS
#define PL_TEXT        VIEW_TEXT

_Static_assert(CONS_MAX_PARTS == VIEW_MAX_PARTS, "view.h's VIEW_MAX_PARTS");
_Static_assert(WS_MAX_STORES == VIEW_MAX_STORES, "view.h's VIEW_MAX_STORES");

enum pl_health { PL_UNKNOWN = 0, PL_UP, PL_DOWN };

/* One partition as the probe and the consumer see it; -1 where unknown. */
struct pl_part {
	int32_t id;
	int64_t low, high; /* watermarks (probe) */
	int64_t committed; /* committed offset of group cdctop-<topic> (probe), -1 none */
	int64_t position;  /* next offset the monitor's consumer reads, -1 unknown */
	int64_t lag;       /* high - max(committed (position if none), low), >= 0; -1 unknown */
};

/* Every figure the publisher gathers in a tick, the threads' and the libraries' types
 * included; the views (view.h) are filled from it. */
struct pl_stage {
	/* fixed at start */
	char mysql_label[PL_TEXT];
	char kafka_label[PL_TEXT]; /* "mock 127.0.0.1:40831 (3 brokers)" or the broker list */
	char topic[80];
	int capture_binlog;
	int64_t horizon_us;

	/* settings in effect (the windows below were computed with these) */
	int64_t window_s, slide_s; /* slide_s == window_s: tumbling */
	int64_t lateness_us;
	int batch;
	double rate;
	int auto_on;

	/* injector */
	int mysql; /* enum pl_health, as the injector's connection sees it */
	uint64_t injected;
	int last_batch;     /* customers in the last batch written */
	double inject_rate; /* customers/s, recent */
	char inject_error[PL_TEXT];

	/* relay */
	int relay_running; /* relay_run has not returned */
	struct relay_stats relay;
	double produce_rate; /* messages handed to librdkafka per second, recent */
	char relay_error[PL_TEXT];

	/* Kafka probe and consumer */
	int kafka; /* enum pl_health, as the probe sees it */
	int nparts;
	struct pl_part parts[PL_MAX_PARTS];
	char probe_error[PL_TEXT];
	int cons_running;
	struct cons_stats cons;
	char cons_error[PL_TEXT];

	/* windows, from the consumer's held buckets */
	int nstores;
	uint32_t stores[WS_MAX_STORES];
	int nwin; /* oldest first; the last one is the open (newest) window */
	struct ws_window win[PL_MAX_WINDOWS];
	struct ws_stats ws;
	int64_t watermark_us;
	struct view_check check;

	/* the status line: the most pressing condition, else the last event, else relay state */
	char status[PL_TEXT];
	int status_level; /* enum view_level */
};

#define PL_QCAP         64
#define PL_TICK_US      100000  /* publisher period */
#define PL_VIEW_US      1000000 /* windows recomputed at least this often */
#define PL_PROBE_US     1000000 /* probe period */
#define PL_PROBE_MS     250     /* timeout of one probe request (also bounds stop) */
#define PL_PING_US      1000000 /* injector health check period when idle */
#define PL_EVENT_US     4000000 /* an event stays on the status line this long */
#define PL_NOTE_US      1500000 /* the consumer's notes follow one another this far apart */
#define PL_RATE_N       21      /* rate samples: 2 s at the publisher's tick */
#define PL_MAX_PENDING  1000    /* queued manual batches */
#define PL_EXIT_WAIT_US 700000  /* how long quitting waits for the threads */

/* A counter sampled at each tick; the rate is the slope over the samples held. */
struct pl_rate {
	int64_t t[PL_RATE_N];
	uint64_t c[PL_RATE_N];
	int n, i;
};

struct pl_qent {
	enum pl_cmd cmd;
	int64_t i, j;
	double d;
};

struct pl {
	struct opts o;
	struct db_target db;
	struct kc *kc;
	rd_kafka_t *probe_rk;
	struct relay *relay;
	struct cons *cons;
	struct chk *chk; /* the check line's own thread and connection */
	char state_path[4096]; /* the consumer's checkpoint */
	char hb_topic[256];
	int nparts;
	int wake[2];
	uint64_t seed;

	pthread_t th_inj, th_relay, th_cons, th_probe, th_pub;
	int started, joined; /* bits, in pl_stop0's order */

	pthread_mutex_t mu; /* guards everything down to snap_mu */
	pthread_cond_t cond_pub, cond_inj, cond_probe;
	int stopping;
	struct pl_qent q[PL_QCAP];
	int qhead, qlen;

	int64_t window_s, slide_s, lateness_us;
	int batch;
	double rate;
	int auto_on;

	int inj_pending;
	int64_t auto_t0;
	uint64_t auto_done;
	int mysql;
	uint64_t injected;
	int last_batch;
	char inject_error[PL_TEXT];

	int relay_running, cons_running;
	char relay_error[PL_TEXT], cons_error[PL_TEXT];

	int kafka;
	struct pl_part parts[PL_MAX_PARTS];
	char probe_error[PL_TEXT];

	char event[PL_TEXT];
	int event_level;
	int event_answer; /* the event answers a key (i): shown over standing conditions */
	int64_t event_at;

	pthread_mutex_t snap_mu; /* guards pub */
	struct view_snap pub;
	struct pl_stage stage; /* the publisher's working figures */
	struct view_snap next; /* the views filled from them, compared with pub */
};

/* Copies src into a fixed buffer, replacing control characters so a line stays one line. */
static void pl_copy_line(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
	if (len)
		dst[i] = 0;
}

/* Records an event for the status line (caller holds mu). */
static void pl_event_locked(struct pl *pl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pl_event_locked(struct pl *pl, int level, const char *fmt, ...)
{
	char buf[PL_TEXT];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pl_copy_line(pl->event, sizeof pl->event, buf);
	pl->event_level = level;
	pl->event_answer = 0;
	pl->event_at = u_mono_us();
}

/* Adds a sample and returns the rate per second over the samples held. */
static double pl_rate_add(struct pl_rate *r, int64_t now, uint64_t c)
{
	r->i = (r->i + 1) % PL_RATE_N;
	r->t[r->i] = now;
	r->c[r->i] = c;
	if (r->n < PL_RATE_N)
		r->n++;
	int old = (r->i - (r->n - 1) + PL_RATE_N) % PL_RATE_N;
	int64_t dt = now - r->t[old];
	if (dt <= 0 || c < r->c[old])
		return 0;
	double v = (double)(c - r->c[old]) * 1e6 / (double)dt;
	return (double)(int64_t)(v * 10 + 0.5) / 10; /* 0.1 steps keep idle frames still */
}

/* Writes one byte to the wake pipe; a full pipe already wakes the reader. */
static void pl_wake(struct pl *pl)
{
	char c = 1;
	ssize_t r = write(pl->wake[1], &c, 1);
	(void)r;
}

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

/* Waits on cond until the monotonic time deadline_us (caller holds mu). */
static void pl_wait_until(struct pl *pl, pthread_cond_t *cond, int64_t deadline_us)
{
	int64_t left = deadline_us - u_mono_us();
	if (left <= 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ns = (int64_t)ts.tv_nsec + (left % 1000000) * 1000;
	ts.tv_sec += (time_t)(left / 1000000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	pthread_cond_timedwait(cond, &pl->mu, &ts);
}

/* ---- injector thread ---------------------------------------------------------------- */

struct pl_injector {
	MYSQL *m;
	struct inj *j;
	int connects;
	int64_t next_check; /* next ping or connect attempt */
};

/* Drops the connection after an error (injector thread). */
static void inj_drop(struct pl_injector *s)
{
	inj_free(s->j);
	s->j = NULL;
	if (s->m)
		mysql_close(s->m);
	s->m = NULL;
}

/* Marks MySQL up or down as the injector sees it, with an event on a change. */
static void inj_health(struct pl *pl, int up, const char *err)
{
	pthread_mutex_lock(&pl->mu);
	int was = pl->mysql;
	pl->mysql = up ? PL_UP : PL_DOWN;
	if (!up)
		pl_copy_line(pl->inject_error, sizeof pl->inject_error, err);
	if (up && was == PL_DOWN)
		pl_event_locked(pl, VIEW_INFO, "mysql: reachable again");
	else if (!up && was != PL_DOWN)
		pl_event_locked(pl, VIEW_ERROR, "mysql: down: %s", err);
	if (pl->mysql != was)
		pthread_cond_signal(&pl->cond_pub);
	pthread_mutex_unlock(&pl->mu);
}

/* Connects and prepares the injector if not connected; 0 when ready. Injector thread. */
static int inj_ensure(struct pl *pl, struct pl_injector *s)
{
	char err[U_ERRLEN];
	if (s->j)
		return 0;
	s->m = db_connect(&pl->db, 1, err);
	if (!s->m) {
		inj_health(pl, 0, err);
		return -1;
	}
	uint64_t seed = pl->seed + (uint64_t)s->connects * 0x9e3779b97f4a7c15ULL;
	s->j = inj_new(s->m, pl->db.db, seed, err);
	if (!s->j) {
		char e[U_ERRLEN];
		snprintf(e, sizeof e, "inject: %.200s", err);
		inj_drop(s);
		inj_health(pl, 0, e);
		return -1;
	}
	s->connects++;
	inj_health(pl, 1, NULL);
	return 0;
}

/* Writes one batch of n and publishes the result; manual says whether the user asked. */
static void inj_write(struct pl *pl, struct pl_injector *s, int n, int manual)
{
	char err[U_ERRLEN];
	struct inj_result r;
	memset(&r, 0, sizeof r);
	if (inj_ensure(pl, s) < 0) {
		pthread_mutex_lock(&pl->mu);
		if (manual) {
			pl_event_locked(pl, VIEW_ERROR, "inject: not written, mysql is down");
			pl->event_answer = 1;
		}
		pthread_cond_signal(&pl->cond_pub);
		pthread_mutex_unlock(&pl->mu);
		return;
	}
	int rc = inj_batch(s->j, n, &r, err);
	if (rc < 0) {
		unsigned code = mysql_errno(s->m);
		inj_drop(s);
		pthread_mutex_lock(&pl->mu);
		pl_copy_line(pl->inject_error, sizeof pl->inject_error, err);
		pl_event_locked(pl, VIEW_ERROR, "inject: batch rolled back: %s", err);
		pl->event_answer = manual;
		if (code >= 2000) /* client-side error: the connection is gone */
			pl->mysql = PL_DOWN;
		pthread_cond_signal(&pl->cond_pub);
		pthread_mutex_unlock(&pl->mu);
		return;
	}
	pthread_mutex_lock(&pl->mu);
	pl->injected += (uint64_t)r.n;
	pl->last_batch = r.n;
	pl->inject_error[0] = 0;
	pl->mysql = PL_UP;
	if (manual) {
		char per[160] = "";
		size_t off = 0;
		for (int i = 0; i < r.nstores && off < sizeof per - 24; i++)
			if (r.store_counts[i])
				off += (size_t)snprintf(per + off, sizeof per - off,
				                        "%sstore %u: %d", off ? ", " : "",
				                        r.store_ids[i], r.store_counts[i]);
		pl_event_locked(pl, VIEW_INFO, "inject: wrote %d customers in %.1f ms (%s)", r.n,
		                (double)r.us / 1000.0, per);
	}
	pthread_cond_signal(&pl->cond_pub); /* show it now, not at the next tick */
	pthread_mutex_unlock(&pl->mu);
}

/* Checks the connection (ping) or retries connecting, about once a second when idle. */
static void inj_check(struct pl *pl, struct pl_injector *s)
{
	char err[U_ERRLEN];
	if (s->m && mysql_ping(s->m) != 0) {
		snprintf(err, sizeof err, "lost the connection: %s", mysql_error(s->m));
		inj_drop(s);
		inj_health(pl, 0, err);
		return;
	}
	if (!s->m)
		inj_ensure(pl, s);
}

/* The injector thread: manual batches first, then continuous injection at the rate. */
static void *inj_main(void *arg)
{
	struct pl *pl = arg;
	pthread_setname_np(pthread_self(), "cdctop:inject");
	struct pl_injector s = {0};
	pthread_mutex_lock(&pl->mu);
	while (!pl->stopping) {
		int64_t now = u_mono_us();
		int n = 0, manual = 0;
		int64_t wake_at = s.next_check;
		if (pl->inj_pending > 0) {
			pl->inj_pending--;
			n = pl->batch;
			manual = 1;
		} else if (pl->auto_on && pl->rate > 0) {
			double due = pl->rate * (double)(now - pl->auto_t0) / 1e6;
			int64_t owed = (int64_t)due - (int64_t)pl->auto_done;
			if (owed >
			    10LL * pl->batch + (int64_t)pl->rate) { /* fell behind: restart */
				pl->auto_t0 = now;
				pl->auto_done = 0;
				owed = 0;
			}
			/* whole batches of the size shown in the footer, the first at once, the
			   next when the rate has earned the ones already written */
			if (due >= (double)pl->auto_done) {
				n = pl->batch;
				pl->auto_done += (uint64_t)n;
			} else {
				int64_t next = pl->auto_t0 + (int64_t)((double)pl->auto_done *
				                                       1e6 / pl->rate);
				if (next < wake_at)
					wake_at = next;
			}
		}
		if (n > 0) {
			pthread_mutex_unlock(&pl->mu);
			inj_write(pl, &s, n, manual);
			s.next_check = u_mono_us() + PL_PING_US;
			pthread_mutex_lock(&pl->mu);
			continue;
		}
		if (now >= s.next_check) {
			pthread_mutex_unlock(&pl->mu);
			inj_check(pl, &s);
			s.next_check = u_mono_us() + PL_PING_US;
			pthread_mutex_lock(&pl->mu);
			continue;
		}
		pl_wait_until(pl, &pl->cond_inj, wake_at);
	}
	pthread_mutex_unlock(&pl->mu);
	inj_drop(&s);
	return NULL;
}

/* ---- relay and consumer threads ----------------------------------------------------- */

/* Runs relay_run until it returns; publishes a fatal error. */
static void *relay_main(void *arg)
{
	struct pl *pl = arg;
	pthread_setname_np(pthread_self(), "cdctop:relay");
	char err[U_ERRLEN] = "";
	int rc = relay_run(pl->relay, err);
	pthread_mutex_lock(&pl->mu);
	pl->relay_running = 0;
	if (rc < 0 && !pl->stopping) {
		pl_copy_line(pl->relay_error, sizeof pl->relay_error, err);
		pl_event_locked(pl, VIEW_ERROR, "relay: stopped: %s", err);
	}
	pthread_cond_signal(&pl->cond_pub);
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* Runs cons_run until it returns; publishes a fatal error. */
static void *cons_main(void *arg)
{
	struct pl *pl = arg;
	pthread_setname_np(pthread_self(), "cdctop:consume");
	char err[U_ERRLEN] = "";
	int rc = cons_run(pl->cons, err);
	pthread_mutex_lock(&pl->mu);
	pl->cons_running = 0;
	if (rc < 0 && !pl->stopping) {
		pl_copy_line(pl->cons_error, sizeof pl->cons_error, err);
		pl_event_locked(pl, VIEW_ERROR, "consumer: stopped: %s", err);
	}
	pthread_cond_signal(&pl->cond_pub);
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* ---- Kafka probe thread ------------------------------------------------------------- */

/* 1 once stop was asked (probe thread, between requests). */
static int pl_stopping(struct pl *pl)
{
	pthread_mutex_lock(&pl->mu);
	int s = pl->stopping;
	pthread_mutex_unlock(&pl->mu);
	return s;
}

/* Asks the cluster for every partition's offset at ts (-2 earliest, -1 latest) into off[].
 * rd_kafka_offsets_for_times keeps to its timeout with the brokers down, where 2.0.2's
 * rd_kafka_query_watermark_offsets can block for as long as they stay down. */
static int probe_offsets(struct pl *pl, int64_t ts, int64_t *off, char *err, size_t len)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(pl->nparts);
	for (int p = 0; p < pl->nparts; p++)
		rd_kafka_topic_partition_list_add(l, pl->o.topic, p)->offset = ts;
	rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(pl->probe_rk, l, PL_PROBE_MS);
	for (int i = 0; !e && i < l->cnt; i++) {
		int p = l->elems[i].partition;
		if (l->elems[i].err)
			e = l->elems[i].err;
		else if (p >= 0 && p < pl->nparts)
			off[p] = l->elems[i].offset;
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		snprintf(err, len, "%s watermarks: %s", ts == -2 ? "low" : "high",
		         rd_kafka_err2str(e));
	return e ? -1 : 0;
}

/* One probe: low and high watermarks, then the group's committed offsets; each request is
 * bounded by PL_PROBE_MS, and stop is checked between them. */
static void probe_once(struct pl *pl)
{
	struct pl_part parts[PL_MAX_PARTS];
	int64_t lo[PL_MAX_PARTS], hi[PL_MAX_PARTS];
	char err[PL_TEXT] = "";
	for (int p = 0; p < pl->nparts; p++) {
		parts[p].id = p;
		parts[p].low = parts[p].high = parts[p].committed = -1;
		parts[p].position = parts[p].lag = -1;
		lo[p] = hi[p] = -1;
	}
	int ok = probe_offsets(pl, -2, lo, err, sizeof err) == 0;
	if (pl_stopping(pl))
		return;
	ok = ok && probe_offsets(pl, -1, hi, err, sizeof err) == 0;
	for (int p = 0; ok && p < pl->nparts; p++) {
		parts[p].low = lo[p];
		parts[p].high = hi[p];
	}
	if (ok && !pl_stopping(pl)) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(pl->nparts);
		for (int p = 0; p < pl->nparts; p++)
			rd_kafka_topic_partition_list_add(l, pl->o.topic, p);
		rd_kafka_resp_err_t e = rd_kafka_committed(pl->probe_rk, l, PL_PROBE_MS);
		if (!e) {
			for (int i = 0; i < l->cnt; i++) {
				int p = l->elems[i].partition;
				if (p >= 0 && p < pl->nparts && !l->elems[i].err)
					parts[p].committed =
					    l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
			}
		}
		/* an unanswered OffsetFetch only blanks the column: watermarks decide health */
		rd_kafka_topic_partition_list_destroy(l);
	}
	pthread_mutex_lock(&pl->mu);
	int was = pl->kafka;
	if (ok) {
		memcpy(pl->parts, parts, sizeof parts[0] * (size_t)pl->nparts);
		pl->probe_error[0] = 0;
		pl->kafka = PL_UP;
		if (was == PL_DOWN)
			pl_event_locked(pl, VIEW_INFO, "kafka: reachable again");
	} else {
		pl_copy_line(pl->probe_error, sizeof pl->probe_error, err);
		pl->kafka = PL_DOWN;
		if (was != PL_DOWN)
			pl_event_locked(pl, VIEW_ERROR, "kafka: %s", err);
	}
	pthread_cond_signal(&pl->cond_pub);
	pthread_mutex_unlock(&pl->mu);
}

/* The probe thread: one probe about every second until stop. */
static void *probe_main(void *arg)
{
	struct pl *pl = arg;
	pthread_setname_np(pthread_self(), "cdctop:probe");
	pthread_mutex_lock(&pl->mu);
	while (!pl->stopping) {
		pthread_mutex_unlock(&pl->mu);
		int64_t next = u_mono_us() + PL_PROBE_US;
		probe_once(pl);
		pthread_mutex_lock(&pl->mu);
		while (!pl->stopping && u_mono_us() < next)
			pl_wait_until(pl, &pl->cond_probe, next);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* ---- publisher thread --------------------------------------------------------------- */

/* Publisher-private state carried between ticks. */
struct pl_pubstate {
	struct pl_rate inj_rate, relay_rate, prod_rate; /* one window for all three */
	int64_t view_at; /* when the windows were last computed */
	int64_t view_size, view_slide;
	uint64_t view_sig; /* consumer counters at that time */
	int rebuild;
	int64_t check_at; /* the check round last judged */
	int check_bad;    /* rounds in a row unequal with nothing on its way */
	char note[200];   /* the consumer's last note, shown once as an event */
	char problem[200]; /* the consumer's last checkpoint problem, shown once */
	int64_t note_at;  /* when one of them was last put on the status line */
	uint64_t lost;    /* messages gone from the topic, as last shown */
};

/* Applies one command (caller holds mu). */
static void pub_command(struct pl *pl, struct pl_pubstate *ps, const struct pl_qent *c)
{
	char a[32], b[32];
	switch (c->cmd) {
	case PL_CMD_INJECT:
		if (pl->inj_pending < PL_MAX_PENDING)
			pl->inj_pending++;
		pthread_cond_signal(&pl->cond_inj);
		break;
	case PL_CMD_AUTO:
		pl->auto_on = c->i < 0 ? !pl->auto_on : c->i != 0;
		pl->auto_t0 = u_mono_us();
		pl->auto_done = 0;
		char rb[32];
		u_fmt_plain(pl->rate, rb, sizeof rb);
		if (pl->auto_on)
			pl_event_locked(pl, VIEW_INFO,
			                "continuous injection on: batches of %d at %s customers/s",
			                pl->batch, rb);
		else
			pl_event_locked(pl, VIEW_INFO, "continuous injection off");
		pthread_cond_signal(&pl->cond_inj);
		break;
	case PL_CMD_RATE:
		if (c->d > 0 && c->d <= 1e6) {
			pl->rate = c->d;
			pl->auto_t0 = u_mono_us();
			pl->auto_done = 0;
			char rb2[32];
			pl_event_locked(pl, VIEW_INFO, "injection rate %s customers/s",
			                u_fmt_plain(pl->rate, rb2, sizeof rb2));
			pthread_cond_signal(&pl->cond_inj);
		}
		break;
	case PL_CMD_BATCH:
		if (c->i >= 1 && c->i <= 1000000) {
			pl->batch = (int)c->i;
			pl_event_locked(pl, VIEW_INFO, "batch size %d", pl->batch);
		}
		break;
	case PL_CMD_WINDOW: {
		int64_t size = c->i, slide = c->j ? c->j : c->i;
		if (size < 1 || size * 1000000 > pl->o.horizon_us || slide < 1 || slide > size) {
			pl_event_locked(pl, VIEW_WARN, "window %s: outside 1s..the horizon",
			                u_fmt_duration(size * 1000000, a, sizeof a));
			break;
		}
		pl->window_s = size;
		pl->slide_s = slide;
		if (slide == size)
			pl_event_locked(pl, VIEW_INFO, "window %s tumbling",
			                u_fmt_duration(size * 1000000, a, sizeof a));
		else
			pl_event_locked(pl, VIEW_INFO, "window %s hopping every %s",
			                u_fmt_duration(size * 1000000, a, sizeof a),
			                u_fmt_duration(slide * 1000000, b, sizeof b));
		break;
	}
	case PL_CMD_REBUILD:
		ps->rebuild = 1;
		pl_event_locked(pl, VIEW_INFO, "rebuilding the windows");
		break;
	}
}

/* A signature of the consumer's counters: the windows can only change when it changes. */
static uint64_t pub_sig(const struct cons_stats *c)
{
	return c->consumed * 31 + c->counted * 7 + c->late * 131 + c->duplicates * 17 +
	       c->expired * 13 + c->rejected * 3;
}

/* Turns what the consumer says of its state (restored, rebuilt and from where, messages lost
 * to retention) into events for the status line, once each (caller holds mu). */
static void pub_notes_locked(struct pl *pl, struct pl_pubstate *ps, const struct pl_stage *s)
{
	int64_t now = u_mono_us();
	if (now - ps->note_at < PL_NOTE_US)
		return; /* the last one stays readable first */
	ps->note_at = now;
	if (strcmp(s->cons.problem, ps->problem)) {
		snprintf(ps->problem, sizeof ps->problem, "%s", s->cons.problem);
		if (ps->problem[0])
			pl_event_locked(pl, VIEW_WARN, "windows: %s", ps->problem);
	} else if (s->cons.lost != ps->lost) {
		ps->lost = s->cons.lost;
		pl_event_locked(pl, VIEW_WARN, "kafka: lost to retention: %s; filled in from MySQL",
		                s->cons.lost_text);
	} else if (strcmp(s->cons.note, ps->note)) {
		snprintf(ps->note, sizeof ps->note, "%s", s->cons.note);
		if (ps->note[0])
			pl_event_locked(pl, VIEW_INFO, "windows: %s", ps->note);
	} else {
		ps->note_at = 0; /* nothing shown: the next one goes at once */
	}
}

/* Fills the status line: conditions first, then a fresh event, then the relay's state. */
static void pub_status(struct pl *pl, struct pl_stage *s, int64_t now)
{
	char a[32];
	const char *ev = now - pl->event_at < PL_EVENT_US ? pl->event : "";
	int lvl = VIEW_INFO;
	char out[PL_TEXT * 2];
	if (*ev && pl->event_answer) { /* the answer to a key, even while something is down */
		snprintf(out, sizeof out, "%s", ev);
		lvl = pl->event_level;
	} else if (s->mysql == PL_DOWN) {
		/* the problem and its fix first: a narrow status line cuts the end */
		snprintf(out, sizeof out, "mysql: down: %s; inject and relay wait",
		         s->inject_error);
		lvl = VIEW_ERROR;
	} else if (s->kafka == PL_DOWN) {
		snprintf(out, sizeof out, "kafka: unreachable, %s rows waiting (%s)",
		         u_fmt_count(s->relay.backlog, a, sizeof a), s->probe_error);
		lvl = VIEW_ERROR;
	} else if (*ev) {
		snprintf(out, sizeof out, "%s", ev);
		lvl = pl->event_level;
	} else if (s->relay_error[0]) {
		snprintf(out, sizeof out, "relay: stopped: %s", s->relay_error);
		lvl = VIEW_ERROR;
	} else if (s->cons_error[0]) {
		snprintf(out, sizeof out, "consumer: stopped: %s", s->cons_error);
		lvl = VIEW_ERROR;
	} else if (s->relay.last_error[0] && (!s->relay.mysql_ok || !s->relay.kafka_ok)) {
		snprintf(out, sizeof out, "relay: %s", s->relay.last_error);
		lvl = VIEW_WARN;
	} else if (s->relay.state[0]) {
		snprintf(out, sizeof out, "relay: %s (%s rows relayed)", s->relay.state,
		         u_fmt_count((long long)s->relay.relayed, a, sizeof a));
	} else {
		snprintf(out, sizeof out, "starting");
	}
	pl_copy_line(s->status, sizeof s->status, out);
	s->status_level = lvl;
}

/* Copies the figures other threads keep under mu into the stage (caller holds mu). */
static void pub_gather_locked(struct pl *pl, struct pl_stage *s)
{
	s->window_s = pl->window_s;
	s->slide_s = pl->slide_s;
	s->lateness_us = pl->lateness_us;
	s->batch = pl->batch;
	s->rate = pl->rate;
	s->auto_on = pl->auto_on;
	s->mysql = pl->mysql;
	s->injected = pl->injected;
	s->last_batch = pl->last_batch;
	memcpy(s->inject_error, pl->inject_error, sizeof s->inject_error);
	s->relay_running = pl->relay_running;
	memcpy(s->relay_error, pl->relay_error, sizeof s->relay_error);
	s->cons_running = pl->cons_running;
	memcpy(s->cons_error, pl->cons_error, sizeof s->cons_error);
	s->kafka = pl->kafka;
	s->nparts = pl->nparts;
	memcpy(s->parts, pl->parts, sizeof s->parts);
	memcpy(s->probe_error, pl->probe_error, sizeof s->probe_error);
}

/* Adds the consumer's positions to the probe's partitions and computes the lag. */
static void pub_merge_parts(struct pl_stage *s)
{
	for (int p = 0; p < s->nparts; p++) {
		struct pl_part *pp = &s->parts[p];
		pp->position = -1;
		for (int k = 0; k < s->cons.nparts && k < CONS_MAX_PARTS; k++)
			if (s->cons.parts[k].id == pp->id && s->cons.parts[k].position >= 0)
				pp->position = s->cons.parts[k].position;
		/* the lag the row shows: from the committed offset in the same row (the
		   consumer's position only while nothing is committed yet) */
		int64_t at = pp->committed >= 0 ? pp->committed : pp->position;
		if (pp->high < 0 || at < 0) {
			pp->lag = -1;
			continue;
		}
		if (at < pp->low)
			at = pp->low; /* retention dropped what was not read */
		pp->lag = pp->high > at ? pp->high - at : 0;
	}
}

/* Judges the check thread's latest round: equal, catching up, or a mismatch that stayed
 * through two rounds with nothing on its way (the consumer idle during the whole count, the
 * relay caught up, Kafka up). */
static void pub_check(struct pl *pl, struct pl_pubstate *ps, struct pl_stage *s)
{
	struct view_check *k = &s->check;
	struct chk_figures f;
	if (!pl->chk) {
		memset(k, 0, sizeof *k);
		return;
	}
	chk_get(pl->chk, &f);
	pl_copy_line(k->error, sizeof k->error, f.error);
	if (!f.valid) {
		k->state = f.error[0] ? VIEW_CHECK_ERROR : VIEW_CHECK_NONE;
		return;
	}
	k->mysql = f.mysql;
	k->counted = f.counted;
	k->diff = (int64_t)f.counted - (int64_t)f.mysql;
	int lag = 0;
	for (int p = 0; p < s->nparts; p++)
		lag |= s->parts[p].lag > 0;
	int behind = f.mysql_judged != f.mysql || f.counted_after != f.counted || lag ||
	             s->relay.backlog > 0 || s->relay.inflight > 0 || s->relay.gap_id ||
	             s->kafka == PL_DOWN || s->cons.rebuilding || !s->cons.caught_up;
	if (!k->diff) {
		k->state = VIEW_CHECK_OK;
		ps->check_bad = 0;
	} else if (behind) {
		k->state = VIEW_CHECK_BEHIND;
		ps->check_bad = 0;
	} else if (f.at_us != ps->check_at) {
		ps->check_bad++;
		k->state = ps->check_bad >= 2 ? VIEW_CHECK_MISMATCH : VIEW_CHECK_BEHIND;
	}
	ps->check_at = f.at_us;
	if (f.error[0] && k->state != VIEW_CHECK_MISMATCH)
		k->state = VIEW_CHECK_ERROR;
}

/* The capture pane's view. */
static void view_fill_capture(struct view_capture *v, const struct pl_stage *s)
{
	const struct relay_stats *r = &s->relay;
	memset(v, 0, sizeof *v);
	if (s->mysql == PL_DOWN || (s->relay_running && r->state[0] && !r->mysql_ok))
		v->alert = VIEW_CAP_MYSQL_DOWN;
	else if (!s->relay_running && s->relay_error[0])
		v->alert = VIEW_CAP_RELAY_STOPPED;
	else if (s->mysql == PL_UNKNOWN)
		v->alert = VIEW_CAP_CONNECTING;
	v->binlog = r->binlog;
	v->customers = r->customers;
	v->last_batch = s->last_batch;
	v->change_rows = r->change_rows;
	v->cursor = r->cursor;
	v->backlog = r->backlog;
	v->oldest_us = r->oldest_us;
	v->gap_id = r->gap_id;
	v->gap_wait_left_us = r->gap_wait_left_us;
	v->skipped = r->skipped;
	snprintf(v->binlog_read, sizeof v->binlog_read, "%s", r->binlog_read);
	snprintf(v->binlog_server, sizeof v->binlog_server, "%s", r->binlog_server);
	v->binlog_lag_bytes = r->binlog_lag_bytes;
	v->binlog_lag_s = r->binlog_lag_s;
	v->inject_rate = s->inject_rate;
	v->relay_rate = r->rate;
	v->auto_on = s->auto_on;
	v->rate = s->rate;
	v->progress = r->progress;
	v->inflight = r->inflight;
	v->resent = r->resent;
}

/* The kafka pane's view. */
static void view_fill_kafka(struct view_kafka *v, const struct pl_stage *s)
{
	memset(v, 0, sizeof *v);
	if (s->kafka == PL_DOWN)
		v->alert = VIEW_KAF_UNREACHABLE;
	else if (!s->cons_running && s->cons_error[0])
		v->alert = VIEW_KAF_CONSUMER_STOPPED;
	else if (s->kafka == PL_UNKNOWN)
		v->alert = VIEW_KAF_CONNECTING;
	v->nparts = s->nparts;
	for (int p = 0; p < s->nparts; p++) {
		const struct pl_part *pp = &s->parts[p];
		v->parts[p] = (struct view_part){pp->id, pp->low, pp->high, pp->committed, pp->lag};
	}
	v->produce_rate = s->produce_rate;
	v->delivery_errors = s->relay.delivery_errors;
	if (s->cons.consumed > 0) {
		v->lat_p50_us = s->cons.lat_p50_us;
		v->lat_p99_us = s->cons.lat_p99_us;
	}
}

/* The histogram pane's view: only the windows in use are written. */
static void view_fill_hist(struct view_hist *v, const struct pl_stage *s)
{
	memset(v, 0, offsetof(struct view_hist, win));
	v->window_s = s->window_s;
	v->horizon_us = s->horizon_us;
	v->nstores = s->nstores;
	memcpy(v->stores, s->stores, sizeof v->stores);
	v->late = s->ws.late;
	v->rejected = s->cons.rejected > s->ws.rejected ? s->cons.rejected : s->ws.rejected;
	v->duplicates =
	    s->cons.duplicates > s->ws.duplicates ? s->cons.duplicates : s->ws.duplicates;
	memcpy(v->late_per_store, s->ws.late_per_store, sizeof v->late_per_store);
	v->check = s->check;
	v->nwin = s->nwin;
	for (int k = 0; k < s->nwin; k++) {
		struct view_window *w = &v->win[k];
		w->start_s = s->win[k].start_s;
		w->end_s = s->win[k].end_s;
		w->final = s->win[k].final;
		memcpy(w->counts, s->win[k].counts, sizeof w->counts);
	}
}

/* The view of the header, the status line and the key hints. */
static void view_fill_status(struct view_status *v, const struct pl_stage *s)
{
	memset(v, 0, sizeof *v);
	snprintf(v->mysql_label, sizeof v->mysql_label, "%s", s->mysql_label);
	snprintf(v->kafka_label, sizeof v->kafka_label, "%s", s->kafka_label);
	snprintf(v->topic, sizeof v->topic, "%s", s->topic);
	v->capture_binlog = s->capture_binlog;
	v->window_s = s->window_s;
	v->slide_s = s->slide_s;
	v->lateness_us = s->lateness_us;
	v->batch = s->batch;
	v->rate = s->rate;
	v->auto_on = s->auto_on;
	snprintf(v->text, sizeof v->text, "%s", s->status);
	v->level = s->status_level;
}

#define PL_SAME(a, b, f) (memcmp(&(a)->f, &(b)->f, sizeof(a)->f) == 0)

/* Publishes the stage: fills each pane's view, bumps the generation of each view that
   changed, and wakes the UI. */
static void pub_publish(struct pl *pl, const struct pl_stage *s)
{
	struct view_snap *n = &pl->next;
	view_fill_capture(&n->capture, s);
	view_fill_kafka(&n->kafka, s);
	view_fill_hist(&n->hist, s);
	view_fill_status(&n->status, s);
	pthread_mutex_lock(&pl->snap_mu);
	struct view_snap *p = &pl->pub;
	int first = p->gen == 0;
	int cap = first || !PL_SAME(n, p, capture);
	int kaf = first || !PL_SAME(n, p, kafka);
	int hist = first || memcmp(&n->hist, &p->hist, view_hist_size(&n->hist)) != 0;
	int st = first || !PL_SAME(n, p, status);
	if (!(cap || kaf || hist || st)) {
		pthread_mutex_unlock(&pl->snap_mu);
		return;
	}
	n->gen = p->gen + 1;
	n->gen_capture = p->gen_capture + (uint64_t)cap;
	n->gen_kafka = p->gen_kafka + (uint64_t)kaf;
	n->gen_hist = p->gen_hist + (uint64_t)hist;
	n->gen_status = p->gen_status + (uint64_t)st;
	memcpy(p, n, view_snap_size(n)); /* the windows past nwin are never read */
	pthread_mutex_unlock(&pl->snap_mu);
	pl_wake(pl);
}

/* The publisher thread: commands, then figures, about ten times a second. */
static void *pub_main(void *arg)
{
	struct pl *pl = arg;
	pthread_setname_np(pthread_self(), "cdctop:publish");
	struct pl_stage *s = &pl->stage;
	struct pl_pubstate ps;
	memset(&ps, 0, sizeof ps);
	ps.view_size = ps.view_slide = -1;
	pthread_mutex_lock(&pl->mu);
	while (!pl->stopping) {
		while (pl->qlen > 0) {
			struct pl_qent c = pl->q[pl->qhead];
			pl->qhead = (pl->qhead + 1) % PL_QCAP;
			pl->qlen--;
			pub_command(pl, &ps, &c);
		}
		pub_gather_locked(pl, s);
		int rebuild = ps.rebuild;
		ps.rebuild = 0;
		pthread_mutex_unlock(&pl->mu);

		if (rebuild)
			cons_rebuild(pl->cons);
		int64_t now = u_mono_us();
		relay_stats(pl->relay, &s->relay);
		cons_stats(pl->cons, &s->cons);
		s->inject_rate = pl_rate_add(&ps.inj_rate, now, s->injected);
		/* rows written, rows the relay handed to Kafka, messages Kafka acknowledged: the
		   same 2 s window, so the three agree over a batch (no relay figure decaying on
		   after it, no produce figure while nothing is acknowledged) */
		s->relay.rate = pl_rate_add(&ps.relay_rate, now, s->relay.produced);
		s->produce_rate = pl_rate_add(&ps.prod_rate, now, s->relay.relayed);
		uint64_t sig = pub_sig(&s->cons);
		if (sig != ps.view_sig || s->window_s != ps.view_size ||
		    s->slide_s != ps.view_slide || now - ps.view_at >= PL_VIEW_US || rebuild) {
			s->nwin = cons_view(pl->cons, s->window_s,
			                    s->slide_s == s->window_s ? 0 : s->slide_s, s->win,
			                    PL_MAX_WINDOWS, s->stores, &s->nstores, &s->ws,
			                    &s->watermark_us);
			if (s->nwin < 0)
				s->nwin = 0;
			ps.view_sig = sig;
			ps.view_size = s->window_s;
			ps.view_slide = s->slide_s;
			ps.view_at = now;
		}
		pub_merge_parts(s);
		pub_check(pl, &ps, s);

		pthread_mutex_lock(&pl->mu);
		pub_notes_locked(pl, &ps, s);
		pub_status(pl, s, now);
		pthread_mutex_unlock(&pl->mu);
		pub_publish(pl, s);
		pthread_mutex_lock(&pl->mu);
		if (pl->qlen == 0 && !pl->stopping)
			pl_wait_until(pl, &pl->cond_pub, now + PL_TICK_US);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
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
		if (schema_init_ex(m, pl->db.db, pl->o.capture == CAPTURE_TRIGGER, &r, e) < 0)
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

/* The probe's handle: a consumer with the group id whose committed offsets it reads; it
 * never subscribes, so it never joins the group. */
static rd_kafka_t *pl_probe_handle(struct pl *pl, char *err)
{
	char e[512], group[128];
	rd_kafka_conf_t *conf = kc_conf(pl->kc, err);
	if (!conf)
		return NULL;
	snprintf(group, sizeof group, "cdctop-%s", pl->o.topic);
	if (rd_kafka_conf_set(conf, "group.id", group, e, sizeof e) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) ||
	    rd_kafka_conf_set(conf, "client.id", "cdctop-probe", e, sizeof e)) {
		rd_kafka_conf_destroy(conf);
		u_err(err, "kafka probe: %s", e);
		return NULL;
	}
	if (!kc_has_prop(pl->kc, "reconnect.backoff.max.ms"))
		rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000", e, sizeof e);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		u_err(err, "kafka: cannot create a client for '%s': %s", kc_bootstrap(pl->kc), e);
	}
	return rk;
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

/* Start-up that may fail, before any thread or the terminal: see pipeline.h. */
struct pl *pl_new(const struct opts *o, char *err)
{
	char e[U_ERRLEN];
	struct pl *pl = u_calloc(1, sizeof *pl);
	pl->o = *o;
	pl->wake[0] = pl->wake[1] = -1;
	pthread_mutex_init(&pl->mu, NULL);
	pthread_mutex_init(&pl->snap_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl->cond_pub, &ca);
	pthread_cond_init(&pl->cond_inj, &ca);
	pthread_cond_init(&pl->cond_probe, &ca);
	pthread_condattr_destroy(&ca);
	pl->window_s = o->window_us / 1000000;
	pl->slide_s = o->slide_us ? o->slide_us / 1000000 : pl->window_s;
	pl->lateness_us = o->lateness_us;
	pl->batch = (int)o->n;
	pl->rate = o->rate > 0 ? o->rate : 20;
	pl->seed = o->seed_set ? o->seed : (uint64_t)u_now_us() ^ ((uint64_t)getpid() << 32);

	if (pipe2(pl->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		u_err(err, "cannot create a pipe: %s", strerror(errno));
		goto fail;
	}
	if (db_resolve(o, &pl->db, 1, err) < 0 || pl_check_db(pl, err) < 0)
		goto fail;
	pl->kc = kc_new(o, err);
	if (!pl->kc)
		goto fail;
	pl->probe_rk = pl_probe_handle(pl, err);
	if (!pl->probe_rk)
		goto fail;
	if (kc_ensure_topic(pl->kc, pl->probe_rk, o->topic, o->partitions, 10000, e) < 0) {
		u_err(err, "kafka: %s", e);
		goto fail;
	}
	pl->nparts = kc_topic_partitions(pl->probe_rk, o->topic, 10000, e);
	if (pl->nparts < 0) {
		u_err(err, "kafka: %s", e);
		goto fail;
	}
	if (pl->nparts > PL_MAX_PARTS)
		pl->nparts = PL_MAX_PARTS;
	for (int p = 0; p < PL_MAX_PARTS; p++) {
		pl->parts[p].id = p;
		pl->parts[p].low = pl->parts[p].high = pl->parts[p].committed = -1;
		pl->parts[p].position = pl->parts[p].lag = -1;
	}
	struct relay_config rc = {
	    .topic = o->topic,
	    .partitions = pl->nparts,
	    .gap_wait_us = o->gap_wait_us,
	    .horizon_us = o->horizon_us,
	    .binlog = o->capture == CAPTURE_BINLOG,
	    .heartbeat = 1,
	};
	pl->relay = relay_new(&rc, pl->kc, &pl->db, e);
	if (!pl->relay) {
		u_err(err, "relay: %s", e);
		goto fail;
	}
	/* one relay per database and topic: a second monitor stops here, before the screen */
	if (relay_claim(pl->relay, e) < 0) {
		u_err(err, "%s", e);
		goto fail;
	}
	/* the heartbeat topic exists before the consumer looks for it */
	if (hb_topic(o->topic, pl->hb_topic, sizeof pl->hb_topic) < 0 ||
	    kc_ensure_topic(pl->kc, pl->probe_rk, pl->hb_topic, 1, 10000, e) < 0)
		pl->hb_topic[0] = 0; /* the relay says why on the status line */
	if (pl_state_path(pl, o, err) < 0)
		goto fail;
	struct cons_config cc = {
	    .topic = o->topic,
	    .horizon_us = o->horizon_us,
	    .lateness_us = o->lateness_us,
	    .state_path = pl->state_path,
	    .db = &pl->db,
	    .binlog = o->capture == CAPTURE_BINLOG,
	    .hb_topic = pl->hb_topic[0] ? pl->hb_topic : NULL,
	};
	pl->cons = cons_new(&cc, pl->kc, e);
	if (!pl->cons) {
		u_err(err, "consumer: %s", e);
		goto fail;
	}

	struct pl_stage *s = &pl->stage;
	pl_copy_line(s->mysql_label, sizeof s->mysql_label, pl->db.label);
	pl_kafka_label(pl, s->kafka_label, sizeof s->kafka_label);
	pl_copy_line(s->topic, sizeof s->topic, o->topic);
	s->capture_binlog = o->capture == CAPTURE_BINLOG;
	s->horizon_us = o->horizon_us;
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
	/* before the publisher, which reads pl->chk */
	pl->chk = chk_start(&pl->db, pl->cons, pl->o.capture == CAPTURE_BINLOG,
	                    pl->o.horizon_us / 1000000, ce);
	if (!pl->chk) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return u_err(err, "%s", ce);
	}
	pl->relay_running = pl->cons_running = 1;
	int rc = 0;
	struct {
		pthread_t *th;
		void *(*fn)(void *);
		const char *name;
	} t[] = {
	    {&pl->th_pub, pub_main, "publisher"}, {&pl->th_inj, inj_main, "injector"},
	    {&pl->th_relay, relay_main, "relay"}, {&pl->th_cons, cons_main, "consumer"},
	    {&pl->th_probe, probe_main, "probe"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int e = pthread_create(t[i].th, NULL, t[i].fn, pl);
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
	pthread_mutex_lock(&pl->snap_mu);
	uint64_t gen = pl->pub.gen;
	if (gen != have)
		memcpy(dst, &pl->pub, view_snap_size(&pl->pub));
	pthread_mutex_unlock(&pl->snap_mu);
	return gen;
}

/* Queues a command for the publisher thread; never waits for it. */
int pl_send(struct pl *pl, enum pl_cmd cmd, int64_t i, int64_t j, double d)
{
	pthread_mutex_lock(&pl->mu);
	if (pl->qlen == PL_QCAP || pl->stopping) {
		pthread_mutex_unlock(&pl->mu);
		return -1;
	}
	struct pl_qent *e = &pl->q[(pl->qhead + pl->qlen) % PL_QCAP];
	e->cmd = cmd;
	e->i = i;
	e->j = j;
	e->d = d;
	pl->qlen++;
	pthread_cond_signal(&pl->cond_pub);
	pthread_mutex_unlock(&pl->mu);
	return 0;
}

/* Stops every thread and joins it; with wait_us >= 0, joins only until that much time has
 * passed. Returns how many threads are still running. */
static int pl_stop0(struct pl *pl, int64_t wait_us)
{
	if (!pl)
		return 0;
	pthread_mutex_lock(&pl->mu);
	int first = !pl->stopping;
	pl->stopping = 1;
	pthread_cond_broadcast(&pl->cond_pub);
	pthread_cond_broadcast(&pl->cond_inj);
	pthread_cond_broadcast(&pl->cond_probe);
	pthread_mutex_unlock(&pl->mu);
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
	return left;
}

/* Stops and joins every thread, however long that takes. */
void pl_stop(struct pl *pl)
{
	pl_stop0(pl, -1);
}

/* Frees everything (the threads are joined); with keep_mock, an in-process mock cluster is
 * left to process exit. */
static void pl_free0(struct pl *pl, int keep_mock)
{
	relay_free(pl->relay);
	cons_free(pl->cons);
	if (pl->probe_rk)
		rd_kafka_destroy_flags(pl->probe_rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	if (keep_mock && pl->kc && kc_is_mock(pl->kc) && !pl_exit_kc)
		pl_exit_kc = pl->kc;
	else
		kc_free(pl->kc);
	for (int i = 0; i < 2; i++)
		if (pl->wake[i] >= 0)
			close(pl->wake[i]);
	pthread_cond_destroy(&pl->cond_pub);
	pthread_cond_destroy(&pl->cond_inj);
	pthread_cond_destroy(&pl->cond_probe);
	pthread_mutex_destroy(&pl->mu);
	pthread_mutex_destroy(&pl->snap_mu);
	memset(pl->db.password, 0, sizeof pl->db.password);
	free(pl);
}

/* Stops, joins and frees everything. */
void pl_free(struct pl *pl)
{
	if (!pl)
		return;
	pl_stop0(pl, -1);
	pl_free0(pl, 0);
}

/* The teardown thread of pl_free_for_exit. */
static atomic_int pl_reaped;
static void *pl_reap(void *arg)
{
	pl_free0(arg, 1);
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
	if (pl_stop0(pl, PL_EXIT_WAIT_US) > 0) {
		/* a thread is still inside a library call: it may use anything here */
		pl_exit_pl = pl;
		return 1;
	}
	/* librdkafka's destroy can wait without bound for a cluster that is gone (2.0.2):
	   free on a thread, and leave what is not done in time to process exit */
	pl_exit_pl = pl;
	pthread_t t;
	if (pthread_create(&t, NULL, pl_reap, pl) != 0) {
		pl_free0(pl, 1);
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
