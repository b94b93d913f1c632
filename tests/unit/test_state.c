/*
 * test_state.c - unit tests of the state that outlives a process: the window store's source
 * clock (idle windows turn final, the open window follows the clock), its late-per-second
 * ring and ws_count_since (compared with a brute-force count of what the test added), history
 * adds that are never late, the ws_encode/ws_decode round trip (every window, counter and seen
 * id equal after it), damaged images, and checkpoint files (atomic write, read back, every
 * truncation and a flipped byte refused). Temp files only under $TMPDIR or /tmp.
 */
#include "check.h"
#include "checkpoint.h"
#include "util.h"
#include "winstore.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S 1000000LL

static const int64_t base = 1700000000LL / 3600 * 3600;

/* An event as the test classified it itself. */
struct ev {
	int64_t id, us;
	uint32_t store;
	int late; /* below the watermark the test computed when it was added */
};

/* Idle source: no event after t, the clock moves, windows turn final on time. */
static void test_clock(void)
{
	struct ws *w = ws_new(3600, 10 * S);
	CHECK_EQ(ws_add(w, 1, 1, (base + 5) * S), WS_ADDED);
	struct ws_window out[16];
	int n = ws_windows(w, 30, 0, out, 16);
	CHECK_EQ(n, 1);
	CHECK(!out[0].final);
	/* the clock passes the window's end, but not its end + lateness: still open */
	ws_set_clock(w, (base + 35) * S);
	n = ws_windows(w, 30, 0, out, 16);
	CHECK_EQ(n, 2); /* the open window follows the clock */
	CHECK_EQ(out[1].start_s, base + 30);
	CHECK(!out[0].final);
	CHECK_EQ(out[1].counts[0], 0);
	ws_set_clock(w, (base + 40) * S);
	n = ws_windows(w, 30, 0, out, 16);
	CHECK(out[0].final);
	CHECK(!out[1].final);
	CHECK_EQ(ws_watermark_us(w), (base + 30) * S);
	/* the clock never moves back */
	ws_set_clock(w, (base + 1) * S);
	CHECK_EQ(ws_clock_us(w), (base + 40) * S);
	/* a row committed after the clock with an older event time is late, and counted where
	   it belonged */
	CHECK_EQ(ws_add(w, 2, 1, (base + 12) * S), WS_LATE);
	n = ws_windows(w, 30, 0, out, 16);
	CHECK_EQ(out[0].late, 1);
	CHECK_EQ(out[0].counts[0], 1);
	CHECK_EQ(ws_count_since(w, base), 2);
	/* a clock before any event starts the ring */
	struct ws *e = ws_new(600, 0);
	ws_set_clock(e, (base + 100) * S);
	CHECK_EQ(ws_windows(e, 10, 0, out, 16), 1);
	CHECK_EQ(out[0].start_s, base + 100);
	CHECK(!out[0].final);
	ws_set_clock(e, (base + 110) * S);
	CHECK_EQ(ws_windows(e, 10, 0, out, 16), 2);
	CHECK(out[0].final);
	ws_free(e);
	ws_free(w);
}

/* History adds are never late; live adds below the watermark are. */
static void test_history(void)
{
	struct ws *w = ws_new(3600, 5 * S);
	CHECK_EQ(ws_add(w, 10, 1, (base + 100) * S), WS_ADDED);
	CHECK_EQ(ws_add(w, 5, 2, (base + 10) * S), WS_LATE);
	CHECK_EQ(ws_add_history(w, 6, 2, (base + 10) * S), WS_ADDED);
	CHECK_EQ(ws_add_history(w, 6, 2, (base + 10) * S), WS_DUPLICATE);
	CHECK_EQ(ws_add_history(w, 5, 2, (base + 10) * S), WS_DUPLICATE);
	struct ws_stats st;
	ws_stats(w, &st);
	CHECK_EQ(st.added, 2);
	CHECK_EQ(st.late, 1);
	CHECK_EQ(ws_count_since(w, base), 3);
	ws_free(w);
}

/* Random traffic with late events and a clock; ws_count_since equals a brute-force count
   from the test's own classification, and the state survives encode/decode exactly. */
