/*
 * winstore.c - the window store: a ring of per-second uint32 buckets per store (allocated when
 * the store is first seen, horizon_s long, slots kept sorted by store id; up to ws_max_tracked
 * of them), one ring of all stores' sums (so the row of the stores a view does not show one by
 * one is a difference), each store's sum over its ring (the ranking of ws_stores), a sorted
 * interval set of seen log ids, and the watermark. Run by whichever single thread owns the struct ws
 * (the consumer); callers that share it across threads lock around it. Must never do I/O,
 * take a lock, or allocate per event: memory grows only with new stores and id gaps.
 */
#include "winstore.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define US_PER_S   1000000
#define WS_MAX_ARG (1LL << 40) /* largest window size or slide ws_windows accepts */

/* One run of seen log ids, [lo, hi] inclusive. */
struct ws_iv {
	int64_t lo, hi;
};

struct ws {
	int64_t horizon;   /* ring length in seconds */
	int64_t lateness;  /* us, >= 0 */
	int64_t cap;       /* event time the watermark may follow, us */
	int64_t wm;        /* watermark, us; INT64_MIN before any event */
	int64_t max_us;    /* max event time added; INT64_MIN before any event */
	int64_t max_sec;   /* its second: the ring's newest */
	int64_t max_idx;   /* ring index of max_sec */
	int64_t first_sec; /* oldest second ever added (the ring may have dropped it) */
	int64_t clock_us;  /* the source's clock (ws_set_clock); INT64_MIN before any */
	int has_time;      /* the ring has a newest second: an event or the clock set it */

	int nstores, max_tracked;
	uint32_t ids[WS_MAX_TRACKED]; /* ascending */
	uint32_t *ring[WS_MAX_TRACKED];
	uint64_t late[WS_MAX_TRACKED];
	uint64_t tot[WS_MAX_TRACKED]; /* the sum of each ring */
	uint32_t *all_ring;  /* events added per second, all stores */
	uint32_t *late_ring; /* late events per second, all stores: where they belonged */
	int hit_slot; /* slot of the last store looked up, or -1 */

	struct ws_iv *iv; /* sorted, disjoint, never adjacent */
	size_t niv, iv_cap;

	uint64_t added, duplicates, nlate, expired, rejected;
};

