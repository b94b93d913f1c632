/*
 * kwake.c - the broker-thread waker (kwake.h): a thread that, for each poked partition, asks
 * its leader for the watermarks. Sending that request is an op on the leader's broker thread,
 * which then re-decides every partition it fetches, the drained one included.
 */
#include "kwake.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct kwake {
	rd_kafka_t *rk;
	char *topic;
	int nparts;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *want; /* guarded by mu */
	int pending;         /* guarded by mu: how many want[] are set */
	int stop;            /* guarded by mu */
};

int kw_needed(void)
{
	return rd_kafka_version() < 0x02030000;
}

static void *run(void *arg)
{
	struct kwake *k = arg;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->stop && !k->pending)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		for (int i = 0; i < k->nparts && !k->stop; i++) {
			if (!k->want[i])
				continue;
			k->want[i] = 0;
			k->pending--;
			pthread_mutex_unlock(&k->mu);
			int64_t lo, hi;
			/* the answer does not matter (an error included): the request woke the thread */
			rd_kafka_query_watermark_offsets(k->rk, k->topic, i, &lo, &hi, KW_TIMEOUT_MS);
			pthread_mutex_lock(&k->mu);
		}
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

struct kwake *kw_start(rd_kafka_t *rk, const char *topic, int nparts)
{
	if (!rk || !topic || nparts <= 0)
		return NULL;
	struct kwake *k = u_calloc(1, sizeof *k);
	k->rk = rk;
	k->topic = u_strdup(topic);
	k->nparts = nparts;
	k->want = u_calloc((size_t)nparts, 1);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->th, NULL, run, k) != 0) {
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k->want);
		free(k->topic);
		free(k);
		return NULL;
	}
	return k;
}

void kw_poke(struct kwake *k, int part)
{
	if (!k || part < 0 || part >= k->nparts)
		return;
	pthread_mutex_lock(&k->mu);
	if (!k->want[part]) {
		k->want[part] = 1;
		if (k->pending++ == 0)
			pthread_cond_signal(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
}

void kw_stop(struct kwake *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k->want);
	free(k->topic);
	free(k);
}
