/*
 * cmd_watch.c - `cdctop watch`: consumes the topic (consumer.c on its own thread) and prints
 * window counts as they change. The main thread only samples cons_view/cons_stats every
 * 250 ms and prints; it never touches Kafka. Needs no MySQL. Must never print a partial line
 * or anything but the contract below on stdout (notes and errors go to stderr).
 *
 * Output contract (stdout, UTC times, windows [start, end) epoch-aligned):
 *  --json, streaming (default, and --until-idle D), one JSON object per line:
 *    {"window_start":"2026-11-25T10:00:00Z","window_end":"2026-11-25T10:00:30Z",
 *     "store_id":1,"count":12,"final":false}
 *        when a (window, store)'s count or final flag changed since it was last printed; a
 *        pair is first printed when its count becomes > 0. "final" true: the watermark
 *        passed the window's end, it never changes again.
 *    {"late":{"store_id":1,"count":3}}      when a store's late total changed (cumulative).
 *    at exit (signal or idle): {"consumed":N,"counted":N,"duplicates":N,"late":N,
 *        "expired":N,"rejected":N,"rejects":["p0@17: not JSON: ..."],"lost":N,
 *        "lost_detail":"p0 from 12,000: 12,000 messages gone","updates":N,"deletes":N,
 *        "skipped":N,"values":N,"values_max":N,"untracked":N,"wait_switches":N}  (the
 *        summary; rejects lists
 *        up to 4 rejected messages, lowest (partition, offset) first, so a restart shows the
 *        same, as "p<partition>@<offset>: <reason>"; updates, deletes, skipped: Debezium
 *        messages; values: the distinct store ids / group values tracked, at most
 *        values_max; untracked: registrations of values beyond those, in "other";
 *        wait_switches: moves between the 5 ms and the 1 ms fetch wait, consumer.c).
 *    With --group-by COLUMN, "COLUMN" replaces "store_id" in the window and late lines.
 *    Beyond 64 values, the lines name the top 63 by count in the horizon and "other" (a
 *    string) for the sum of the rest.
 *  --json --once: nothing while reading; when the topic is read to its end (every partition
 *    at its high watermark) and nothing new came for 1 s: every (window, store) with a count
 *    > 0 (oldest window first, store ids ascending; at most the newest 20000 windows), then a
 *    late line per store with late > 0, then the summary line; exit 0.
 *  text: a table, "window (UTC)  state  store 1  store 2 ..." (a header again when the store
 *    columns change or every 40 rows), one row per changed window
 *    ("2026-11-25 10:00:00-10:00:30   open    12    15"), a "late" row when late totals
 *    change, and after each block a status line starting with "#" (consumed, rate, counted,
 *    duplicates, late, rejected, watermark, end-to-end p50/p99). At exit the summary:
 *    "consumed N, counted N, duplicates N, late N, expired N, rejected N", then a line
 *    "rejected p0@17: <reason>" per reject shown. Text --once: the whole table (windows with
 *    a count), the late row if any, the summary, at the end only.
 *  stderr: in live mode, one line per change of the consumer's last error (e.g. a broker
 *    down); with no -b, text mode notes that it watches an in-process mock (a demo).
 * Exit status: 0 on --once/--until-idle end or SIGINT/SIGTERM; 1 on an error (one line on
 * stderr, e.g. the cluster unreachable or the topic missing within 10 s with --once or
 * --until-idle: without them watch keeps waiting); 2 on a bad option (main).
 */
#include "cmds.h"
#include "consumer.h"
#include "debezium.h"
#include "heartbeat.h"
#include "kconf.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define W_TICK_US      100000LL
#define W_PRINT_US     250000LL
#define W_ONCE_IDLE_US 1000000LL
#define W_TOPIC_WAIT   (10 * 1000000LL)
#define W_CHECK_MS     10000
#define W_MAX_WINDOWS  20000
#define W_HEADER_EVERY 40

static volatile sig_atomic_t w_stop;

/* The consumer thread's outcome. */
struct w_thread {
	struct cons *c;
	atomic_int done;
	int rc;
	char err[U_ERRLEN];
};

