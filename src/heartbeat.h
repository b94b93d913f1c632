/*
 * heartbeat.h - the source clock's messages: the relay writes one to the heartbeat topic
 * "__cdctop-heartbeat.<topic>" (as Debezium writes __debezium-heartbeat.<prefix>) whenever it
 * is caught up, saying "every row MySQL had committed before ts_us is in the data topic below
 * these offsets"; the consumer applies ts_us as the watermark's clock once it has read that
 * far. The data topic carries only change envelopes. Pure encode/decode, any thread.
 */
#ifndef CDCTOP_HEARTBEAT_H
#define CDCTOP_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

#define HB_MAX_PARTS 64
#define HB_MAX_LEN   (64 + HB_MAX_PARTS * 21 + 400)

struct hb {
	int64_t ts_us;                  /* MySQL's clock (epoch us) */
	int nparts;                     /* partitions of the data topic */
	int64_t offsets[HB_MAX_PARTS];  /* per partition: the offset after the last acknowledged */
};

/* "__cdctop-heartbeat.<topic>" into buf; -1 if it does not fit. */
int hb_topic(const char *topic, char *buf, size_t cap);
/* The JSON message for h (db and topic are validated identifiers); its length, -1 if cap is
   too small. */
int hb_encode(const struct hb *h, const char *db, const char *topic, char *buf, size_t cap);
/* Parses a heartbeat message; -1 with err for anything else. */
int hb_decode(const void *msg, size_t len, struct hb *h, char *err);

#endif
