/*
 * inject.h - writes batches of fake customers into sakila: per customer an address row, then
 * the customer row referencing it, one transaction per batch, with prepared statements:
 * multi-row inserts of up to 100 rows, the address ids read back with RETURNING (MariaDB
 * 10.5+) or, where the auto-increment lock mode guarantees consecutive ids, from
 * LAST_INSERT_ID(); else one address and one customer insert per row (MySQL 8's default).
 * Also the one pacer that spaces batches at a rate. Used by `cdctop inject` and the monitor's
 * injector thread (injector.c); an inj is used by one thread at a time and borrows (does not
 * own) its connection.
 */
#ifndef CDCTOP_INJECT_H
#define CDCTOP_INJECT_H

#include <mysql.h>
#include <stdint.h>

#define INJ_MAX_STORES 256

struct inj;

struct inj_result {
	int n;                         /* customers written (0 when the batch failed) */
	int nstores;                   /* stores in the tables below */
	uint32_t store_ids[INJ_MAX_STORES];
	int store_counts[INJ_MAX_STORES];
	int64_t us; /* wall time of the batch, commit included */
};

/* Prepares statements on m (database selected) and loads store and city ids. seed gives a
   repeatable sequence of persons. NULL with err (e.g. "no stores: run cdctop init"). */
struct inj *inj_new(MYSQL *m, const char *db, uint64_t seed, char *err);
/* Writes n customers in one transaction; on error rolls back (nothing half-written) and
   returns -1 with err. Adds to res (res->n is incremented by the customers written). */
int inj_batch(struct inj *j, int n, struct inj_result *res, char *err);
/* How a batch ends: committed, rolled back on purpose (its change-log ids are never
   committed: a gap), or held open (the caller commits or rolls back on the connection). */
enum inj_end { INJ_COMMIT = 0, INJ_ROLLBACK, INJ_HOLD };
/* inj_batch that ends as end says. INJ_ROLLBACK: 0 with res->n unchanged; INJ_HOLD: 0 with res
   filled as if committed, the transaction left open. */
int inj_batch_end(struct inj *j, int n, enum inj_end end, struct inj_result *res, char *err);
/* Frees statements; accepts NULL. Does not close the connection. */
void inj_free(struct inj *j);

/* Paces batches at rate customers/s: a batch may start once the customers already granted are
   earned (the first at once). Plain data, no I/O; times are u_mono_us. */
struct inj_pacer {
	double rate;   /* customers/s, > 0 */
	int bounded;   /* fallen far behind: start over from now instead of bursting to catch up */
	int64_t t0_us; /* the start */
	uint64_t done; /* customers granted since */
};
/* Starts (or starts over) at rate from now. bounded: when more than 10 batches plus a second
   of customers are owed, the pacer starts over (the monitor); unbounded, it catches up
   (`cdctop inject --rate`). */
void inj_pace_start(struct inj_pacer *p, double rate, int bounded, int64_t now_us);
/* 0 when a batch of n may start now (it is counted as granted), else the time it is due. */
int64_t inj_pace_next(struct inj_pacer *p, int n, int64_t now_us);

#endif