/* One sample of the consumer's windows. */
struct w_view {
	struct ws_window *win;
	int n;
	uint32_t ids[WS_MAX_STORES];
	int nstores;
	struct ws_stats ws;
	int64_t wm;
};

/* State of the printer: what was printed last, formats. */
struct w_out {
	int json;
	const char *col; /* the column counted by: "store_id", or --group-by's */
	struct cons *c;  /* for the texts of coded --group-by values */
	int64_t size_s, slide_s;
	uint32_t hdr_ids[WS_MAX_STORES]; /* store columns of the last text header */
	int hdr_n;
	int rows; /* text rows since the header */
	uint64_t late_prev[WS_MAX_STORES];
	uint32_t late_ids[WS_MAX_STORES];
	int nlate;
};

/* SIGINT/SIGTERM: ask the main loop to end. */
static void w_on_signal(int sig)
{
	(void)sig;
	w_stop = 1;
}

/* Runs cons_run on its own thread and records how it ended. */
static void *w_cons_main(void *arg)
{
	struct w_thread *t = arg;
	t->rc = cons_run(t->c, t->err);
	atomic_store(&t->done, 1);
	return NULL;
}

/* "2026-11-25T10:00:00Z" for epoch seconds s. */
static const char *w_iso(int64_t s, char *buf, size_t len)
{
	return u_fmt_utc(s, "%Y-%m-%dT%H:%M:%SZ", buf, len);
}

/* "HH:MM:SS" (UTC) for epoch seconds s. */
static const char *w_hms(int64_t s, char *buf, size_t len)
{
	return u_fmt_utc(s, "%H:%M:%S", buf, len);
}

/* Writes s as a JSON string (quoted, escaped) to stdout. */
static void w_json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* The count of store id in window w of view v (0 if the store is not in the view). */
static uint64_t w_count(const struct w_view *v, const struct ws_window *w, uint32_t id)
{
	for (int s = 0; s < v->nstores; s++)
		if (v->ids[s] == id)
			return w->counts[s];
	return 0;
}

/* The window of view v starting at start_s, or NULL; *hint keeps the scan position. */
static const struct ws_window *w_find(const struct w_view *v, int64_t start_s, int *hint)
{
	while (*hint < v->n && v->win[*hint].start_s < start_s)
		(*hint)++;
	if (*hint < v->n && v->win[*hint].start_s == start_s)
		return &v->win[*hint];
	return NULL;
}

/* Writes the value store id stands for: a number, or a coded value's text as a JSON string. */
static void w_json_value(const struct w_out *o, uint32_t id)
{
	char t[DBZ_VALMAX];
	int k = cons_label(o->c, id, t, sizeof t);
	if (k == 0)
		printf("%u", id);
	else if (k == 3)
		fputs(t, stdout); /* a number, true, false or null, as Debezium wrote it */
	else
		w_json_str(t);
}

/* One JSON window line. */
static void w_json_window(const struct w_out *o, const struct ws_window *w, uint32_t id,
			  uint64_t count)
{
	char a[32], b[32];
	printf("{\"window_start\":\"%s\",\"window_end\":\"%s\",", w_iso(w->start_s, a, sizeof a),
	       w_iso(w->end_s, b, sizeof b));
	w_json_str(o->col);
	putchar(':');
	w_json_value(o, id);
	printf(",\"count\":%llu,\"final\":%s}\n", (unsigned long long)count,
	       w->final ? "true" : "false");
}

/* The text header: store columns of view v. */
static void w_text_header(struct w_out *o, const struct w_view *v)
{
	printf("%-30s %-6s", "window (UTC)", "state");
	for (int s = 0; s < v->nstores; s++) {
		char col[24];
		char t[DBZ_VALMAX];
		if (cons_label(o->c, v->ids[s], t, sizeof t))
			snprintf(col, sizeof col, "%.10s", t);
		else if (!strcmp(o->col, "store_id"))
			snprintf(col, sizeof col, "store %u", v->ids[s]);
		else
			snprintf(col, sizeof col, "%.12s %u", o->col, v->ids[s]);
		printf(" %10s", col);
	}
	putchar('\n');
	memcpy(o->hdr_ids, v->ids, sizeof o->hdr_ids);
	o->hdr_n = v->nstores;
	o->rows = 0;
}