static void test_roundtrip(void)
{
	const int64_t H = 900, L = 20 * S;
	struct ws *w = ws_new(H, L);
	static struct ev evs[20000];
	int n = 0;
	uint64_t x = 88172645463325252ULL;
	int64_t max_ev = INT64_MIN, clock = INT64_MIN, id = 0;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t t = (base + i / 20) * S + (int64_t)(x % 1000000);
		if (x % 50 == 0)
			t -= 45 * S; /* a transaction held open: late when 25 s past the lateness */
		int64_t wm_t = max_ev > clock ? max_ev : clock;
		int64_t wm = wm_t == INT64_MIN ? INT64_MIN : wm_t - L;
		int late = t < wm;
		id += 1 + (int64_t)(x % 97 == 0); /* a gap now and then */
		enum ws_result r = ws_add(w, id, (uint32_t)(1 + x % 3), t);
		CHECK_EQ(r, late ? WS_LATE : WS_ADDED);
		evs[n++] = (struct ev){id, t, (uint32_t)(1 + x % 3), late};
		if (!late && t > max_ev)
			max_ev = t;
		if (i % 1000 == 999) {
			clock = max_ev + 2 * S;
			ws_set_clock(w, clock);
		}
		if (i % 3 == 0) /* re-deliveries */
			CHECK_EQ(ws_add(w, id, 1, t), WS_DUPLICATE);
	}
	int64_t lo, hi;
	CHECK(ws_held(w, &lo, &hi));
	for (int64_t from = lo; from <= hi; from += 97) {
		uint64_t want = 0;
		for (int i = 0; i < n; i++)
			if (evs[i].us >= from * S && evs[i].us / S >= lo)
				want++;
		CHECK_EQ(ws_count_since(w, from), want);
	}
	size_t len;
	void *img = ws_encode(w, &len);
	struct ws *r = ws_new(H, L);
	char err[U_ERRLEN];
	CHECK_EQ(ws_decode(r, img, len, err), 0);
	static struct ws_window a[400], b[400];
	int na = ws_windows(w, 30, 10, a, 400), nb = ws_windows(r, 30, 10, b, 400);
	CHECK_EQ(na, nb);
	CHECK(na > 50);
	CHECK(memcmp(a, b, (size_t)na * sizeof a[0]) == 0);
	struct ws_stats sa, sb;
	ws_stats(w, &sa);
	ws_stats(r, &sb);
	CHECK_EQ(sa.added, sb.added);
	CHECK_EQ(sa.late, sb.late);
	CHECK_EQ(sa.duplicates, sb.duplicates);
	CHECK_EQ(sa.id_intervals, sb.id_intervals);
	CHECK_EQ(ws_watermark_us(w), ws_watermark_us(r));
	CHECK_EQ(ws_clock_us(w), ws_clock_us(r));
	CHECK_EQ(ws_count_since(w, lo), ws_count_since(r, lo));
	/* every id seen before is a duplicate after the round trip; the next one is new */
	int dups = 0;
	for (int i = 0; i < n; i++)
		dups += ws_add(r, evs[i].id, evs[i].store, evs[i].us) == WS_DUPLICATE;
	CHECK_EQ(dups, n);
	CHECK_EQ(ws_add(r, id + 1, 1, max_ev), WS_ADDED);
	/* another horizon refuses the image */
	struct ws *o = ws_new(H + 1, L);
	CHECK_EQ(ws_decode(o, img, len, err), -1);
	CHECK(strstr(err, "horizon") != NULL);
	/* every truncation is refused and leaves the store empty */
	int refused = 0;
	for (size_t cut = 0; cut < len; cut += len / 211 + 1)
		refused += ws_decode(o, img, cut, err) < 0;
	CHECK_EQ(refused, (int)((len + len / 211) / (len / 211 + 1)));
	ws_free(o);
	ws_free(r);
	ws_free(w);
	free(img);
}

/* Checkpoint files: round trip, then damage of each kind is refused. */
static void test_ckpt(void)
{
	char dir[] = "/tmp/cdct-ckpt.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256], err[U_ERRLEN];
	snprintf(path, sizeof path, "%s/sub/state.ckpt", dir);
	void *d;
	size_t len;
	CHECK_EQ(ckpt_read(path, &d, &len, err), CKPT_MISSING);
	char data[5000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7);
	CHECK_EQ(ckpt_write(path, data, sizeof data, err), 0);
	CHECK_EQ(ckpt_read(path, &d, &len, err), 0);
	CHECK_EQ(len, sizeof data);
	CHECK(d && memcmp(d, data, len) == 0);
	free(d);
	CHECK_EQ(ckpt_crc32(0, "123456789", 9), 0xcbf43926u);
	/* truncated */
	FILE *f = fopen(path, "rb");
	char whole[6000];
	size_t wn = fread(whole, 1, sizeof whole, f);
	fclose(f);
	int refused = 0, tries = 0;
	for (size_t cut = 0; cut < wn; cut += 97, tries++) {
		f = fopen(path, "wb");
		fwrite(whole, 1, cut, f);
		fclose(f);
		refused += ckpt_read(path, &d, &len, err) == CKPT_DAMAGED;
	}
	CHECK_EQ(refused, tries);
	/* one flipped byte anywhere in the payload */
	whole[wn - 100] ^= 0x10;
	f = fopen(path, "wb");
	fwrite(whole, 1, wn, f);
	fclose(f);
	CHECK_EQ(ckpt_read(path, &d, &len, err), CKPT_DAMAGED);
	CHECK(strstr(err, "checksum") != NULL);
	unlink(path);
	snprintf(path, sizeof path, "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	test_clock();
	test_history();
	test_roundtrip();
	test_ckpt();
	return check_done("test_state");
}
