/*
 * test_winstore.c - unit tests of the window store (src/winstore.c): window boundaries,
 * hopping, re-windowing totals, watermark and final windows, late, duplicate and expired
 * events, the store-id limit and the top stores' rows, reset, and the memory bound with 10 million events (timed,
 * printed only). Expected counts come from a brute-force count over the events added.
 * Single-threaded, no I/O beyond stdout.
 */
#include "check.h"
#include "util.h"
#include "winstore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S 1000000LL /* microseconds per second */

/* An epoch second aligned to every window size used here (60 s). */
static const int64_t base = 1700000000LL / 3600 * 3600;

/* One event as the test added it, with the reference model's classification (the store's
   answer must be the same). */
struct ev {
	int64_t id;
	uint32_t store;
	int64_t us;
	enum ws_result r;
};

/*
 * The reference model: classifies each event from what the test itself has seen, never from
 * the store's answers. In order: an id seen before is a duplicate; a second at or before
 * (newest second added - horizon) is expired; a new store beyond WS_MAX_TRACKED has no room;
 * an event time below the watermark (max over the events added so far of the newest event time
 * added - lateness) is late; else it is added and moves the newest time and the watermark.
 */
enum { MODEL_IDS = 1 << 16 };
static struct {
	int64_t horizon_s, lateness_us, max_us, wm, min_us; /* min_us: the oldest time added */
	uint32_t stores[WS_MAX_TRACKED];
	int nstores;
	uint64_t added, late, expired, duplicates, noroom;
	unsigned char seen[MODEL_IDS];
} M;

/* Starts the model for a store made by ws_new(horizon_s, lateness_us). */
static void model_new(int64_t horizon_s, int64_t lateness_us)
{
	memset(&M, 0, sizeof M);
	M.horizon_s = horizon_s;
	M.lateness_us = lateness_us > 0 ? lateness_us : 0;
	M.max_us = INT64_MIN;
	M.wm = INT64_MIN;
	M.min_us = INT64_MAX;
}

/* floor(a / b) for b > 0. */
static int64_t fdiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && a < 0);
}

