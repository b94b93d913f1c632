/*
 * inject.h - writes batches of fake customers into sakila: per customer an address row, then
 * the customer row referencing it, one transaction per batch, with prepared statements:
 * multi-row inserts of up to 100 rows, the address ids read back with RETURNING (MariaDB
 * 10.5+) or, where the auto-increment lock mode guarantees consecutive ids, from
 * LAST_INSERT_ID(); else one address and one customer insert per row (MySQL 8's default). Used by `cdctop inject` and the monitor's injector thread; an inj is
 * used by one thread at a time and borrows (does not own) its connection.
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
/* How address ids are learnt: "returning", "consecutive" or "per-row". */
const char *inj_id_mode(const struct inj *j);
/* Frees statements; accepts NULL. Does not close the connection. */
void inj_free(struct inj *j);

#endif
