/*
 * glance.c - the glance line (see glance.h): builds the hops and the waits between them as
 * segments, picks the most detailed form that fits the width, and writes it. Reads only its
 * view; never blocks.
 */
#include "glance.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define GL_SEGS 32
#define GL_TEXT 48

enum gl_kind { GL_NAME, GL_COUNT, GL_WAIT, GL_DOWN, GL_ARROW };

struct gl_line {
	int n;
	int kind[GL_SEGS];
	char text[GL_SEGS][GL_TEXT];
};

/* A count in full ("12,345") or short ("12.3k"). */
static const char *gl_num(long long v, int shrt, char *buf, size_t len)
{
	if (!shrt || (v < 10000 && v > -10000))
		return u_fmt_count(v, buf, len);
	if (v < 1000000)
		snprintf(buf, len, "%.1fk", (double)v / 1e3);
	else
		snprintf(buf, len, "%.1fM", (double)v / 1e6);
	return buf;
}

static void gl_add(struct gl_line *l, int kind, const char *text)
{
	if (l->n >= GL_SEGS)
		return;
	l->kind[l->n] = kind;
	snprintf(l->text[l->n], GL_TEXT, "%s", text);
	l->n++;
}

/* A hop: its name and count. */
static void gl_hop(struct gl_line *l, const char *name, long long v, int shrt)
{
	char b[32], t[GL_TEXT];
	gl_add(l, GL_NAME, name);
	snprintf(t, sizeof t, " %s", gl_num(v, shrt, b, sizeof b));
	gl_add(l, GL_COUNT, t);
}

/* What waits before the next hop ("" none), then the arrow. */
static void gl_wait(struct gl_line *l, int kind, const char *what)
{
	if (what && what[0]) {
		char t[GL_TEXT];
		snprintf(t, sizeof t, " %s", what);
		gl_add(l, kind, t);
	}
	gl_add(l, GL_ARROW, "");
}

/* A wait's time: "2.5s". */
static const char *gl_secs(int64_t us, char *buf, size_t len)
{
	snprintf(buf, len, "%.1fs", (double)(us > 0 ? us : 0) / 1e6);
	return buf;
}

/* Builds the line at a level of detail: 0 full, 1 short counts and waits, 2 short names,
   3 tight arrows. */
static void gl_build(struct gl_line *l, const struct view_glance *g, int level)
{
	int shrt = level >= 1, tiny = level >= 2;
	char b[32], c[32], w[GL_TEXT];
	l->n = 0;
	if (!g->foreign) {
		gl_hop(l, tiny ? "inj" : "inject", (long long)g->injected, shrt);
		w[0] = 0;
		if (g->held && tiny)
			snprintf(w, sizeof w, "%d held", g->held);
		else if (g->held)
			snprintf(w, sizeof w, shrt ? "%d held %s" : "%d held open %s", g->held,
			         gl_secs(g->held_left_us, c, sizeof c));
		gl_wait(l, GL_WAIT, w);
		gl_hop(l, "mysql", g->customers, shrt);
		gl_wait(l, GL_WAIT, "");
		if (!g->binlog) {
			gl_hop(l, tiny ? "log" : "change log", g->change_rows, shrt);
			w[0] = 0;
			if (g->gap_id && g->backlog > 0)
				snprintf(w, sizeof w, "%s%s gap %s", shrt ? "" : "backlog ",
				         gl_num(g->backlog, shrt, b, sizeof b),
				         gl_secs(g->gap_wait_left_us, c, sizeof c));
			else if (g->gap_id)
				snprintf(w, sizeof w, "gap %s", gl_secs(g->gap_wait_left_us, c, sizeof c));
			else if (g->backlog > 0)
				snprintf(w, sizeof w, "%s%s", shrt ? "" : "backlog ",
				         gl_num(g->backlog, shrt, b, sizeof b));
			gl_wait(l, GL_WAIT, w);
		}
		gl_hop(l, tiny ? "rly" : "relay", (long long)g->relayed, shrt);
		w[0] = 0;
		if (g->mock_down || g->kafka_down)
			snprintf(w, sizeof w, "%s", g->mock_down ? "brokers down" : "unreachable");
		else if (g->inflight > 0)
			snprintf(w, sizeof w, shrt ? "%s" : "%s in flight",
			         gl_num(g->inflight, shrt, b, sizeof b));
		gl_wait(l, g->mock_down || g->kafka_down ? GL_DOWN : GL_WAIT, w);
	}
	gl_hop(l, tiny ? "kfk" : "kafka", g->topic, shrt);
	w[0] = 0;
	if (g->lag > 0)
		snprintf(w, sizeof w, "%s%s", shrt ? "" : "lag ", gl_num(g->lag, shrt, b, sizeof b));
	gl_wait(l, GL_WAIT, w);
	gl_hop(l, tiny ? "cons" : "consumer", (long long)g->consumed, shrt);
	w[0] = 0;
	if (g->duplicates)
		snprintf(w, sizeof w, "%s%s", gl_num((long long)g->duplicates, shrt, b, sizeof b),
		         " dup");
	gl_wait(l, GL_WAIT, w);
	gl_hop(l, tiny ? "win" : "windows", (long long)g->counted, shrt);
}

/* The arrow between hops: spaced, or tight (level 3). */
static const char *gl_arrow(int utf8, int tight)
{
	return tight ? (utf8 ? "→" : "->") : (utf8 ? " → " : " -> ");
}

/* Columns a segment takes (every segment is ASCII but the Unicode arrow). */
static int gl_cols(const struct gl_line *l, int i, int utf8, int tight)
{
	if (l->kind[i] != GL_ARROW)
		return (int)strlen(l->text[i]);
	return (utf8 ? 1 : 2) + (tight ? 0 : 2);
}

/* Columns the line takes, from column 1. */
static int gl_width(const struct gl_line *l, int utf8, int tight)
{
	int w = 1;
	for (int i = 0; i < l->n; i++)
		w += gl_cols(l, i, utf8, tight);
	return w;
}

void glance_draw(WINDOW *w, const struct view_glance *g, int utf8, const struct glance_style *st)
{
	struct gl_line l;
	int cols = getmaxx(w);
	werase(w);
	int tight = 0;
	for (int level = 0; level < 4; level++) {
		gl_build(&l, g, level);
		tight = level == 3;
		if (gl_width(&l, utf8, tight) <= cols)
			break;
	}
	int x = 1;
	for (int i = 0; i < l.n && x < cols; i++) {
		const char *t = l.kind[i] == GL_ARROW ? gl_arrow(utf8, tight) : l.text[i];
		attr_t a = l.kind[i] == GL_NAME    ? st->name
		           : l.kind[i] == GL_COUNT ? st->count
		           : l.kind[i] == GL_WAIT  ? st->wait
		           : l.kind[i] == GL_DOWN  ? st->down
		                                   : A_NORMAL;
		int room = cols - x, len = (int)strlen(t);
		int cw = gl_cols(&l, i, utf8, tight);
		if (cw > room)
			break; /* never half a segment */
		wattrset(w, a);
		mvwaddnstr(w, 0, x, t, len);
		x += cw;
	}
	wattrset(w, A_NORMAL);
	wnoutrefresh(w);
}
