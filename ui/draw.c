/*
 * draw.c - paints the monitor from the UI's snapshot copy: header, capture and kafka panes,
 * the status line, key hints and the help overlay (the chart pane is chart.c's). UI thread only. Each pane is its own window, erased and drawn only when
 * dirty; one doupdate per frame. Never reads anything but the view and its snapshot, never
 * blocks, and degrades to monochrome attributes and ASCII glyphs when it must.
 */
#include "draw.h"
#include "chart.h"
#include "glance.h"
#include "util.h"

#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

enum { S_TITLE, S_LABEL, S_OK, S_WARN, S_ERR, S_DIM, S_KEY, S_HEAD, S_COUNT };
static attr_t at[S_COUNT];

/* Glyphs, Unicode or ASCII. */
static const char *g_sep;

/* Picks glyphs by the locale and colour pairs (or attributes) by the terminal. */
void draw_init(struct ui_view *v)
{
	const char *cs = setlocale(LC_CTYPE, NULL);
	v->utf8 = MB_CUR_MAX > 1 && cs &&
	          (strstr(cs, "UTF-8") || strstr(cs, "utf8") || strstr(cs, "UTF8") ||
	           strstr(cs, "utf-8"));
	/* a terminal without colours (vt100 and its kind) draws no Unicode boxes or bars */
	int term_colors = has_colors();
	if (!term_colors)
		v->utf8 = 0;
	g_sep = v->utf8 ? "·" : "-";
	const char *nc = getenv("NO_COLOR"); /* https://no-color.org: any non-empty value */
	v->colors = term_colors && !(nc && *nc);
	if (v->colors) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_CYAN, -1);
		init_pair(2, COLOR_GREEN, -1);
		init_pair(3, COLOR_YELLOW, -1);
		init_pair(4, COLOR_RED, -1);
		init_pair(5, COLOR_BLUE, -1);
		init_pair(6, COLOR_BLACK, COLOR_CYAN);
		at[S_TITLE] = COLOR_PAIR(1) | A_BOLD;
		at[S_LABEL] = A_NORMAL;
		at[S_OK] = COLOR_PAIR(2);
		at[S_WARN] = COLOR_PAIR(3) | A_BOLD;
		at[S_ERR] = COLOR_PAIR(4) | A_BOLD;
		at[S_DIM] = COLOR_PAIR(5);
		at[S_KEY] = COLOR_PAIR(6);
		at[S_HEAD] = A_BOLD;
	} else {
		at[S_TITLE] = A_BOLD;
		at[S_LABEL] = A_NORMAL;
		at[S_OK] = A_NORMAL;
		at[S_WARN] = A_BOLD;
		at[S_ERR] = A_BOLD | A_REVERSE;
		at[S_DIM] = A_DIM;
		at[S_KEY] = A_REVERSE;
		at[S_HEAD] = A_BOLD;
	}
	chart_init(v);
}

/* Display columns of the first bytes of s that fit in maxw columns; *bytes gets their length. */
static int fit(const char *s, int maxw, size_t *bytes)
{
	mbstate_t st;
	memset(&st, 0, sizeof st);
	size_t off = 0, len = strlen(s);
	int w = 0;
	while (off < len) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s + off, len - off, &st);
		int cw;
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			n = 1; /* a stray byte: one column, printed as is */
			cw = 1;
			memset(&st, 0, sizeof st);
		} else {
			cw = wcwidth(wc);
			if (cw < 0)
				cw = 1;
		}
		if (w + cw > maxw)
			break;
		w += cw;
		off += n;
	}
	*bytes = off;
	return w;
}

/* Display width of s. */
static int width(const char *s)
{
	size_t b;
	return fit(s, 1 << 30, &b);
}

/* Writes s at (y, x) clipped to maxw columns; returns the columns written. */
static int put(WINDOW *w, int y, int x, int maxw, attr_t a, const char *s)
{
	if (maxw <= 0)
		return 0;
	size_t b;
	int cw = fit(s, maxw, &b);
	if (!b)
		return 0;
	wattrset(w, a);
	mvwaddnstr(w, y, x, s, (int)b);
	wattrset(w, A_NORMAL);
	return cw;
}

