/*
 * cmd_init.c - `cdctop init`: connects (starting the private server if it is the target) and
 * creates the schema objects that are missing (schema.c). Main thread. Prints what it created,
 * or that there was nothing to do.
 */
#include "cmds.h"
#include "db.h"
#include "schema.h"
#include "util.h"

#include <stdio.h>

int cmd_init(struct opts *o)
{
	struct db_target t;
	char err[U_ERRLEN];
	if (db_resolve(o, &t, 1, err) < 0) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	MYSQL *m = db_connect(&t, 0, err);
	if (!m) {
		fprintf(stderr, "cdctop: %s\n", err);
		return 1;
	}
	struct schema_report r;
	int rc = schema_init(m, t.db, 1, &r, err);
	mysql_close(m);
	if (rc < 0) {
		fprintf(stderr, "cdctop: init: %s\n", err);
		return 1;
	}
	if (!r.created_db && !r.created_sakila && !r.created_tables && !r.created_trigger) {
		printf("init: %s: nothing to do, all objects present\n", t.label);
		return 0;
	}
	printf("init: %s:%s%s%s%s\n", t.label, r.created_db ? " created database;" : "",
	       r.created_sakila ? " created sakila subset (2 stores);" : "",
	       r.created_tables ? " created change tables;" : "",
	       r.created_trigger ? " created capture trigger" : "");
	return 0;
}
