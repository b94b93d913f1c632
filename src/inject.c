/*
 * inject.c - one batch = one transaction of N (address, customer) pairs with prepared
 * statements; store ids are drawn from the stores that exist and persons from the seeded fake
 * generator. Runs on whichever thread owns the connection. Never leaves a partial batch: any
 * failure rolls the transaction back. Detects MySQL 8 sakila's GEOMETRY location column and
 * SMALLINT id columns (refusing a batch that would overflow them before writing anything).
 */
#include "inject.h"
#include "db.h"
#include "fake.h"
#include "schema.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inj {
	MYSQL *m;
	MYSQL_STMT *addr, *cust;
	struct fake rng;
	uint32_t stores[INJ_MAX_STORES];
	int nstores;
	uint32_t *cities;
	int ncities;
	int has_location;
	unsigned long long cust_max_id, addr_max_id; /* column type limits */
	int fail_at; /* test hook: CDCTOP_TEST_FAIL_AT=k breaks the k-th customer of a batch */
};

/* Reads a list of unsigned ids from a query with no parameters. */
static int load_ids(MYSQL *m, const char *sql, uint32_t *out, int max, char *err)
{
	if (mysql_query(m, sql)) {
		if (mysql_errno(m) == 1146) /* no such table */
			return u_err(err, "%s: run cdctop init, or pick the database with -D",
				     mysql_error(m));
		return u_err(err, "%s", mysql_error(m));
	}
	MYSQL_RES *r = mysql_store_result(m);
	if (!r)
		return u_err(err, "%s", mysql_error(m));
	int n = 0;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r)) && n < max)
		if (row[0])
			out[n++] = (uint32_t)strtoul(row[0], NULL, 10);
	mysql_free_result(r);
	return n;
}

/* The largest value an id column of this COLUMN_TYPE can hold. */
static unsigned long long type_limit(const char *type)
{
	int uns = strstr(type, "unsigned") != NULL;
	if (!strncmp(type, "tinyint", 7))
		return uns ? 255 : 127;
	if (!strncmp(type, "smallint", 8))
		return uns ? 65535 : 32767;
	if (!strncmp(type, "mediumint", 9))
		return uns ? 16777215 : 8388607;
	if (!strncmp(type, "int", 3))
		return uns ? 4294967295ULL : 2147483647ULL;
	return 9223372036854775807ULL;
}

struct inj *inj_new(MYSQL *m, const char *db, uint64_t seed, char *err)
{
	struct inj *j = u_calloc(1, sizeof *j);
	j->m = m;
	fake_init(&j->rng, seed);
	const char *fa = getenv("CDCTOP_TEST_FAIL_AT");
	j->fail_at = fa ? atoi(fa) : 0;
	j->nstores = load_ids(m, "SELECT store_id FROM store ORDER BY store_id", j->stores,
			      INJ_MAX_STORES, err);
	if (j->nstores < 0)
		goto fail;
	if (j->nstores == 0) {
		u_err(err, "no stores in %s.store: run cdctop init, or add a store", db);
		goto fail;
	}
	j->cities = u_malloc(1000 * sizeof *j->cities);
	j->ncities = load_ids(m, "SELECT city_id FROM city ORDER BY city_id LIMIT 1000", j->cities,
			      1000, err);
	if (j->ncities < 0)
		goto fail;
	if (j->ncities == 0) {
		u_err(err, "no cities in %s.city: run cdctop init, or add a city", db);
		goto fail;
	}
	char type[128];
	int r = schema_column_type(m, db, "customer", "customer_id", type, sizeof type, err);
	if (r < 0)
		goto fail;
	j->cust_max_id = r ? type_limit(type) : 0;
	r = schema_column_type(m, db, "address", "address_id", type, sizeof type, err);
	if (r < 0)
		goto fail;
	j->addr_max_id = r ? type_limit(type) : 0;
	j->has_location = schema_has_column(m, db, "address", "location", err);
	if (j->has_location < 0)
		goto fail;

	const char *addr_sql =
	    j->has_location
		? "INSERT INTO address (address, address2, district, city_id, postal_code, "
		  "phone, location) VALUES (?, ?, ?, ?, ?, ?, POINT(?, ?))"
		: "INSERT INTO address (address, address2, district, city_id, postal_code, "
		  "phone) VALUES (?, ?, ?, ?, ?, ?)";
	const char *cust_sql = "INSERT INTO customer (store_id, first_name, last_name, email, "
			       "address_id, active, create_date) VALUES (?, ?, ?, ?, "
			       "LAST_INSERT_ID(), 1, NOW())";
	j->addr = mysql_stmt_init(m);
	j->cust = mysql_stmt_init(m);
	if (!j->addr || !j->cust || mysql_stmt_prepare(j->addr, addr_sql, strlen(addr_sql))) {
		u_err(err, "cannot prepare the address insert: %s",
		      j->addr ? mysql_stmt_error(j->addr) : "out of memory");
		goto fail;
	}
	if (mysql_stmt_prepare(j->cust, cust_sql, strlen(cust_sql))) {
		u_err(err, "cannot prepare the customer insert: %s", mysql_stmt_error(j->cust));
		goto fail;
	}
	if (mysql_autocommit(m, 0)) {
		u_err(err, "cannot turn autocommit off: %s", mysql_error(m));
		goto fail;
	}
	return j;
fail:
	inj_free(j);
	return NULL;
}