/* floor(a / b) for b > 0. */
static int64_t ws_fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* a - b for b >= 0, saturating at INT64_MIN. */
static int64_t ws_sub_sat(int64_t a, int64_t b)
{
	return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* 1 if run a ends right before b starts (b == a + 1 without overflow). */
static int ws_adjacent(int64_t a, int64_t b)
{
	return a != INT64_MAX && a + 1 == b;
}

/* Moves the watermark up to min(max event, cap) - lateness if that is higher. */
static void ws_wm_update(struct ws *w)
{
	if (w->max_us != INT64_MIN) {
		int64_t t = w->max_us < w->cap ? w->max_us : w->cap;
		int64_t c = ws_sub_sat(t, w->lateness);
		if (c > w->wm)
			w->wm = c;
	}
	if (w->clock_us != INT64_MIN) { /* the source said no older row is still to come */
		int64_t c = ws_sub_sat(w->clock_us, w->lateness);
		if (c > w->wm)
			w->wm = c;
	}
}

/* Clears the time state and every counter; frees store rings and the id set. */
static void ws_clear(struct ws *w)
{
	for (int i = 0; i < w->nstores; i++)
		free(w->ring[i]);
	free(w->iv);
	w->iv = NULL;
	w->niv = w->iv_cap = 0;
	w->nstores = 0;
	w->hit_slot = -1;
	memset(w->late, 0, sizeof(w->late));
	memset(w->tot, 0, sizeof(w->tot));
	if (w->late_ring)
		memset(w->late_ring, 0, (size_t)w->horizon * sizeof(uint32_t));
	if (w->all_ring)
		memset(w->all_ring, 0, (size_t)w->horizon * sizeof(uint32_t));
	w->clock_us = INT64_MIN;
	w->has_time = 0;
	w->cap = INT64_MAX;
	w->wm = INT64_MIN;
	w->max_us = INT64_MIN;
	w->max_sec = w->max_idx = w->first_sec = 0;
	w->added = w->duplicates = w->nlate = w->expired = w->rejected = 0;
}

struct ws *ws_new(int64_t horizon_s, int64_t lateness_us)
{
	if (horizon_s < 1 || horizon_s > WS_MAX_HORIZON_S)
		return NULL;
	struct ws *w = u_calloc(1, sizeof(*w));
	w->horizon = horizon_s;
	w->lateness = lateness_us > 0 ? lateness_us : 0;
	int64_t fit = WS_TRACK_BYTES / (horizon_s * (int64_t)sizeof(uint32_t));
	w->max_tracked = fit > WS_MAX_TRACKED ? WS_MAX_TRACKED
	                 : fit < WS_MAX_STORES ? WS_MAX_STORES
	                                       : (int)fit;
	w->late_ring = u_calloc((size_t)horizon_s, sizeof(uint32_t));
	w->all_ring = u_calloc((size_t)horizon_s, sizeof(uint32_t));
	ws_clear(w);
	return w;
}

void ws_free(struct ws *w)
{
	if (!w)
		return;
	ws_clear(w);
	free(w->late_ring);
	free(w->all_ring);
	free(w);
}

void ws_reset(struct ws *w)
{
	ws_clear(w);
}

void ws_set_lateness(struct ws *w, int64_t lateness_us)
{
	w->lateness = lateness_us > 0 ? lateness_us : 0;
	ws_wm_update(w);
}

int64_t ws_lateness_us(const struct ws *w)
{
	return w->lateness;
}

int64_t ws_horizon_s(const struct ws *w)
{
	return w->horizon;
}

void ws_set_time_cap(struct ws *w, int64_t cap_us)
{
	w->cap = cap_us;
	ws_wm_update(w);
}

int64_t ws_watermark_us(const struct ws *w)
{
	return w->wm;
}

int64_t ws_max_event_us(const struct ws *w)
{
	return w->max_us;
}

/* Inserts a run at position i of the id set, growing it if full. */
static void ws_iv_insert(struct ws *w, size_t i, int64_t id)
{
	if (w->niv == w->iv_cap) {
		w->iv_cap = w->iv_cap ? w->iv_cap * 2 : 16;
		w->iv = u_realloc(w->iv, w->iv_cap * sizeof(*w->iv));
	}
	memmove(&w->iv[i + 1], &w->iv[i], (w->niv - i) * sizeof(*w->iv));
	w->iv[i].lo = w->iv[i].hi = id;
	w->niv++;
}

/* 1 if id is in the seen set; otherwise adds it (merging neighbours) and returns 0. */
static int ws_seen_or_mark(struct ws *w, int64_t id)
{
	size_t n = w->niv;
	if (n > 0) { /* fast path: ids arrive mostly in order */
		struct ws_iv *last = &w->iv[n - 1];
		if (id > last->hi) {
			if (ws_adjacent(last->hi, id))
				last->hi = id;
			else
				ws_iv_insert(w, n, id);
			return 0;
		}
		if (id >= last->lo)
			return 1;
	}
	size_t a = 0, b = n; /* first run with lo > id */
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (w->iv[m].lo > id)
			b = m;
		else
			a = m + 1;
	}
	struct ws_iv *left = a > 0 ? &w->iv[a - 1] : NULL;
	struct ws_iv *right = a < n ? &w->iv[a] : NULL;
	if (left && id <= left->hi)
		return 1;
	int ml = left && ws_adjacent(left->hi, id);
	int mr = right && ws_adjacent(id, right->lo);
	if (ml && mr) {
		left->hi = right->hi;
		memmove(right, right + 1, (n - a - 1) * sizeof(*w->iv));
		w->niv--;
	} else if (ml) {
		left->hi = id;
	} else if (mr) {
		right->lo = id;
	} else {
		ws_iv_insert(w, a, id);
	}
	return 0;
}

