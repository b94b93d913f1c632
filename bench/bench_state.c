/*
 * bench_state.c - the checkpoint's cost at 5,000 events/s: a window store with the monitor's
 * 1 h horizon and 2 stores filled with an hour of 5,000 events/s (18 M events, one id gap in
 * 5,000), then the consumer's checkpoint step timed over 30 rounds: ws_encode plus ckpt_write
 * (write, fsync, rename, directory fsync) into $TMPDIR. The consumer writes one checkpoint a
 * second when anything changed, so the median round in ms / 1000 ms is the share of a core.
 * Prints bench/run.sh's lines: state.checkpoint_ms (median, with min and max), state.core_pct
 * (target < 2 %), state.image_kib, and state.restore_ms (ckpt_read + ws_decode).
 */
#include "checkpoint.h"
#include "util.h"
#include "winstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 30

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	const int64_t S = 1000000, t0 = 1700000000LL * S;
	struct ws *w = ws_new(3600, 60 * S);
	int64_t id = 0;
	for (int64_t i = 0; i < 3600LL * 5000; i++) {
		id += 1 + (i % 5000 == 0);
		ws_add(w, id, (uint32_t)(1 + i % 2), t0 + i * 200);
	}
	char dir[] = "/tmp/cdcbs.XXXXXX", path[64], err[U_ERRLEN];
	if (!mkdtemp(dir)) {
		perror("bench_state: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/windows.ckpt", dir);
	int64_t t[ROUNDS], r[ROUNDS];
	size_t len = 0;
	for (int k = 0; k < ROUNDS; k++) {
		int64_t a = u_mono_us();
		void *img = ws_encode(w, &len);
		if (ckpt_write(path, img, len, err) < 0) {
			fprintf(stderr, "bench_state: %s\n", err);
			return 1;
		}
		free(img);
		t[k] = u_mono_us() - a;
		a = u_mono_us();
		void *back;
		size_t bl;
		struct ws *x = ws_new(3600, 60 * S);
		if (ckpt_read(path, &back, &bl, err) < 0 || ws_decode(x, back, bl, err) < 0) {
			fprintf(stderr, "bench_state: %s\n", err);
			return 1;
		}
		r[k] = u_mono_us() - a;
		free(back);
		ws_free(x);
	}
	qsort(t, ROUNDS, sizeof t[0], cmp64);
	qsort(r, ROUNDS, sizeof r[0], cmp64);
	double med = (double)t[ROUNDS / 2] / 1000.0, pct = med / 1000.0 * 100.0;
	printf("state.checkpoint_ms  %9.2f ms      (ws_encode + ckpt_write with fsync, median of %d; min %.2f, max %.2f; 1 h horizon, 2 stores, 18 M events at 5,000/s)\n",
	       med, ROUNDS, (double)t[0] / 1000.0, (double)t[ROUNDS - 1] / 1000.0);
	printf("state.core_pct       %9.2f %%       (one checkpoint a second: median round / 1 s)  target < 2 %%: %s\n",
	       pct, pct < 2.0 ? "ok" : "BELOW");
	printf("state.image_kib      %9zu KiB     (the window store's image for that hour)\n", len / 1024);
	printf("state.restore_ms     %9.2f ms      (ckpt_read + ws_decode, median of %d)\n",
	       (double)r[ROUNDS / 2] / 1000.0, ROUNDS);
	unlink(path);
	rmdir(dir);
	ws_free(w);
	return 0;
}