/* One text row for window w of view v (header first when the columns changed). */
static void w_text_row(struct w_out *o, const struct w_view *v, const struct ws_window *w)
{
	if (o->hdr_n != v->nstores ||
	    memcmp(o->hdr_ids, v->ids, sizeof(uint32_t) * (size_t)v->nstores) ||
	    o->rows >= W_HEADER_EVERY)
		w_text_header(o, v);
	char day[16], a[16], b[16], head[64];
	u_fmt_utc(w->start_s, "%Y-%m-%d", day, sizeof day);
	snprintf(head, sizeof head, "%s %s-%s", day, w_hms(w->start_s, a, sizeof a),
		 w_hms(w->end_s, b, sizeof b));
	printf("%-30s %-6s", head, w->final ? "final" : "open");
	for (int s = 0; s < v->nstores; s++) {
		char c[32];
		printf(" %10s", u_fmt_count((long long)w->counts[s], c, sizeof c));
	}
	putchar('\n');
	o->rows++;
}

/* Prints what changed from prev to cur (prev NULL: everything with a count). Returns the
   number of lines printed. */
static int w_print_changes(struct w_out *o, const struct w_view *prev, const struct w_view *cur)
{
	int lines = 0, hint = 0;
	for (int i = 0; i < cur->n; i++) {
		const struct ws_window *w = &cur->win[i];
		const struct ws_window *pw = prev ? w_find(prev, w->start_s, &hint) : NULL;
		int row_changed = 0;
		for (int s = 0; s < cur->nstores; s++) {
			uint64_t cnt = w->counts[s];
			uint64_t pc = pw ? w_count(prev, pw, cur->ids[s]) : 0;
			int pf = pw ? pw->final : 0;
			if ((cnt == pc && w->final == pf) || (cnt == 0 && pc == 0))
				continue;
			row_changed = 1;
			if (o->json) {
				w_json_window(o, w, cur->ids[s], cnt);
				lines++;
			}
		}
		if (!o->json && row_changed) {
			w_text_row(o, cur, w);
			lines++;
		}
	}
	/* late totals per store */
	int late_changed = 0;
	for (int s = 0; s < cur->nstores; s++) {
		uint64_t was = 0;
		for (int k = 0; k < o->nlate; k++)
			if (o->late_ids[k] == cur->ids[s])
				was = o->late_prev[k];
		if (cur->ws.late_per_store[s] != was) {
			late_changed = 1;
			if (o->json) {
				printf("{\"late\":{");
				w_json_str(o->col);
				putchar(':');
				w_json_value(o, cur->ids[s]);
				printf(",\"count\":%llu}}\n",
				       (unsigned long long)cur->ws.late_per_store[s]);
				lines++;
			}
		}
	}
	if (!o->json && late_changed) {
		printf("%-30s %-6s", "late", "");
		for (int s = 0; s < cur->nstores; s++) {
			char c[32];
			printf(" %10s", u_fmt_count((long long)cur->ws.late_per_store[s], c, sizeof c));
		}
		putchar('\n');
		lines++;
	}
	o->nlate = cur->nstores;
	memcpy(o->late_ids, cur->ids, sizeof o->late_ids);
	memcpy(o->late_prev, cur->ws.late_per_store, sizeof o->late_prev);
	return lines;
}

/* The text status line after a block of rows. */
static void w_text_status(const struct cons_stats *st, const struct w_view *v)
{
	char hms[16], a[32], b[32], c[32], r[32], d[32], l[32], j[32], p50[32], p99[32];
	w_hms((int64_t)time(NULL), hms, sizeof hms);
	printf("# %s consumed %s (%s) counted %s dup %s late %s rejected %s", hms,
	       u_fmt_count((long long)st->consumed, a, sizeof a), u_fmt_rate(st->rate, r, sizeof r),
	       u_fmt_count((long long)st->counted, b, sizeof b),
	       u_fmt_count((long long)st->duplicates, d, sizeof d),
	       u_fmt_count((long long)st->late, l, sizeof l),
	       u_fmt_count((long long)st->rejected, j, sizeof j));
	if (v->wm != INT64_MIN)
		printf(" watermark %s", w_hms(v->wm / 1000000, c, sizeof c));
	if (st->caught_up) { /* "-" when nothing was measured, one unit for both */
		u_fmt_latency_pair(st->lat_p50_us, st->lat_p99_us, p50, p99, sizeof p50);
		printf(" e2e p50 %s p99 %s", p50, p99);
	}
	putchar('\n');
}