/* The model's classification of one event (and its state after it). */
static enum ws_result model_add(int64_t id, uint32_t store, int64_t us)
{
	CHECK(id >= 0 && id < MODEL_IDS);
	if (M.seen[id]) {
		M.duplicates++;
		return WS_DUPLICATE;
	}
	M.seen[id] = 1;
	int64_t sec = fdiv(us, S);
	if (M.max_us != INT64_MIN && sec <= fdiv(M.max_us, S) - M.horizon_s) {
		M.expired++;
		return WS_EXPIRED;
	}
	int known = 0;
	for (int i = 0; i < M.nstores; i++)
		known |= M.stores[i] == store;
	if (!known) {
		if (M.nstores == WS_MAX_TRACKED) {
			M.noroom++;
			return WS_NOROOM;
		}
		M.stores[M.nstores++] = store;
	}
	if (M.wm != INT64_MIN && us < M.wm) {
		M.late++;
		return WS_LATE;
	}
	M.added++;
	if (us < M.min_us)
		M.min_us = us;
	if (us > M.max_us)
		M.max_us = us;
	if (M.max_us - M.lateness_us > M.wm)
		M.wm = M.max_us - M.lateness_us;
	return WS_ADDED;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64: a small deterministic generator. */
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* The slot of store id in ws_stores() order, or -1. */
static int slot_of(const struct ws *w, uint32_t id)
{
	uint32_t ids[WS_MAX_STORES];
	int n = ws_stores(w, ids, WS_MAX_STORES);
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return i;
	return -1;
}

/* Events of evs added for store in [start_s, end_s), from second from_s on. */
static uint64_t brute(const struct ev *evs, int n, uint32_t store, int64_t from_s, int64_t start_s,
                      int64_t end_s)
{
	uint64_t c = 0;
	if (start_s < from_s)
		start_s = from_s;
	for (int i = 0; i < n; i++)
		if (evs[i].r == WS_ADDED && evs[i].store == store && evs[i].us >= start_s * S &&
		    evs[i].us < end_s * S)
			c++;
	return c;
}

/* Checks every window of a query against the brute-force count; returns the sum of counts. */
static uint64_t check_windows(const struct ws *w, const struct ev *evs, int n, int64_t size,
                              int64_t slide, int *nwin)
{
	static struct ws_window out[4096];
	uint32_t ids[WS_MAX_STORES];
	int ns = ws_stores(w, ids, WS_MAX_STORES);
	int k = ws_windows(w, size, slide, out, 4096);
	/* the model's newest time and watermark, not the store's */
	CHECK_EQ(ws_max_event_us(w), M.max_us);
	CHECK_EQ(ws_watermark_us(w), M.wm);
	int64_t ring_lo = fdiv(M.max_us, S) - M.horizon_s + 1; /* older seconds dropped */
	uint64_t sum = 0;
	int64_t step = slide ? slide : size;
	for (int j = 0; j < k; j++) {
		CHECK_EQ(out[j].end_s - out[j].start_s, size);
		CHECK_EQ(out[j].start_s % step, 0);
		if (j > 0)
			CHECK_EQ(out[j].start_s - out[j - 1].start_s, step);
		CHECK_EQ(out[j].final, out[j].end_s * S <= M.wm);
		for (int s = 0; s < ns; s++) {
			uint64_t want =
			    brute(evs, n, ids[s], ring_lo, out[j].start_s, out[j].end_s);
			if (out[j].counts[s] != want)
				CHECK_EQ(out[j].counts[s], want);
			sum += out[j].counts[s];
		}
	}
	/* The newest window holds the max event time. */
	if (k > 0) {
		int64_t max_s = fdiv(M.max_us, S);
		CHECK(out[k - 1].start_s <= max_s && max_s < out[k - 1].start_s + step);
	}
	*nwin = k;
	return sum;
}

/* How many windows of size (every slide; 0: tumbling) ws_windows must return for the model's
   events: those overlapping [oldest second added or the ring's start, newest second]. */
static int model_nwin(int64_t size, int64_t slide)
{
	int64_t step = slide ? slide : size;
	int64_t hi = fdiv(M.max_us, S), lo = fdiv(M.min_us, S);
	if (lo < hi - M.horizon_s + 1)
		lo = hi - M.horizon_s + 1;
	int64_t first = (fdiv(lo - size, step) + 1) * step, last = fdiv(hi, step) * step;
	return (int)((last - first) / step + 1);
}

/* Adds one event, checks the store's answer against the model's, and records the model's in
   evs[*n]; returns the store's answer. */
static enum ws_result add(struct ws *w, struct ev *evs, int *n, int64_t id, uint32_t store,
                          int64_t us)
{
	enum ws_result want = model_add(id, store, us);
	enum ws_result r = ws_add(w, id, store, us);
	if (r != want)
		CHECK_EQ(r, want);
	evs[*n] = (struct ev){id, store, us, want};
	(*n)++;
	return r;
}

/* Event at a window start belongs to it; event at end - 1us to the window before. */
static void test_tumbling_boundaries(void)
{
	struct ws *w = ws_new(3600, 3600 * S);
	struct ws_window out[8];
	CHECK_EQ(ws_windows(w, 10, 0, out, 8), 0);
	CHECK_EQ(ws_add(w, 1, 1, base * S), WS_ADDED);
	CHECK_EQ(ws_add(w, 2, 1, (base + 10) * S - 1), WS_ADDED);
	CHECK_EQ(ws_add(w, 3, 1, (base + 10) * S), WS_ADDED);
	CHECK_EQ(ws_add(w, 4, 2, base * S - 1), WS_ADDED);
	int n = ws_windows(w, 10, 0, out, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0].start_s, base - 10);
	CHECK_EQ(out[1].start_s, base);
	CHECK_EQ(out[2].start_s, base + 10);
	CHECK_EQ(out[2].end_s, base + 20);
	int s1 = slot_of(w, 1), s2 = slot_of(w, 2);
	CHECK_EQ(s1, 0);
	CHECK_EQ(s2, 1);
	CHECK_EQ(out[0].counts[s1], 0);
	CHECK_EQ(out[0].counts[s2], 1);
	CHECK_EQ(out[1].counts[s1], 2);
	CHECK_EQ(out[1].counts[s2], 0);
	CHECK_EQ(out[2].counts[s1], 1);
	/* slide == size is tumbling too; max keeps the newest windows */
	CHECK_EQ(ws_windows(w, 10, 10, out, 8), 3);
	CHECK_EQ(ws_windows(w, 10, 0, out, 2), 2);
	CHECK_EQ(out[0].start_s, base);
	CHECK_EQ(out[1].start_s, base + 10);
	CHECK_EQ(out[0].counts[s1], 2);
	/* bad arguments */
	CHECK_EQ(ws_windows(w, 0, 0, out, 8), 0);
	CHECK_EQ(ws_windows(w, -10, 0, out, 8), 0);
	CHECK_EQ(ws_windows(w, 10, -1, out, 8), 0);
	CHECK_EQ(ws_windows(w, 10, 0, out, 0), 0);
	ws_free(w);
	/* seconds round down before the epoch too */
	w = ws_new(3600, 3600 * S);
	CHECK_EQ(ws_add(w, 1, 1, -1), WS_ADDED);
	CHECK_EQ(ws_add(w, 2, 1, 0), WS_ADDED);
	CHECK_EQ(ws_add(w, 3, 1, -10 * S), WS_ADDED);
	CHECK_EQ(ws_add(w, 4, 1, -10 * S - 1), WS_ADDED);
	n = ws_windows(w, 10, 0, out, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0].start_s, -20);
	CHECK_EQ(out[0].counts[0], 1);
	CHECK_EQ(out[1].start_s, -10);
	CHECK_EQ(out[1].counts[0], 2);
	CHECK_EQ(out[2].counts[0], 1);
	ws_free(w);
	ws_free(NULL);
	CHECK(ws_new(0, 0) == NULL);
	CHECK(ws_new(WS_MAX_HORIZON_S + 1, 0) == NULL);
}

