/*
 * publish.c - the monitor's publisher thread (see publish.h). Locks: mu (commands, events,
 * the relay's and consumer's run state) and snap_mu (the published snapshot) are never held
 * together, nor while calling into a source (each locks its own).
 */
#include "publish.h"
#include "util.h"
#include "winstore.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUB_MAX_WINDOWS VIEW_MAX_WINDOWS
#define PUB_TEXT        VIEW_TEXT
#define PUB_TICK_US     100000  /* publisher period */
#define PUB_VIEW_US     1000000 /* windows recomputed at least this often */
#define PUB_EVENT_US    4000000 /* an event stays on the status line this long */
#define PUB_NOTE_US     1500000 /* the consumer's notes follow one another this far apart */
#define PUB_RATE_N      21      /* rate samples: 2 s at the publisher's tick */

_Static_assert(CONS_MAX_PARTS == VIEW_MAX_PARTS, "view.h's VIEW_MAX_PARTS");
_Static_assert(WS_MAX_STORES == VIEW_MAX_STORES, "view.h's VIEW_MAX_STORES");

/* Every figure the publisher gathers in a tick, the threads' and the libraries' types
 * included; the views (view.h) are filled from it. */
struct pub_stage {
	/* fixed at start */
	char mysql_label[PUB_TEXT];
	char kafka_label[PUB_TEXT]; /* "mock 127.0.0.1:40831 (3 brokers)" or the broker list */
	char topic[80];
	int capture_binlog;
	char foreign[PUB_TEXT]; /* "" own pipeline; else the capture pane's note */
	char group_by[64];      /* a foreign topic's column counted by */
	int64_t horizon_us;

	struct view_settings set; /* the windows below were computed with these */

	/* injector */
	int mysql; /* enum injr_health, as the injector's connection sees it */
	uint64_t injected;
	int last_batch;     /* customers in the last batch written */
	int held;           /* customers in a batch held open (g) */
	int64_t held_left_us;
	int mock_down;      /* the mock's brokers are down (k) */
	double inject_rate; /* customers/s, recent */
	char inject_error[PUB_TEXT];

	/* relay */
	int relay_running; /* relay_run has not returned */
	struct relay_stats relay;
	struct tstats_figures tables; /* customers, change rows, backlog, the server's binlog end */
	double produce_rate; /* messages handed to librdkafka per second, recent */
	char relay_error[PUB_TEXT];

	/* Kafka probe and consumer */
	int kafka; /* enum probe_health, as the probe sees it */
	int nparts;
	struct probe_part parts[CONS_MAX_PARTS];
	char probe_error[PUB_TEXT];
	int cons_running;
	struct cons_stats cons;
	char cons_error[PUB_TEXT];

	/* windows, from the consumer's held buckets */
	int nstores;
	uint32_t stores[WS_MAX_STORES];
	char labels[WS_MAX_STORES][VIEW_LABEL]; /* a foreign topic's: "store_id 1" */
	int nwin; /* oldest first; the last one is the open (newest) window */
	struct ws_window win[PUB_MAX_WINDOWS];
	uint64_t total[WS_MAX_STORES]; /* events held per store, indexed like stores[] */
	struct ws_stats ws;
	int64_t watermark_us;
	struct view_check check;

	/* the status line: the most pressing condition, else the last event, else relay state */
	char status[PUB_TEXT];
	int status_level; /* enum view_level */
};

/* A counter sampled at each tick; the rate is the slope over the samples held. */
struct pub_rate {
	int64_t t[PUB_RATE_N];
	uint64_t c[PUB_RATE_N];
	int n, i;
};

/* Publisher-thread state carried between ticks. */
struct pub_ticks {
	struct pub_rate inj_rate, relay_rate, prod_rate; /* one window for all three */
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

struct pub {
	struct pub_config cfg;
	struct chk *chk;   /* the check line's own thread and connection */
	struct tstats *ts; /* the capture pane's table figures, on theirs */

	pthread_mutex_t mu; /* guards everything down to snap_mu */
	pthread_cond_t cond;
	int stopping;
	struct u_cmdq q;
	int64_t window_s, slide_s;
	int relay_running, cons_running;
	int mock_down;
	char relay_error[PUB_TEXT], cons_error[PUB_TEXT];
	/* the status line's two slots: [1] the last answer to a key, shown over standing
	   conditions and over later events while fresh; [0] the last other event */
	struct pub_msg {
		char text[PUB_TEXT];
		int level;
		int64_t at;
	} msg[2];