/* The slot of store id, created (sorted by id) if new; -1 when all slots are taken. */
static int ws_slot(struct ws *w, uint32_t id)
{
	if (w->hit_slot >= 0 && w->ids[w->hit_slot] == id)
		return w->hit_slot;
	int a = 0, b = w->nstores; /* first slot with ids >= id */
	while (a < b) {
		int m = a + (b - a) / 2;
		if (w->ids[m] < id)
			a = m + 1;
		else
			b = m;
	}
	if (a < w->nstores && w->ids[a] == id)
		return w->hit_slot = a;
	if (w->nstores == w->max_tracked)
		return -1;
	int tail = w->nstores - a;
	memmove(&w->ids[a + 1], &w->ids[a], tail * sizeof(w->ids[0]));
	memmove(&w->ring[a + 1], &w->ring[a], tail * sizeof(w->ring[0]));
	memmove(&w->late[a + 1], &w->late[a], tail * sizeof(w->late[0]));
	memmove(&w->tot[a + 1], &w->tot[a], tail * sizeof(w->tot[0]));
	w->ids[a] = id;
	w->ring[a] = u_calloc((size_t)w->horizon, sizeof(uint32_t));
	w->late[a] = w->tot[a] = 0;
	w->nstores++;
	return w->hit_slot = a;
}

/* The ring index of second sec, which must lie in (max_sec - horizon, max_sec]. */
static int64_t ws_index(const struct ws *w, int64_t sec)
{
	int64_t i = w->max_idx - (w->max_sec - sec);
	return i < 0 ? i + w->horizon : i;
}

/* Moves the ring's newest second forward to sec, zeroing the seconds that enter it. */
static void ws_advance(struct ws *w, int64_t sec)
{
	int64_t d = sec - w->max_sec;
	if (d >= w->horizon) {
		for (int s = 0; s < w->nstores; s++)
			memset(w->ring[s], 0, (size_t)w->horizon * sizeof(uint32_t));
		memset(w->tot, 0, sizeof(w->tot));
		memset(w->late_ring, 0, (size_t)w->horizon * sizeof(uint32_t));
		memset(w->all_ring, 0, (size_t)w->horizon * sizeof(uint32_t));
		w->max_idx = (w->max_idx + d % w->horizon) % w->horizon;
	} else {
		int64_t i = w->max_idx;
		for (int64_t k = 0; k < d; k++) {
			if (++i == w->horizon)
				i = 0;
			if (w->all_ring[i]) /* else every store's second is 0 already */
				for (int s = 0; s < w->nstores; s++) {
					w->tot[s] -= w->ring[s][i];
					w->ring[s][i] = 0;
				}
			w->all_ring[i] = 0;
			w->late_ring[i] = 0;
		}
		w->max_idx = i;
	}
	w->max_sec = sec;
}

/* ws_add and ws_add_history: history is never judged late. */
static enum ws_result ws_add_at(struct ws *w, int64_t log_id, uint32_t store_id, int64_t event_us,
				int history)
{
	if (ws_seen_or_mark(w, log_id)) {
		w->duplicates += !history; /* a re-delivery; history already held is not one */
		return WS_DUPLICATE;
	}
	int64_t sec = ws_fdiv(event_us, US_PER_S);
	int started = w->has_time;
	if (started && sec <= w->max_sec - w->horizon) {
		w->expired++;
		return WS_EXPIRED;
	}
	int slot = ws_slot(w, store_id);
	if (slot < 0) {
		w->rejected++;
		return WS_NOROOM;
	}
	if (event_us < w->wm && !history) {
		w->nlate++;
		w->late[slot]++;
		if (started && sec <= w->max_sec) /* always: the watermark is behind the head */
			w->late_ring[ws_index(w, sec)]++;
		return WS_LATE;
	}
	if (!started) {
		w->max_sec = w->first_sec = sec;
		w->max_idx = 0;
		w->has_time = 1;
	} else if (sec > w->max_sec) {
		ws_advance(w, sec);
	} else if (sec < w->first_sec) {
		w->first_sec = sec;
	}
	if (event_us > w->max_us) {
		w->max_us = event_us;
		ws_wm_update(w);
	}
	int64_t at = ws_index(w, sec);
	w->ring[slot][at]++;
	w->all_ring[at]++;
	w->tot[slot]++;
	w->added++;
	return WS_ADDED;
}