/* Hopping windows: an event counts in every window containing it. */
static void test_hopping(void)
{
	struct ws *w = ws_new(3600, 3600 * S);
	model_new(3600, 3600 * S);
	static struct ev evs[16];
	int n = 0;
	add(w, evs, &n, 1, 7, base * S);        /* exactly at a start */
	add(w, evs, &n, 2, 7, base * S - 1);    /* just before it */
	add(w, evs, &n, 3, 9, (base + 25) * S); /* mid-window */
	add(w, evs, &n, 4, 9, (base + 40) * S);
	for (int i = 0; i < n; i++)
		CHECK_EQ(evs[i].r, WS_ADDED);
	struct ws_window out[16];
	int k = ws_windows(w, 30, 10, out, 16);
	/* held [base-1, base+40]: windows starting base-30 .. base+40 */
	CHECK_EQ(k, 8);
	CHECK_EQ(out[0].start_s, base - 30);
	CHECK_EQ(out[k - 1].start_s, base + 40);
	int s7 = slot_of(w, 7);
	int in_base = 0, in_before = 0;
	for (int j = 0; j < k; j++) {
		int has_base = out[j].start_s <= base && base < out[j].end_s;
		int has_before = out[j].start_s <= base - 1 && base - 1 < out[j].end_s;
		CHECK_EQ(out[j].counts[s7], has_base + has_before);
		in_base += has_base;
		in_before += has_before;
	}
	CHECK_EQ(in_base, 3);   /* starts base-20, base-10, base */
	CHECK_EQ(in_before, 3); /* starts base-30, base-20, base-10 */
	int nw;
	uint64_t sum = check_windows(w, evs, n, 30, 10, &nw);
	CHECK_EQ(nw, 8);
	CHECK_EQ(sum, 3 * 4);
	/* slide not dividing size, and slide larger than size */
	check_windows(w, evs, n, 30, 20, &nw);
	check_windows(w, evs, n, 10, 25, &nw);
	ws_free(w);
}

/* Re-windowing the same buckets keeps totals and matches brute force. */
static void test_resize_totals(void)
{
	enum { N = 20000 };
	static struct ev evs[N];
	int n = 0;
	struct ws *w = ws_new(3600, 3600 * S);
	model_new(3600, 3600 * S);
	for (int i = 0; i < N; i++) {
		/* roughly increasing over 20 minutes, jittered up to 5 s back */
		int64_t t = base * S + (int64_t)i * (1200 * S / N) - (int64_t)(rng() % (5 * S));
		add(w, evs, &n, i + 1, 1 + (uint32_t)(rng() % 5), t);
	}
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(M.added, N); /* the model: nothing late (lateness = the horizon), none expired */
	CHECK_EQ(st.added, N);
	CHECK_EQ(st.late, 0);
	CHECK_EQ(st.id_intervals, 1);
	int nw;
	CHECK_EQ(check_windows(w, evs, n, 10, 0, &nw), N);
	CHECK_EQ(nw, model_nwin(10, 0));
	CHECK_EQ(check_windows(w, evs, n, 30, 0, &nw), N);
	CHECK_EQ(nw, model_nwin(30, 0));
	CHECK_EQ(check_windows(w, evs, n, 60, 0, &nw), N);
	CHECK_EQ(nw, model_nwin(60, 0));
	CHECK_EQ(check_windows(w, evs, n, 60, 20, &nw), 3 * N);
	CHECK_EQ(nw, model_nwin(60, 20));
	CHECK_EQ(check_windows(w, evs, n, 30, 10, &nw), 3 * N);
	CHECK_EQ(nw, model_nwin(30, 10));
	CHECK_EQ(check_windows(w, evs, n, 10, 0, &nw), N); /* and back */
	CHECK_EQ(nw, model_nwin(10, 0));
	ws_free(w);
}