	pthread_mutex_t snap_mu; /* guards snap */
	struct view_snap snap;
	struct pub_stage stage; /* the publisher's working figures */
	struct view_snap next;  /* the views filled from them, compared with snap */
};

/* Rows captured and not yet acknowledged: the binlog capture's queue, or the change rows above
   the relay's progress. */
static int64_t stage_backlog(const struct pub_stage *s)
{
	return s->capture_binlog ? s->relay.backlog : s->tables.backlog;
}

/* Prepares the publisher; the labels are copied into the stage. */
struct pub *pub_new(const struct pub_config *cfg)
{
	struct pub *p = u_calloc(1, sizeof *p);
	p->cfg = *cfg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->snap_mu, NULL);
	u_cond_init(&p->cond);
	p->window_s = cfg->window_s;
	p->slide_s = cfg->slide_s;
	p->relay_running = p->cons_running = 1;
	struct pub_stage *s = &p->stage;
	u_copy_line(s->mysql_label, sizeof s->mysql_label, cfg->mysql_label);
	u_copy_line(s->kafka_label, sizeof s->kafka_label, cfg->kafka_label);
	u_copy_line(s->topic, sizeof s->topic, cfg->topic);
	s->capture_binlog = cfg->capture_binlog;
	if (cfg->foreign)
		u_copy_line(s->foreign, sizeof s->foreign, cfg->foreign);
	u_copy_line(s->group_by, sizeof s->group_by, cfg->group_by ? cfg->group_by : "store_id");
	s->horizon_us = cfg->horizon_us;
	s->set.lateness_us = cfg->lateness_us;
	p->cfg.mysql_label = p->cfg.kafka_label = p->cfg.topic = NULL; /* not kept */
	p->cfg.foreign = p->cfg.group_by = NULL;
	return p;
}

void pub_set_sources(struct pub *p, struct chk *chk, struct tstats *ts)
{
	p->chk = chk;
	p->ts = ts;
}

/* Records an event for the status line in its slot: answer, the answer to a key, or another
   event (caller holds mu). */
