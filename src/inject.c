/*
 * inject.c - one batch = one transaction of N (address, customer) pairs with prepared
 * statements; store ids are drawn from the stores that exist and persons from the seeded fake
 * generator. Runs on whichever thread owns the connection. Never leaves a partial batch: any
 * failure rolls the transaction back. Detects MySQL 8 sakila's GEOMETRY location column and
 * SMALLINT id columns (refusing a batch that would overflow them before writing anything).
 * Also the pacer (inj_pace_*), plain arithmetic on the monotonic clock.
 */
#include "inject.h"
#include "db.h"
#include "fake.h"
#include "schema.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a batch learns the address ids its customers reference. */
enum id_mode {
	IDS_RETURNING, /* multi-row INSERT ... RETURNING address_id (MariaDB 10.5+) */
	IDS_CONSECUTIVE, /* multi-row INSERT, ids LAST_INSERT_ID() + i: the server's auto-increment
			    lock mode (0 or 1) and increment (1) guarantee them */
	IDS_PER_ROW /* one address and one customer insert per row (MySQL 8's lock mode 2) */
};

#define INJ_CHUNK 100 /* rows per multi-row statement */
#define INJ_SIZES 3   /* prepared statement pairs kept, by row count */

/* The prepared address and customer inserts for one row count. */
struct stmt_pair {
	int rows; /* 0: unused */
	MYSQL_STMT *addr, *cust;
	unsigned long last_use;
};

/* One multi-row statement's values: the persons and what else each row binds. */
struct chunk {
	struct fake_person p[INJ_CHUNK];
	uint32_t city[INJ_CHUNK], store[INJ_CHUNK];
	uint64_t addr_id[INJ_CHUNK];
	double lon[INJ_CHUNK], lat[INJ_CHUNK];
	unsigned long len[INJ_CHUNK][9];
	MYSQL_BIND ba[INJ_CHUNK * 8], bc[INJ_CHUNK * 5];
};

struct inj {
	MYSQL *m;
	struct chunk *chunk;
	enum id_mode mode;
	struct stmt_pair sp[INJ_SIZES];
	unsigned long uses;
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

/* Appends to buf the INSERT of `rows` rows: head, then rows times the tuple, then tail. */
static char *build_insert(const char *head, const char *tuple, const char *tail, int rows)
{
	size_t hl = strlen(head), tl = strlen(tuple), xl = strlen(tail);
	char *q = u_malloc(hl + (size_t)rows * (tl + 1) + xl + 1), *p = q;
	memcpy(p, head, hl);
	p += hl;
	for (int i = 0; i < rows; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, tuple, tl);
		p += tl;
	}
	memcpy(p, tail, xl + 1);
	return q;
}

static void pair_close(struct stmt_pair *sp)
{
	if (sp->addr)
		mysql_stmt_close(sp->addr);
	if (sp->cust)
		mysql_stmt_close(sp->cust);
	memset(sp, 0, sizeof *sp);
}

/* Prepares the address and customer inserts of `rows` rows in mode into sp; -1 with err. */
static int pair_prepare(struct inj *j, enum id_mode mode, int rows, struct stmt_pair *sp,
			char *err)
{
	const char *tuple = j->has_location ? "(?, ?, ?, ?, ?, ?, POINT(?, ?))" : "(?, ?, ?, ?, ?, ?)";
	char *aq = build_insert(j->has_location
				    ? "INSERT INTO address (address, address2, district, city_id, "
				      "postal_code, phone, location) VALUES "
				    : "INSERT INTO address (address, address2, district, city_id, "
				      "postal_code, phone) VALUES ",
				tuple, mode == IDS_RETURNING ? " RETURNING address_id" : "", rows);
	/* per row, the customer references the address just written */
	char *cq = build_insert("INSERT INTO customer (store_id, first_name, last_name, email, "
				"address_id, active, create_date) VALUES ",
				mode == IDS_PER_ROW ? "(?, ?, ?, ?, LAST_INSERT_ID(), 1, NOW())"
						    : "(?, ?, ?, ?, ?, 1, NOW())",
				"", rows);
	memset(sp, 0, sizeof *sp);
	sp->addr = mysql_stmt_init(j->m);
	sp->cust = mysql_stmt_init(j->m);
	int rc = 0;
	if (!sp->addr || !sp->cust || mysql_stmt_prepare(sp->addr, aq, strlen(aq)))
		rc = u_err(err, "cannot prepare the address insert: %s",
			   sp->addr ? mysql_stmt_error(sp->addr) : "out of memory");
	else if (mysql_stmt_prepare(sp->cust, cq, strlen(cq)))
		rc = u_err(err, "cannot prepare the customer insert: %s", mysql_stmt_error(sp->cust));
	free(aq);
	free(cq);
	if (rc < 0)
		pair_close(sp);
	else
		sp->rows = rows;
	return rc;
}

/* Chooses how address ids are learnt: RETURNING where the server prepares it, else
   consecutive ids where the auto-increment settings guarantee them, else one row at a time.
   CDCTOP_TEST_INJECT_IDS=returning|consecutive|per-row forces one (tests). */