/* The summary at exit; ws: the store's figures (the values tracked). */
static void w_summary(int json, const struct cons_stats *st, const struct ws_stats *ws)
{
	int nrej = st->rejected < CONS_MAX_REJECTS ? (int)st->rejected : CONS_MAX_REJECTS;
	if (json) {
		printf("{\"consumed\":%llu,\"counted\":%llu,\"duplicates\":%llu,\"late\":%llu,"
		       "\"expired\":%llu,\"rejected\":%llu,\"rejects\":[",
		       (unsigned long long)st->consumed, (unsigned long long)st->counted,
		       (unsigned long long)st->duplicates, (unsigned long long)st->late,
		       (unsigned long long)st->expired, (unsigned long long)st->rejected);
		for (int i = 0; i < nrej; i++) {
			if (i)
				putchar(',');
			w_json_str(st->rejects[i]);
		}
		printf("],\"lost\":%llu,\"lost_detail\":", (unsigned long long)st->lost);
		w_json_str(st->lost_text);
		printf(",\"updates\":%llu,\"deletes\":%llu,\"skipped\":%llu,\"values\":%d,"
		       "\"values_max\":%d,\"untracked\":%llu,\"wait_switches\":%llu}\n",
		       (unsigned long long)st->updates, (unsigned long long)st->deletes,
		       (unsigned long long)st->skipped, ws->tracked, ws->max_tracked,
		       (unsigned long long)st->untracked, (unsigned long long)st->wait_switches);
		return;
	}
	char a[32], b[32], c[32], d[32], e[32], f[32];
	printf("consumed %s, counted %s, duplicates %s, late %s, expired %s, rejected %s\n",
	       u_fmt_count((long long)st->consumed, a, sizeof a),
	       u_fmt_count((long long)st->counted, b, sizeof b),
	       u_fmt_count((long long)st->duplicates, c, sizeof c),
	       u_fmt_count((long long)st->late, d, sizeof d),
	       u_fmt_count((long long)st->expired, e, sizeof e),
	       u_fmt_count((long long)st->rejected, f, sizeof f));
	for (int i = 0; i < nrej; i++)
		printf("rejected %s\n", st->rejects[i]);
	if (st->lost_text[0])
		printf("lost to retention: %s\n", st->lost_text);
	if (ws->tracked > WS_MAX_STORES || st->untracked)
		printf("values %d (at most %d tracked; beyond the top %d by count: \"other\"), "
		       "untracked %s\n",
		       ws->tracked, ws->max_tracked, WS_MAX_STORES - 1,
		       u_fmt_count((long long)st->untracked, a, sizeof a));
	if (st->updates || st->deletes || st->skipped)
		printf("updates %s, deletes %s, skipped %s (Debezium; not counted in windows)\n",
		       u_fmt_count((long long)st->updates, a, sizeof a),
		       u_fmt_count((long long)st->deletes, b, sizeof b),
		       u_fmt_count((long long)st->skipped, c, sizeof c));
}

/* Samples the consumer's windows into v. */
static void w_sample(struct cons *c, const struct w_out *o, struct w_view *v, int max)
{
	v->n = cons_view(c, o->size_s, o->slide_s, v->win, max, v->ids, &v->nstores, &v->ws,
			 &v->wm);
}

/* 1 when every partition is at its high watermark and the consumer read to the end once. */
static int w_at_end(const struct cons_stats *st)
{
	if (!st->caught_up || st->nparts <= 0)
		return 0;
	for (int i = 0; i < st->nparts; i++)
		if (st->parts[i].lag > 0)
			return 0;
	return 1;
}

/* The cluster, and the topic checked or (in a new in-process mock) created. NULL when that is
   fatal, the line printed. */
