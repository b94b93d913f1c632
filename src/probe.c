/*
 * probe.c - the monitor's Kafka probe (see probe.h). The figures are under the probe's mutex,
 * never held during a request nor while calling the report callback.
 * rd_kafka_offsets_for_times keeps to its timeout with the brokers down, where 2.0.2's
 * rd_kafka_query_watermark_offsets can block for as long as they stay down.
 */
#include "probe.h"
#include "util.h"
#include "view.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_US 1000000 /* probe period */
#define PROBE_MS 250     /* timeout of one request (also bounds stop) */

struct probe {
	rd_kafka_t *rk;
	char topic[256];
	int nparts;
	probe_report_fn report;
	void *arg;

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cond;
	int stopping;
	int health; /* enum probe_health */
	struct probe_part parts[CONS_MAX_PARTS];
	char error[VIEW_TEXT];
};

/* The probe's handle: a consumer with the group id whose committed offsets it reads. */
struct probe *probe_new(struct kc *kc, const char *topic, probe_report_fn report, void *arg,
                        char *err)
{
	char e[512], group[128];
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	if (!conf)
		return NULL;
	snprintf(group, sizeof group, "cdctop-%s", topic);
	if (rd_kafka_conf_set(conf, "group.id", group, e, sizeof e) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) ||
	    rd_kafka_conf_set(conf, "client.id", "cdctop-probe", e, sizeof e)) {
		rd_kafka_conf_destroy(conf);
		u_err(err, "kafka probe: %s", e);
		return NULL;
	}
	if (kc_default(kc, conf, "reconnect.backoff.max.ms", "1000", err) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		u_err(err, "kafka: cannot create a client for '%s': %s", kc_bootstrap(kc), e);
		return NULL;
	}
	struct probe *p = u_calloc(1, sizeof *p);
	p->rk = rk;
	snprintf(p->topic, sizeof p->topic, "%s", topic);
	p->report = report;
	p->arg = arg;
	pthread_mutex_init(&p->mu, NULL);
	u_cond_init(&p->cond);
	for (int i = 0; i < CONS_MAX_PARTS; i++)
		p->parts[i] = (struct probe_part){i, -1, -1, -1, -1, -1};
	return p;
}

rd_kafka_t *probe_handle(struct probe *p)
{
	return p->rk;
}

void probe_set_partitions(struct probe *p, int nparts)
{
	p->nparts = nparts < CONS_MAX_PARTS ? nparts : CONS_MAX_PARTS;
}

/* 1 once stop was asked (between requests). */
static int probe_stopping(struct probe *p)
{
	pthread_mutex_lock(&p->mu);
	int s = p->stopping;
	pthread_mutex_unlock(&p->mu);
	return s;
}

/* Asks the cluster for every partition's offset at ts (-2 earliest, -1 latest) into off[]. */
static int probe_offsets(struct probe *p, int64_t ts, int64_t *off, char *err, size_t len)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(p->nparts);
	for (int i = 0; i < p->nparts; i++)
		rd_kafka_topic_partition_list_add(l, p->topic, i)->offset = ts;
	rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(p->rk, l, PROBE_MS);
	for (int i = 0; !e && i < l->cnt; i++) {
		int k = l->elems[i].partition;
		if (l->elems[i].err)
			e = l->elems[i].err;
		else if (k >= 0 && k < p->nparts)
			off[k] = l->elems[i].offset;
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		snprintf(err, len, "%s watermarks: %s", ts == -2 ? "low" : "high",
		         rd_kafka_err2str(e));
	return e ? -1 : 0;
}

/* The group's committed offsets into parts[]; an unanswered OffsetFetch only blanks the
   column: watermarks decide health. */