void inj_free(struct inj *j)
{
	if (!j)
		return;
	if (j->addr)
		mysql_stmt_close(j->addr);
	if (j->cust)
		mysql_stmt_close(j->cust);
	free(j->cities);
	free(j);
}

/* Refuses a batch that would overflow a small id column (real sakila's SMALLINT ids). The
   next id is the larger of MAX(id) + 1 and the table's AUTO_INCREMENT counter (rollbacks and
   deletes leave the counter ahead). */
static int check_room(struct inj *j, int n, char *err)
{
	static const struct {
		const char *max_sql, *ai_sql, *what;
	} q[] = {{"SELECT COALESCE(MAX(customer_id), 0) FROM customer",
		  "SELECT COALESCE(AUTO_INCREMENT, 1) - 1 FROM information_schema.TABLES WHERE "
		  "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customer'",
		  "customer.customer_id"},
		 {"SELECT COALESCE(MAX(address_id), 0) FROM address",
		  "SELECT COALESCE(AUTO_INCREMENT, 1) - 1 FROM information_schema.TABLES WHERE "
		  "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'address'",
		  "address.address_id"}};
	unsigned long long lim[2] = {j->cust_max_id, j->addr_max_id};
	for (int i = 0; i < 2; i++) {
		if (!lim[i] || lim[i] > 4000000000ULL)
			continue;
		long long mx = 0, ai = 0;
		if (db_query_ll(j->m, q[i].max_sql, &mx, err) < 0 ||
		    db_query_ll(j->m, q[i].ai_sql, &ai, err) < 0)
			return -1;
		if (ai > mx)
			mx = ai;
		if ((unsigned long long)mx + (unsigned long long)n > lim[i])
			return u_err(err,
				     "%s would overflow: its type holds ids up to %llu and the "
				     "next is %lld, so %d more do not fit; widen the column "
				     "(ALTER TABLE ... INT UNSIGNED) or use a fresh database",
				     q[i].what, lim[i], mx + 1, n);
	}
	return 0;
}

int inj_batch(struct inj *j, int n, struct inj_result *res, char *err)
{
	int64_t t0 = u_mono_us();
	if (check_room(j, n, err) < 0)
		return -1;
	struct fake_person p;
	uint32_t city = 0;
	double lon = 0, lat = 0;
	unsigned long la[6], lc[4];
	MYSQL_BIND ba[8], bc[4];
	memset(ba, 0, sizeof ba);
	memset(bc, 0, sizeof bc);
	db_bind_str(&ba[0], p.address, &la[0]);
	db_bind_str(&ba[1], p.address2, &la[1]);
	db_bind_str(&ba[2], p.district, &la[2]);
	ba[3].buffer_type = MYSQL_TYPE_LONG;
	ba[3].is_unsigned = 1;
	ba[3].buffer = &city;
	db_bind_str(&ba[4], p.postal_code, &la[4]);
	db_bind_str(&ba[5], p.phone, &la[5]);
	ba[6].buffer_type = MYSQL_TYPE_DOUBLE;
	ba[6].buffer = &lon;
	ba[7].buffer_type = MYSQL_TYPE_DOUBLE;
	ba[7].buffer = &lat;
	uint32_t store = 0;
	bc[0].buffer_type = MYSQL_TYPE_LONG;
	bc[0].is_unsigned = 1;
	bc[0].buffer = &store;
	db_bind_str(&bc[1], p.first_name, &lc[1]);
	db_bind_str(&bc[2], p.last_name, &lc[2]);
	db_bind_str(&bc[3], p.email, &lc[3]);
	int counts[INJ_MAX_STORES] = {0};

	for (int i = 0; i < n; i++) {
		fake_person(&j->rng, &p);
		int si = (int)fake_below(&j->rng, (uint32_t)j->nstores);
		store = j->stores[si];
		if (j->fail_at && i + 1 == j->fail_at)
			store = 250; /* no such store: the FK check fails mid-batch */
		city = j->cities[fake_below(&j->rng, (uint32_t)j->ncities)];
		lon = (double)fake_below(&j->rng, 36000) / 100.0 - 180.0;
		lat = (double)fake_below(&j->rng, 18000) / 100.0 - 90.0;
		/* lengths change with every person */
		la[0] = strlen(p.address);
		la[1] = strlen(p.address2);
		la[2] = strlen(p.district);
		la[4] = strlen(p.postal_code);
		la[5] = strlen(p.phone);
		lc[1] = strlen(p.first_name);
		lc[2] = strlen(p.last_name);
		lc[3] = strlen(p.email);
		if (mysql_stmt_bind_param(j->addr, ba) || mysql_stmt_execute(j->addr)) {
			u_err(err, "address insert failed: %s", mysql_stmt_error(j->addr));
			goto rollback;
		}
		if (mysql_stmt_bind_param(j->cust, bc) || mysql_stmt_execute(j->cust)) {
			u_err(err, "customer insert failed: %s", mysql_stmt_error(j->cust));
			goto rollback;
		}
		counts[si]++;
	}
	if (mysql_commit(j->m)) {
		u_err(err, "commit failed: %s", mysql_error(j->m));
		goto rollback;
	}
	res->n += n;
	res->nstores = j->nstores;
	for (int i = 0; i < j->nstores; i++) {
		res->store_ids[i] = j->stores[i];
		res->store_counts[i] += counts[i];
	}
	res->us += u_mono_us() - t0;
	return 0;
rollback:
	mysql_rollback(j->m);
	return -1;
}
