/*
 * chart.c - the chart pane: one group of bars per window across the horizon, newest on the
 * right, a bar per store in its own colour (Okabe-Ito's colour-blind-safe palette in the
 * 256- or 8-colour set; without colour or Unicode, a fill character per store), a y-axis with
 * a round scale, the open windows' axis dashed and late events marked with ! on the window
 * they belonged to. Above the chart the legend: each store's count in the selected window
 * and its total in the horizon; below it the check line and the late/rejected/duplicates
 * footer. Scrollback selects a window by its start, so the selection stays put while new
 * windows arrive; live follow selects the newest. UI thread only.
 */
#include "chart.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define CHART_PAIR0 16 /* the stores' colour pairs: CHART_PAIR0 + palette index */
#define CHART_MAX_BW 4 /* columns per bar when few windows are held */

static int pal_n;                 /* colours in the palette (0: none) */
static const char *fills[12];     /* a store's glyph beyond the palette's colours, or without */
static int nfills;
static const char *g_vpart[8], *g_axis, *g_dashed, *g_tick, *g_corner, *g_yaxis, *g_ytick,
    *g_dash, *g_sel;
static const char *const u_vpart[8] = {"", "▁", "▂", "▃", "▄", "▅", "▆", "▇"};

void chart_init(struct ui_view *v)
{
	/* Okabe-Ito: orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple,
	   grey (their black, on a dark terminal); then the nearest of the 8 colours */
	static const short c256[] = {214, 74, 36, 227, 25, 166, 175, 246};
	static const short c8[] = {COLOR_YELLOW, COLOR_CYAN,    COLOR_GREEN, COLOR_WHITE,
	                           COLOR_BLUE,   COLOR_MAGENTA, COLOR_RED};
	static const char *const uf[] = {"█", "▓", "▒", "░"};
	static const char *const af[] = {"#", "@", "%", "&", "+", "=", "*", "o", "x", "$", "~", ":"};
	pal_n = 0;
	if (v->colors) {
		int wide = COLORS >= 256 && COLOR_PAIRS > CHART_PAIR0 + 8;
		pal_n = wide ? 8 : 7;
		for (int i = 0; i < pal_n; i++)
			init_pair((short)(CHART_PAIR0 + i), wide ? c256[i] : c8[i], -1);
	}
	nfills = 0;
	if (v->utf8 && pal_n) /* colour tells stores apart: shades only past the palette */
		for (size_t i = 0; i < sizeof uf / sizeof uf[0]; i++)
			fills[nfills++] = uf[i];
	else if (v->utf8) /* monochrome: three shades, then characters */
		for (size_t i = 0; i < sizeof af / sizeof af[0] && nfills < 12; i++)
			fills[nfills++] = i < 3 ? uf[i == 2 ? 3 : i] : af[i - 3];
	else
		for (size_t i = 0; i < sizeof af / sizeof af[0]; i++)
			fills[nfills++] = af[i];
	for (int i = 0; i < 8; i++)
		g_vpart[i] = v->utf8 ? u_vpart[i] : "";
	g_axis = v->utf8 ? "─" : "-";
	g_dashed = v->utf8 ? "╌" : ".";
	g_tick = v->utf8 ? "┴" : "+";
	g_corner = v->utf8 ? "└" : "+";
	g_yaxis = v->utf8 ? "│" : "|";
	g_ytick = v->utf8 ? "┤" : "+";
	g_dash = v->utf8 ? "–" : "-";
	g_sel = v->utf8 ? "▲" : "^";
	v->chart_follow = 1;
}

/* Store i's colour and glyph; eighths (partial top cells) only for the first glyph in colour. */
static attr_t store_attr(int i)
{
	return pal_n ? COLOR_PAIR(CHART_PAIR0 + i % pal_n) : A_NORMAL;
}

static const char *store_fill(int i, int *eighths)
{
	int k = pal_n ? i / pal_n : i;
	*eighths = pal_n && k == 0 && g_vpart[1][0];
	return fills[k % nfills];
}

/* Row i's label: "store 1", or a foreign topic's own ("store_id 1", "active true"). */
static const char *store_label(const struct view_hist *s, int i, char *buf, size_t len)
{
	if (s->labels[i][0])
		snprintf(buf, len, "%s", s->labels[i]);
	else
		snprintf(buf, len, "store %u", s->stores[i]);
	return buf;
}

/* The index of the newest window starting at or before start_s (0 if none does). */
static int win_at(const struct view_hist *s, int64_t start_s)
{
	int k = s->nwin - 1;
	while (k > 0 && s->win[k].start_s > start_s)
		k--;
	return k;
}

