/*
 * publish.h - the monitor's publisher thread: about ten times a second (sooner when woken) it
 * runs the window commands, gathers every figure (injector, relay, consumer, Kafka probe,
 * check line), decides the status line from conditions and events, fills one view per pane
 * (view.h) and publishes the views that changed, each under a generation counter, waking the
 * UI with a byte on a pipe. Any thread may post an event for the status line. pub_snapshot
 * and pub_send never block on I/O.
 */
#ifndef CDCTOP_PUBLISH_H
#define CDCTOP_PUBLISH_H

#include "check.h"
#include "consumer.h"
#include "injector.h"
#include "probe.h"
#include "relay.h"
#include "tablestats.h"
#include "view.h"

#include <stdint.h>

struct pub_config {
	const char *mysql_label, *kafka_label, *topic; /* copied */
	int capture_binlog;
	const char *foreign; /* not NULL: a foreign topic's capture note (copied); relay and
	                        injr are NULL then, and there is no check line */
	const char *group_by; /* the column the histogram's rows are values of (copied) */
	int64_t horizon_us, window_s, slide_s, lateness_us;
	int wake_fd; /* the wake pipe's write end (non-blocking) */
	struct relay *relay; /* the sources, borrowed */
	struct cons *cons;
	struct injr *injr;
	struct probe *probe;
};

enum pub_cmd {
	PUB_WINDOW,  /* size i s, slide j s (0 or == size: tumbling) */
	PUB_REBUILD, /* re-read the topic from the horizon */
};

/* Which thread pub_ended reports on. */
enum pub_thread { PUB_RELAY, PUB_CONSUMER };

/* Prepares the publisher; no thread yet. The relay and the consumer count as running. */
struct pub *pub_new(const struct pub_config *cfg);
/* The check line's source and the capture pane's table figures (NULL none); before the
   thread starts. The publisher hands the relay's progress to the table figures. */
void pub_set_sources(struct pub *p, struct chk *chk, struct tstats *ts);
/* The thread: runs until pub_stop. */
void *pub_main(void *pub);
/* Queues a command; -1 when the queue is full or the publisher stopping. */
int pub_send(struct pub *p, enum pub_cmd cmd, int64_t i, int64_t j);
/* An event for the status line at level (enum view_level; answer: it answers a key), shown
   for a few seconds; text NULL only wakes the publisher (new figures). Any thread. */
void pub_event(struct pub *p, int level, int answer, const char *text);
/* The in-process mock's brokers were taken down (k) or brought up. Any thread. */
void pub_mock_down(struct pub *p, int down);
/* The relay's or the consumer's run returned; err, when set, is why (a fatal error). */
void pub_ended(struct pub *p, enum pub_thread which, const char *err);
/* Copies the newest snapshot into *dst if its generation differs from have (only the windows
   in use); returns the newest generation (0 before the first publish). */
uint64_t pub_snapshot(struct pub *p, struct view_snap *dst, uint64_t have);
/* Asks the thread to return. */
void pub_stop(struct pub *p);
/* Frees; the thread must have returned (or never started). Accepts NULL. */
void pub_free(struct pub *p);

#endif