static struct kc *w_open_kafka(struct opts *o, int bounded)
{
	char err[U_ERRLEN];
	struct kc *kc = kc_new(o, err);
	if (!kc) {
		fprintf(stderr, "cdctop: watch: %s\n", err);
		return NULL;
	}
	if (kc_is_mock(kc) && bounded) {
		fprintf(stderr,
			"cdctop: watch: no -b: there is nothing to read in a new in-process mock "
			"cluster; name the cluster with -b (cdctop kafka-mock prints its address)\n");
		kc_free(kc);
		return NULL;
	}
	if (kc_is_mock(kc)) {
		if (kc_ensure_topic(kc, NULL, o->topic, o->partitions, 5000, err) < 0) {
			fprintf(stderr, "cdctop: watch: %s\n", err);
			kc_free(kc);
			return NULL;
		}
		if (!o->json)
			u_log("no -b: watching an empty in-process mock cluster at %s (demo only)",
			      kc_bootstrap(kc));
		return kc;
	}
	/* at once: a refused or non-Kafka address is fatal; a missing topic is fatal with
	   --once/--until-idle (watch never creates one), else watched for */
	int r = kc_check_topic(kc, o->topic, W_CHECK_MS, err);
	if (r < 0 && (bounded || r == U_ENOTKAFKA)) {
		fprintf(stderr, "cdctop: watch: %s\n", err);
		kc_free(kc);
		return NULL;
	}
	if (r == U_ENOTFOUND)
		u_log("watch: %s; waiting for it", err);
	return kc;
}

/* The consumer of o's topic; hb (len bytes) holds its heartbeat topic's name. NULL with err. */
static struct cons *w_open_consumer(const struct opts *o, struct kc *kc, int bounded, char *hb,
				    size_t len, char *err)
{
	struct cons_config cfg = {
	    .topic = o->topic,
	    .horizon_us = o->horizon_us,
	    .lateness_us = o->lateness_us,
	    .fetch_wait_ms = 0,
	    .topic_wait_us = bounded ? W_TOPIC_WAIT : 0,
	    /* the relay's source clock: windows turn final while the source is idle */
	    .hb_topic = hb_topic(o->topic, hb, len) == 0 ? hb : NULL,
	    .format = o->format == FORMAT_CDCTOP     ? CONS_FMT_CDCTOP
		      : o->format == FORMAT_DEBEZIUM ? CONS_FMT_DEBEZIUM
						     : CONS_FMT_AUTO,
	    .group_by = o->group_by,
	    .table = o->table,
	};
	return cons_new(&cfg, kc, err);
}

/* What the loop keeps between ticks: the two samples printed against each other, and the
   consumer's last news. */
struct w_loop {
	struct w_out out;
	struct w_view va, vb, *cur, *prev;
	int have_prev, maxw;
	uint64_t last_consumed;
	int64_t last_change, last_print;
	char last_err[sizeof((struct cons_stats *)0)->last_error];
	char last_lost[sizeof((struct cons_stats *)0)->lost_text];
};

/* Logs the consumer's news once each: lost history (never silent) and a new error. */
static void w_log_news(struct w_loop *l, const struct cons_stats *st, int bounded)
{
	if (strcmp(st->lost_text, l->last_lost)) {
		memcpy(l->last_lost, st->lost_text, sizeof l->last_lost);
		if (*l->last_lost)
			u_log("watch: the topic lost messages to retention: %s", l->last_lost);
	}
	if (strcmp(st->last_error, l->last_err)) {
		memcpy(l->last_err, st->last_error, sizeof l->last_err);
		if (*l->last_err && !bounded)
			u_log("watch: %s", l->last_err);
	}
}

/* --once: how far the read is, for a terminal. */
static void w_once_progress(const struct cons_stats *st)
{
	long long left = 0;
	for (int i = 0; i < st->nparts; i++)
		left += st->parts[i].lag > 0 ? st->parts[i].lag : 0;
	if (st->nparts > 0)
		u_progress("watch: read", (long long)st->consumed, (long long)st->consumed + left,
			   "messages");
}

