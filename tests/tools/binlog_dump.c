/*
 * binlog_dump.c - test tool for the binlog capture (src/binlog.c): prints one line per inserted
 * customer row, "<file>:<pos> <customer_id> <store_id> <first_name> <last_name> <email>
 * <address_id> <event_us>" (file:pos: the row's resume position), or runs blc_check or
 * blc_server_pos. Single thread. Errors are one line on stderr and exit status 1; it never
 * waits forever (--idle).
 */
#include "binlog.h"
#include "db.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the usage and exits 2. */
static void usage(void)
{
	fprintf(stderr,
	        "usage: binlog_dump -S socket [-u user] [-p password] [-D db] [--from file:pos]\n"
	        "                   [-n rows] [--idle seconds] [--commits] [--stats]\n"
	        "       binlog_dump -S socket [-u user] --check | --server-pos\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct db_target t;
	memset(&t, 0, sizeof t);
	snprintf(t.user, sizeof t.user, "root");
	snprintf(t.db, sizeof t.db, "sakila");
	const char *from = NULL;
	long long want = -1, idle_s = 10;
	int check = 0, server_pos = 0, commits = 0, stats = 0;
	char err[U_ERRLEN];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--check")) {
			check = 1;
		} else if (!strcmp(a, "--server-pos")) {
			server_pos = 1;
		} else if (!strcmp(a, "--commits")) {
			commits = 1;
		} else if (!strcmp(a, "--stats")) {
			stats = 1;
		} else if (!v) {
			usage();
		} else if (!strcmp(a, "-S")) {
			snprintf(t.socket, sizeof t.socket, "%s", v), i++;
		} else if (!strcmp(a, "-u")) {
			snprintf(t.user, sizeof t.user, "%s", v), i++;
		} else if (!strcmp(a, "-p")) {
			snprintf(t.password, sizeof t.password, "%s", v), i++;
		} else if (!strcmp(a, "-D")) {
			snprintf(t.db, sizeof t.db, "%s", v), i++;
		} else if (!strcmp(a, "--from")) {
			from = v, i++;
		} else if (!strcmp(a, "-n")) {
			if (u_parse_int("-n", v, 0, 1LL << 40, &want, err) < 0)
				goto fail;
			i++;
		} else if (!strcmp(a, "--idle")) {
			if (u_parse_int("--idle", v, 1, 86400, &idle_s, err) < 0)
				goto fail;
			i++;
		} else {
			usage();
		}
	}
	if (!t.socket[0])
		usage();
	snprintf(t.label, sizeof t.label, "socket %s", t.socket);

	if (check || server_pos) {
		MYSQL *m = db_connect(&t, 0, err);
		if (!m)
			goto fail;
		int rc;
		struct blc_pos p;
		if (check)
			rc = blc_check(m, err);
		else
			rc = blc_server_pos(m, &p, err);
		mysql_close(m);
		if (rc < 0)
			goto fail;
		char buf[100];
		printf("%s\n", check ? "ok" : blc_pos_fmt(&p, buf, sizeof buf));
		return 0;
	}

	struct blc_pos start = {{0}, 0};
	if (from && *from && blc_pos_parse(from, &start, err) < 0)
		goto fail;
	struct blc *b;
	if (blc_open(&t, t.db, from && *from ? &start : NULL, &b, err) < 0)
		goto fail;
	long long got = 0;
	int64_t t0 = u_mono_us(), first_us = 0, last_row = u_mono_us();
	int rc = 0;
	while (want < 0 || got < want) {
		struct blc_row r;
		int n = blc_next(b, &r, 200, err);
		if (n < 0) {
			rc = 1;
			break;
		}
		if (n == 0) {
			if (u_mono_us() - last_row > idle_s * 1000000) {
				if (want >= 0) {
					u_err(err, "binlog_dump: only %lld of %lld rows in %lld s",
					      got, want, idle_s);
					rc = 1;
				}
				break;
			}
			continue;
		}
		if (!got)
			first_us = u_mono_us();
		got++;
		last_row = u_mono_us();
		char pos[100];
		printf("%s %" PRIu32 " %" PRIu32 " %s %s %s %" PRIu32 " %" PRId64 "\n",
		       blc_pos_fmt(&r.resume, pos, sizeof pos), r.row.customer_id, r.row.store_id,
		       r.row.first_name, r.row.last_name, r.row.email, r.row.address_id,
		       r.row.event_us);
		if (commits && r.last_in_trx)
			printf("commit %s\n", blc_pos_fmt(&r.next, pos, sizeof pos));
	}
	fflush(stdout);
	if (stats) {
		struct blc_stats s;
		blc_stats(b, &s);
		char rp[100], sp[100];
		double secs = got > 1 ? (double)(last_row - first_us) / 1e6 : 0;
		fprintf(
		    stderr,
		    "# rows %lld in %.3f s (%.0f rows/s from the first row; %.3f s open to last) "
		    "events %" PRIu64 " trx %" PRIu64 " other_rows %" PRIu64 " by_position %d "
		    "read %s safe %s\n",
		    got, secs, secs > 0 ? (double)(got - 1) / secs : 0.0,
		    (double)(last_row - t0) / 1e6, s.events, s.trx, s.other_rows, s.by_position,
		    blc_pos_fmt(&s.read, rp, sizeof rp), blc_pos_fmt(&s.safe, sp, sizeof sp));
	}
	blc_free(b);
	if (rc)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "%s\n", err);
	return 1;
}
