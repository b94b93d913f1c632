/*
 * cmd_kafka_mock.c - `cdctop kafka-mock`: runs librdkafka's mock cluster standalone so that
 * separate relay, watch and kcat processes can share it. Prints the bootstrap address as the
 * first line of stdout, then serves until SIGINT/SIGTERM. Main thread only; the cluster's own
 * threads do the serving. Must never write anything else to stdout (scripts read line one).
 */
#include "cmds.h"
#include "kconf.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t run = 1;

/* SIGINT/SIGTERM: ask the serve loop to stop. */
static void on_signal(int sig)
{
	(void)sig;
	run = 0;
}

int cmd_kafka_mock(struct opts *o)
{
	char err[U_ERRLEN];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a reader of line one may go away */

	struct opts mo = *o;
	mo.brokers = NULL; /* always the mock, whatever the environment */
	struct kc *kc = kc_new(&mo, err);
	if (!kc) {
		fprintf(stderr, "cdctop: kafka-mock: %s\n", err);
		return 1;
	}
	if (kc_ensure_topic(kc, NULL, o->topic, o->partitions, 5000, err) < 0) {
		fprintf(stderr, "cdctop: kafka-mock: %s\n", err);
		kc_free(kc);
		return 1;
	}
	printf("%s\n", kc_bootstrap(kc));
	fflush(stdout);
	u_log("kafka-mock: %d brokers at %s, topic '%s' (%d partitions); stop with Ctrl-C",
	      kc_mock_brokers(kc), kc_bootstrap(kc), o->topic, o->partitions);

	while (run)
		u_sleep_us(100000);

	u_log("kafka-mock: stopping");
	kc_free(kc);
	return 0;
}