/* The selected window's index and the newest one on screen, for groups windows a page. */
static void chart_range(struct ui_view *v, const struct view_hist *s, int groups, int *sel,
                        int *right)
{
	int n = s->nwin;
	if (v->chart_follow) {
		*sel = *right = n - 1;
	} else {
		*sel = win_at(s, v->chart_sel_s);
		*right = win_at(s, v->chart_right_s);
	}
	if (*right < *sel)
		*right = *sel;
	if (*right > *sel + groups - 1)
		*right = *sel + groups - 1;
	if (*right < groups - 1)
		*right = groups - 1 < n - 1 ? groups - 1 : n - 1;
}

unsigned chart_scroll(struct ui_view *v, enum chart_move m)
{
	const struct view_hist *s = &v->snap->hist;
	int n = s->nwin, g = v->chart_groups > 0 ? v->chart_groups : 1, sel, right;
	if (n <= 0)
		return 0;
	chart_range(v, s, g, &sel, &right);
	switch (m) {
	case CHART_OLDER:
		sel--;
		break;
	case CHART_NEWER:
		sel++;
		break;
	case CHART_PAGE_UP:
		sel -= g;
		right -= g;
		break;
	case CHART_PAGE_DOWN:
		sel += g;
		right += g;
		break;
	case CHART_OLDEST:
		sel = right = 0;
		break;
	case CHART_LIVE:
		sel = n - 1;
		break;
	}
	sel = sel < 0 ? 0 : sel > n - 1 ? n - 1 : sel;
	right = right < 0 ? 0 : right > n - 1 ? n - 1 : right;
	v->chart_follow = sel == n - 1; /* the newest window selected: live again */
	v->chart_sel_s = s->win[sel].start_s;
	v->chart_right_s = s->win[right].start_s;
	return UI_D_HIST;
}

/* The smallest round number (1 2 3 4 5 6 8 x 10^k) at or above max, at least 1. */
static uint64_t nice_max(uint64_t max)
{
	static const int m[] = {1, 2, 3, 4, 5, 6, 8};
	for (uint64_t p = 1;; p *= 10)
		for (int i = 0; i < 7; i++)
			if ((uint64_t)m[i] * p >= max || p > UINT64_MAX / 100)
				return (uint64_t)m[i] * p;
}

/* A y-axis label: "8", "6,000", "40k", "1.2M". */
static const char *scale_label(uint64_t v, char *buf, size_t len)
{
	if (v >= 1000000 && v % 1000000 == 0)
		snprintf(buf, len, "%" PRIu64 "M", v / 1000000);
	else if (v >= 1000000)
		snprintf(buf, len, "%.1fM", (double)v / 1e6);
	else if (v >= 100000)
		snprintf(buf, len, "%" PRIu64 "k", v / 1000);
	else
		draw_num((long long)v, buf, len);
	return buf;
}

/* glyph (one character) in attribute a as a curses wide character; 0 if the locale cannot
   hold it (never with chart_init's choice of glyphs). */
