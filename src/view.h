/*
 * view.h - what each pane of the monitor shows, as plain data (htop's Meter): one struct per
 * pane (capture, kafka, histogram, status, the glance line), each filled by one function in the core and
 * compared with one memcmp to decide whether the pane is redrawn. ui/ reads only these: no
 * relay, consumer or client-library type reaches it (make check compiles every ui/ file without the
 * MariaDB and librdkafka headers). No functions here but the snapshot's size.
 */
#ifndef CDCTOP_VIEW_H
#define CDCTOP_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define VIEW_TEXT        256
#define VIEW_MAX_PARTS   64  /* the consumer's CONS_MAX_PARTS (checked in the core) */
#define VIEW_MAX_STORES  64  /* the window store's WS_MAX_STORES (checked in the core) */
#define VIEW_MAX_WINDOWS 128 /* newest windows kept in a snapshot */
#define VIEW_LABEL       40  /* a histogram row's label, "store_id 1", "active true" */

enum view_level { VIEW_INFO = 0, VIEW_WARN, VIEW_ERROR };

/* The capture pane's title note, most pressing first (the kafka pane's keeps the order). */
enum view_cap_alert {
	VIEW_CAP_OK = 0,
	VIEW_CAP_MYSQL_DOWN,     /* "mysql down" */
	VIEW_CAP_RELAY_STOPPED,  /* "relay stopped" */
	VIEW_CAP_CONNECTING,     /* "connecting" */
};

/* The capture pane: MySQL's side, the injector and the relay. */
struct view_capture {
	int alert;  /* enum view_cap_alert */
	char foreign[VIEW_TEXT]; /* not "": a foreign topic's monitor, this says so (no MySQL
	                            figures; the rest of this view is 0) */
	int binlog; /* binlog positions instead of change rows and gaps (once the relay has them) */
	int64_t customers;
	int last_batch; /* customers in the last batch written, 0 none */
	/* trigger capture */
	int64_t change_rows, cursor, backlog;
	int64_t oldest_us; /* event time of the oldest unacknowledged row, 0 none */
	int64_t gap_id, gap_wait_left_us;
	uint64_t skipped;
	/* binlog capture */
	char binlog_read[80], binlog_server[80];
	int64_t binlog_lag_bytes, binlog_lag_s;
	/* rates and progress */
	double inject_rate, relay_rate; /* customers/s written, messages/s handed to Kafka */
	int auto_on;
	double rate; /* continuous injection's customers/s */
	int64_t progress;
	int inflight;
	uint64_t resent;
};

/* The kafka pane's title note. */
enum view_kaf_alert {
	VIEW_KAF_OK = 0,
	VIEW_KAF_UNREACHABLE,      /* "unreachable": the figures are dimmed */
	VIEW_KAF_CONSUMER_STOPPED, /* "consumer stopped" */
	VIEW_KAF_CONNECTING,       /* "connecting" */
};

/* One partition's row; -1 where unknown. */
struct view_part {
	int32_t id;
	int64_t low, high, committed, lag;
};

/* The kafka pane: partitions, produce rate, delivery errors, end-to-end latency. */
struct view_kafka {
	int alert; /* enum view_kaf_alert */
	int nparts;
	struct view_part parts[VIEW_MAX_PARTS];
	double produce_rate; /* messages Kafka acknowledged per second */
	uint64_t delivery_errors;
	int64_t lat_p50_us, lat_p99_us; /* 0 before the first event is consumed */
};

/* The check line: MySQL's change rows inside the horizon against the distinct events the
   window store holds for the same seconds (windows plus late). */
enum view_check_state {
	VIEW_CHECK_NONE = 0, /* no round yet, or nothing held */
	VIEW_CHECK_OK,       /* equal */
	VIEW_CHECK_BEHIND,   /* unequal while the relay or the consumer has rows still to bring */
	VIEW_CHECK_MISMATCH, /* unequal with nothing on its way, in two rounds running */
	VIEW_CHECK_ERROR,    /* MySQL cannot be asked */
};

struct view_check {
	int state; /* enum view_check_state */
	uint64_t mysql, counted;
	int64_t diff; /* counted - mysql */
	char error[160];
};