/* Prints what changed since the last sample; the samples then swap. */
static void w_print_tick(struct w_loop *l, const struct cons_stats *st)
{
	w_sample(l->out.c, &l->out, l->cur, l->maxw);
	int lines = w_print_changes(&l->out, l->have_prev ? l->prev : NULL, l->cur);
	if (lines && !l->out.json)
		w_text_status(st, l->cur);
	if (lines)
		fflush(stdout);
	struct w_view *t = l->prev;
	l->prev = l->cur;
	l->cur = t;
	l->have_prev = 1;
}

/* Samples and prints until a signal, the consumer's end, --once's end of the topic or
   --until-idle's quiet time; st is then the last stats. */
static void w_run_loop(const struct opts *o, struct w_thread *th, struct w_loop *l,
		       struct cons_stats *st)
{
	int bounded = o->once || o->until_idle_us > 0;
	l->last_change = u_mono_us();
	while (!w_stop && !atomic_load(&th->done)) {
		u_sleep_us(W_TICK_US);
		int64_t now = u_mono_us();
		cons_stats(th->c, st);
		if (st->consumed != l->last_consumed) {
			l->last_consumed = st->consumed;
			l->last_change = now;
		}
		w_log_news(l, st, bounded);
		if (o->once) {
			if (w_at_end(st) && now - l->last_change >= W_ONCE_IDLE_US)
				break;
			w_once_progress(st);
			continue;
		}
		if (now - l->last_print >= W_PRINT_US) {
			l->last_print = now;
			w_print_tick(l, st);
		}
		if (o->until_idle_us > 0 && st->nparts > 0 &&
		    now - l->last_change >= o->until_idle_us)
			break;
	}
}

int cmd_watch(struct opts *o)
{
	char err[U_ERRLEN], hb[256];
	int rc = 1;
	int bounded = o->once || o->until_idle_us > 0;
	struct kc *kc = w_open_kafka(o, bounded);
	if (!kc)
		return 1;
	struct w_thread th = {.c = w_open_consumer(o, kc, bounded, hb, sizeof hb, err)};
	if (!th.c) {
		fprintf(stderr, "cdctop: watch: %s\n", err);
		kc_free(kc);
		return 1;
	}
	atomic_init(&th.done, 0);

	struct w_loop *l = u_calloc(1, sizeof *l);
	l->out = (struct w_out){
	    .json = o->json,
	    .col = o->group_by ? o->group_by : "store_id",
	    .c = th.c,
	    .size_s = o->window_us / 1000000,
	    .slide_s = o->slide_us ? o->slide_us / 1000000 : o->window_us / 1000000};
	int64_t maxw64 =
	    o->horizon_us / 1000000 / l->out.slide_s + l->out.size_s / l->out.slide_s + 2;
	l->maxw = maxw64 > W_MAX_WINDOWS ? W_MAX_WINDOWS : (int)maxw64;
	l->va.win = u_calloc((size_t)l->maxw, sizeof(struct ws_window));
	l->vb.win = u_calloc((size_t)l->maxw, sizeof(struct ws_window));
	l->cur = &l->va;
	l->prev = &l->vb;

	u_on_stop_signals(w_on_signal, 0);

	pthread_t tid;
	if (pthread_create(&tid, NULL, w_cons_main, &th)) {
		fprintf(stderr, "cdctop: watch: cannot start the consumer thread\n");
		goto out_free;
	}
	struct cons_stats st;
	w_run_loop(o, &th, l, &st);
	u_progress_end();
	cons_stop(th.c);
	pthread_join(tid, NULL);
	if (th.rc < 0) {
		fprintf(stderr, "cdctop: watch: %s\n", th.err);
		goto out_free;
	}
	cons_stats(th.c, &st);
	w_sample(th.c, &l->out, l->cur, l->maxw);
	if (o->once) {
		w_print_changes(&l->out, NULL, l->cur);
	} else {
		int lines = w_print_changes(&l->out, l->have_prev ? l->prev : NULL, l->cur);
		if (lines && !l->out.json)
			w_text_status(&st, l->cur);
	}
	w_summary(l->out.json, &st, &l->cur->ws);
	fflush(stdout);
	rc = 0;
out_free:
	cons_free(th.c);
	kc_free(kc);
	free(l->va.win);
	free(l->vb.win);
	free(l);
	return rc;
}
