/*
 * heartbeat.c - the heartbeat message: {"source":"cdctop","db":..,"topic":..,"ts_us":..,
 * "offsets":[..]}, written with snprintf (only integers and validated names go in) and read
 * with jansson, which refuses anything malformed.
 */
#include "heartbeat.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int hb_topic(const char *topic, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "__cdctop-heartbeat.%s", topic);
	return n < 0 || (size_t)n >= cap || n > 249 ? -1 : 0; /* Kafka's longest topic name */
}

int hb_encode(const struct hb *h, const char *db, const char *topic, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "{\"source\":\"cdctop\",\"db\":\"%s\",\"topic\":\"%s\",\"ts_us\":%lld,"
				   "\"offsets\":[",
			 db, topic, (long long)h->ts_us);
	for (int i = 0; i < h->nparts && n > 0 && (size_t)n < cap; i++)
		n += snprintf(buf + n, cap - (size_t)n, "%s%lld", i ? "," : "",
			      (long long)h->offsets[i]);
	if (n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, "]}");
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int hb_decode(const void *msg, size_t len, struct hb *h, char *err)
{
	json_error_t je;
	json_t *root = msg ? json_loadb(msg, len, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (!root)
		return u_err(err, "heartbeat: not JSON");
	json_t *ts = json_object_get(root, "ts_us"), *offs = json_object_get(root, "offsets");
	int rc = -1;
	if (!json_is_integer(ts) || !json_is_array(offs) || json_array_size(offs) > HB_MAX_PARTS) {
		u_err(err, "heartbeat: no ts_us or offsets");
		goto out;
	}
	h->ts_us = json_integer_value(ts);
	h->nparts = (int)json_array_size(offs);
	for (int i = 0; i < h->nparts; i++) {
		json_t *o = json_array_get(offs, (size_t)i);
		if (!json_is_integer(o) || json_integer_value(o) < 0) {
			u_err(err, "heartbeat: offset %d is not a count", i);
			goto out;
		}
		h->offsets[i] = json_integer_value(o);
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
