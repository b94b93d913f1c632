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

#define WS_MAX_STORES    64             /* rows a view gets: the top 63 by count, then WS_OTHER */
#define WS_MAX_TRACKED   1024           /* distinct store ids counted apart; more -> rejected */
#define WS_TRACK_BYTES   (64LL << 20)   /* their per-second rings' budget: fewer for long horizons */
#define WS_OTHER         UINT32_MAX     /* the row of the stores not shown one by one */
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
	WS_NOROOM,    /* a new store id beyond ws_max_tracked: counted as rejected */
};

/*
 * Adds one event. Each log_id is judged once: its first arrival decides the result (added,
 * late, expired or rejected) and marks the id seen; every later arrival is WS_DUPLICATE and
 * changes nothing. Checks in order: duplicate, expired, no room, late. Only WS_ADDED moves the
 * max event time and the watermark. O(1) amortized for ids arriving in order.
 */
enum ws_result ws_add(struct ws *w, int64_t log_id, uint32_t store_id, int64_t event_us);
/* The same for a row read from the durable log (MySQL's change table) rather than the live
   stream: it was committed on time, so it is never judged late, even below the watermark
   (a window it falls in may change after turning final: it was missing that row). A row
   already held is WS_DUPLICATE but not counted as a duplicate (it is no re-delivery). */
enum ws_result ws_add_history(struct ws *w, int64_t log_id, uint32_t store_id, int64_t event_us);

/* Marks log_id seen without counting it anywhere (a change that is not a registration, such
   as a Debezium update): 1 if it was already seen (a re-delivery), 0 if newly marked. */
int ws_mark_seen(struct ws *w, int64_t log_id);

/* Caps the event time the watermark may follow (INT64_MAX: no cap, the default); lets the
 * consumer hold the watermark while a partition still has a backlog. */
void ws_set_time_cap(struct ws *w, int64_t cap_us);
/* max(previous, min(max event, cap) - lateness); INT64_MIN before any event. Monotonic. */
int64_t ws_watermark_us(const struct ws *w);
/* The largest event time added; INT64_MIN before any event. */
int64_t ws_max_event_us(const struct ws *w);

/*
 * The source's clock (a heartbeat: every row committed before clock_us has been added). The
 * watermark follows it (clock - lateness) and the ring's newest second moves with it, so
 * windows turn final and the open window follows time while no event arrives. Only moves
 * forward; not capped by ws_set_time_cap (the caller applies a clock only once it has read
 * everything the source had sent before it).
 */
void ws_set_clock(struct ws *w, int64_t clock_us);
/* The last clock set; INT64_MIN before any. */
int64_t ws_clock_us(const struct ws *w);
/* The highest log id judged; INT64_MIN before any. */
int64_t ws_max_id(const struct ws *w);
/* The seconds the ring covers, [lo_s, hi_s]; 0 (nothing written) before any event or clock. */
int ws_held(const struct ws *w, int64_t *lo_s, int64_t *hi_s);
/* Distinct events held with an event time in second from_s or later: counted in a window or
   late (never duplicates, expired or rejected). */
uint64_t ws_count_since(const struct ws *w, int64_t from_s);

/* The whole state (buckets, late counts, seen ids, watermark, clock, counters) as a byte
   image the caller frees, in this machine's byte order; *len is its size. */
void *ws_encode(const struct ws *w, size_t *len);
/* Replaces w's state with an image from ws_encode (same horizon; the lateness stays w's).
   -1 with err, w then empty, when the image is damaged or made with another horizon. */
int ws_decode(struct ws *w, const void *img, size_t len, char *err);

/* How many distinct store ids the store counts apart: WS_MAX_TRACKED, or fewer when the
   horizon is so long that their rings would pass WS_TRACK_BYTES (WS_TRACK_BYTES / (4 bytes *
   horizon_s), at least WS_MAX_STORES: 194 at 24 h). A new store id beyond is WS_NOROOM. */
int ws_max_tracked(const struct ws *w);
/* How many distinct store ids it counts now (<= ws_max_tracked). */
int ws_tracked(const struct ws *w);

/*
 * The rows a view shows (at most max written; returns how many): while at most WS_MAX_STORES
 * store ids are tracked, every one, ascending. Beyond, the WS_MAX_STORES - 1 with the most
 * events in the ring (the horizon held; ties: the lower id), ascending, then WS_OTHER, the row
 * of every other store (a tracked store WS_OTHER is always one of those). ws_windows and
 * ws_stats index their counts by these rows; the choice is a pure function of the state, so
 * calls without an add in between agree (and a restored image gives the same rows).
 */
int ws_stores(const struct ws *w, uint32_t *ids, int max);

struct ws_window {
	int64_t start_s, end_s;         /* [start_s, end_s), epoch seconds */
	int final;                      /* end_s * 1e6 <= watermark: will never change again */
	uint64_t counts[WS_MAX_STORES]; /* indexed like ws_stores() rows (WS_OTHER: their sum) */
	uint64_t late;                  /* late events whose event time fell in this window */
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
	uint64_t late_per_store[WS_MAX_STORES]; /* indexed like ws_stores() rows */
	int tracked, max_tracked;               /* ws_tracked, ws_max_tracked */
	size_t id_intervals;                    /* ranges in the seen-id set */
	size_t bytes;                           /* memory held by the store, struct included */
};

/* Fills *out with the counters. */
void ws_stats(const struct ws *w, struct ws_stats *out);

#endif
