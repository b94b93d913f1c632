/*
 * bench_ui.c - frame time of the monitor: a snapshot copy (under a mutex, as pl_snapshot does)
 * plus drawing into a curses screen, for 10 stores and 120 recent windows, on a 120x40
 * pseudo-terminal (drained by a reader thread) and on /dev/null; and the chart pane alone
 * redrawn at 200x60 with 60 windows. Prints one line per figure (bench/README.md): full
 * frame, data frame, clock tick, chart; p99 above 2 ms is marked BELOW. Single process, no
 * MySQL, no Kafka. The Makefile links bench programs with libcdctop.a only, so the drawing
 * code is compiled in from ui/draw.c, ui/chart.c and ui/glance.c.
 */
#include "draw.c"
#include "chart.c"
#include "glance.c"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define NSTORES 10
#define NWIN    120
#define CHART_NWIN 60 /* the chart's figure: 60 windows at 200x60 */
#define FRAMES  3000

static pthread_mutex_t bench_mu = PTHREAD_MUTEX_INITIALIZER;

/* The published snapshot: 10 stores, nwin windows of 30 s ending now, the newest two open. */
static void fill(struct view_snap *s, int nwin)
{
	memset(s, 0, sizeof *s);
	struct view_status *st = &s->status;
	snprintf(st->mysql_label, sizeof st->mysql_label,
	         "private /home/u/.local/state/cdctop (sakila)");
	snprintf(st->kafka_label, sizeof st->kafka_label, "mock 127.0.0.1:40831 (3 brokers)");
	snprintf(st->topic, sizeof st->topic, "cdc.sakila.customer");
	st->set.window_s = st->set.slide_s = 30;
	st->set.lateness_us = 60 * 1000000LL;
	st->set.batch = 20;
	st->set.rate = 20;
	st->set.auto_on = 1;
	snprintf(st->text, sizeof st->text, "relay: caught up (24,000 rows relayed)");
	struct view_capture *c = &s->capture;
	c->customers = c->change_rows = c->cursor = c->progress = 24000;
	c->relay_rate = 20;
	c->rate = 20;
	c->auto_on = 1;
	struct view_kafka *k = &s->kafka;
	k->nparts = 3;
	for (int p = 0; p < 3; p++)
		k->parts[p] = (struct view_part){p, 0, 8000 + p, 8000 + p, 0};
	k->lat_p50_us = 9000;
	k->lat_p99_us = 21000;
	struct view_hist *h = &s->hist;
	h->horizon_us = 3600 * 1000000LL;
	h->window_s = 30;
	h->nstores = NSTORES;
	for (int i = 0; i < NSTORES; i++)
		h->stores[i] = (uint32_t)i + 1;
	int64_t now = u_now_us() / 1000000 / 30 * 30;
	h->nwin = nwin;
	for (int k = 0; k < nwin; k++) {
		struct view_window *w = &h->win[k];
		w->start_s = now - (nwin - 1 - k) * 30;
		w->end_s = w->start_s + 30;
		w->final = k < nwin - 2;
		w->late = k % 9 == 4;
		for (int i = 0; i < NSTORES; i++) {
			w->counts[i] = (uint64_t)((k * 7 + i * 13) % 60);
			h->total[i] += w->counts[i];
		}
	}
}

/* Copies the snapshot the way pl_snapshot does: under the lock, only the windows in use. */
static void copy(struct view_snap *dst, const struct view_snap *p)
{
	pthread_mutex_lock(&bench_mu);
	memcpy(dst, p, view_snap_size(p));
	pthread_mutex_unlock(&bench_mu);
}

/* Reads and discards the pty's output, as a terminal would. */
static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	while (read(fd, buf, sizeof buf) > 0)
		;
	return NULL;
}

/* Sorts int64s ascending (for percentiles). */
static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Per-case figures: p50, p99 and max frame time in microseconds. */
struct bench_fig {
	int64_t p50, p99, max;
};

/* Runs FRAMES frames on the current screen; dirty is what each frame redraws. */
static struct bench_fig run(struct ui_view *v, struct view_snap *pub, unsigned dirty)
{
	static int64_t t[FRAMES];
	for (int f = 0; f < FRAMES; f++) {
		/* the pipeline moved on: the open window grows, the partitions advance */
		pub->hist.win[pub->hist.nwin - 1].counts[f % NSTORES] += 1 + (uint64_t)(f % 3);
		pub->kafka.parts[f % 3].high++;
		pub->kafka.parts[f % 3].committed++;
		pub->capture.customers++;
		int64_t t0 = u_mono_us();
		copy(v->snap, pub);
		draw_frame(v, dirty);
		t[f] = u_mono_us() - t0;
	}
	qsort(t, FRAMES, sizeof t[0], cmp64);
	return (struct bench_fig){t[FRAMES / 2], t[FRAMES * 99 / 100], t[FRAMES - 1]};
}