/* The watermark follows max event - lateness, under a cap, never backwards; final flags. */
static void test_watermark(void)
{
	struct ws *w = ws_new(3600, 60 * S);
	CHECK_EQ(ws_watermark_us(w), INT64_MIN);
	CHECK_EQ(ws_max_event_us(w), INT64_MIN);
	ws_add(w, 1, 1, base * S);
	CHECK_EQ(ws_watermark_us(w), (base - 60) * S);
	ws_add(w, 2, 1, (base + 100) * S);
	CHECK_EQ(ws_max_event_us(w), (base + 100) * S);
	CHECK_EQ(ws_watermark_us(w), (base + 40) * S);
	struct ws_window out[32];
	int k = ws_windows(w, 10, 0, out, 32);
	CHECK_EQ(k, 11);
	int nfinal = 0;
	for (int j = 0; j < k; j++) {
		CHECK_EQ(out[j].final, out[j].end_s <= base + 40);
		nfinal += out[j].final;
	}
	CHECK_EQ(nfinal, 4); /* [base, base+40) */
	CHECK_EQ(out[3].final, 1);
	CHECK_EQ(out[4].final, 0);
	/* hopping windows close on their own ends */
	k = ws_windows(w, 30, 10, out, 32);
	for (int j = 0; j < k; j++)
		CHECK_EQ(out[j].final, out[j].end_s <= base + 40);

	ws_set_lateness(w, 120 * S); /* more lateness: the watermark stays */
	CHECK_EQ(ws_lateness_us(w), 120 * S);
	CHECK_EQ(ws_watermark_us(w), (base + 40) * S);
	ws_set_lateness(w, 10 * S);
	CHECK_EQ(ws_watermark_us(w), (base + 90) * S);
	ws_set_time_cap(w, (base + 50) * S); /* a cap below: the watermark stays */
	CHECK_EQ(ws_watermark_us(w), (base + 90) * S);
	ws_add(w, 3, 1, (base + 200) * S);
	CHECK_EQ(ws_watermark_us(w), (base + 90) * S);
	ws_set_time_cap(w, (base + 150) * S);
	CHECK_EQ(ws_watermark_us(w), (base + 140) * S);
	ws_set_time_cap(w, INT64_MAX);
	CHECK_EQ(ws_watermark_us(w), (base + 190) * S);
	ws_set_lateness(w, -5);
	CHECK_EQ(ws_lateness_us(w), 0);
	CHECK_EQ(ws_watermark_us(w), (base + 200) * S);
	ws_free(w);

	/* a cap set before any event holds the watermark from the start */
	w = ws_new(3600, 5 * S);
	ws_set_time_cap(w, (base + 10) * S);
	CHECK_EQ(ws_watermark_us(w), INT64_MIN);
	for (int i = 0; i < 100; i++)
		ws_add(w, i + 1, 1, (base + i) * S);
	CHECK_EQ(ws_watermark_us(w), (base + 5) * S);
	CHECK_EQ(ws_add(w, 1000, 1, (base + 6) * S), WS_ADDED); /* would be late uncapped */
	ws_set_time_cap(w, INT64_MIN);                          /* saturates, never wraps */
	CHECK_EQ(ws_watermark_us(w), (base + 5) * S);
	ws_free(w);
}

/* Events below the watermark are late: counted per store, never added, judged once. */
static void test_late(void)
{
	static struct ev evs[16];
	int n = 0;
	struct ws *w = ws_new(3600, 60 * S);
	model_new(3600, 60 * S);
	CHECK_EQ(add(w, evs, &n, 10, 1, base * S), WS_ADDED);
	CHECK_EQ(add(w, evs, &n, 1, 1, (base + 100) * S), WS_ADDED);
	int64_t wm = ws_watermark_us(w);
	CHECK_EQ(wm, (base + 40) * S);
	CHECK_EQ(add(w, evs, &n, 2, 2, (base + 30) * S), WS_LATE);
	CHECK_EQ(add(w, evs, &n, 3, 1, wm - 1), WS_LATE);
	CHECK_EQ(add(w, evs, &n, 4, 1, wm), WS_ADDED); /* exactly at the watermark: in time */
	CHECK_EQ(add(w, evs, &n, 2, 2, (base + 30) * S), WS_DUPLICATE);
	CHECK_EQ(add(w, evs, &n, 3, 1, (base + 90) * S), WS_DUPLICATE);
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(st.late, 2);
	CHECK_EQ(st.added, 3);
	CHECK_EQ(st.duplicates, 2);
	CHECK_EQ(slot_of(w, 2), 1); /* a store seen only late is still listed */
	CHECK_EQ(st.late_per_store[slot_of(w, 1)], 1);
	CHECK_EQ(st.late_per_store[slot_of(w, 2)], 1);
	int nw;
	CHECK_EQ(check_windows(w, evs, n, 10, 0, &nw), 3);
	CHECK_EQ(check_windows(w, evs, n, 30, 0, &nw), 3);
	/* final windows never change: a late event is not added to any */
	struct ws_window before[32], after[32];
	int kb = ws_windows(w, 10, 0, before, 32);
	CHECK_EQ(add(w, evs, &n, 5, 1, (base + 45) * S - 1), WS_ADDED);
	CHECK_EQ(add(w, evs, &n, 6, 1, (base + 39) * S), WS_LATE);
	int ka = ws_windows(w, 10, 0, after, 32);
	CHECK_EQ(ka, kb);
	int nfinal = 0, changed = 0;
	for (int j = 0; j < kb && j < ka; j++) {
		nfinal += before[j].final;
		if (memcmp(before[j].counts, after[j].counts, sizeof(before[j].counts)) != 0)
			changed += 1 + before[j].final * 100;
	}
	CHECK_EQ(nfinal, 4);
	CHECK_EQ(changed, 1); /* only the open window [base+40, base+50) */
	ws_free(w);
}

/* Runs in a bitmap, for the interval-set reference. */
static size_t runs(const unsigned char *bits, int n)
{
	size_t r = 0;
	for (int i = 0; i < n; i++)
		if (bits[i] && (i == 0 || !bits[i - 1]))
			r++;
	return r;
}

