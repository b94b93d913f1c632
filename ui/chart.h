/*
 * chart.h - the chart pane: registrations per store per window across the horizon, a bar per
 * store in its own colour, the y-axis, the legend with the selected window's counts and each
 * store's total, the check line and the late/rejected/duplicates footer; and its scrollback.
 * UI thread only; reads the snapshot's view_hist and the scroll state in struct ui_view.
 */
#ifndef CDCTOP_CHART_H
#define CDCTOP_CHART_H

#include "draw.h"

enum chart_move {
	CHART_OLDER,     /* Left, wheel up: the window before the selected one */
	CHART_NEWER,     /* Right, wheel down: the one after (the newest: live follow again) */
	CHART_PAGE_UP,   /* PgUp: a page of windows back */
	CHART_PAGE_DOWN, /* PgDn: a page forward */
	CHART_OLDEST,    /* Home: the oldest window held */
	CHART_LIVE,      /* End: follow the newest window */
};

/* The stores' colour pairs (after start_color) and fill glyphs; live follow. */
void chart_init(struct ui_view *v);
/* Draws the pane into v->w_hist (wnoutrefresh). */
void chart_draw(struct ui_view *v, const struct view_hist *s);
/* Moves the selection over the snapshot's windows; returns the panes to redraw. */
unsigned chart_scroll(struct ui_view *v, enum chart_move m);

#endif