enum ws_result ws_add(struct ws *w, int64_t log_id, uint32_t store_id, int64_t event_us)
{
	return ws_add_at(w, log_id, store_id, event_us, 0);
}

int ws_mark_seen(struct ws *w, int64_t log_id)
{
	return ws_seen_or_mark(w, log_id);
}

enum ws_result ws_add_history(struct ws *w, int64_t log_id, uint32_t store_id, int64_t event_us)
{
	return ws_add_at(w, log_id, store_id, event_us, 1);
}

void ws_set_clock(struct ws *w, int64_t clock_us)
{
	if (clock_us <= w->clock_us)
		return;
	w->clock_us = clock_us;
	int64_t sec = ws_fdiv(clock_us, US_PER_S);
	if (!w->has_time) {
		w->max_sec = w->first_sec = sec;
		w->max_idx = 0;
		w->has_time = 1;
	} else if (sec > w->max_sec) {
		ws_advance(w, sec);
	}
	ws_wm_update(w);
}

int64_t ws_clock_us(const struct ws *w)
{
	return w->clock_us;
}

int64_t ws_max_id(const struct ws *w)
{
	return w->niv ? w->iv[w->niv - 1].hi : INT64_MIN;
}

/* The first second the ring holds, and its newest; 0 when it holds no time yet. */
int ws_held(const struct ws *w, int64_t *lo_s, int64_t *hi_s)
{
	if (!w->has_time)
		return 0;
	*lo_s = w->max_sec - w->horizon + 1;
	*hi_s = w->max_sec;
	return 1;
}

uint64_t ws_count_since(const struct ws *w, int64_t from_s)
{
	if (!w->has_time)
		return 0;
	int64_t lo = w->max_sec - w->horizon + 1;
	if (from_s < lo)
		from_s = lo;
	uint64_t n = 0;
	for (int64_t sec = from_s; sec <= w->max_sec; sec++) {
		int64_t i = ws_index(w, sec);
		n += w->all_ring[i];
		n += w->late_ring[i];
	}
	return n;
}

int ws_max_tracked(const struct ws *w)
{
	return w->max_tracked;
}

int ws_tracked(const struct ws *w)
{
	return w->nstores;
}

/* A candidate for a row of its own. */
struct ws_rank {
	uint64_t tot;
	uint32_t id;
	int slot;
};