/* Duplicates are ignored; the seen-id set merges neighbours for any arrival order. */
static void test_duplicates(void)
{
	struct ws *w = ws_new(3600, 3600 * S);
	struct ws_stats st;
	CHECK_EQ(ws_add(w, 5, 1, base * S), WS_ADDED);
	CHECK_EQ(ws_add(w, 5, 1, base * S), WS_DUPLICATE);
	CHECK_EQ(ws_add(w, 5, 2, (base + 3) * S), WS_DUPLICATE);
	ws_stats(w, &st);
	CHECK_EQ(st.added, 1);
	CHECK_EQ(st.duplicates, 2);
	CHECK_EQ(slot_of(w, 2), -1);
	CHECK_EQ(ws_max_event_us(w), base * S);
	ws_free(w);

	/* explicit merges: left, right, both */
	w = ws_new(3600, 3600 * S);
	static const struct {
		int64_t id;
		size_t intervals;
	} steps[] = {{1, 1}, {3, 2}, {5, 3}, {2, 2}, {4, 1},  {10, 2}, {9, 2},
	             {7, 3}, {8, 2}, {6, 1}, {0, 1}, {12, 2}, {11, 1}};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		CHECK_EQ(ws_add(w, steps[i].id, 1, base * S), WS_ADDED);
		ws_stats(w, &st);
		CHECK_EQ(st.id_intervals, steps[i].intervals);
	}
	for (int64_t id = 0; id <= 12; id++)
		CHECK_EQ(ws_add(w, id, 1, base * S), WS_DUPLICATE);
	/* ids at the top of the range merge without overflow */
	CHECK_EQ(ws_add(w, INT64_MAX, 1, base * S), WS_ADDED);
	CHECK_EQ(ws_add(w, INT64_MAX - 1, 1, base * S), WS_ADDED);
	CHECK_EQ(ws_add(w, INT64_MAX, 1, base * S), WS_DUPLICATE);
	ws_stats(w, &st);
	CHECK_EQ(st.id_intervals, 2);
	ws_free(w);

	/* random ids with repeats against a bitmap */
	enum { M = 2000, DRAWS = 10000 };
	static unsigned char bits[M + 1];
	w = ws_new(3600, 3600 * S);
	int bad = 0;
	for (int i = 0; i < DRAWS; i++) {
		int id = 1 + (int)(rng() % M);
		enum ws_result r = ws_add(w, id, 1, base * S);
		if (r != (bits[id] ? WS_DUPLICATE : WS_ADDED))
			bad++;
		bits[id] = 1;
		if (i % 97 == 0) {
			ws_stats(w, &st);
			if (st.id_intervals != runs(bits, M + 1))
				bad++;
		}
	}
	CHECK_EQ(bad, 0);
	ws_stats(w, &st);
	CHECK_EQ(st.id_intervals, runs(bits, M + 1));
	CHECK_EQ(st.added + st.duplicates, DRAWS);
	ws_free(w);

	/* a shuffled permutation ends as one interval; replaying it adds nothing */
	enum { P = 50000 };
	static int64_t perm[P];
	for (int i = 0; i < P; i++)
		perm[i] = i + 1;
	for (int i = P - 1; i > 0; i--) {
		int j = (int)(rng() % (uint64_t)(i + 1));
		int64_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	w = ws_new(3600, 3600 * S);
	size_t most = 0;
	int notadded = 0;
	for (int i = 0; i < P; i++) {
		if (ws_add(w, perm[i], 1 + (uint32_t)(perm[i] % 3), base * S) != WS_ADDED)
			notadded++;
		if (i == P / 2) {
			ws_stats(w, &st);
			most = st.id_intervals;
		}
	}
	CHECK_EQ(notadded, 0);
	CHECK(most > 1000); /* half a random permutation is fragmented */
	ws_stats(w, &st);
	CHECK_EQ(st.id_intervals, 1);
	int notdup = 0;
	for (int i = 0; i < P; i++)
		if (ws_add(w, perm[P - 1 - i], 1, (base + 1) * S) != WS_DUPLICATE)
			notdup++;
	CHECK_EQ(notdup, 0);
	ws_stats(w, &st);
	CHECK_EQ(st.added, P);
	CHECK_EQ(st.duplicates, P);
	struct ws_window out[4];
	CHECK_EQ(ws_windows(w, 10, 0, out, 4), 1);
	CHECK_EQ(out[0].counts[0] + out[0].counts[1] + out[0].counts[2], P);
	ws_free(w);
}