static void probe_committed(struct probe *p, struct probe_part *parts)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(p->nparts);
	for (int i = 0; i < p->nparts; i++)
		rd_kafka_topic_partition_list_add(l, p->topic, i);
	if (!rd_kafka_committed(p->rk, l, PROBE_MS)) {
		for (int i = 0; i < l->cnt; i++) {
			int k = l->elems[i].partition;
			if (k >= 0 && k < p->nparts && !l->elems[i].err)
				parts[k].committed = l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* One probe: low and high watermarks, then the group's committed offsets; stop is checked
   between the requests. */
static void probe_once(struct probe *p)
{
	struct probe_part parts[CONS_MAX_PARTS];
	int64_t lo[CONS_MAX_PARTS], hi[CONS_MAX_PARTS];
	char err[VIEW_TEXT] = "", ev[VIEW_TEXT * 2] = "";
	for (int i = 0; i < p->nparts; i++) {
		parts[i] = (struct probe_part){i, -1, -1, -1, -1, -1};
		lo[i] = hi[i] = -1;
	}
	int ok = probe_offsets(p, -2, lo, err, sizeof err) == 0;
	if (probe_stopping(p))
		return;
	ok = ok && probe_offsets(p, -1, hi, err, sizeof err) == 0;
	for (int i = 0; ok && i < p->nparts; i++) {
		parts[i].low = lo[i];
		parts[i].high = hi[i];
	}
	if (ok && !probe_stopping(p))
		probe_committed(p, parts);
	int level = VIEW_INFO;
	pthread_mutex_lock(&p->mu);
	int was = p->health;
	if (ok) {
		memcpy(p->parts, parts, sizeof parts[0] * (size_t)p->nparts);
		p->error[0] = 0;
		p->health = PROBE_UP;
		if (was == PROBE_DOWN)
			snprintf(ev, sizeof ev, "kafka: reachable again");
	} else {
		u_copy_line(p->error, sizeof p->error, err);
		p->health = PROBE_DOWN;
		if (was != PROBE_DOWN)
			snprintf(ev, sizeof ev, "kafka: %s", err), level = VIEW_ERROR;
	}
	pthread_mutex_unlock(&p->mu);
	p->report(p->arg, level, ev[0] ? ev : NULL);
}

/* The probe thread: one probe about every second until stop. */
void *probe_main(void *arg)
{
	struct probe *p = arg;
	pthread_setname_np(pthread_self(), "cdctop:probe");
	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		pthread_mutex_unlock(&p->mu);
		int64_t next = u_mono_us() + PROBE_US;
		probe_once(p);
		pthread_mutex_lock(&p->mu);
		while (!p->stopping && u_mono_us() < next)
			u_cond_wait_until(&p->cond, &p->mu, next);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void probe_stop(struct probe *p)
{
	u_cond_raise(&p->mu, &p->cond, &p->stopping);
}

/* The probe's partitions with the consumer's positions and the lag the row shows: from the
   committed offset in the same row (the consumer's position only while nothing is committed
   yet), unknown (-1) without a high watermark or either offset. */
int probe_parts(struct probe *p, const struct cons_stats *cs, struct probe_part *out,
                int *health, char *err, size_t len)
{
	pthread_mutex_lock(&p->mu);
	int n = p->nparts;
	memcpy(out, p->parts, sizeof out[0] * CONS_MAX_PARTS);
	*health = p->health;
	snprintf(err, len, "%s", p->error);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < n; i++) {
		struct probe_part *pp = &out[i];
		pp->position = -1;
		for (int k = 0; cs && k < cs->nparts && k < CONS_MAX_PARTS; k++)
			if (cs->parts[k].id == pp->id && cs->parts[k].position >= 0)
				pp->position = cs->parts[k].position;
		int64_t at = pp->committed >= 0 ? pp->committed : pp->position;
		pp->lag = pp->high < 0 || at < 0 ? -1 : cons_lag(pp->high, pp->low, at);
	}
	return n;
}

void probe_free(struct probe *p)
{
	if (!p)
		return;
	if (p->rk)
		rd_kafka_destroy_flags(p->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