/* Opens a curses screen on out/in and measures n cases, case i redrawing dirty[i]. */
static void bench_screen(const char *what, FILE *out, FILE *in, struct view_snap *pub,
                         const unsigned *dirty, int n, struct bench_fig *fig)
{
	SCREEN *scr = newterm("xterm-256color", out, in);
	if (!scr) {
		fprintf(stderr, "bench_ui: newterm failed on %s\n", what);
		exit(1);
	}
	set_term(scr);
	struct ui_view v;
	memset(&v, 0, sizeof v);
	v.snap = u_calloc(1, sizeof *v.snap);
	copy(v.snap, pub);
	draw_init(&v);
	draw_layout(&v);
	if (v.too_small) {
		fprintf(stderr, "bench_ui: %s is %dx%d, too small\n", what, COLS, LINES);
		exit(1);
	}
	for (int i = 0; i < n; i++)
		fig[i] = run(&v, pub, dirty[i]);
	draw_free(&v);
	endwin();
	delscreen(scr);
	free(v.snap);
}

/* A pseudo-terminal of cols x rows, its output drained by a thread (*th); *m its master. */
static void open_pty(int cols, int rows, int *m, pthread_t *th, FILE **out, FILE **in)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0 || grantpt(*m) < 0 || unlockpt(*m) < 0) {
		perror("bench_ui: posix_openpt");
		exit(1);
	}
	int sl = open(ptsname(*m), O_RDWR | O_NOCTTY);
	if (sl < 0) {
		perror("bench_ui: open pty");
		exit(1);
	}
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	ioctl(sl, TIOCSWINSZ, &ws);
	pthread_create(th, NULL, drain, m);
	*out = fdopen(sl, "w");
	*in = fdopen(dup(sl), "r");
}

/* The chart pane alone, redrawn on a 200x60 pty with 60 windows. */
static struct bench_fig bench_chart(void)
{
	struct view_snap *pub = u_calloc(1, sizeof *pub);
	fill(pub, CHART_NWIN);
	int m;
	pthread_t th;
	FILE *out, *in;
	open_pty(200, 60, &m, &th, &out, &in);
	static const unsigned hist = UI_D_HIST;
	struct bench_fig f;
	bench_screen("the 200x60 pty", out, in, pub, &hist, 1, &f);
	fclose(out);
	fclose(in);
	close(m);
	pthread_join(th, NULL);
	free(pub);
	return f;
}

/* Runs the cases on a 120x40 pty and on /dev/null, then the chart at 200x60. */
int main(void)
{
	if (!setlocale(LC_ALL, "C.UTF-8"))
		setlocale(LC_ALL, "");
	setenv("TERM", "xterm-256color", 1);
	struct view_snap *pub = u_calloc(1, sizeof *pub);
	fill(pub, NWIN);

	int m;
	pthread_t th;
	FILE *out, *in;
	open_pty(120, 40, &m, &th, &out, &in);
	static const unsigned cases[3] = {UI_D_ALL & ~UI_D_LAYOUT, UI_D_CAP | UI_D_KAF | UI_D_HIST,
	                                  UI_D_HEAD};
	struct bench_fig pty[3], dn[3];
	bench_screen("pty", out, in, pub, cases, 3, pty);
	fclose(out);
	fclose(in);
	close(m);
	pthread_join(th, NULL);
	struct bench_fig ch = bench_chart();

	/* /dev/null: curses' own work, no terminal behind it */
	setenv("LINES", "40", 1);
	setenv("COLUMNS", "120", 1);
	use_env(TRUE);
	FILE *dno = fopen("/dev/null", "w"), *dni = fopen("/dev/null", "r");
	bench_screen("/dev/null", dno, dni, pub, cases, 3, dn);
	fclose(dno);
	fclose(dni);
	free(pub);

	static const char *const what[3] = {"every pane", "capture, kafka and chart panes",
	                                    "the header (clock tick)"};
	static const char *const name[3] = {"ui.frame_full", "ui.frame_data", "ui.frame_clock"};
	for (int i = 0; i < 3; i++)
		printf("%s_p99 %" PRId64 " us (snapshot copy + drawing %s, 120x40 pty, %d stores, "
		       "%d windows, %d frames; p50 %" PRId64 " us, max %" PRId64
		       " us; on /dev/null p50 %" PRId64 " us, p99 %" PRId64 " us%s)%s\n",
		       name[i], pty[i].p99, what[i], NSTORES, NWIN, FRAMES, pty[i].p50, pty[i].max,
		       dn[i].p50, dn[i].p99, i == 0 ? "; target p99 <= 2000 us" : "",
		       i == 0 && pty[i].p99 > 2000 ? " BELOW" : "");
	printf("ui.chart_p99 %" PRId64 " us (snapshot copy + a full redraw of the chart pane, 200x60 "
	       "pty, %d stores, %d windows, %d frames; p50 %" PRId64 " us, max %" PRId64
	       " us; target p99 <= 2000 us)%s\n",
	       ch.p99, NSTORES, CHART_NWIN, FRAMES, ch.p50, ch.max, ch.p99 > 2000 ? " BELOW" : "");
	return 0;
}
