/*
 * draw.h - the monitor's panes: header, capture, kafka, the chart (chart.c), status and key
 * hints, and the help overlay, drawn from a view_snap copy (view.h) into curses windows. Runs on the UI thread only;
 * reads nothing but the snapshot and the view, never blocks, never calls the pipeline.
 */
#ifndef CDCTOP_DRAW_H
#define CDCTOP_DRAW_H

#include "view.h"

#include <curses.h>
#include <stdint.h>

#define UI_MIN_COLS 80
#define UI_MIN_ROWS 24

/* What to redraw; a key action or a new snapshot part sets these. */
enum {
	UI_D_HEAD = 1 << 0,
	UI_D_CAP = 1 << 1,
	UI_D_KAF = 1 << 2,
	UI_D_HIST = 1 << 3,
	UI_D_STATUS = 1 << 4,
	UI_D_KEYS = 1 << 5,
	UI_D_HELP = 1 << 6,
	UI_D_LAYOUT = 1 << 7, /* windows recreated: everything */
	UI_D_GLANCE = 1 << 8, /* the pipeline-at-a-glance line */
	UI_D_ALL = 0x1ff,
};

/* The UI's own state: what is shown and how; the snapshot copy lives here too. */
struct ui_view {
	int utf8;   /* locale is UTF-8: Unicode blocks and box glyphs */
	int colors; /* has_colors(): colour pairs, else attributes only */
	int paused, help;
	int rows, cols, too_small;
	int laid_parts; /* partitions the layout was made for */
	WINDOW *w_head, *w_cap, *w_kaf, *w_hist, *w_glance, *w_status, *w_keys, *w_help;
	const char *const *help_lines; /* NULL-terminated, from the key table */
	char flash[160];               /* UI-local message on the status line */
	int64_t flash_until;           /* u_mono_us deadline */
	struct view_snap *snap;        /* the copy drawn from */
	/* the chart's scrollback (chart.c): follow the newest window, or the selected window
	   and the newest one on screen, by their start (stable while windows come and go) */
	int chart_follow;
	int64_t chart_sel_s, chart_right_s;
	int chart_groups; /* windows that fit the pane at the last draw: a page */
};

/* Colour pairs (or monochrome attributes) and glyphs; after the screen exists. */
void draw_init(struct ui_view *v);
/* (Re)creates the pane windows for the current LINES x COLS. */
void draw_layout(struct ui_view *v);
/* Draws the dirty panes (or the too-small message) and updates the terminal. */
void draw_frame(struct ui_view *v, unsigned dirty);
/* Deletes the pane windows. */
void draw_free(struct ui_view *v);

/* draw.c's text helpers and styles, for the chart pane (chart.c). */
enum { DRAW_TITLE, DRAW_LABEL, DRAW_OK, DRAW_WARN, DRAW_ERR, DRAW_DIM };
attr_t draw_style(int style);
/* s at (y, x) clipped to maxw columns; returns the columns written. */
int draw_put(WINDOW *w, int y, int x, int maxw, attr_t a, const char *s);
int draw_putf(WINDOW *w, int y, int x, int maxw, attr_t a, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
int draw_width(const char *s);
/* v with thousands separators, "-" when negative. */
const char *draw_num(long long v, char *buf, size_t len);
/* Epoch seconds as HH:MM:SS, UTC. */
const char *draw_hms(int64_t sec, char *buf, size_t len);
/* A pane's box and title, extra (may be NULL) after it in attribute ea. */
void draw_box(struct ui_view *v, WINDOW *w, const char *title, const char *extra, attr_t ea);

#endif
