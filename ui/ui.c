/*
 * ui.c - the monitor's loop on the main thread: poll() on stdin, the pipeline's wake pipe and
 * the quit-signal pipe, with a timeout that ticks the clock once a second; copies the newest
 * snapshot (unless paused), turns its changed parts into dirty panes, runs keys through the
 * table below, and draws. Must never block on I/O: it talks to the pipeline only through
 * pl_snapshot and pl_send, which take a mutex and return.
 */
#include "ui.h"
#include "chart.h"
#include "draw.h"
#include "tty.h"
#include "util.h"

#include <curses.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define UI_FLASH_US 2000000

struct ui {
	struct pl *pl;
	struct ui_view v;
	uint64_t gen, g_cap, g_kaf, g_hist, g_st, g_gl;
	int64_t window_s, horizon_s; /* the window the user asked for */
	int hopping;
	int batch;
	double rate;
	int adopt; /* paused: take the next snapshot anyway (the user changed the view) */
	int quit;
};

/* A key action: does what the key says, returns the panes to redraw. */
typedef unsigned (*ui_action)(struct ui *u, int key);

static const int64_t window_ladder[] = {10, 30, 60, 120, 300, 600, 900, 1800, 3600};
static const double rate_ladder[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
static const int batch_ladder[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Shows a short message on the status line for a moment. */
static unsigned ui_flash(struct ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static unsigned ui_flash(struct ui *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->v.flash, sizeof u->v.flash, fmt, ap);
	va_end(ap);
	u->v.flash_until = u_mono_us() + UI_FLASH_US;
	return UI_D_STATUS;
}

/* Sends a command; a full queue is said on the status line (it never blocks). */
static unsigned ui_send(struct ui *u, enum pl_cmd c, int64_t i, int64_t j, double d)
{
	if (pl_send(u->pl, c, i, j, d) < 0)
		return ui_flash(u, "busy: command dropped, try again");
	return 0;
}

/* The inject keys on a foreign topic's monitor (no injector): 1 with the status line's
   explanation in *d. */
static int no_inject(struct ui *u, unsigned *d)
{
	if (!u->v.snap->status.foreign)
		return 0;
	*d = ui_flash(u, "inject: needs cdctop's own pipeline (MySQL, relay); this topic is "
	                 "not written by cdctop");
	return 1;
}

/* i: one batch. */
static unsigned act_inject(struct ui *u, int key)
{
	(void)key;
	unsigned nd;
	if (no_inject(u, &nd))
		return nd;
	unsigned d = ui_send(u, PL_CMD_INJECT, 0, 0, 0);
	return d ? d : ui_flash(u, "inject: writing %d customers", u->batch);
}

/* I: continuous injection on or off. */
static unsigned act_auto(struct ui *u, int key)
{
	(void)key;
	unsigned nd;
	if (no_inject(u, &nd))
		return nd;
	return ui_send(u, PL_CMD_AUTO, -1, 0, 0) | UI_D_KEYS | UI_D_CAP;
}

/* < >: slower or faster continuous injection, along the ladder. */
static unsigned act_rate(struct ui *u, int key)
{
	int up = key == '>' || key == '.';
	double r = u->rate;
	unsigned nd;
	if (no_inject(u, &nd))
		return nd;
	if (up) {
		for (int i = 0; i < NELEM(rate_ladder); i++)
			if (rate_ladder[i] > u->rate) {
				r = rate_ladder[i];
				break;
			}
	} else {
		for (int i = NELEM(rate_ladder) - 1; i >= 0; i--)
			if (rate_ladder[i] < u->rate) {
				r = rate_ladder[i];
				break;
			}
	}
	char rb[32];
	u_fmt_plain(r, rb, sizeof rb);
	if (r == u->rate)
		return ui_flash(u, "rate stays %s customers/s (ladder 1..5,000)", rb);
	u->rate = r;
	return ui_send(u, PL_CMD_RATE, 0, 0, r) | ui_flash(u, "rate %s customers/s", rb) | UI_D_KEYS;
}

/* [ ]: smaller or larger batches, along the ladder. */
static unsigned act_batch(struct ui *u, int key)
{
	int up = key == ']';
	int b = u->batch;
	unsigned nd;
	if (no_inject(u, &nd))
		return nd;
	if (up) {
		for (int i = 0; i < NELEM(batch_ladder); i++)
			if (batch_ladder[i] > u->batch) {
				b = batch_ladder[i];
				break;
			}
	} else {
		for (int i = NELEM(batch_ladder) - 1; i >= 0; i--)
			if (batch_ladder[i] < u->batch) {
				b = batch_ladder[i];
				break;
			}
	}
	if (b == u->batch)
		return ui_flash(u, "batch size stays %d (ladder 1..1,000)", b);
	u->batch = b;
	return ui_send(u, PL_CMD_BATCH, b, 0, 0) | ui_flash(u, "batch size %d", b) | UI_D_KEYS;
}

/* The hopping slide for a window size: a third of it in whole seconds, at least 1. */
static int64_t hop_slide(int64_t size)
{
	int64_t s = (size + 1) / 3;
	return s < 1 ? 1 : s;
}

/* Sends the window the user asked for; when paused, the next snapshot is taken anyway. */
static unsigned send_window(struct ui *u)
{
	int64_t slide = u->hopping ? hop_slide(u->window_s) : u->window_s;
	if (u->v.paused)
		u->adopt = 1;
	return ui_send(u, PL_CMD_WINDOW, u->window_s, slide, 0);
}

/* + -: window size along the ladder, up to the horizon. */
static unsigned act_window(struct ui *u, int key)
{
	int up = key == '+' || key == '=';
	int64_t w = u->window_s;
	char a[32];
	if (up) {
		for (int i = 0; i < NELEM(window_ladder); i++)
			if (window_ladder[i] > u->window_s) {
				w = window_ladder[i];
				break;
			}
		if (w > u->horizon_s)
			w = u->window_s;
	} else {
		for (int i = NELEM(window_ladder) - 1; i >= 0; i--)
			if (window_ladder[i] < u->window_s) {
				w = window_ladder[i];
				break;
			}
	}
	if (w == u->window_s)
		return ui_flash(u, "window stays %s (ladder 10s..1h, at most the horizon)",
		                u_fmt_duration(w * 1000000, a, sizeof a));
	u->window_s = w;
	return send_window(u);
}

/* s: tumbling or hopping. */
static unsigned act_slide(struct ui *u, int key)
{
	(void)key;
	u->hopping = !u->hopping;
	return send_window(u);
}

/* p: freeze the display; the pipeline keeps running. */
static unsigned act_pause(struct ui *u, int key)
{
	(void)key;
	u->v.paused = !u->v.paused;
	if (!u->v.paused)
		u->gen = 0; /* take the newest snapshot at once */
	return ui_flash(u, u->v.paused ? "display paused (the pipeline keeps running); p resumes"
	                               : "display resumed") |
	       UI_D_HEAD | UI_D_KEYS;
}

/* r: rebuild the windows from the topic. */
static unsigned act_rebuild(struct ui *u, int key)
{
	(void)key;
	return ui_send(u, PL_CMD_REBUILD, 0, 0, 0) |
	       ui_flash(u, "rebuilding the windows from the topic");
}

/* k x g b d: a fault, shown live; the pipeline says what it did on the status line. */
static unsigned act_fault(struct ui *u, int key)
{
	static const struct {
		int key;
		enum pl_cmd cmd;
	} f[] = {{'k', PL_CMD_KAFKA},
	         {'x', PL_CMD_CRASH},
	         {'g', PL_CMD_HOLD},
	         {'b', PL_CMD_ROLLBACK},
	         {'d', PL_CMD_REDELIVER}};
	for (int i = 0; i < NELEM(f); i++) {
		if (f[i].key != key)
			continue;
		int rc = pl_send(u->pl, f[i].cmd, 0, 0, 0);
		if (rc == -2)
			return ui_flash(u, "%c: needs cdctop's own pipeline (MySQL, relay); this topic "
			                   "is not written by cdctop",
			                key);
		if (rc == -3)
			return ui_flash(u, "k: needs the in-process mock cluster (no -b); -b names a "
			                   "real one");
		if (rc < 0)
			return ui_flash(u, "busy: command dropped, try again");
		return 0; /* the injector or the relay answers on the status line */
	}
	return 0;
}

/* Left Right PgUp PgDn Home End, the mouse wheel: scroll the chart's windows. */
static unsigned act_scroll(struct ui *u, int key)
{
	enum chart_move m;
	switch (key) {
	case KEY_LEFT:
		m = CHART_OLDER;
		break;
	case KEY_RIGHT:
		m = CHART_NEWER;
		break;
	case KEY_PPAGE:
		m = CHART_PAGE_UP;
		break;
	case KEY_NPAGE:
		m = CHART_PAGE_DOWN;
		break;
	case KEY_HOME:
		m = CHART_OLDEST;
		break;
	case KEY_END:
		m = CHART_LIVE;
		break;
	case KEY_MOUSE: {
		MEVENT ev;
		if (getmouse(&ev) != OK)
			return 0;
		if (ev.bstate & BUTTON4_PRESSED)
			m = CHART_OLDER;
#ifdef BUTTON5_PRESSED
		else if (ev.bstate & BUTTON5_PRESSED)
			m = CHART_NEWER;
#endif
		else
			return 0;
		break;
	}
	default:
		return 0;
	}
	return chart_scroll(&u->v, m);
}

static void build_help(int foreign);

/* ? F1: the help overlay (without the keys that do nothing on a foreign topic). */
static unsigned act_help(struct ui *u, int key)
{
	(void)key;
	build_help(u->v.snap->status.foreign);
	u->v.help = 1;
	return UI_D_HELP;
}

/* Ctrl-L: redraw the whole screen. */
static unsigned act_redraw(struct ui *u, int key)
{
	(void)u;
	(void)key;
	clearok(curscr, TRUE);
	return UI_D_ALL;
}

/* q F10: quit. */
static unsigned act_quit(struct ui *u, int key)
{
	(void)key;
	u->quit = 1;
	return 0;
}

static const struct ui_key {
	int keys[3]; /* 0-terminated when shorter */
	const char *name, *help;
	ui_action fn;
	int right; /* the help goes on the right half of the line above (short keys paired) */
	int own;   /* needs cdctop's own pipeline: left out of a foreign topic's help */
	const char *before; /* a heading line put before this key's */
} ui_keys[] = {
    /* name NULL: the key shares the help line of the entry above it */
    {{'i'}, "i", "inject one batch", act_inject, 0, 1, NULL},
    {{'I'}, "I", "auto-inject on / off", act_auto, 1, 1, NULL},
    {{'<', ',', 0}, "< > , .", "slower / faster injection: 1 2 5 10 20 50 ... 5000/s", act_rate,
     0, 1, NULL},
    {{'>', '.', 0}, NULL, NULL, act_rate, 0, 1, NULL},
    {{'['}, "[ ]", "smaller / larger batches: 1 2 5 10 20 50 ... 1000", act_batch, 0, 1, NULL},
    {{']'}, NULL, NULL, act_batch, 0, 1, NULL},
    {{'+', '='}, "+ - = _", "larger / smaller window: 10s 30s 1m 2m 5m ... 1h", act_window, 0, 0, NULL},
    {{'-', '_'}, NULL, NULL, act_window, 0, 0, NULL},
    {{'s'}, "s", "tumbling / hopping (1/3)", act_slide, 0, 0, NULL},
    {{'p'}, "p", "pause / resume display", act_pause, 1, 0, NULL},
    {{'r'}, "r", "rebuild from the topic", act_rebuild, 0, 0, NULL},
    {{'?', 'h', KEY_F(1)}, "? h F1", "help (any key closes)", act_help, 1, 0, NULL},
    {{12}, "Ctrl-L", "redraw the screen", act_redraw, 0, 0, NULL},
    {{'q', 'Q', KEY_F(10)}, "q Q F10", "quit, saving progress", act_quit, 1, 0, NULL},
    {{KEY_LEFT, KEY_RIGHT, KEY_MOUSE}, "Left Right",
     "window back/on, PgUp PgDn page, Home oldest, End live", act_scroll, 0, 0, NULL},
    {{KEY_PPAGE, KEY_NPAGE}, NULL, NULL, act_scroll, 0, 0, NULL},
    {{KEY_HOME, KEY_END}, NULL, NULL, act_scroll, 0, 0, NULL},
    {{'k'}, "k", "mock brokers down / up", act_fault, 0, 1,
     "faults, live (the check line agrees again once recovered)"},
    {{'x'}, "x", "crash the relay (kill -9)", act_fault, 1, 1, NULL},
    {{'g'}, "g", "hold next batch open", act_fault, 0, 1, NULL},
    {{'b'}, "b", "roll back the next batch", act_fault, 1, 1, NULL},
    {{'d'}, "d", "re-deliver the last 20 acknowledged messages (duplicates)", act_fault, 0, 1, NULL},
};

/* At 80x24 the overlay shows 19 lines of 68 columns: keep build_help within that. A line is
   "  %-7s %s" for one key, or two halves, "  %-7s %-24s " and "%-7s %s", for a pair. */
#define HELP_LINES 19
#define HELP_COLS  68
static char help_buf[NELEM(ui_keys) + 12][HELP_COLS + 12];
static const char *help_lines[NELEM(ui_keys) + 13];

/* Builds the help overlay's lines from the key table, plus a word on each pane; a foreign
   topic's monitor leaves out the keys that need cdctop's own pipeline. */
static void build_help(int foreign)
{
	int n = 0;
	const size_t len = sizeof help_buf[0];
	snprintf(help_buf[n++], len, "keys");
	for (int i = 0; i < NELEM(ui_keys); i++) {
		const struct ui_key *k = &ui_keys[i];
		if (!k->name || (foreign && k->own))
			continue;
		if (k->before)
			snprintf(help_buf[n++], len, "%s", k->before);
		const struct ui_key *r = i + 1 < NELEM(ui_keys) ? &ui_keys[i + 1] : NULL;
		if (r && r->right && !(foreign && r->own)) {
			snprintf(help_buf[n++], len, "  %-7s %-24.24s %-7s %.25s", k->name, k->help,
			         r->name, r->help);
			i++; /* written */
		} else {
			snprintf(help_buf[n++], len, "  %-7s %.58s", k->name, k->help);
		}
	}
	static const char *const panes[] = {
	    "",
	    "capture: rows, relay cursor, backlog and its age, gap wait, rates",
	    "kafka:   watermarks, committed, lag; produce rate, errors, e2e",
	    "chart:   bars per store per window, newest right; dashed axis: open",
	    "glance:  each hop's count and what waits between (above status)",
	};
	for (int i = 0; i < NELEM(panes) && n < NELEM(help_buf); i++)
		snprintf(help_buf[n++], len, "%s", panes[i]);
	for (int i = 0; i < n; i++)
		help_lines[i] = help_buf[i];
	help_lines[n] = NULL;
}

/* Runs one key through the table; with help open, any key closes it (q still quits). */
static unsigned ui_key(struct ui *u, int ch)
{
	const struct ui_key *k = NULL;
	for (int i = 0; i < NELEM(ui_keys) && !k; i++)
		for (int j = 0; j < 3 && ui_keys[i].keys[j]; j++)
			if (ui_keys[i].keys[j] == ch)
				k = &ui_keys[i];
	if (u->v.help) {
		u->v.help = 0;
		if (k && k->fn == act_quit)
			return act_quit(u, ch);
		return UI_D_ALL;
	}
	/* "terminal too small" shows no panes: a key that acts unseen (i injecting) is
	   ignored; only quit and redraw work */
	if (u->v.too_small && k && k->fn != act_quit && k->fn != act_redraw)
		return 0;
	return k ? k->fn(u, ch) : 0;
}

/* Copies a newer snapshot (unless paused) and returns the panes whose parts changed. */
static unsigned ui_take(struct ui *u)
{
	if (u->v.paused && !u->adopt)
		return 0;
	uint64_t g = pl_snapshot(u->pl, u->v.snap, u->gen);
	if (g == u->gen)
		return 0;
	const struct view_snap *s = u->v.snap;
	unsigned d = 0;
	if (!u->gen)
		d = UI_D_ALL;
	if (s->gen_capture != u->g_cap)
		d |= UI_D_CAP;
	if (s->gen_kafka != u->g_kaf)
		d |= UI_D_KAF;
	if (s->gen_hist != u->g_hist)
		d |= UI_D_HIST;
	if (s->gen_status != u->g_st)
		d |= UI_D_STATUS | UI_D_HEAD | UI_D_KEYS;
	if (s->gen_glance != u->g_gl)
		d |= UI_D_GLANCE;
	u->gen = g;
	u->g_cap = s->gen_capture;
	u->g_kaf = s->gen_kafka;
	u->g_hist = s->gen_hist;
	u->g_st = s->gen_status;
	u->g_gl = s->gen_glance;
	if (u->adopt && s->status.set.window_s == u->window_s &&
	    s->status.set.slide_s == (u->hopping ? hop_slide(u->window_s) : u->window_s))
		u->adopt = 0; /* the view the user asked for has arrived */
	return d;
}

/* Milliseconds until the next whole second (the clock), or the flash's end if sooner. */
static int ui_timeout(struct ui *u)
{
	int64_t now = u_now_us();
	int ms = (int)(1000 - (now / 1000) % 1000) + 2;
	if (u->v.flash[0]) {
		int64_t left = (u->v.flash_until - u_mono_us()) / 1000 + 1;
		if (left < ms)
			ms = left > 0 ? (int)left : 0;
	}
	return ms;
}

/* Whether the monitor can run here; touches nothing. */
int ui_check(char *err)
{
	return tty_check(err);
}

/* The UI loop: snapshot, keys, draw, poll; returns with the terminal restored. */
int ui_run(struct pl *pl, const struct opts *o, char *err)
{
	struct ui *u = u_calloc(1, sizeof *u);
	u->pl = pl;
	u->v.snap = u_calloc(1, sizeof *u->v.snap);
	u->window_s = o->window_us / 1000000;
	u->hopping = o->slide_us && o->slide_us != o->window_us;
	u->horizon_s = o->horizon_us / 1000000;
	u->batch = (int)o->n;
	u->rate = o->rate > 0 ? o->rate : 20;
	build_help(0);
	u->v.help_lines = help_lines;
	if (tty_open(err) < 0) {
		free(u->v.snap);
		free(u);
		return -1;
	}
	draw_init(&u->v);
	/* the wheel scrolls the chart where the terminal reports it (no clicks are taken) */
#ifdef BUTTON5_PRESSED
	mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
#else
	mousemask(BUTTON4_PRESSED, NULL);
#endif
	mouseinterval(0);
	/* the first snapshot is published right after the threads start */
	for (int i = 0; i < 50 && !pl_snapshot(pl, u->v.snap, 0); i++)
		u_sleep_us(10000);
	u->gen = 0;
	draw_layout(&u->v);
	unsigned dirty = UI_D_ALL;
	int64_t shown_sec = -1;
	struct pollfd fds[3] = {
	    {.fd = STDIN_FILENO, .events = POLLIN},
	    {.fd = pl_wake_fd(pl), .events = POLLIN},
	    {.fd = tty_fd(), .events = POLLIN},
	};
	while (!u->quit && !tty_quit()) {
		dirty |= ui_take(u);
		if (!u->v.too_small && u->v.snap->kafka.nparts > 0 &&
		    u->v.snap->kafka.nparts != u->v.laid_parts) {
			draw_layout(&u->v);
			dirty = UI_D_ALL;
		}
		int64_t sec = u_now_us() / 1000000;
		if (sec != shown_sec) {
			dirty |= UI_D_HEAD | UI_D_CAP; /* the clock, the backlog's age */
			shown_sec = sec;
		}
		if (u->v.flash[0] && u_mono_us() >= u->v.flash_until) {
			u->v.flash[0] = 0;
			dirty |= UI_D_STATUS;
		}
		if (dirty)
			draw_frame(&u->v, dirty);
		dirty = 0;
		if (poll(fds, 3, ui_timeout(u)) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			pl_drain_wake(pl);
		if (fds[2].revents)
			tty_drain();
		int ch;
		while (!u->quit && (ch = getch()) != ERR) {
			if (ch == KEY_RESIZE) {
				draw_layout(&u->v);
				dirty = UI_D_ALL;
				continue;
			}
			dirty |= ui_key(u, ch);
		}
	}
	draw_free(&u->v);
	tty_close();
	free(u->v.snap);
	free(u);
	return 0;
}