/* printf-style put. */
static int vputf(WINDOW *w, int y, int x, int maxw, attr_t a, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
static int vputf(WINDOW *w, int y, int x, int maxw, attr_t a, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof buf, fmt, ap);
	return put(w, y, x, maxw, a, buf);
}

static int putf(WINDOW *w, int y, int x, int maxw, attr_t a, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int putf(WINDOW *w, int y, int x, int maxw, attr_t a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vputf(w, y, x, maxw, a, fmt, ap);
	va_end(ap);
	return n;
}

/* A number with thousands separators, or "-" when negative (unknown). */
static const char *num(long long v, char *buf, size_t len)
{
	if (v < 0)
		return "-";
	return u_fmt_count(v, buf, len);
}

/* A rate: "20/s", "2.5/s", "3,386/s". */
static const char *rate(double r, char *buf, size_t len)
{
	return u_fmt_rate(r, buf, len);
}

/* Epoch seconds as HH:MM:SS in UTC: every time on the monitor (the clock, window labels) is
   UTC, as in watch and the envelopes, whatever TZ says. */
static const char *clock_hms(int64_t sec, char *buf, size_t len)
{
	return u_fmt_utc(sec, "%H:%M:%S", buf, len);
}

/* Box and title; extra (may be NULL) follows the title in its own attribute. */
static void frame(struct ui_view *v, WINDOW *w, const char *title, const char *extra, attr_t ea)
{
	if (v->utf8)
		box(w, 0, 0);
	else
		wborder(w, '|', '|', '-', '-', '+', '+', '+', '+');
	int maxw = getmaxx(w) - 4;
	int x = 1;
	x += putf(w, 0, x, maxw, at[S_TITLE], " %s ", title);
	if (extra && *extra)
		x += putf(w, 0, x, maxw - x + 1, ea, "%s %s ", g_sep, extra);
}

/* s without its words from..to (space-separated, 0-based), to "…" when mark. */
static void drop_words(const char *s, int from, int to, int mark, int utf8, char *buf,
                       size_t len)
{
	char tmp[VIEW_TEXT * 2];
	snprintf(tmp, sizeof tmp, "%s", s);
	size_t o = 0;
	int i = 0, marked = 0;
	buf[0] = 0;
	char *save = NULL;
	for (char *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save), i++) {
		const char *word = t;
		if (i >= from && i <= to) {
			if (!mark || marked)
				continue;
			word = utf8 ? "…" : "...";
			marked = 1;
		}
		int n = snprintf(buf + o, len - o, "%s%s", o ? " " : "", word);
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
}

/* The header's targets in room columns, shortened by whole words, least useful first: the
   private server's path, then the mock's broker count, then the database, never the middle
   of a word. */
static void head_targets(const struct view_status *s, int room, int utf8, char *line, size_t len)
{
	char m[VIEW_TEXT * 2], k[VIEW_TEXT * 2];
	int mw = 0, kw = 0;
	for (const char *p = s->mysql_label; *p; p++)
		mw += *p == ' ';
	for (const char *p = s->kafka_label; *p; p++)
		kw += *p == ' ';
	/* stages: {mysql words dropped from..to (mark), kafka words dropped from} */
	for (int stage = 0; stage < 6; stage++) {
		snprintf(m, sizeof m, "%s", s->mysql_label);
		snprintf(k, sizeof k, "%s", s->kafka_label);
		if (stage >= 1 && mw >= 2) /* "private /long/path (sakila)": the path */
			drop_words(s->mysql_label, 1, mw - 1, stage == 1, utf8, m, sizeof m);
		size_t kl = strlen(s->kafka_label);
		/* the mock's "(3 brokers)" */
		if (stage >= 3 && kw >= 3 && kl && s->kafka_label[kl - 1] == ')')
			drop_words(s->kafka_label, kw - 1, kw, 0, utf8, k, sizeof k);
		if (stage >= 4) /* only the kind: "private", "root@db:3306" */
			drop_words(s->mysql_label, 1, mw, 0, utf8, m, sizeof m);
		if (stage >= 5)
			snprintf(m, sizeof m, "%s", "");
		snprintf(line, len, *m ? "mysql: %s   kafka: %s" : "kafka: %s%s", *m ? m : k,
		         *m ? k : "");
		if (width(line) <= room)
			return;
	}
}

/* Header: targets and clock on the first row, topic and window settings on the second. */
static void draw_head(struct ui_view *v, const struct view_status *s)
{
	WINDOW *w = v->w_head;
	char a[32], b[48], c[32], line[1200];
	werase(w);
	int cols = getmaxx(w), narrow = cols < 110;
	clock_hms(u_now_us() / 1000000, c, sizeof c);
	int x = put(w, 0, 0, cols - 10, at[S_HEAD], " cdctop  ");
	head_targets(s, cols - 10 - x - 1, v->utf8, line, sizeof line);
	put(w, 0, x, cols - 10 - x - 1, A_NORMAL, line);
	put(w, 0, cols - 9, 9, at[S_HEAD], c);
	if (s->set.slide_s && s->set.slide_s != s->set.window_s)
		snprintf(b, sizeof b, narrow ? "hopping/%s" : "hopping every %s",
		         u_fmt_duration(s->set.slide_s * 1000000, a, sizeof a));
	else
		snprintf(b, sizeof b, "tumbling");
	char w1[32], l1[32];
	snprintf(line, sizeof line,
	         narrow ? " topic %s  window %s %s  lateness %s  %s"
	                : " topic %s   window %s %s   lateness %s   capture: %s",
	         s->topic, u_fmt_duration(s->set.window_s * 1000000, w1, sizeof w1), b,
	         u_fmt_duration(s->set.lateness_us, l1, sizeof l1),
	         s->foreign ? "debezium" : s->capture_binlog ? "binlog" : "trigger");
	int used = put(w, 1, 0, cols - (v->paused ? 10 : 0), A_NORMAL, line);
	if (v->paused)
		put(w, 1, used + 3 < cols - 8 ? used + 3 : cols - 8, 8, at[S_KEY], " PAUSED ");
	wnoutrefresh(w);
}

/* One "label   value   rest" row of the capture pane. */
static void cap_row(WINDOW *w, int y, int maxw, const char *label, const char *val, attr_t va,
                    const char *rest, attr_t ra)
{
	put(w, y, 2, 11, at[S_LABEL], label);
	putf(w, y, 13, 8, va, "%8s", val);
	put(w, y, 23, maxw - 22, ra, rest);
}

/* The capture pane's rows 2-4 with --capture=binlog: where the stream has read to, the
   server's position, and the lag in bytes and seconds. */
static void draw_cap_binlog(WINDOW *w, int maxw, const struct view_capture *r)
{
	char a[32], rest[96];
	put(w, 2, 2, 11, at[S_LABEL], "binlog read");
	put(w, 2, 14, maxw - 13, A_NORMAL, r->binlog_read[0] ? r->binlog_read : "-");
	put(w, 3, 2, 11, at[S_LABEL], "server at");
	put(w, 3, 14, maxw - 13, A_NORMAL, r->binlog_server[0] ? r->binlog_server : "-");
	put(w, 4, 2, 11, at[S_LABEL], "lag");
	if (r->binlog_lag_bytes >= 0)
		snprintf(rest, sizeof rest, "%s bytes, %llds", num(r->binlog_lag_bytes, a, sizeof a),
		         (long long)r->binlog_lag_s);
	else
		snprintf(rest, sizeof rest, "%llds", (long long)r->binlog_lag_s);
	put(w, 4, 14, maxw - 13, r->binlog_lag_s > 5 ? at[S_WARN] : A_NORMAL, rest);
}

/* Writes text from row y, column 2, in rows of at most cols - 1 columns broken between
   words (ASCII text), down to row last; returns the row after the last one written. */
static int wrap(WINDOW *w, int y, int last, int cols, attr_t a, const char *text)
{
	const char *p = text;
	while (*p && y <= last) {
		int n = (int)strlen(p);
		if (n > cols - 2) {
			n = cols - 2;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = cols - 2; /* one word longer than the row: cut */
		}
		putf(w, y++, 2, cols - 1, a, "%.*s", n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
	return y;
}

/* The capture pane: MySQL side of the pipeline. */
static void draw_cap(struct ui_view *v, const struct view_capture *r)
{
	WINDOW *w = v->w_cap;
	static const char *const alerts[] = {NULL, "mysql down", "relay stopped", "connecting"};
	char a[32], b[32], rest[96];
	werase(w);
	frame(v, w, "capture", alerts[r->alert],
	      r->alert == VIEW_CAP_CONNECTING ? at[S_DIM] : at[S_ERR]);
	int maxw = getmaxx(w) - 2, h = getmaxy(w) - 2;
	if (r->foreign[0]) { /* no MySQL figures: capture is not cdctop's */
		int y = wrap(w, 1, h, maxw - 1, A_NORMAL, r->foreign);
		wrap(w, y, h, maxw - 1, at[S_DIM],
		     "no relay or injection here: the keys i I < > [ ] need cdctop's own pipeline");
		wnoutrefresh(w);
		return;
	}

	rest[0] = 0;
	if (r->last_batch)
		snprintf(rest, sizeof rest, "+%d last batch", r->last_batch);
	cap_row(w, 1, maxw, "customers", num(r->customers, a, sizeof a), A_NORMAL, rest, at[S_OK]);
	if (r->binlog) { /* binlog capture: positions instead of change rows and gaps */
		draw_cap_binlog(w, maxw, r);
		goto rates;
	}
	snprintf(rest, sizeof rest, "cursor %s", num(r->cursor, b, sizeof b));
	cap_row(w, 2, maxw, "change rows", num(r->change_rows, a, sizeof a), A_NORMAL, rest,
	        A_NORMAL);
	if (r->oldest_us > 0) {
		int64_t age = u_now_us() - r->oldest_us;
		snprintf(rest, sizeof rest, "oldest %s",
		         u_fmt_duration(age > 0 ? age / 1000000 * 1000000 : 0, b, sizeof b));
	} else {
		snprintf(rest, sizeof rest, "oldest -");
	}
	cap_row(w, 3, maxw, "backlog", num(r->backlog, a, sizeof a),
	        r->backlog > 1000 ? at[S_WARN] : A_NORMAL, rest, A_NORMAL);
	if (r->gap_id > 0) {
		snprintf(a, sizeof a, "#%" PRId64, r->gap_id);
		snprintf(rest, sizeof rest, "%.1fs left  skipped %s",
		         (double)r->gap_wait_left_us / 1e6,
		         num((long long)r->skipped, b, sizeof b));
		cap_row(w, 4, maxw, "gap wait", a, at[S_WARN], rest, A_NORMAL);
	} else {
		snprintf(rest, sizeof rest, "skipped %s", num((long long)r->skipped, b, sizeof b));
		cap_row(w, 4, maxw, "gap wait", "none", A_NORMAL, rest, A_NORMAL);
	}
rates:;
	int x = 2;
	x += put(w, 5, x, maxw - x, at[S_LABEL], "inject ");
	x += putf(w, 5, x, maxw - x, A_NORMAL, "%-6s  ", rate(r->inject_rate, a, sizeof a));
	if (r->auto_on)
		x += putf(w, 5, x, maxw - x, at[S_OK], "auto %s  ", rate(r->rate, b, sizeof b));
	else
		x += put(w, 5, x, maxw - x, at[S_DIM], "auto off  ");
	x += put(w, 5, x, maxw - x, at[S_LABEL], "relay ");
	put(w, 5, x, maxw - x, A_NORMAL, rate(r->relay_rate, a, sizeof a));
	if (h >= 6) {
		int room = maxw - 22;
		if (r->resent && room >= 26)
			snprintf(rest, sizeof rest, "inflight %d  resent %s", r->inflight,
			         num((long long)r->resent, b, sizeof b));
		else if (r->resent && !r->inflight)
			snprintf(rest, sizeof rest, "resent %s",
			         num((long long)r->resent, b, sizeof b));
		else
			snprintf(rest, sizeof rest, "inflight %d", r->inflight);
		cap_row(w, 6, maxw, "progress", num(r->progress, a, sizeof a), A_NORMAL, rest,
		        A_NORMAL);
	}
	wnoutrefresh(w);
}

/* The kafka pane: per partition watermarks, committed offset and lag; rates and latency. */
static void draw_kaf(struct ui_view *v, const struct view_kafka *s)
{
	WINDOW *w = v->w_kaf;
	char a[32], b[32], c[32], d[32], e[32];
	static const char *const alerts[] = {NULL, "unreachable", "consumer stopped", "connecting"};
	werase(w);
	frame(v, w, "kafka", alerts[s->alert],
	      s->alert == VIEW_KAF_CONNECTING ? at[S_DIM] : at[S_ERR]);
	int maxw = getmaxx(w) - 3, h = getmaxy(w) - 2;
	int wide = maxw >= 48;
	int cl = wide ? 10 : 8, cc = wide ? 12 : 10, cg = 7;
	attr_t va = s->alert == VIEW_KAF_UNREACHABLE ? at[S_DIM] : A_NORMAL;
	putf(w, 1, 2, maxw, at[S_LABEL], "%-4s%*s%*s%*s%*s", "part", cl, "low", cl, "high", cc,
	     "committed", cg, "lag");
	int rows = h - 2; /* header and the produce line */
	int total = s->nparts > 1;
	int shown = s->nparts;
	if (shown + total > rows) {
		total = 0;
		shown = rows;
	}
	if (shown < s->nparts && shown > 0)
		shown--; /* room for "+N more" */
	int64_t sl = 0, sh = 0, sc = 0, sg = 0;
	int y = 2;
	for (int p = 0; p < s->nparts; p++) {
		const struct view_part *pp = &s->parts[p];
		sl += pp->low > 0 ? pp->low : 0;
		sh += pp->high > 0 ? pp->high : 0;
		sc += pp->committed > 0 ? pp->committed : 0;
		sg += pp->lag > 0 ? pp->lag : 0;
		if (p >= shown)
			continue;
		putf(w, y++, 2, maxw, va, "%4d%*s%*s%*s%*s", pp->id, cl, num(pp->low, a, sizeof a),
		     cl, num(pp->high, b, sizeof b), cc, num(pp->committed, c, sizeof c), cg,
		     num(pp->lag, d, sizeof d));
	}
	if (shown < s->nparts)
		putf(w, y++, 2, maxw, at[S_DIM], "  +%d more partitions, lag %s", s->nparts - shown,
		     num(sg, a, sizeof a));
	else if (total)
		putf(w, y++, 2, maxw, at[S_DIM], "%-4s%*s%*s%*s%*s", "all", cl,
		     num(sl, a, sizeof a), cl, num(sh, b, sizeof b), cc, num(sc, c, sizeof c), cg,
		     num(sg, d, sizeof d));
	int x = 2;
	y = h;
	u_fmt_latency_pair(s->lat_p50_us, s->lat_p99_us, c, e, sizeof c); /* one unit for both */
	const char *p50 = c, *p99 = e;
	attr_t eat = s->delivery_errors ? at[S_ERR] : A_NORMAL;
	const char *errs = num((long long)s->delivery_errors, b, sizeof b);
	if (wide) {
		x += putf(w, y, x, maxw - x + 2, A_NORMAL, "produce %s  ",
		          rate(s->produce_rate, a, sizeof a));
		x += putf(w, y, x, maxw - x + 2, eat, "errors %s   ", errs);
		putf(w, y, x, maxw - x + 2, A_NORMAL, "e2e p50 %s  p99 %s", p50, p99);
	} else {
		x += putf(w, y, x, maxw - x + 2, A_NORMAL, "prod %s ",
		          rate(s->produce_rate, a, sizeof a));
		x += putf(w, y, x, maxw - x + 2, eat, "err %s ", errs);
		putf(w, y, x, maxw - x + 2, A_NORMAL, "p50 %s p99 %s", p50, p99);
	}
	wnoutrefresh(w);
}

/* The status line: a UI message for a moment, else the pipeline's status. */
static void draw_status(struct ui_view *v, const struct view_status *s)
{
	WINDOW *w = v->w_status;
	werase(w);
	int cols = getmaxx(w);
	if (v->flash[0] && u_mono_us() < v->flash_until) {
		put(w, 0, 1, cols - 2, at[S_OK], v->flash);
	} else {
		attr_t a = s->level == VIEW_ERROR  ? at[S_ERR]
		           : s->level == VIEW_WARN ? at[S_WARN]
		                                   : A_NORMAL;
		put(w, 0, 1, cols - 2, a, s->text);
	}
	wnoutrefresh(w);
}

/* The key hints line, with the current batch size, rate and toggles. */
static void draw_keys(struct ui_view *v, const struct view_status *s)
{
	WINDOW *w = v->w_keys;
	char bt[32], rt[32], rr[32];
	werase(w);
	int cols = getmaxx(w), narrow = cols < 110;
	snprintf(bt, sizeof bt, "batch %d", s->set.batch);
	rate(s->set.rate, rr, sizeof rr);
	snprintf(rt, sizeof rt, narrow ? "%s" : "rate %s", rr);
	struct {
		const char *k, *l, *ln; /* keys, label, narrow label */
		int on;
	} it[] = {
	    {"i", "inject", "inject", 0},
	    {"I", "auto", "auto", s->set.auto_on},
	    {"< >", rt, rt, 0},
	    {"[ ]", bt, bt + 6, 0},
	    {"+ -", "window", "win", 0},
	    {"s", "slide", "slide", 0},
	    {"p", v->paused ? "resume" : "pause", v->paused ? "resume" : "pause", v->paused},
	    {"r", "rebuild", "rebuild", 0},
	    {"?", "help", "help", 0},
	    {"q", "quit", "quit", 0},
	};
	int x = 1;
	for (size_t i = 0; i < sizeof it / sizeof it[0] && x < cols - 1; i++) {
		char k[8];
		snprintf(k, sizeof k, "%s", it[i].k);
		if (narrow && strlen(k) == 3)
			memmove(k + 1, k + 2, 2); /* "< >" -> "<>" */
		/* a foreign topic's monitor cannot inject: those keys dimmed */
		x += put(w, 0, x, cols - 1 - x, s->foreign && i < 4 ? at[S_DIM] : at[S_KEY], k);
		x += putf(w, 0, x, cols - 1 - x, it[i].on ? at[S_OK] | A_BOLD : A_NORMAL, " %s%s",
		          narrow ? it[i].ln : it[i].l, narrow ? " " : "  ");
	}
	wnoutrefresh(w);
}

/* The help overlay, centred, listing every key and pane. */
static void draw_help(struct ui_view *v)
{
	int n = 0;
	while (v->help_lines && v->help_lines[n])
		n++;
	int hw = v->cols - 8 < 84 ? v->cols - 8 : 84, hh = n + 4;
	if (hh > v->rows - 2)
		hh = v->rows - 2;
	if (v->w_help)
		delwin(v->w_help);
	v->w_help = newwin(hh, hw, (v->rows - hh) / 2, (v->cols - hw) / 2);
	if (!v->w_help)
		return;
	WINDOW *w = v->w_help;
	werase(w);
	frame(v, w, "help", "any key closes", at[S_DIM]);
	for (int i = 0; i < n && i + 2 < hh - 1; i++)
		put(w, i + 2, 2, hw - 4, i == 0 ? at[S_TITLE] : A_NORMAL, v->help_lines[i]);
	touchwin(w);
	wnoutrefresh(w);
}

/* The message shown instead of the panes when the terminal is below 80x24. */
static void draw_small(struct ui_view *v)
{
	char msg[96];
	werase(stdscr);
	snprintf(msg, sizeof msg, "terminal too small (need %dx%d, have %dx%d)", UI_MIN_COLS,
	         UI_MIN_ROWS, v->cols, v->rows);
	int l = (int)strlen(msg), y = v->rows / 2, x = (v->cols - l) / 2;
	put(stdscr, y > 0 ? y - 1 : 0, x > 0 ? x : 0, v->cols, at[S_WARN], msg);
	const char *q = "q quits";
	x = (v->cols - (int)strlen(q)) / 2;
	if (y + 1 < v->rows)
		put(stdscr, y + 1, x > 0 ? x : 0, v->cols, A_NORMAL, q);
	wnoutrefresh(stdscr);
}

/* Deletes every pane window. */
void draw_free(struct ui_view *v)
{
	WINDOW **ws[] = {&v->w_head,   &v->w_cap,  &v->w_kaf,  &v->w_hist, &v->w_glance,
	                 &v->w_status, &v->w_keys, &v->w_help};
	for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
		if (*ws[i])
			delwin(*ws[i]);
		*ws[i] = NULL;
	}
}

/* Cuts the screen into panes; below 80x24 only the too-small message is shown. */
void draw_layout(struct ui_view *v)
{
	draw_free(v);
	v->rows = LINES;
	v->cols = COLS;
	v->too_small = v->cols < UI_MIN_COLS || v->rows < UI_MIN_ROWS;
	werase(stdscr);
	wnoutrefresh(stdscr);
	clearok(curscr, TRUE); /* repaint everything after a resize */
	if (v->too_small)
		return;
	int np = v->snap && v->snap->kafka.nparts > 0 ? v->snap->kafka.nparts : 3;
	v->laid_parts = np;
	int content = np + 2 + (np > 1); /* header, partitions, total, produce line */
	if (content < 6)
		content = 6;
	if (content > v->rows - 13)
		content = v->rows - 13; /* the histogram keeps at least 5 rows */
	int top = content + 2;
	int capw = v->cols * 37 / 100;
	capw = capw < 39 ? 39 : capw > 48 ? 48 : capw;
	v->w_head = newwin(2, v->cols, 0, 0);
	v->w_cap = newwin(top, capw, 2, 0);
	v->w_kaf = newwin(top, v->cols - capw, 2, capw);
	v->w_hist = newwin(v->rows - 5 - top, v->cols, 2 + top, 0);
	v->w_glance = newwin(1, v->cols, v->rows - 3, 0);
	v->w_status = newwin(1, v->cols, v->rows - 2, 0);
	v->w_keys = newwin(1, v->cols, v->rows - 1, 0);
	if (!v->w_head || !v->w_cap || !v->w_kaf || !v->w_hist || !v->w_glance || !v->w_status ||
	    !v->w_keys) {
		draw_free(v); /* out of memory: show the small-terminal message instead */
		v->too_small = 1;
	}
}

/* Draws the dirty panes, the help on top, and sends one update to the terminal. */
void draw_frame(struct ui_view *v, unsigned dirty)
{
	if (v->too_small) {
		if (dirty)
			draw_small(v);
		doupdate();
		return;
	}
	const struct view_snap *s = v->snap;
	if (dirty & UI_D_HEAD)
		draw_head(v, &s->status);
	if (dirty & UI_D_CAP)
		draw_cap(v, &s->capture);
	if (dirty & UI_D_KAF)
		draw_kaf(v, &s->kafka);
	if (dirty & UI_D_HIST)
		chart_draw(v, &s->hist);
	if (dirty & UI_D_GLANCE) {
		struct glance_style gs = {at[S_LABEL], A_BOLD, at[S_WARN], at[S_ERR]};
		glance_draw(v->w_glance, &s->glance, v->utf8, &gs);
	}
	if (dirty & UI_D_STATUS)
		draw_status(v, &s->status);
	if (dirty & UI_D_KEYS)
		draw_keys(v, &s->status);
	if (v->help && dirty)
		draw_help(v);
	else if (!v->help && v->w_help) {
		delwin(v->w_help);
		v->w_help = NULL;
	}
	doupdate();
}

/* The helpers above, for chart.c. */
attr_t draw_style(int style)
{
	static const int map[] = {S_TITLE, S_LABEL, S_OK, S_WARN, S_ERR, S_DIM};
	return style >= 0 && style < (int)(sizeof map / sizeof map[0]) ? at[map[style]] : A_NORMAL;
}

int draw_put(WINDOW *w, int y, int x, int maxw, attr_t a, const char *s)
{
	return put(w, y, x, maxw, a, s);
}

int draw_putf(WINDOW *w, int y, int x, int maxw, attr_t a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vputf(w, y, x, maxw, a, fmt, ap);
	va_end(ap);
	return n;
}

int draw_width(const char *s)
{
	return width(s);
}

const char *draw_num(long long v, char *buf, size_t len)
{
	return num(v, buf, len);
}

const char *draw_hms(int64_t sec, char *buf, size_t len)
{
	return clock_hms(sec, buf, len);
}

void draw_box(struct ui_view *v, WINDOW *w, const char *title, const char *extra, attr_t ea)
{
	frame(v, w, title, extra, ea);
}
