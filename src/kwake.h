/*
 * kwake.h - wakes the librdkafka broker thread that fetches a partition, so that a prefetch
 * queue drained below its bound is refilled at once. Before librdkafka 2.3
 * (fetch.queue.backoff.ms), a broker thread whose partitions were all at their
 * queued.max.messages.kbytes bound re-decides to fetch only when some other op or I/O wakes it,
 * at most once a second: a small bound per partition then costs most of the throughput.
 * A poke asks the partition's leader for its watermarks (one ListOffsets round trip, on a
 * thread of its own), which wakes that broker thread; pokes coalesce per partition.
 */
#ifndef CDCTOP_KWAKE_H
#define CDCTOP_KWAKE_H

#include <librdkafka/rdkafka.h>

struct kwake;

/* 1 if this librdkafka needs pokes (older than 2.3); newer ones take fetch.queue.backoff.ms. */
int kw_needed(void);

/* A waker for partitions [0, nparts) of topic on rk (a consumer), or NULL if its thread could
   not start (fetching then only loses speed). rk must outlive it. */
struct kwake *kw_start(rd_kafka_t *rk, const char *topic, int nparts);

/* Asks for partition part's broker thread to be woken; never blocks. NULL k: nothing. */
void kw_poke(struct kwake *k, int part);

/* Stops the thread (waiting for a round trip in flight, at most KW_TIMEOUT_MS) and frees it. */
void kw_stop(struct kwake *k);

#define KW_TIMEOUT_MS 200

#endif