struct view_window {
	int64_t start_s, end_s; /* [start_s, end_s), epoch seconds */
	int final;              /* will never change again */
	uint64_t late;          /* late events whose event time fell in this window */
	uint64_t counts[VIEW_MAX_STORES]; /* indexed like view_hist.stores */
};

/* The chart pane: every window's counts per store across the horizon, each store's total,
   the check line and the late, rejected and duplicate counts. */
struct view_hist {
	int64_t window_s, horizon_us;
	int nstores;
	uint32_t stores[VIEW_MAX_STORES];
	char labels[VIEW_MAX_STORES][VIEW_LABEL]; /* "" all: "store N"; else each row's label */
	int foreign; /* a foreign topic: no check line; updates, deletes and skipped shown */
	uint64_t updates, deletes, skipped;
	uint64_t late, rejected, duplicates;
	uint64_t late_per_store[VIEW_MAX_STORES];
	uint64_t total[VIEW_MAX_STORES]; /* events held per store over the horizon (in windows) */
	struct view_check check;
	int nwin; /* oldest first; the last one is the open (newest) window */
	struct view_window win[VIEW_MAX_WINDOWS]; /* last: only nwin of them are compared */
};

/* The settings in effect (the windows shown were computed with these). */
struct view_settings {
	int64_t window_s, slide_s; /* slide_s == window_s: tumbling */
	int64_t lateness_us;
	int batch;   /* customers per injected batch */
	double rate; /* continuous injection's customers/s */
	int auto_on;
};

/* The header, the status line and the key hints. */
struct view_status {
	char mysql_label[VIEW_TEXT];
	char kafka_label[VIEW_TEXT]; /* "mock 127.0.0.1:40831 (3 brokers)" or the broker list */
	char topic[80];
	int capture_binlog;
	int foreign; /* a foreign topic: no injection, "capture: debezium" in the header */
	struct view_settings set;
	char text[VIEW_TEXT]; /* the most pressing condition, else the last event, else relay state */
	int level;            /* enum view_level */
};

/* The pipeline at a glance (one line): the count at each hop and what waits between them. */
struct view_glance {
	int foreign;         /* a foreign topic: only kafka, consumer and windows */
	int binlog;          /* binlog capture: no change log hop */
	uint64_t injected;   /* customers the injector committed, this run */
	int held;            /* customers in a transaction held open (g), 0 none */
	int64_t held_left_us;
	int64_t customers;   /* rows in customer */
	int64_t change_rows; /* rows in the change log */
	int64_t backlog;     /* change rows not yet acknowledged by Kafka */
	int64_t gap_id;      /* a missing id being waited for, 0 none */
	int64_t gap_wait_left_us;
	uint64_t relayed;    /* messages Kafka acknowledged from the relay, this run */
	int inflight;        /* handed to Kafka, not yet acknowledged */
	int mock_down;       /* the mock's brokers are down (k) */
	int kafka_down;      /* the probe cannot reach Kafka */
	int64_t topic;       /* messages the topic holds (high - low watermarks, summed) */
	int64_t lag;         /* messages the consumer has still to read */
	uint64_t consumed;   /* messages the consumer read */
	uint64_t counted;    /* distinct events in the windows (late ones included) */
	uint64_t duplicates; /* messages ignored as already counted */
};

/* Everything the monitor shows, by value. Each pane's generation changes only when its view
   does, so the UI redraws only those panes. */
struct view_snap {
	uint64_t gen;
	uint64_t gen_capture, gen_kafka, gen_hist, gen_status, gen_glance;
	struct view_status status;
	struct view_glance glance;
	struct view_capture capture;
	struct view_kafka kafka;
	struct view_hist hist; /* last: see view_snap_size */
};

/* The bytes of s in use: all but the windows past hist.nwin (never read). */
static inline size_t view_snap_size(const struct view_snap *s)
{
	return offsetof(struct view_snap, hist.win) + sizeof s->hist.win[0] * (size_t)s->hist.nwin;
}

/* The bytes of h in use, for its one memcmp. */
static inline size_t view_hist_size(const struct view_hist *h)
{
	return offsetof(struct view_hist, win) + sizeof h->win[0] * (size_t)h->nwin;
}

#endif