/* Seconds before the ring's start are expired (not late); the ring rolls correctly. */
static void test_expired(void)
{
	static struct ev evs[40000];
	int n = 0;
	struct ws *w = ws_new(60, 3600 * S);
	model_new(60, 3600 * S);
	CHECK_EQ(add(w, evs, &n, 1, 1, (base + 100) * S), WS_ADDED);
	CHECK_EQ(add(w, evs, &n, 2, 1, (base + 41) * S), WS_ADDED); /* ring's first second */
	CHECK_EQ(add(w, evs, &n, 3, 2, (base + 41) * S - 1), WS_EXPIRED);
	CHECK_EQ(add(w, evs, &n, 3, 2, (base + 50) * S), WS_DUPLICATE);
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(st.expired, 1);
	CHECK_EQ(st.late, 0);
	CHECK_EQ(slot_of(w, 2), -1); /* an expired event takes no store slot */
	struct ws_window out[16];
	int k = ws_windows(w, 10, 0, out, 16);
	CHECK_EQ(k, 7);
	CHECK_EQ(out[0].start_s, base + 40);
	CHECK_EQ(out[0].counts[0], 1);
	CHECK_EQ(out[k - 1].start_s, base + 100);
	ws_free(w);

	/* 5 minutes of events through a 60 s ring: small steps and one big jump */
	w = ws_new(60, 3600 * S);
	model_new(60, 3600 * S);
	n = 0;
	int id = 1;
	for (int i = 0; i < 30000; i++) {
		int64_t t = base * S + (int64_t)i * 10000 - (int64_t)(rng() % (2 * S));
		if (i % 1000 == 999)
			t -= 70 * S; /* behind the ring */
		add(w, evs, &n, id++, 1 + (uint32_t)(rng() % 4), t);
	}
	/* the model classified each event (evs[].r) from the newest time it had seen itself */
	int64_t ring_lo = fdiv(M.max_us, S) - 59;
	uint64_t in_ring = 0, expired = 0;
	for (int i = 0; i < n; i++) {
		if (evs[i].r == WS_EXPIRED)
			expired++;
		else if (evs[i].us >= ring_lo * S)
			in_ring++;
	}
	ws_stats(w, &st);
	/* exactly the 30 events sent 70 s back (each more than the 60 s ring behind the newest,
	   jitter 2 s at most); jittered ones never */
	CHECK_EQ(expired, 30);
	CHECK_EQ(M.expired, 30);
	CHECK_EQ(M.late, 0);
	CHECK_EQ(st.expired, 30);
	CHECK_EQ(st.added, 30000 - 30);
	CHECK_EQ(st.late, 0);
	int nw;
	CHECK_EQ(check_windows(w, evs, n, 10, 0, &nw), in_ring);
	CHECK_EQ(nw, 6);
	check_windows(w, evs, n, 30, 10, &nw);
	CHECK_EQ(nw, model_nwin(30, 10));
	/* jump far ahead: everything held before is gone */
	CHECK_EQ(add(w, evs, &n, id++, 1, (base + 10000) * S), WS_ADDED);
	CHECK_EQ(check_windows(w, evs, n, 10, 0, &nw), 1);
	CHECK_EQ(nw, 7); /* [base+9940, base+9950) is partial: the ring starts at base+9941 */
	CHECK_EQ(add(w, evs, &n, id++, 2, (base + 9950) * S), WS_ADDED);
	CHECK_EQ(check_windows(w, evs, n, 10, 0, &nw), 2);
	CHECK_EQ(add(w, evs, &n, id++, 2, (base + 9940) * S), WS_EXPIRED);
	ws_free(w);
}

/* The rows a view must get, computed from the events the test added (not the store's
   state): every tracked store while at most WS_MAX_STORES, else the WS_MAX_STORES - 1 with
   the most events added in seconds [lo_s, hi_s] (ties: the lower id; WS_OTHER never), by id,
   then WS_OTHER. want[r] is each row's count of those events, late[r] its late events. */
struct top_ev {
	uint32_t store;
	int64_t sec;
	enum ws_result r;
};
static int top_rows(const struct top_ev *evs, int n, const uint32_t *tracked, int nt,
		    int64_t lo_s, int64_t hi_s, uint32_t *rows, uint64_t *want, uint64_t *late)
{
	static uint64_t cnt[WS_MAX_TRACKED], lt[WS_MAX_TRACKED];
	static int shown[WS_MAX_TRACKED];
	memset(cnt, 0, sizeof cnt);
	memset(lt, 0, sizeof lt);
	for (int i = 0; i < n; i++)
		for (int t = 0; t < nt; t++)
			if (tracked[t] == evs[i].store) {
				if (evs[i].r == WS_ADDED && evs[i].sec >= lo_s && evs[i].sec <= hi_s)
					cnt[t]++;
				lt[t] += evs[i].r == WS_LATE;
			}
	for (int t = 0; t < nt; t++)
		shown[t] = nt <= WS_MAX_STORES;
	for (int k = 0; nt > WS_MAX_STORES && k < WS_MAX_STORES - 1; k++) {
		int best = -1; /* the best store not yet shown */
		for (int t = 0; t < nt; t++)
			if (!shown[t] && tracked[t] != WS_OTHER &&
			    (best < 0 || cnt[t] > cnt[best] ||
			     (cnt[t] == cnt[best] && tracked[t] < tracked[best])))
				best = t;
		shown[best] = 1;
	}
	/* rows by id; the folded ones (and WS_OTHER) into the last */
	int order[WS_MAX_TRACKED], no = 0;
	for (int t = 0; t < nt; t++)
		order[no++] = t;
	for (int a = 1; a < no; a++) /* insertion sort by id */
		for (int b = a; b > 0 && tracked[order[b - 1]] > tracked[order[b]]; b--) {
			int x = order[b];
			order[b] = order[b - 1];
			order[b - 1] = x;
		}
	int nr = 0, folded = nt > WS_MAX_STORES;
	memset(want, 0, sizeof(uint64_t) * WS_MAX_STORES);
	memset(late, 0, sizeof(uint64_t) * WS_MAX_STORES);
	for (int k = 0; k < no; k++) {
		int t = order[k];
		if (!shown[t])
			continue;
		rows[nr] = tracked[t];
		want[nr] = cnt[t];
		late[nr++] = lt[t];
	}
	if (folded) {
		rows[nr] = WS_OTHER;
		for (int t = 0; t < nt; t++)
			if (!shown[t]) {
				want[nr] += cnt[t];
				late[nr] += lt[t];
			}
		nr++;
	}
	return nr;
}

