/*
 * winstore.h - the window store: per-second event counts per store over a bounded horizon,
 * exactly-once by log_id (an interval set of seen ids), a monotonic watermark, and any
 * tumbling or hopping window answered from the buckets already held. A pure data structure:
 * no I/O, no locks, no threads; the one thread that owns a struct ws calls everything here.
 * Memory does not grow with the number of events (only with gaps in the log ids).
 */
#ifndef CDCTOP_WINSTORE_H
#define CDCTOP_WINSTORE_H

#include <stddef.h>
#include <stdint.h>

#define WS_MAX_STORES    64             /* distinct store ids tracked; more -> rejected */
#define WS_MAX_HORIZON_S (31 * 86400LL) /* longest horizon ws_new accepts */

struct ws;

/* A new, empty store keeping horizon_s seconds of buckets; NULL if horizon_s is outside
 * [1, WS_MAX_HORIZON_S]. A negative lateness counts as 0. */
struct ws *ws_new(int64_t horizon_s, int64_t lateness_us);
/* Frees the store; accepts NULL. */
void ws_free(struct ws *w);
/* Forgets every event, store id, seen log id, counter, the watermark and the time cap;
 * keeps the horizon and the lateness. */
void ws_reset(struct ws *w);
/* Sets the allowed lateness (negative: 0); the watermark never moves back. */
void ws_set_lateness(struct ws *w, int64_t lateness_us);
/* The allowed lateness and the horizon, as configured. */
int64_t ws_lateness_us(const struct ws *w);
int64_t ws_horizon_s(const struct ws *w);

enum ws_result {
	WS_ADDED,     /* counted in its second's bucket */
	WS_DUPLICATE, /* log_id already judged: nothing changed */
	WS_LATE,      /* event_us < watermark: counted in late_per_store only */
	WS_EXPIRED,   /* its second is older than the ring's first second */
	WS_NOROOM,    /* a new store id beyond WS_MAX_STORES: counted as rejected */
};

/*
 * Adds one event. Each log_id is judged once: its first arrival decides the result (added,
 * late, expired or rejected) and marks the id seen; every later arrival is WS_DUPLICATE and
 * changes nothing. Checks in order: duplicate, expired, no room, late. Only WS_ADDED moves the
 * max event time and the watermark. O(1) amortized for ids arriving in order.
 */
enum ws_result ws_add(struct ws *w, int64_t log_id, uint32_t store_id, int64_t event_us);

/* Caps the event time the watermark may follow (INT64_MAX: no cap, the default); lets the
 * consumer hold the watermark while a partition still has a backlog. */
void ws_set_time_cap(struct ws *w, int64_t cap_us);
/* max(previous, min(max event, cap) - lateness); INT64_MIN before any event. Monotonic. */
int64_t ws_watermark_us(const struct ws *w);
/* The largest event time added; INT64_MIN before any event. */
int64_t ws_max_event_us(const struct ws *w);

/* Writes the store ids seen (at most max), ascending; returns how many were written. */
int ws_stores(const struct ws *w, uint32_t *ids, int max);

struct ws_window {
	int64_t start_s, end_s;         /* [start_s, end_s), epoch seconds */
	int final;                      /* end_s * 1e6 <= watermark: will never change again */
	uint64_t counts[WS_MAX_STORES]; /* indexed like ws_stores() order */
};

/*
 * Windows of size_s seconds starting every slide_s seconds (slide_s 0 or == size_s: tumbling),
 * epoch-aligned [start, end): the newest `max` of those overlapping the held seconds (from the
 * first second added, or the ring's start if later, to the max event's second), up to and
 * including the newest window holding the max event time, oldest first. The oldest window can
 * be partial when the ring has already dropped its first seconds. Returns the number written
 * (0 before any event, or when size_s or slide_s is < 0, size_s is 0, or either exceeds 2^40).
 */
int ws_windows(const struct ws *w, int64_t size_s, int64_t slide_s, struct ws_window *out, int max);

struct ws_stats {
	uint64_t added, duplicates, late, expired, rejected;
	uint64_t late_per_store[WS_MAX_STORES]; /* indexed like ws_stores() order */
	size_t id_intervals;                    /* ranges in the seen-id set */
	size_t bytes;                           /* memory held by the store, struct included */
};

/* Fills *out with the counters. */
void ws_stats(const struct ws *w, struct ws_stats *out);

#endif