static int pick_mode(struct inj *j, char *err)
{
	const char *force = getenv("CDCTOP_TEST_INJECT_IDS");
	struct stmt_pair sp;
	char e2[U_ERRLEN];
	if (force && !strcmp(force, "per-row"))
		j->mode = IDS_PER_ROW;
	else if (force && !strcmp(force, "consecutive"))
		j->mode = IDS_CONSECUTIVE;
	else if (pair_prepare(j, IDS_RETURNING, 1, &sp, e2) == 0) {
		pair_close(&sp);
		j->mode = IDS_RETURNING;
	} else {
		long long lock = 2, inc = 1;
		/* 0 ("traditional") and 1 ("consecutive") give a multi-row insert whose row count is
		   known in advance consecutive ids; 2 ("interleaved") does not */
		if (db_query_ll(j->m, "SELECT @@innodb_autoinc_lock_mode", &lock, e2) < 0)
			lock = 2;
		if (db_query_ll(j->m, "SELECT @@auto_increment_increment", &inc, e2) < 0)
			inc = 0;
		j->mode = lock <= 1 && inc == 1 ? IDS_CONSECUTIVE : IDS_PER_ROW;
	}
	/* the statements must prepare on this server: fail here, not in the first batch */
	if (pair_prepare(j, j->mode, 1, &sp, err) < 0)
		return -1;
	pair_close(&sp);
	return 0;
}

/* The prepared pair for `rows` rows: cached, else prepared (evicting the least used). */
static struct stmt_pair *pair_for(struct inj *j, int rows, char *err)
{
	struct stmt_pair *victim = &j->sp[0];
	for (int i = 0; i < INJ_SIZES; i++) {
		if (j->sp[i].rows == rows) {
			j->sp[i].last_use = ++j->uses;
			return &j->sp[i];
		}
		if (j->sp[i].last_use < victim->last_use)
			victim = &j->sp[i];
	}
	pair_close(victim);
	if (pair_prepare(j, j->mode, rows, victim, err) < 0)
		return NULL;
	victim->last_use = ++j->uses;
	return victim;
}

struct inj *inj_new(MYSQL *m, const char *db, uint64_t seed, char *err)
{
	struct inj *j = u_calloc(1, sizeof *j);
	j->m = m;
	j->chunk = u_calloc(1, sizeof *j->chunk);
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

	if (pick_mode(j, err) < 0)
		goto fail;
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
	for (int i = 0; i < INJ_SIZES; i++)
		pair_close(&j->sp[i]);
	free(j->cities);
	free(j->chunk);
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

/* Binds row r's address parameters (6, or 8 with the location) at b. */
static void bind_address(struct inj *j, struct chunk *c, int r, MYSQL_BIND *b)
{
	struct fake_person *p = &c->p[r];
	unsigned long *l = c->len[r];
	db_bind_str(&b[0], p->address, &l[0]);
	db_bind_str(&b[1], p->address2, &l[1]);
	db_bind_str(&b[2], p->district, &l[2]);
	b[3].buffer_type = MYSQL_TYPE_LONG;
	b[3].is_unsigned = 1;
	b[3].buffer = &c->city[r];
	db_bind_str(&b[4], p->postal_code, &l[4]);
	db_bind_str(&b[5], p->phone, &l[5]);
	if (j->has_location) {
		b[6].buffer_type = MYSQL_TYPE_DOUBLE;
		b[6].buffer = &c->lon[r];
		b[7].buffer_type = MYSQL_TYPE_DOUBLE;
		b[7].buffer = &c->lat[r];
	}
}

/* Binds row r's customer parameters (4, and the address id unless per row) at b. */
static void bind_customer(struct inj *j, struct chunk *c, int r, MYSQL_BIND *b)
{
	struct fake_person *p = &c->p[r];
	unsigned long *l = c->len[r];
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].is_unsigned = 1;
	b[0].buffer = &c->store[r];
	db_bind_str(&b[1], p->first_name, &l[6]);
	db_bind_str(&b[2], p->last_name, &l[7]);
	db_bind_str(&b[3], p->email, &l[8]);
	if (j->mode != IDS_PER_ROW) {
		b[4].buffer_type = MYSQL_TYPE_LONGLONG;
		b[4].is_unsigned = 1;
		b[4].buffer = &c->addr_id[r];
	}
}

