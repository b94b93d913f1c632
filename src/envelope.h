/*
 * envelope.h - the Kafka message of one captured registration: a Debezium-style JSON envelope
 * ({"before":null,"after":{...},"source":{...,"log_id":..},"op":"c","ts_ms":..}) and its key.
 * Functions on caller buffers, safe from any thread, no I/O; decoding allocates nothing.
 * Decoding must never crash on any input: the consumer reads whatever is on the topic.
 */
#ifndef CDCTOP_ENVELOPE_H
#define CDCTOP_ENVELOPE_H

#include "row.h"

#include <stddef.h>
#include <stdint.h>

/* A buffer this large holds any envelope whose db name is at most 64 bytes. */
#define ENV_MAX 2048

/*
 * Encodes the envelope of r into buf (NUL-terminated): db is source.db, now_us the envelope's
 * ts_ms. Strings are escaped for JSON; invalid UTF-8 (a name cut mid-character) becomes
 * U+FFFD, so the output always decodes. Returns the length, or -1 if it does not fit in cap.
 */
int env_encode(const struct cdc_row *r, const char *db, int64_t now_us, char *buf, size_t cap);

/*
 * Decodes and validates an envelope: requires op "c", source.table "customer", an integer
 * source.log_id > 0, source.ts_us (or ts_ms) an integer, integer after.customer_id and
 * after.store_id; other fields are optional. Strings are cut at a character boundary to fit
 * the row's buffers. 0 on success, -1 with a short reason in err ("not JSON: ...",
 * "no source.log_id", "after.store_id is not an integer", ...). Never crashes on any input.
 */
int env_decode(const char *buf, size_t len, struct cdc_row *out, char *err);

/* The message key: customer_id in decimal, NUL-terminated; returns its length (cap >= 11). */
int env_key(const struct cdc_row *r, char *buf, size_t cap);

/* Formats us since the epoch as "YYYY-MM-DD HH:MM:SS" (UTC) into buf (at least 20 bytes). */
void env_fmt_datetime(int64_t us, char *buf);
/* Parses "YYYY-MM-DD HH:MM:SS" (UTC) into us since the epoch; -1 if malformed. */
int env_parse_datetime(const char *s, int64_t *us);

#endif
