/*
 * capture.c - what both captures share: the result buffers of a row select (the change table's
 * and the customer table's have the same columns) and their conversion to a change row.
 */
#include "capture.h"
#include "util.h"

#include <string.h>

int cap_bind_fetch(MYSQL_STMT *st, struct cap_fetch *f)
{
	MYSQL_BIND b[10];
	memset(b, 0, sizeof b);
	long long *ints[7] = {&f->log_id,     &f->event_us, &f->customer_id, &f->store_id,
	                      &f->address_id, &f->active,   &f->create_s};
	for (int i = 0; i < 7; i++)
		db_bind_ll(&b[i], ints[i]);
	char *bufs[3] = {f->first, f->last, f->email};
	unsigned long *lens[3] = {&f->lf, &f->ll, &f->le};
	size_t sizes[3] = {sizeof f->first, sizeof f->last, sizeof f->email};
	for (int i = 0; i < 3; i++) {
		b[7 + i].buffer_type = MYSQL_TYPE_STRING;
		b[7 + i].buffer = bufs[i];
		b[7 + i].buffer_length = sizes[i] - 1;
		b[7 + i].length = lens[i];
	}
	b[9].is_null = &f->email_null;
	return mysql_stmt_bind_result(st, b) ? -1 : 0;
}

void cap_fetch_row(const struct cap_fetch *f, struct cap_row *out)
{
	memset(out, 0, sizeof *out);
	struct cdc_row *c = &out->row;
	c->log_id = f->log_id;
	c->event_us = f->event_us;
	c->customer_id = (uint32_t)f->customer_id;
	c->store_id = (uint32_t)f->store_id;
	c->address_id = (uint32_t)f->address_id;
	c->active = (int)f->active;
	c->create_us = f->create_s * 1000000;
	/* what was fetched: the value, or as much as the buffer held of a longer one */
	u_copy_utf8(c->first_name, sizeof c->first_name, f->first,
		    f->lf < sizeof f->first - 1 ? f->lf : sizeof f->first - 1);
	u_copy_utf8(c->last_name, sizeof c->last_name, f->last,
		    f->ll < sizeof f->last - 1 ? f->ll : sizeof f->last - 1);
	if (!f->email_null)
		u_copy_utf8(c->email, sizeof c->email, f->email,
			    f->le < sizeof f->email - 1 ? f->le : sizeof f->email - 1);
	c->email_null = f->email_null != 0;
}