static int mkcc(cchar_t *cc, const char *glyph, attr_t a)
{
	wchar_t wc[2] = {0};
	if (mbstowcs(wc, glyph, 2) != 1)
		return 0;
	setcchar(cc, wc, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
	return 1;
}

/* One bar: count out of ymax over h rows, bottom row yb, column x, bw columns wide. */
static void vbar(WINDOW *w, int yb, int x, int bw, int h, uint64_t count, uint64_t ymax,
                 int store, attr_t extra)
{
	if (!count)
		return;
	int eighths;
	const char *fill = store_fill(store, &eighths);
	uint64_t e = (count * (uint64_t)h * 8 + ymax / 2) / ymax;
	if (!eighths)
		e = (e + 4) / 8 * 8;
	if (!e)
		e = eighths ? 1 : 8; /* a non-zero count always shows */
	if (e > (uint64_t)h * 8)
		e = (uint64_t)h * 8;
	/* each glyph made a wide character once, then written cell by cell without parsing */
	int full = (int)(e / 8), part = (int)(e % 8);
	attr_t a = store_attr(store) | extra;
	cchar_t cf, cp;
	if (!mkcc(&cf, fill, a) || (part && !mkcc(&cp, g_vpart[part], a)))
		return;
	for (int r = 0; r < full + (part > 0); r++)
		for (int c = 0; c < bw; c++)
			mvwadd_wch(w, yb - r, x + c, r < full ? &cf : &cp);
}

/* The legend from row y, at most rows rows: each store's swatch, its count in window sel
   and its total in the horizon ("█ store 1 12 of 340"), then the window's late events.
   Returns the rows used. */
static int legend(WINDOW *w, int y, int iw, int rows, const struct view_hist *s,
                  const struct view_window *sel)
{
	char lab[VIEW_LABEL], a[32], b[32], e[160];
	int x = 2, r = 0, eighths, i;
	for (i = 0; i <= s->nstores; i++) {
		int late = i == s->nstores;
		if (late && !sel->late)
			break;
		if (late)
			snprintf(e, sizeof e, "%s late", draw_num((long long)sel->late, a, sizeof a));
		else
			snprintf(e, sizeof e, "%s %s of %s", store_label(s, i, lab, sizeof lab),
			         draw_num((long long)sel->counts[i], a, sizeof a),
			         draw_num((long long)s->total[i], b, sizeof b));
		int ew = draw_width(e) + (late ? 0 : 2);
		/* the last row keeps room for "+N more" when entries do not fit */
		if (x > 2 && x + ew > iw - (r == rows - 1 ? 10 : 0)) {
			if (r == rows - 1)
				break;
			r++;
			x = 2;
		}
		if (!late) {
			draw_put(w, y + r, x, 1, store_attr(i), store_fill(i, &eighths));
			x += 2;
		}
		x += draw_put(w, y + r, x, iw - x, late ? draw_style(DRAW_WARN) : A_NORMAL, e) + 3;
	}
	if (i < s->nstores)
		draw_putf(w, y + r, x, iw - x, draw_style(DRAW_DIM), "+%d more", s->nstores - i);
	return r + 1;
}

/* The bottom row: late, rejected and duplicate counts, and the chart's marks at the right. */
static void footer(WINDOW *w, int y, int iw, const struct view_hist *s, int marks)
{
	char a[32], b[32], c[32], per[160] = "";
	uint64_t rejected = s->rejected, dups = s->duplicates;
	size_t off = 0;
	char lab[VIEW_LABEL];
	for (int i = 0; i < s->nstores && off + 48 < sizeof per; i++)
		if (s->late_per_store[i])
			off += (size_t)snprintf(per + off, sizeof per - off, "%s%s: %" PRIu64,
			                        off ? ", " : " (", store_label(s, i, lab, sizeof lab),
			                        s->late_per_store[i]);
	if (off)
		snprintf(per + off, sizeof per - off, ")");
	int x = 2;
	/* a foreign topic's footer holds three counts more: narrower gaps, "duplicates" alone */
	const char *gap = s->foreign ? "  " : "   ";
	x += draw_putf(w, y, x, iw - x, s->late ? draw_style(DRAW_WARN) : A_NORMAL, "late %s%s%s",
	               draw_num((long long)s->late, a, sizeof a), per, gap);
	x += draw_putf(w, y, x, iw - x, rejected ? draw_style(DRAW_WARN) : A_NORMAL,
	               "rejected %s%s", draw_num((long long)rejected, b, sizeof b), gap);
	x += draw_putf(w, y, x, iw - x, A_NORMAL, "%s %s",
	               s->foreign ? "duplicates" : "duplicates ignored",
	               draw_num((long long)dups, c, sizeof c));
	if (s->foreign) /* Debezium's u and d changes and skipped messages, never registrations */
		x += draw_putf(w, y, x, iw - x, A_NORMAL, "  updates %s  deletes %s  skipped %s",
		               draw_num((long long)s->updates, a, sizeof a),
		               draw_num((long long)s->deletes, b, sizeof b),
		               draw_num((long long)s->skipped, c, sizeof c));
	if (marks && x + 20 < iw)
		draw_putf(w, y, iw - 16, 16, draw_style(DRAW_DIM), "%s%s%s open  ! late", g_dashed,
		          g_dashed, g_dashed);
}

/* The check line: MySQL's change rows in the horizon against the distinct events held. */
static void check_line(struct ui_view *v, WINDOW *w, int y, int iw, const struct view_hist *s)
{
	const struct view_check *k = &s->check;
	char a[32], b[32], d[40];
	if (s->foreign) {
		draw_put(w, y, 2, iw - 2, draw_style(DRAW_DIM),
		         "check  none: no MySQL of cdctop's behind this topic");
		return;
	}
	if (k->state == VIEW_CHECK_NONE) {
		draw_put(w, y, 2, iw - 2, draw_style(DRAW_DIM), "check  waiting for the first count");
		return;
	}
	if (k->state == VIEW_CHECK_ERROR && !k->mysql && !k->counted) {
		draw_putf(w, y, 2, iw - 2, draw_style(DRAW_WARN), "check  cannot ask MySQL: %s",
		          k->error);
		return;
	}
	int x = 2;
	x += draw_putf(w, y, x, iw - x, A_NORMAL, "check  mysql %s  counted %s  ",
	               draw_num((long long)k->mysql, a, sizeof a),
	               draw_num((long long)k->counted, b, sizeof b));
	switch (k->state) {
	case VIEW_CHECK_OK:
		draw_put(w, y, x, iw - x, draw_style(DRAW_OK) | A_BOLD, v->utf8 ? "✓" : "ok");
		break;
	case VIEW_CHECK_BEHIND:
		draw_put(w, y, x, iw - x, draw_style(DRAW_DIM),
		         v->utf8 ? "… catching up" : "... catching up");
		break;
	case VIEW_CHECK_MISMATCH:
		snprintf(d, sizeof d, "%s %+lld", v->utf8 ? "✗" : "MISMATCH", (long long)k->diff);
		draw_put(w, y, x, iw - x, draw_style(DRAW_ERR) | A_BOLD, d);
		break;
	default:
		draw_putf(w, y, x, iw - x, draw_style(DRAW_WARN), "(stale: %s)", k->error);
		break;
	}
}

/* The time labels under the axis (row y): the selected window's first, marked, then the
   others from the newest back wherever they do not touch a label already written. */
static void time_labels(WINDOW *w, int y, int iw, const struct view_hist *s, int first,
                        int groups, int gx0, int gw, int sel)
{
	char used[512] = {0}, t[16], lab[32];
	int short_hms = s->window_s % 60 == 0;
	for (int pass = 0; pass < 2; pass++)
		for (int j = groups - 1; j >= 0; j--) {
			int k = first + j, is_sel = k == sel;
			if (is_sel != !pass)
				continue;
			draw_hms(s->win[k].start_s, t, sizeof t);
			/* "HH:MM" for whole minutes; the selected one says when it is open */
			snprintf(lab, sizeof lab, "%s%.*s%s", is_sel ? g_sel : "", short_hms ? 5 : 8, t,
			         !s->win[k].final && is_sel ? " open" : "");
			int lw = draw_width(lab), x = gx0 + j * gw + 1;
			if (x + lw > iw + 1)
				x = iw + 1 - lw;
			if (x < 1 || x + lw > (int)sizeof used)
				continue;
			int clash = 0;
			for (int c = x - 1; c <= x + lw && !clash; c++)
				clash = c >= 0 && c < (int)sizeof used && used[c];
			if (clash)
				continue;
			memset(used + x, 1, (size_t)lw);
			draw_put(w, y, x, iw + 1 - x,
			         is_sel ? A_BOLD : draw_style(DRAW_LABEL), lab);
		}
}

/* The chart in rows top..top+rows-1: bars, the axis row, the time labels when room. Sets
   v->chart_groups. */
static void chart_body(struct ui_view *v, WINDOW *w, int top, int rows, int iw,
                       const struct view_hist *s)
{
	int ns = s->nstores, labels = rows >= 5;
	int h = rows - 1 - labels;
	if (h < 1)
		return;
	/* the y labels' width from a first guess at the scale over every window held */
	uint64_t vmax = 0;
	for (int k = 0; k < s->nwin; k++)
		for (int i = 0; i < ns; i++)
			if (s->win[k].counts[i] > vmax)
				vmax = s->win[k].counts[i];
	char yl[32], ym[32];
	int yw = draw_width(scale_label(nice_max(vmax), yl, sizeof yl));
	int ax = 1 + yw, bx0 = ax + 2, aw = iw - bx0 + 1;
	int bw = 1, gw = ns + 1;
	int groups = aw / gw;
	if (groups > s->nwin)
		groups = s->nwin;
	if (groups < 1)
		groups = 1;
	while (bw < CHART_MAX_BW && groups * (ns * (bw + 1) + 1) <= aw)
		bw++;
	gw = ns * bw + 1;
	v->chart_groups = groups;
	int sel, right;
	chart_range(v, s, groups, &sel, &right);
	int first = right - groups + 1;
	/* the scale: the windows on screen */
	vmax = 0;
	for (int k = first; k <= right; k++)
		for (int i = 0; i < ns; i++)
			if (s->win[k].counts[i] > vmax)
				vmax = s->win[k].counts[i];
	uint64_t ymax = nice_max(vmax);
	int gx0 = bx0 + aw - groups * gw; /* right-aligned: the newest ends at the last column */
	int ya = top + h;
	/* y-axis: the scale at the top, its half in the middle when exact, 0 at the axis */
	cchar_t cc;
	if (mkcc(&cc, g_yaxis, draw_style(DRAW_DIM)))
		mvwvline_set(w, top, ax, &cc, h);
	draw_putf(w, top, 1, yw, draw_style(DRAW_LABEL), "%*s", yw, scale_label(ymax, yl, sizeof yl));
	draw_put(w, top, ax, 1, draw_style(DRAW_DIM), g_ytick);
	if (h >= 4 && h % 2 == 0 && ymax % 2 == 0) {
		draw_putf(w, top + h / 2, 1, yw, draw_style(DRAW_LABEL), "%*s", yw,
		          scale_label(ymax / 2, ym, sizeof ym));
		draw_put(w, top + h / 2, ax, 1, draw_style(DRAW_DIM), g_ytick);
	}
	draw_putf(w, ya, 1, yw, draw_style(DRAW_LABEL), "%*s", yw, "0");
	draw_put(w, ya, ax, 1, draw_style(DRAW_DIM), g_corner);
	cchar_t ca[2][2], ct[2]; /* [selected][open] axis, [selected] tick */
	for (int k = 0; k < 2; k++) {
		attr_t ta = k ? A_BOLD : draw_style(DRAW_DIM);
		if (!mkcc(&ca[k][0], g_axis, ta) || !mkcc(&ca[k][1], g_dashed, ta) ||
		    !mkcc(&ct[k], g_tick, ta))
			return;
	}
	mvwhline_set(w, ya, ax + 1, &ca[0][0], iw - ax);
	for (int j = 0; j < groups; j++) {
		const struct view_window *wi = &s->win[first + j];
		int gx = gx0 + j * gw, is_sel = first + j == sel;
		mvwadd_wch(w, ya, gx, &ct[is_sel]);
		if (is_sel || !wi->final)
			mvwhline_set(w, ya, gx + 1, &ca[is_sel][!wi->final], gw - 1);
		if (wi->late)
			draw_put(w, ya, gx + 1, 1, draw_style(DRAW_WARN), "!");
		for (int i = 0; i < ns; i++)
			vbar(w, ya - 1, gx + 1 + i * bw, bw, h, wi->counts[i], ymax, i,
			     wi->final ? 0 : A_BOLD);
	}
	if (labels)
		time_labels(w, ya + 1, iw, s, first, groups, gx0, gw, sel);
}

void chart_draw(struct ui_view *v, const struct view_hist *s)
{
	WINDOW *w = v->w_hist;
	char t1[16], t2[16], a[32], title[128];
	werase(w);
	int iw = getmaxx(w) - 2, ih = getmaxy(w) - 2;
	int n = s->nwin, sel = 0, right = 0;
	if (n > 0) {
		chart_range(v, s, v->chart_groups > 0 ? v->chart_groups : 1, &sel, &right);
		const struct view_window *sw = &s->win[sel];
		int back = n - 1 - sel;
		snprintf(title, sizeof title, "window %s%s%s (%s)", draw_hms(sw->start_s, t1, sizeof t1),
		         g_dash, draw_hms(sw->end_s, t2, sizeof t2), sw->final ? "final" : "open");
		if (!v->chart_follow && back > 0)
			snprintf(title + strlen(title), sizeof title - strlen(title), " %d back", back);
	} else {
		snprintf(title, sizeof title, "window %s",
		         u_fmt_duration(s->window_s * 1000000, a, sizeof a));
	}
	draw_box(v, w, s->foreign ? "registrations per value" : "registrations per store", title,
	         draw_style(DRAW_TITLE));
	int marks = 0;
	if (!n || !s->nstores) {
		draw_putf(w, 1, 2, iw - 2, draw_style(DRAW_DIM), "no registrations in the last %s yet%s",
		          u_fmt_duration(s->horizon_us, a, sizeof a),
		          s->foreign ? "" : ": press i to inject a batch");
	} else {
		int avail = ih - 2; /* the check line and the footer take the last two rows */
		int lrows = legend(w, 1, iw, avail > 6 ? avail / 3 : 1, s, &s->win[sel]);
		chart_body(v, w, 1 + lrows, avail - lrows, iw, s);
		marks = 1;
	}
	check_line(v, w, ih - 1, iw, s);
	footer(w, ih, iw, s, marks);
	wnoutrefresh(w);
}