static void pub_event_locked(struct pub *p, int level, int answer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void pub_event_locked(struct pub *p, int level, int answer, const char *fmt, ...)
{
	char buf[PUB_TEXT];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	struct pub_msg *m = &p->msg[answer != 0];
	u_copy_line(m->text, sizeof m->text, buf);
	m->level = level;
	m->at = u_mono_us();
}

/* An event from another thread, or only a wake-up. */
void pub_event(struct pub *p, int level, int answer, const char *text)
{
	pthread_mutex_lock(&p->mu);
	if (text)
		pub_event_locked(p, level, answer, "%s", text);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* k took the mock's brokers down or up. */
void pub_mock_down(struct pub *p, int down)
{
	pthread_mutex_lock(&p->mu);
	p->mock_down = down;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* The relay's or the consumer's thread is done. */
void pub_ended(struct pub *p, enum pub_thread which, const char *err)
{
	pthread_mutex_lock(&p->mu);
	int relay = which == PUB_RELAY;
	*(relay ? &p->relay_running : &p->cons_running) = 0;
	if (err) {
		char *e = relay ? p->relay_error : p->cons_error;
		u_copy_line(e, PUB_TEXT, err);
		pub_event_locked(p, VIEW_ERROR, 0, "%s: stopped: %s", relay ? "relay" : "consumer", err);
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* Adds a sample and returns the rate per second over the samples held. */
static double pub_rate_add(struct pub_rate *r, int64_t now, uint64_t c)
{
	r->i = (r->i + 1) % PUB_RATE_N;
	r->t[r->i] = now;
	r->c[r->i] = c;
	if (r->n < PUB_RATE_N)
		r->n++;
	int old = (r->i - (r->n - 1) + PUB_RATE_N) % PUB_RATE_N;
	int64_t dt = now - r->t[old];
	if (dt <= 0 || c < r->c[old])
		return 0;
	double v = (double)(c - r->c[old]) * 1e6 / (double)dt;
	return (double)(int64_t)(v * 10 + 0.5) / 10; /* 0.1 steps keep idle frames still */
}

/* Writes one byte to the wake pipe; a full pipe already wakes the reader. */
static void pub_wake(struct pub *p)
{
	char c = 1;
	ssize_t r = write(p->cfg.wake_fd, &c, 1);
	(void)r;
}

/* Applies one command (caller holds mu). */
static void pub_command(struct pub *p, struct pub_ticks *ps, const struct u_cmd *c)
{
	char a[32], b[32];
	switch (c->cmd) {
	case PUB_WINDOW: {
		int64_t size = c->i, slide = c->j ? c->j : c->i;
		if (size < 1 || size * 1000000 > p->cfg.horizon_us || slide < 1 || slide > size) {
			pub_event_locked(p, VIEW_WARN, 0, "window %s: outside 1s..the horizon",
			                 u_fmt_duration(size * 1000000, a, sizeof a));
			break;
		}
		p->window_s = size;
		p->slide_s = slide;
		if (slide == size)
			pub_event_locked(p, VIEW_INFO, 0, "window %s tumbling",
			                 u_fmt_duration(size * 1000000, a, sizeof a));
		else
			pub_event_locked(p, VIEW_INFO, 0, "window %s hopping every %s",
			                 u_fmt_duration(size * 1000000, a, sizeof a),
			                 u_fmt_duration(slide * 1000000, b, sizeof b));
		break;
	}
	case PUB_REBUILD:
		ps->rebuild = 1;
		pub_event_locked(p, VIEW_INFO, 0, "rebuilding the windows");
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
static void pub_notes_locked(struct pub *p, struct pub_ticks *ps, const struct pub_stage *s)
{
	int64_t now = u_mono_us();
	if (now - ps->note_at < PUB_NOTE_US)
		return; /* the last one stays readable first */
	ps->note_at = now;
	if (strcmp(s->cons.problem, ps->problem)) {
		snprintf(ps->problem, sizeof ps->problem, "%s", s->cons.problem);
		if (ps->problem[0])
			pub_event_locked(p, VIEW_WARN, 0, "windows: %s", ps->problem);
	} else if (s->cons.lost != ps->lost) {
		ps->lost = s->cons.lost;
		pub_event_locked(p, VIEW_WARN, 0, "kafka: lost to retention: %s%s", s->cons.lost_text,
		                 s->foreign[0] ? "" : "; filled in from MySQL");
	} else if (strcmp(s->cons.note, ps->note)) {
		snprintf(ps->note, sizeof ps->note, "%s", s->cons.note);
		if (ps->note[0])
			pub_event_locked(p, VIEW_INFO, 0, "windows: %s", ps->note);
	} else {
		ps->note_at = 0; /* nothing shown: the next one goes at once */
	}
}

/* Fills the status line: conditions first, then a fresh event, then the relay's state. */
static void pub_status(struct pub *p, struct pub_stage *s, int64_t now)
{
	char a[32];
	const struct pub_msg *an = &p->msg[1], *em = &p->msg[0];
	const char *ev = em->at && now - em->at < PUB_EVENT_US ? em->text : "";
	int lvl = VIEW_INFO;
	char out[PUB_TEXT * 2];
	if (an->at && now - an->at < PUB_EVENT_US) { /* a key's answer, even while something is down */
		u_copy_line(out, sizeof out, an->text);
		lvl = an->level;
	} else if (s->mysql == INJR_DOWN) {
		/* the problem and its fix first: a narrow status line cuts the end */
		snprintf(out, sizeof out, "mysql: down: %s; inject and relay wait",
		         s->inject_error);
		lvl = VIEW_ERROR;
	} else if (s->kafka == PROBE_DOWN && s->foreign[0]) {
		snprintf(out, sizeof out, "kafka: unreachable (%s)", s->probe_error);
		lvl = VIEW_ERROR;
	} else if (s->kafka == PROBE_DOWN) {
		snprintf(out, sizeof out, "kafka: unreachable, %s rows waiting (%s)",
		         u_fmt_count(stage_backlog(s), a, sizeof a), s->probe_error);
		lvl = VIEW_ERROR;
	} else if (*ev) {
		snprintf(out, sizeof out, "%s", ev);
		lvl = em->level;
	} else if (s->relay_error[0]) {
		snprintf(out, sizeof out, "relay: stopped: %s", s->relay_error);
		lvl = VIEW_ERROR;
	} else if (s->cons_error[0]) {
		snprintf(out, sizeof out, "consumer: stopped: %s", s->cons_error);
		lvl = VIEW_ERROR;
	} else if (s->relay.last_error[0] && (!s->relay.mysql_ok || !s->relay.kafka_ok)) {
		snprintf(out, sizeof out, "relay: %s", s->relay.last_error);
		lvl = VIEW_WARN;
	} else if (s->foreign[0]) {
		snprintf(out, sizeof out, "watching %s: %s messages read", s->topic,
		         u_fmt_count((long long)s->cons.consumed, a, sizeof a));
	} else if (s->relay.state[0]) {
		snprintf(out, sizeof out, "relay: %s (%s rows relayed)", s->relay.state,
		         u_fmt_count((long long)s->relay.relayed, a, sizeof a));
	} else {
		snprintf(out, sizeof out, "starting");
	}
	u_copy_line(s->status, sizeof s->status, out);
	s->status_level = lvl;
}

/* Copies what the publisher keeps under mu into the stage (caller holds mu). */
static void pub_gather_locked(struct pub *p, struct pub_stage *s)
{
	s->set.window_s = p->window_s;
	s->set.slide_s = p->slide_s;
	s->relay_running = p->relay_running;
	s->mock_down = p->mock_down;
	memcpy(s->relay_error, p->relay_error, sizeof s->relay_error);
	s->cons_running = p->cons_running;
	memcpy(s->cons_error, p->cons_error, sizeof s->cons_error);
}

/* Copies the sources' figures into the stage (no lock of the publisher's held). */
static void pub_gather_sources(struct pub *p, struct pub_stage *s)
{
	if (p->cfg.injr) { /* a foreign topic's monitor has neither injector nor relay */
		struct injr_figures f;
		injr_get(p->cfg.injr, &f);
		s->set.batch = f.batch;
		s->set.rate = f.rate;
		s->set.auto_on = f.auto_on;
		s->mysql = f.health;
		s->injected = f.injected;
		s->last_batch = f.last_batch;
		s->held = f.held;
		s->held_left_us = f.held_left_us;
		memcpy(s->inject_error, f.error, sizeof s->inject_error);
	}
	if (p->cfg.relay)
		relay_stats(p->cfg.relay, &s->relay);
	if (p->ts) {
		if (s->relay.progress_known) /* the backlog is counted above it */
			tstats_set_progress(p->ts, s->relay.progress);
		tstats_get(p->ts, &s->tables);
	}
	cons_stats(p->cfg.cons, &s->cons);
	s->nparts = probe_parts(p->cfg.probe, &s->cons, s->parts, &s->kafka, s->probe_error,
	                        sizeof s->probe_error);
}

/* Each store's events held over the whole horizon: one window wider than any epoch second
   (ws_windows clamps it to the held seconds), matched to s->stores by id, since a store seen
   between the two reads would shift the indexes. */
static void pub_totals(struct pub *p, struct pub_stage *s)
{
	struct ws_window all;
	uint32_t ids[WS_MAX_STORES];
	int n = 0;
	memset(s->total, 0, sizeof s->total);
	if (cons_view(p->cfg.cons, 1LL << 39, 0, &all, 1, ids, &n, NULL, NULL) != 1)
		return;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < s->nstores; j++)
			if (s->stores[j] == ids[i])
				s->total[j] = all.counts[i];
}

/* The row labels: a foreign topic's name the column and the value each store id stands for;
   the "other" row (the stores or values beyond the top ones by count, any topic) says how
   many values it holds, and "table full" once values beyond those tracked were counted. */
static void pub_labels(struct pub *p, struct pub_stage *s)
{
	memset(s->labels, 0, sizeof s->labels);
	for (int i = 0; i < s->nstores && i < WS_MAX_STORES; i++) {
		char t[VIEW_LABEL], l[VIEW_LABEL * 3];
		if (s->stores[i] == WS_OTHER) {
			int n = s->ws.tracked - i - (s->cons.untracked > 0); /* rows 0..i-1: one each */
			snprintf(l, sizeof l, "other (%d values%s)", n > 0 ? n : 0,
				 s->cons.untracked ? ", table full" : "");
			u_copy_line(s->labels[i], VIEW_LABEL, l);
			continue;
		}
		if (!s->foreign[0])
			continue; /* "store N" */
		int k = cons_label(p->cfg.cons, s->stores[i], t, sizeof t);
		if (k == 2)
			snprintf(l, sizeof l, "%s", t);
		else if (k)
			snprintf(l, sizeof l, "%s %s", s->group_by, t);
		else
			snprintf(l, sizeof l, "%s %u", s->group_by, s->stores[i]);
		u_copy_line(s->labels[i], VIEW_LABEL, l); /* cut to the label's room */
	}
}

/* Judges the check thread's latest round: equal, catching up, or a mismatch that stayed
 * through two rounds with nothing on its way (the consumer idle during the whole count, the
 * relay caught up, Kafka up). */
static void pub_check(struct pub *p, struct pub_ticks *ps, struct pub_stage *s)
{
	struct view_check *k = &s->check;
	struct chk_figures f;
	if (!p->chk) {
		memset(k, 0, sizeof *k);
		return;
	}
	chk_get(p->chk, &f);
	u_copy_line(k->error, sizeof k->error, f.error);
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
	             stage_backlog(s) > 0 || s->relay.inflight > 0 || s->relay.gap_id ||
	             s->kafka == PROBE_DOWN || s->cons.rebuilding || !s->cons.caught_up;
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

/* A pane's title note: the first condition that holds, down, stopped or connecting (the
   order of enum view_cap_alert and view_kaf_alert), else 0. */
static int view_alert(int down, int stopped, int connecting)
{
	return down ? 1 : stopped ? 2 : connecting ? 3 : 0;
}

/* The capture pane's view. */
static void view_fill_capture(struct view_capture *v, const struct pub_stage *s)
{
	const struct relay_stats *r = &s->relay;
	memset(v, 0, sizeof *v);
	if (s->foreign[0]) {
		snprintf(v->foreign, sizeof v->foreign, "%s", s->foreign);
		return;
	}
	v->alert = view_alert(s->mysql == INJR_DOWN ||
	                          (s->relay_running && r->state[0] && !r->mysql_ok),
	                      !s->relay_running && s->relay_error[0], s->mysql == INJR_UNKNOWN);
	v->binlog = r->binlog;
	v->customers = s->tables.customers;
	v->last_batch = s->last_batch;
	v->change_rows = s->tables.change_rows;
	v->cursor = r->cursor;
	v->backlog = stage_backlog(s);
	v->oldest_us = s->capture_binlog ? 0 : s->tables.oldest_us;
	v->gap_id = r->gap_id;
	v->gap_wait_left_us = r->gap_wait_left_us;
	v->skipped = r->skipped;
	snprintf(v->binlog_read, sizeof v->binlog_read, "%s", r->binlog_read);
	if (s->tables.valid && s->tables.server_pos.file[0]) {
		blc_pos_fmt(&s->tables.server_pos, v->binlog_server, sizeof v->binlog_server);
		v->binlog_lag_bytes = !strcmp(r->binlog_read_file, s->tables.server_pos.file)
		                          ? (int64_t)s->tables.server_pos.pos - (int64_t)r->binlog_read_pos
		                          : -1;
	}
	v->binlog_lag_s = r->binlog_lag_s;
	v->inject_rate = s->inject_rate;
	v->relay_rate = r->rate;
	v->auto_on = s->set.auto_on;
	v->rate = s->set.rate;
	v->progress = r->progress;
	v->inflight = r->inflight;
	v->resent = r->resent;
}

/* The kafka pane's view. */
static void view_fill_kafka(struct view_kafka *v, const struct pub_stage *s)
{
	memset(v, 0, sizeof *v);
	v->alert = view_alert(s->kafka == PROBE_DOWN, !s->cons_running && s->cons_error[0],
	                      s->kafka == PROBE_UNKNOWN);
	v->nparts = s->nparts;
	for (int p = 0; p < s->nparts; p++) {
		const struct probe_part *pp = &s->parts[p];
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
static void view_fill_hist(struct view_hist *v, const struct pub_stage *s)
{
	memset(v, 0, offsetof(struct view_hist, win));
	v->window_s = s->set.window_s;
	v->horizon_us = s->horizon_us;
	v->nstores = s->nstores;
	memcpy(v->stores, s->stores, sizeof v->stores);
	memcpy(v->labels, s->labels, sizeof v->labels); /* cdctop's topic: "other" only */
	if (s->foreign[0]) {
		v->foreign = 1;
		v->updates = s->cons.updates;
		v->deletes = s->cons.deletes;
		v->skipped = s->cons.skipped;
	}
	v->late = s->ws.late;
	v->rejected = s->cons.rejected > s->ws.rejected ? s->cons.rejected : s->ws.rejected;
	v->duplicates =
	    s->cons.duplicates > s->ws.duplicates ? s->cons.duplicates : s->ws.duplicates;
	memcpy(v->late_per_store, s->ws.late_per_store, sizeof v->late_per_store);
	memcpy(v->total, s->total, sizeof v->total);
	v->check = s->check;
	v->nwin = s->nwin;
	for (int k = 0; k < s->nwin; k++) {
		struct view_window *w = &v->win[k];
		w->start_s = s->win[k].start_s;
		w->end_s = s->win[k].end_s;
		w->final = s->win[k].final;
		w->late = s->win[k].late;
		memcpy(w->counts, s->win[k].counts, sizeof w->counts);
	}
}

/* The view of the header, the status line and the key hints. */
static void view_fill_status(struct view_status *v, const struct pub_stage *s)
{
	memset(v, 0, sizeof *v);
	snprintf(v->mysql_label, sizeof v->mysql_label, "%s", s->mysql_label);
	snprintf(v->kafka_label, sizeof v->kafka_label, "%s", s->kafka_label);
	snprintf(v->topic, sizeof v->topic, "%s", s->topic);
	v->capture_binlog = s->capture_binlog;
	v->foreign = s->foreign[0] != 0;
	v->set = s->set;
	snprintf(v->text, sizeof v->text, "%s", s->status);
	v->level = s->status_level;
}

/* The glance line's view: a count per hop, what waits between. */
static void view_fill_glance(struct view_glance *v, const struct pub_stage *s)
{
	const struct relay_stats *r = &s->relay;
	memset(v, 0, sizeof *v);
	v->foreign = s->foreign[0] != 0;
	v->binlog = r->binlog;
	v->injected = s->injected;
	v->held = s->held;
	v->held_left_us = s->held_left_us;
	v->customers = s->tables.customers;
	v->change_rows = s->tables.change_rows;
	v->backlog = stage_backlog(s);
	v->gap_id = r->gap_id;
	v->gap_wait_left_us = r->gap_wait_left_us;
	v->relayed = r->relayed;
	v->inflight = r->inflight;
	v->mock_down = s->mock_down;
	v->kafka_down = s->kafka == PROBE_DOWN;
	for (int p = 0; p < s->nparts; p++) {
		const struct probe_part *pp = &s->parts[p];
		if (pp->high >= 0 && pp->low >= 0)
			v->topic += pp->high - pp->low;
		if (pp->lag > 0)
			v->lag += pp->lag;
	}
	v->consumed = s->cons.consumed;
	v->counted = s->cons.counted;
	v->duplicates =
	    s->cons.duplicates > s->ws.duplicates ? s->cons.duplicates : s->ws.duplicates;
}

#define PUB_SAME(a, b, f) (memcmp(&(a)->f, &(b)->f, sizeof(a)->f) == 0)

/* Publishes the stage: fills each pane's view, bumps the generation of each view that
   changed, and wakes the UI. */
static void pub_publish(struct pub *p, const struct pub_stage *s)
{
	struct view_snap *n = &p->next;
	view_fill_capture(&n->capture, s);
	view_fill_kafka(&n->kafka, s);
	view_fill_hist(&n->hist, s);
	view_fill_status(&n->status, s);
	view_fill_glance(&n->glance, s);
	pthread_mutex_lock(&p->snap_mu);
	struct view_snap *o = &p->snap;
	int first = o->gen == 0;
	int cap = first || !PUB_SAME(n, o, capture);
	int kaf = first || !PUB_SAME(n, o, kafka);
	int hist = first || memcmp(&n->hist, &o->hist, view_hist_size(&n->hist)) != 0;
	int st = first || !PUB_SAME(n, o, status);
	int gl = first || !PUB_SAME(n, o, glance);
	if (!(cap || kaf || hist || st || gl)) {
		pthread_mutex_unlock(&p->snap_mu);
		return;
	}
	n->gen = o->gen + 1;
	n->gen_capture = o->gen_capture + (uint64_t)cap;
	n->gen_kafka = o->gen_kafka + (uint64_t)kaf;
	n->gen_hist = o->gen_hist + (uint64_t)hist;
	n->gen_status = o->gen_status + (uint64_t)st;
	n->gen_glance = o->gen_glance + (uint64_t)gl;
	memcpy(o, n, view_snap_size(n)); /* the windows past nwin are never read */
	pthread_mutex_unlock(&p->snap_mu);
	pub_wake(p);
}

/* The publisher thread: commands, then figures, about ten times a second. */
void *pub_main(void *arg)
{
	struct pub *p = arg;
	pthread_setname_np(pthread_self(), "cdctop:publish");
	struct pub_stage *s = &p->stage;
	struct pub_ticks ps;
	memset(&ps, 0, sizeof ps);
	ps.view_size = ps.view_slide = -1;
	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		struct u_cmd c;
		while (u_cmdq_pop(&p->q, &c))
			pub_command(p, &ps, &c);
		pub_gather_locked(p, s);
		int rebuild = ps.rebuild;
		ps.rebuild = 0;
		pthread_mutex_unlock(&p->mu);

		if (rebuild)
			cons_rebuild(p->cfg.cons);
		int64_t now = u_mono_us();
		pub_gather_sources(p, s);
		s->inject_rate = pub_rate_add(&ps.inj_rate, now, s->injected);
		/* rows written, rows the relay handed to Kafka, messages Kafka acknowledged: the
		   same 2 s window, so the three agree over a batch (no relay figure decaying on
		   after it, no produce figure while nothing is acknowledged) */
		s->relay.rate = pub_rate_add(&ps.relay_rate, now, s->relay.produced);
		s->produce_rate = pub_rate_add(&ps.prod_rate, now, s->relay.relayed);
		uint64_t sig = pub_sig(&s->cons);
		const struct view_settings *set = &s->set;
		if (sig != ps.view_sig || set->window_s != ps.view_size ||
		    set->slide_s != ps.view_slide || now - ps.view_at >= PUB_VIEW_US || rebuild) {
			s->nwin = cons_view(p->cfg.cons, set->window_s,
			                    set->slide_s == set->window_s ? 0 : set->slide_s, s->win,
			                    PUB_MAX_WINDOWS, s->stores, &s->nstores, &s->ws,
			                    &s->watermark_us);
			if (s->nwin < 0)
				s->nwin = 0;
			pub_totals(p, s);
			pub_labels(p, s);
			ps.view_sig = sig;
			ps.view_size = set->window_s;
			ps.view_slide = set->slide_s;
			ps.view_at = now;
		}
		pub_check(p, &ps, s);

		pthread_mutex_lock(&p->mu);
		pub_notes_locked(p, &ps, s);
		pub_status(p, s, now);
		pthread_mutex_unlock(&p->mu);
		pub_publish(p, s);
		pthread_mutex_lock(&p->mu);
		if (!p->q.len && !p->stopping)
			u_cond_wait_until(&p->cond, &p->mu, now + PUB_TICK_US);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Copies the published snapshot if it is newer than have (only the windows in use). */
uint64_t pub_snapshot(struct pub *p, struct view_snap *dst, uint64_t have)
{
	pthread_mutex_lock(&p->snap_mu);
	uint64_t gen = p->snap.gen;
	if (gen != have)
		memcpy(dst, &p->snap, view_snap_size(&p->snap));
	pthread_mutex_unlock(&p->snap_mu);
	return gen;
}

/* Queues a command for the publisher thread; never waits for it. */
int pub_send(struct pub *p, enum pub_cmd cmd, int64_t i, int64_t j)
{
	pthread_mutex_lock(&p->mu);
	int rc = p->stopping ? -1 : u_cmdq_push(&p->q, (struct u_cmd){(int)cmd, i, j, 0});
	if (!rc)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void pub_stop(struct pub *p)
{
	u_cond_raise(&p->mu, &p->cond, &p->stopping);
}

void pub_free(struct pub *p)
{
	if (!p)
		return;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->snap_mu);
	free(p);
}
