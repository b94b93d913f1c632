/*
 * debezium.h - decodes the messages the Debezium MySQL connector writes (JSON converter, with
 * schemas on: {"schema":..,"payload":{..}}, or off: the payload alone, for key and value) into
 * what the consumer counts: the kind of change, its event time, the value of the column it is
 * grouped by, and a 64-bit identity for exactly-once counting without cdctop's log_id.
 * Functions on caller buffers, safe from any thread, no I/O, allocates nothing. Must never
 * crash or read past len on any input.
 */
#ifndef CDCTOP_DEBEZIUM_H
#define CDCTOP_DEBEZIUM_H

#include <stddef.h>
#include <stdint.h>

enum dbz_kind {
	DBZ_CREATE = 0, /* op "c" or "r" (a snapshot row): a registration */
	DBZ_UPDATE,     /* op "u" */
	DBZ_DELETE,     /* op "d" */
	DBZ_SKIP,       /* a tombstone, heartbeat or transaction marker: neither counted nor rejected */
};

/* How the identity was made (the top two bits of id say the same). Snapshot keys sort below
   binlog positions so that, in the window store's sorted set of seen ids, the changes
   streamed after a snapshot are appended at its end. */
enum dbz_idkind {
	DBZ_ID_KEY = 0, /* the message key (snapshot rows): table and an integer primary key */
	DBZ_ID_POS,     /* binlog position: file number, pos, row (packed, increasing) */
	DBZ_ID_GTID,    /* GTID (server uuid hashed, transaction number) and row */
	DBZ_ID_HASH,    /* a 61-bit hash of what identifies it (a position or key too wide to pack) */
};

#define DBZ_VALMAX 64 /* a group value's text is cut to this many bytes (less one) */

struct dbz_event {
	enum dbz_kind kind;
	enum dbz_idkind idkind;
	int64_t id;       /* >= 0; equal ids are the same change */
	int64_t order;    /* binlog order (file number, pos, row packed), -1 none: snapshot rows
			     share their snapshot's start; merge partitions by it */
	int64_t event_us; /* source.ts_ms (or payload ts_ms when that is 0), us since the epoch */
	int snapshot;     /* op "r" or source.snapshot true/"true"/"last" */
	/* The group column's value (from after; from before for a delete): an integer when
	   is_int, and always as text (a number's digits, a string decoded, true/false). */
	int has_val, is_int, is_str; /* is_str: a JSON string (else a number, boolean, null) */
	int64_t ival;
	char val[DBZ_VALMAX];
	char table[65]; /* source.table, cut */
};

/* The last schema validated ({"schema":X,...}: X's bytes). A topic's messages repeat the same
   schema, and with it about 80% of their bytes: a message whose schema is byte for byte the
   cached one skips it with a memcmp instead of scanning it again. One per decoding thread;
   zero it to start. */
#define DBZ_SCHEMA_MAX 16384
struct dbz_cache {
	size_t n;
	char buf[DBZ_SCHEMA_MAX];
};

/*
 * Decodes one message: value (NULL or len 0: a tombstone, DBZ_SKIP) and key (may be NULL; the
 * identity of snapshot rows). group is the column to group by (e.g. "store_id"); table, when
 * not NULL, keeps only that source.table (others are DBZ_SKIP). 0 on success, -1 with a short
 * reason in err ("not JSON: ...", "no source.file/pos or gtid", "after.store_id is missing",
 * ...). A heartbeat ({"ts_ms":..} alone) and a transaction marker ("status" BEGIN/END) are
 * DBZ_SKIP. Never crashes on any input.
 */
int dbz_decode(const char *val, size_t len, const char *key, size_t klen, const char *group,
	       const char *table, struct dbz_event *out, char *err);
/* The same with a schema cache (NULL: none); the answer is the same with or without it. */
int dbz_decode_cached(const char *val, size_t len, const char *key, size_t klen,
		      const char *group, const char *table, struct dbz_cache *cache,
		      struct dbz_event *out, char *err);

/* 1 if key is a JSON object (the connector's key, either shape): with a null value, the
   message is a Debezium tombstone rather than a broken cdctop message (its key is a number). */
int dbz_key_is_object(const char *key, size_t klen);

#endif