/* Most events first, then the lower id. */
static int ws_rank_cmp(const void *a, const void *b)
{
	const struct ws_rank *x = a, *y = b;
	if (x->tot != y->tot)
		return x->tot > y->tot ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The rows of ws_stores: each slot's row in row[], the rows' ids in ids[] (WS_MAX_STORES);
   returns the number of rows. When stores are folded, *other is the WS_OTHER row's index
   (the last), else -1. */
static int ws_rows(const struct ws *w, int *row, uint32_t *ids, int *other)
{
	*other = -1;
	if (w->nstores <= WS_MAX_STORES) {
		for (int s = 0; s < w->nstores; s++) {
			row[s] = s;
			ids[s] = w->ids[s];
		}
		return w->nstores;
	}
	struct ws_rank rk[WS_MAX_TRACKED];
	int n = 0;
	for (int s = 0; s < w->nstores; s++) {
		row[s] = WS_MAX_STORES - 1;
		if (w->ids[s] != WS_OTHER)
			rk[n++] = (struct ws_rank){w->tot[s], w->ids[s], s};
	}
	qsort(rk, (size_t)n, sizeof rk[0], ws_rank_cmp);
	for (int k = 0; k < WS_MAX_STORES - 1; k++)
		row[rk[k].slot] = -2; /* shown: numbered in slot (id) order below */
	int r = 0;
	for (int s = 0; s < w->nstores; s++)
		if (row[s] == -2) {
			row[s] = r;
			ids[r++] = w->ids[s];
		}
	ids[r] = WS_OTHER;
	*other = r;
	return r + 1;
}

int ws_stores(const struct ws *w, uint32_t *ids, int max)
{
	int row[WS_MAX_TRACKED], other;
	uint32_t all[WS_MAX_STORES];
	int n = ws_rows(w, row, all, &other);
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		ids[i] = all[i];
	return n > 0 ? n : 0;
}

/* x clamped to [lo, hi]. */
static int64_t ws_clamp(int64_t x, int64_t lo, int64_t hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Ring r's count in each of the n windows of out, into counts[row] (row -1: late), and
   subtracted from counts[sub] when sub >= 0. Held seconds [lo, hi]. Per window, a count is
   prefix(end) - prefix(start); both cursors only move forward. */
static void ws_ring_counts(const struct ws *w, const uint32_t *r, struct ws_window *out, int n,
			   int64_t lo, int64_t hi, int row, int sub)
{
	int64_t c0 = ws_clamp(out[0].start_s, lo, hi + 1);
	int64_t i0 = w->max_idx - (w->max_sec - c0);
	if (i0 < 0)
		i0 += w->horizon;
	int64_t ecur = c0, scur = c0, ei = i0, si = i0;
	uint64_t pe = 0, ps = 0;
	for (int j = 0; j < n; j++) {
		int64_t ce = ws_clamp(out[j].end_s, lo, hi + 1);
		int64_t cs = ws_clamp(out[j].start_s, lo, hi + 1);
		for (; ecur < ce; ecur++) {
			pe += r[ei];
			if (++ei == w->horizon)
				ei = 0;
		}
		for (; scur < cs; scur++) {
			ps += r[si];
			if (++si == w->horizon)
				si = 0;
		}
		if (row >= 0)
			out[j].counts[row] = pe - ps;
		else
			out[j].late = pe - ps;
		if (sub >= 0)
			out[j].counts[sub] -= pe - ps;
	}
}

int ws_windows(const struct ws *w, int64_t size_s, int64_t slide_s, struct ws_window *out, int max)
{
	if (!w->has_time || !out || max <= 0)
		return 0;
	if (slide_s == 0)
		slide_s = size_s;
	if (size_s <= 0 || slide_s < 0 || size_s > WS_MAX_ARG || slide_s > WS_MAX_ARG)
		return 0;
	/* Held seconds [lo, hi]: from the first second added (or the ring's start) to the max. */
	int64_t ring_lo = w->max_sec - w->horizon + 1;
	int64_t lo = w->first_sec > ring_lo ? w->first_sec : ring_lo;
	int64_t hi = w->max_sec;
	/* Window k, [k*slide, k*slide+size), overlaps when k*slide <= hi and its end > lo. */
	int64_t last_k = ws_fdiv(hi, slide_s);
	int64_t first_k = ws_fdiv(lo - size_s + slide_s, slide_s);
	if (first_k > last_k)
		return 0;
	if (last_k - first_k >= max)
		first_k = last_k - max + 1;
	int n = (int)(last_k - first_k + 1);

	for (int j = 0; j < n; j++) {
		struct ws_window *o = &out[j];
		o->start_s = (first_k + j) * slide_s;
		o->end_s = o->start_s + size_s;
		o->final = o->end_s * US_PER_S <= w->wm;
		o->late = 0;
		memset(o->counts, 0, sizeof(o->counts));
	}
	int row[WS_MAX_TRACKED], other;
	uint32_t ids[WS_MAX_STORES];
	ws_rows(w, row, ids, &other);
	if (other >= 0) /* the folded stores: all of them, less the rows shown */
		ws_ring_counts(w, w->all_ring, out, n, lo, hi, other, -1);
	for (int s = 0; s < w->nstores; s++)
		if (other < 0 || row[s] != other)
			ws_ring_counts(w, w->ring[s], out, n, lo, hi, row[s], other);
	ws_ring_counts(w, w->late_ring, out, n, lo, hi, -1, -1);
	return n;
}

void ws_stats(const struct ws *w, struct ws_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->added = w->added;
	out->duplicates = w->duplicates;
	out->late = w->nlate;
	out->expired = w->expired;
	out->rejected = w->rejected;
	int row[WS_MAX_TRACKED], other;
	uint32_t ids[WS_MAX_STORES];
	ws_rows(w, row, ids, &other);
	for (int i = 0; i < w->nstores; i++)
		out->late_per_store[row[i]] += w->late[i];
	out->tracked = w->nstores;
	out->max_tracked = w->max_tracked;
	out->id_intervals = w->niv;
	out->bytes = sizeof(*w) + (size_t)(w->nstores + 2) * (size_t)w->horizon * sizeof(uint32_t) +
	             w->iv_cap * sizeof(*w->iv);
}

/* ---- the checkpoint image ---- */

#define WS_IMG_MAGIC 0x31545357u /* "WST1" */

/* A growing byte buffer for ws_encode. */
struct wbuf {
	uint8_t *p;
	size_t n, cap;
};

static void wb_put(struct wbuf *b, const void *v, size_t n)
{
	if (b->n + n > b->cap) {
		while (b->n + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->p = u_realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, v, n);
	b->n += n;
}

static void wb_i64(struct wbuf *b, int64_t v)
{
	wb_put(b, &v, sizeof v);
}

/* The non-zero seconds of one ring, oldest first, as (age from the head, count) pairs. */
static void wb_ring(struct wbuf *b, const struct ws *w, const uint32_t *r)
{
	size_t at = b->n;
	uint32_t nz = 0;
	wb_put(b, &nz, sizeof nz);
	for (int64_t age = w->horizon - 1; age >= 0; age--) {
		uint32_t v = r[ws_index(w, w->max_sec - age)];
		if (!v)
			continue;
		uint32_t a = (uint32_t)age;
		wb_put(b, &a, sizeof a);
		wb_put(b, &v, sizeof v);
		nz++;
	}
	memcpy(b->p + at, &nz, sizeof nz);
}

void *ws_encode(const struct ws *w, size_t *len)
{
	struct wbuf b = {0};
	uint32_t magic = WS_IMG_MAGIC;
	wb_put(&b, &magic, sizeof magic);
	int64_t head[] = {w->horizon, w->wm, w->max_us, w->max_sec, w->first_sec, w->clock_us,
			  w->has_time, (int64_t)w->added, (int64_t)w->duplicates, (int64_t)w->nlate,
			  (int64_t)w->expired, (int64_t)w->rejected, w->nstores, (int64_t)w->niv};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		wb_i64(&b, head[i]);
	for (int s = 0; s < w->nstores; s++) {
		wb_i64(&b, w->ids[s]);
		wb_i64(&b, (int64_t)w->late[s]);
		if (w->has_time)
			wb_ring(&b, w, w->ring[s]);
	}
	if (w->has_time)
		wb_ring(&b, w, w->late_ring);
	for (size_t i = 0; i < w->niv; i++) {
		wb_i64(&b, w->iv[i].lo);
		wb_i64(&b, w->iv[i].hi);
	}
	*len = b.n;
	return b.p;
}

/* A bounded reader over an image. */
struct rbuf {
	const uint8_t *p;
	size_t n, at;
	int bad;
};

static void rb_get(struct rbuf *b, void *v, size_t n)
{
	if (b->bad || b->n - b->at < n) {
		b->bad = 1;
		memset(v, 0, n);
		return;
	}
	memcpy(v, b->p + b->at, n);
	b->at += n;
}

static int64_t rb_i64(struct rbuf *b)
{
	int64_t v;
	rb_get(b, &v, sizeof v);
	return v;
}

/* Reads one ring written by wb_ring into r (zeroed first). */
static void rb_ring(struct rbuf *b, const struct ws *w, uint32_t *r)
{
	uint32_t nz;
	rb_get(b, &nz, sizeof nz);
	if (nz > (uint64_t)w->horizon)
		b->bad = 1;
	int64_t prev = w->horizon;
	for (uint32_t k = 0; k < nz && !b->bad; k++) {
		uint32_t age, v;
		rb_get(b, &age, sizeof age);
		rb_get(b, &v, sizeof v);
		if ((int64_t)age >= prev) { /* ages strictly decrease */
			b->bad = 1;
			break;
		}
		prev = age;
		r[ws_index(w, w->max_sec - age)] = v;
	}
}

int ws_decode(struct ws *w, const void *img, size_t len, char *err)
{
	struct rbuf b = {img, len, 0, 0};
	uint32_t magic;
	rb_get(&b, &magic, sizeof magic);
	if (b.bad || magic != WS_IMG_MAGIC)
		return u_err(err, "not a window store image");
	int64_t h[14];
	for (int i = 0; i < 14; i++)
		h[i] = rb_i64(&b);
	if (b.bad)
		return u_err(err, "window store image cut short");
	if (h[0] != w->horizon)
		return u_err(err, "made with a horizon of %lld s, not %lld s", (long long)h[0],
			     (long long)w->horizon);
	if (h[12] < 0 || h[12] > w->max_tracked || h[13] < 0 || (uint64_t)h[13] > len / 16 ||
	    (h[6] != 0 && h[6] != 1))
		return u_err(err, "window store image out of range");
	ws_clear(w);
	w->wm = h[1];
	w->max_us = h[2];
	w->max_sec = h[3];
	w->first_sec = h[4];
	w->clock_us = h[5];
	w->has_time = (int)h[6];
	w->max_idx = w->horizon - 1;
	w->added = (uint64_t)h[7];
	w->duplicates = (uint64_t)h[8];
	w->nlate = (uint64_t)h[9];
	w->expired = (uint64_t)h[10];
	w->rejected = (uint64_t)h[11];
	int nst = (int)h[12];
	for (int s = 0; s < nst && !b.bad; s++) {
		int64_t id = rb_i64(&b), late = rb_i64(&b);
		if (id < 0 || id > UINT32_MAX || (s > 0 && (uint32_t)id <= w->ids[s - 1])) {
			b.bad = 1;
			break;
		}
		w->ids[s] = (uint32_t)id;
		w->late[s] = (uint64_t)late;
		w->ring[s] = u_calloc((size_t)w->horizon, sizeof(uint32_t));
		w->nstores = s + 1;
		if (w->has_time)
			rb_ring(&b, w, w->ring[s]);
	}
	if (w->has_time && !b.bad)
		rb_ring(&b, w, w->late_ring);
	for (int s = 0; s < w->nstores && !b.bad; s++) /* the sums follow from the rings */
		for (int64_t i = 0; i < w->horizon; i++) {
			w->tot[s] += w->ring[s][i];
			w->all_ring[i] += w->ring[s][i];
		}
	size_t niv = (size_t)h[13];
	if (!b.bad && niv) {
		w->iv = u_malloc(niv * sizeof(*w->iv));
		w->iv_cap = niv;
		for (size_t i = 0; i < niv && !b.bad; i++) {
			w->iv[i].lo = rb_i64(&b);
			w->iv[i].hi = rb_i64(&b);
			if (w->iv[i].lo > w->iv[i].hi ||
			    (i > 0 && !(w->iv[i - 1].hi < INT64_MAX && w->iv[i - 1].hi + 1 < w->iv[i].lo)))
				b.bad = 1;
			w->niv = i + 1;
		}
	}
	if (!b.bad && b.at != len)
		b.bad = 1;
	if (b.bad) {
		ws_clear(w);
		return u_err(err, "window store image damaged");
	}
	return 0;
}