/* Checks ws_stores, ws_windows (summed over 60 s windows) and ws_stats' late per row against
   top_rows. */
static void check_top(const struct ws *w, const struct top_ev *evs, int n, const uint32_t *tracked,
		      int nt)
{
	int64_t lo, hi;
	CHECK(ws_held(w, &lo, &hi));
	uint32_t rows[WS_MAX_STORES], got[WS_MAX_STORES];
	uint64_t want[WS_MAX_STORES], late[WS_MAX_STORES], sum[WS_MAX_STORES] = {0};
	int nr = top_rows(evs, n, tracked, nt, lo, hi, rows, want, late);
	CHECK_EQ(ws_tracked(w), nt);
	CHECK_EQ(ws_stores(w, got, WS_MAX_STORES), nr);
	int bad = 0;
	for (int r = 0; r < nr; r++)
		bad += got[r] != rows[r];
	CHECK_EQ(bad, 0);
	static struct ws_window out[200];
	int k = ws_windows(w, 60, 0, out, 200);
	CHECK(k > 0 && k < 200);
	for (int j = 0; j < k; j++)
		for (int r = 0; r < nr; r++)
			sum[r] += out[j].counts[r];
	struct ws_stats st;
	ws_stats(w, &st);
	bad = 0;
	for (int r = 0; r < nr; r++)
		bad += sum[r] != want[r] || st.late_per_store[r] != late[r];
	CHECK_EQ(bad, 0);
	CHECK_EQ(st.tracked, nt);
}

/* Many stores: the first ws_max_tracked distinct store ids are counted apart (more are
   rejected), views get the top WS_MAX_STORES - 1 by count in the ring plus WS_OTHER for the
   rest, exactly, as the ring slides; a checkpoint image gives the same rows and counts. */
static void test_many_stores(void)
{
	enum { NS = WS_MAX_TRACKED + 36, NEV = 40000 };
	static uint32_t ids[NS];
	static struct top_ev evs[NEV];
	struct ws *w = ws_new(3600, 3600 * S); /* nothing late until the lateness drops */
	CHECK_EQ(ws_max_tracked(w), WS_MAX_TRACKED);
	struct ws *lw = ws_new(86400, 0); /* long horizons track fewer */
	CHECK_EQ(ws_max_tracked(lw), (int)(WS_TRACK_BYTES / (86400 * 4)));
	ws_free(lw);
	ids[0] = WS_OTHER; /* tracked like any store, always folded into the other row */
	ids[1] = 0;
	for (int i = 2; i < NS; i++) {
		int fresh;
		do {
			ids[i] = (uint32_t)(rng() % 100000);
			fresh = 1;
			for (int j = 0; j < i; j++)
				fresh &= ids[j] != ids[i];
		} while (!fresh);
	}
	int n = 0;
	int64_t id = 1, norooms = 0, want_noroom = 0;
	/* each store once, in order (the first WS_MAX_TRACKED get slots), then skewed: store i
	   gets about NEV / (i + 1) more (a long tail of ties at the boundary) */
	for (int i = 0; i < NS; i++) {
		enum ws_result r = ws_add(w, id++, ids[i], (base + i % 600) * S);
		CHECK_EQ(r, i < WS_MAX_TRACKED ? WS_ADDED : WS_NOROOM);
		evs[n++] = (struct top_ev){ids[i], base + i % 600, r};
		want_noroom += i >= WS_MAX_TRACKED;
	}
	while (n < NEV - 100) {
		int i = (int)(rng() % NS);
		if (rng() % (uint64_t)(i + 1) > 3)
			continue;
		int64_t sec = base + (int64_t)(rng() % 3000);
		enum ws_result r = ws_add(w, id++, ids[i], sec * S);
		CHECK(r == (i < WS_MAX_TRACKED ? WS_ADDED : WS_NOROOM));
		want_noroom += i >= WS_MAX_TRACKED;
		evs[n++] = (struct top_ev){ids[i], sec, r};
	}
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(st.rejected, (uint64_t)want_noroom);
	norooms = (int64_t)st.rejected;
	CHECK(norooms > 0);
	check_top(w, evs, n, ids, WS_MAX_TRACKED);
	/* late events of a shown store and of folded ones (the watermark moves to base+2399 s) */
	ws_set_lateness(w, 600 * S);
	uint32_t rows[WS_MAX_STORES];
	CHECK_EQ(ws_stores(w, rows, WS_MAX_STORES), WS_MAX_STORES);
	CHECK_EQ(rows[WS_MAX_STORES - 1], WS_OTHER);
	uint32_t folded = ids[WS_MAX_TRACKED - 1];
	for (int i = 0; i < 40; i++) {
		uint32_t s = i % 2 ? rows[3] : i % 4 ? folded : WS_OTHER;
		CHECK_EQ(ws_add(w, id++, s, (base + 100) * S), WS_LATE);
		evs[n++] = (struct top_ev){s, base + 100, WS_LATE};
	}
	check_top(w, evs, n, ids, WS_MAX_TRACKED);
	/* a restart: the image restores the same rows, counts and late counts */
	size_t len;
	void *img = ws_encode(w, &len);
	struct ws *r = ws_new(3600, 600 * S);
	char err[U_ERRLEN];
	CHECK_EQ(ws_decode(r, img, len, err), 0);
	free(img);
	check_top(r, evs, n, ids, WS_MAX_TRACKED);
	ws_free(r);
	/* the ring slides: the oldest 2000 s drop out, the ranking follows what is held */
	for (int i = 0; i < 60; i++) {
		uint32_t s = ids[WS_MAX_TRACKED - 1 - i];
		int64_t sec = base + 5600 - i;
		CHECK_EQ(ws_add(w, id++, s, sec * S), WS_ADDED);
		evs[n++] = (struct top_ev){s, sec, WS_ADDED};
	}
	check_top(w, evs, n, ids, WS_MAX_TRACKED);
	ws_free(w);
}

