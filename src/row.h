/*
 * row.h - the domain row: one captured registration as every stage carries it (a row of
 * users_change_events, or a customer row decoded from the binlog). Capture wraps it with its
 * source position (cap_row, blc_row), the envelope encodes and decodes it, the consumer counts
 * it. Plain data, no functions.
 */
#ifndef CDCTOP_ROW_H
#define CDCTOP_ROW_H

#include <stdint.h>

struct cdc_row {
	int64_t log_id;   /* unique, increasing event id (binlog capture: the customer_id) */
	int64_t event_us; /* event_timestamp, microseconds since epoch (UTC) */
	uint32_t customer_id, store_id, address_id;
	int active;
	int64_t create_us; /* customer.create_date, us since epoch */
	char first_name[46], last_name[46], email[51];
	int email_null; /* customer.email is NULL (the envelope says null, not "") */
};

#endif