/* Learns the k address ids the last address insert of sp wrote, in row order. */
static int read_ids(struct inj *j, struct stmt_pair *sp, int k, char *err)
{
	struct chunk *c = j->chunk;
	if (j->mode == IDS_CONSECUTIVE) {
		uint64_t id0 = mysql_stmt_insert_id(sp->addr);
		if (mysql_stmt_affected_rows(sp->addr) != (uint64_t)k || !id0)
			return u_err(err, "address insert wrote %llu rows of %d",
				     (unsigned long long)mysql_stmt_affected_rows(sp->addr), k);
		for (int r = 0; r < k; r++)
			c->addr_id[r] = id0 + (uint64_t)r;
		return 0;
	}
	uint64_t id = 0;
	MYSQL_BIND rb;
	memset(&rb, 0, sizeof rb);
	rb.buffer_type = MYSQL_TYPE_LONGLONG;
	rb.is_unsigned = 1;
	rb.buffer = &id;
	if (mysql_stmt_bind_result(sp->addr, &rb))
		return u_err(err, "address insert: %s", mysql_stmt_error(sp->addr));
	int got = 0, f;
	while ((f = mysql_stmt_fetch(sp->addr)) == 0)
		if (got < k)
			c->addr_id[got++] = id;
	mysql_stmt_free_result(sp->addr);
	if (f != MYSQL_NO_DATA || got != k)
		return u_err(err, "address insert returned %d ids of %d%s%s", got, k,
			     f == 1 ? ": " : "", f == 1 ? mysql_stmt_error(sp->addr) : "");
	return 0;
}

/* Writes rows [0, k) of the chunk: the addresses, then the customers referencing them. */
static int write_chunk(struct inj *j, int k, char *err)
{
	struct chunk *c = j->chunk;
	struct stmt_pair *sp = pair_for(j, k, err);
	if (!sp)
		return -1;
	int na = j->has_location ? 8 : 6, nc = j->mode == IDS_PER_ROW ? 4 : 5;
	memset(c->ba, 0, (size_t)(k * na) * sizeof *c->ba);
	memset(c->bc, 0, (size_t)(k * nc) * sizeof *c->bc);
	for (int r = 0; r < k; r++)
		bind_address(j, c, r, &c->ba[r * na]);
	if (mysql_stmt_bind_param(sp->addr, c->ba) || mysql_stmt_execute(sp->addr))
		return u_err(err, "address insert failed: %s", mysql_stmt_error(sp->addr));
	if (j->mode != IDS_PER_ROW && read_ids(j, sp, k, err) < 0)
		return -1;
	for (int r = 0; r < k; r++)
		bind_customer(j, c, r, &c->bc[r * nc]);
	if (mysql_stmt_bind_param(sp->cust, c->bc) || mysql_stmt_execute(sp->cust))
		return u_err(err, "customer insert failed: %s", mysql_stmt_error(sp->cust));
	return 0;
}

int inj_batch(struct inj *j, int n, struct inj_result *res, char *err)
{
	return inj_batch_end(j, n, INJ_COMMIT, res, err);
}

int inj_batch_end(struct inj *j, int n, enum inj_end end, struct inj_result *res, char *err)
{
	int64_t t0 = u_mono_us();
	if (check_room(j, n, err) < 0)
		return -1;
	struct chunk *c = j->chunk;
	int per = j->mode == IDS_PER_ROW ? 1 : INJ_CHUNK;
	int counts[INJ_MAX_STORES] = {0};
	for (int i = 0; i < n;) {
		int k = n - i < per ? n - i : per;
		for (int r = 0; r < k; r++, i++) {
			struct fake_person *p = &c->p[r];
			fake_person(&j->rng, p);
			int si = (int)fake_below(&j->rng, (uint32_t)j->nstores);
			c->store[r] = j->stores[si];
			if (j->fail_at && i + 1 == j->fail_at)
				c->store[r] = 250; /* no such store: the FK check fails mid-batch */
			c->city[r] = j->cities[fake_below(&j->rng, (uint32_t)j->ncities)];
			c->lon[r] = (double)fake_below(&j->rng, 36000) / 100.0 - 180.0;
			c->lat[r] = (double)fake_below(&j->rng, 18000) / 100.0 - 90.0;
			counts[si]++;
		}
		if (write_chunk(j, k, err) < 0)
			goto rollback;
	}
	if (end == INJ_ROLLBACK) { /* on purpose: the ids taken are never committed */
		mysql_rollback(j->m);
		res->us += u_mono_us() - t0;
		return 0;
	}
	if (end == INJ_COMMIT && mysql_commit(j->m)) {
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

/* Starts pacing at rate customers/s from now. */
void inj_pace_start(struct inj_pacer *p, double rate, int bounded, int64_t now_us)
{
	p->rate = rate;
	p->bounded = bounded;
	p->t0_us = now_us;
	p->done = 0;
}

/* Grants a batch of n when the rate has earned the customers granted so far. */
int64_t inj_pace_next(struct inj_pacer *p, int n, int64_t now_us)
{
	double due = p->rate * (double)(now_us - p->t0_us) / 1e6; /* customers earned */
	int64_t owed = (int64_t)due - (int64_t)p->done;
	if (p->bounded && owed > 10LL * n + (int64_t)p->rate) { /* fell behind: start over */
		p->t0_us = now_us;
		p->done = 0;
		due = 0;
	}
	if (due >= (double)p->done) {
		p->done += (uint64_t)n;
		return 0;
	}
	int64_t next = p->t0_us + (int64_t)((double)p->done * 1e6 / p->rate);
	return next > now_us ? next : now_us + 1;
}