/* Reset forgets everything but the configuration. */
static void test_reset(void)
{
	struct ws *w = ws_new(600, 30 * S);
	for (int i = 0; i < 1000; i++)
		ws_add(w, i + 1, (uint32_t)(i % 4), (base + i / 10) * S);
	ws_add(w, 5000, 1, base * S); /* late */
	ws_set_time_cap(w, (base + 50) * S);
	ws_reset(w);
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(st.added + st.duplicates + st.late + st.expired + st.rejected, 0);
	CHECK_EQ(st.late_per_store[0] + st.late_per_store[1], 0);
	CHECK_EQ(st.id_intervals, 0);
	CHECK_EQ(ws_watermark_us(w), INT64_MIN);
	CHECK_EQ(ws_max_event_us(w), INT64_MIN);
	uint32_t ids[8];
	CHECK_EQ(ws_stores(w, ids, 8), 0);
	struct ws_window out[4];
	CHECK_EQ(ws_windows(w, 10, 0, out, 4), 0);
	CHECK_EQ(ws_lateness_us(w), 30 * S);
	CHECK_EQ(ws_horizon_s(w), 600);
	CHECK_EQ(ws_add(w, 1, 9, (base + 1000) * S), WS_ADDED);
	CHECK_EQ(ws_watermark_us(w), (base + 970) * S); /* the cap was forgotten */
	CHECK_EQ(ws_windows(w, 10, 0, out, 4), 1);
	CHECK_EQ(out[0].counts[0], 1);
	ws_free(w);
}

/* 10 million contiguous ids over a 1-hour horizon: memory stays small; timed. */
static void test_memory_and_speed(void)
{
	enum { N = 10000000, STORES = 10 };
	struct ws *w = ws_new(3600, 60 * S);
	int64_t t0 = u_mono_us();
	int notadded = 0;
	for (int i = 0; i < N; i++) /* 360 us apart: exactly one hour */
		if (ws_add(w, i + 1, 1 + (uint32_t)(i % STORES), base * S + (int64_t)i * 360) !=
		    WS_ADDED)
			notadded++;
	int64_t dt = u_mono_us() - t0;
	CHECK_EQ(notadded, 0);
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(st.added, N);
	CHECK_EQ(st.id_intervals, 1);
	CHECK(st.bytes < 2u * 1024 * 1024);
	printf("test_winstore: %d adds in %.3f s: %.1f M adds/s; store holds %zu bytes\n", N,
	       dt / 1e6, dt > 0 ? N / (double)dt : 0.0, st.bytes);

	static struct ws_window out[200];
	int k = ws_windows(w, 30, 0, out, 200);
	CHECK_EQ(k, 120);
	uint64_t sum = 0, per_store[STORES] = {0};
	for (int j = 0; j < k; j++)
		for (int s = 0; s < STORES; s++) {
			sum += out[j].counts[s];
			per_store[s] += out[j].counts[s];
		}
	CHECK_EQ(sum, N);
	for (int s = 0; s < STORES; s++)
		CHECK_EQ(per_store[s], N / STORES);
	int64_t in_first = (30 * S + 359) / 360; /* events i with i * 360us < 30 s */
	CHECK_EQ(out[0].counts[0], (in_first + STORES - 1) / STORES); /* i % 10 == 0 */

	enum { Q = 2000 };
	t0 = u_mono_us();
	for (int q = 0; q < Q; q++)
		k = ws_windows(w, 30, 0, out, 120);
	dt = u_mono_us() - t0;
	CHECK_EQ(k, 120);
	printf("test_winstore: ws_windows 120 windows x %d stores: %.1f us per call\n", STORES,
	       dt / (double)Q);
	t0 = u_mono_us();
	for (int q = 0; q < Q; q++)
		k = ws_windows(w, 3600, 1, out, 120);
	dt = u_mono_us() - t0;
	CHECK_EQ(k, 120);
	printf("test_winstore: ws_windows 1h windows sliding 1s: %.1f us per call\n",
	       dt / (double)Q);
	ws_free(w);
}

int main(void)
{
	test_tumbling_boundaries();
	test_hopping();
	test_resize_totals();
	test_watermark();
	test_late();
	test_duplicates();
	test_expired();
	test_many_stores();
	test_reset();
	test_memory_and_speed();
	return check_done("test_winstore");
}
