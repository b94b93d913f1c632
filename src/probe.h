/*
 * probe.h - the monitor's Kafka probe: on its own consumer handle (group cdctop-<topic>, never
 * subscribed, so it never joins the group) a thread asks about once a second for every
 * partition's low and high watermarks and the group's committed offsets, each request bounded
 * in time. The one place the kafka pane's partition figures come from: probe_parts adds the
 * consumer's positions and the lag (cons_lag, the consumer's own formula).
 */
#ifndef CDCTOP_PROBE_H
#define CDCTOP_PROBE_H

#include "consumer.h"
#include "kconf.h"

#include <stddef.h>
#include <stdint.h>

enum probe_health { PROBE_UNKNOWN = 0, PROBE_UP, PROBE_DOWN };

/* One partition as the probe and the consumer see it; -1 where unknown. */
struct probe_part {
	int32_t id;
	int64_t low, high; /* watermarks (probe) */
	int64_t committed; /* committed offset of group cdctop-<topic> (probe), -1 none */
	int64_t position;  /* next offset the monitor's consumer reads, -1 unknown */
	int64_t lag;       /* from committed (position while none), at least low, to high */
};

/* Called on the probe thread, no probe lock held: text is an event for the status line at
   level (enum view_level), NULL when only the figures changed. */
typedef void (*probe_report_fn)(void *arg, int level, const char *text);

/* Creates the probe's handle from kc for topic (copied); no thread yet. NULL with err. */
struct probe *probe_new(struct kc *kc, const char *topic, probe_report_fn report, void *arg,
                        char *err);
/* The handle, for creating and describing the topic before the thread starts. */
rd_kafka_t *probe_handle(struct probe *p);
/* How many partitions to ask about (at most CONS_MAX_PARTS); before the thread starts. */
void probe_set_partitions(struct probe *p, int nparts);
/* The thread: one probe about every second until probe_stop. */
void *probe_main(void *probe);
/* Asks the thread to return; a request under way ends within its bound (250 ms). */
void probe_stop(struct probe *p);
/* The partitions into out[CONS_MAX_PARTS]: the probe's last figures, the consumer's
   positions from cs, and the lag; returns how many. *health gets enum probe_health, err the
   last probe's error ("" none). */
int probe_parts(struct probe *p, const struct cons_stats *cs, struct probe_part *out,
                int *health, char *err, size_t len);
/* Destroys the handle and frees; the thread must have returned. Accepts NULL. */
void probe_free(struct probe *p);

#endif
