/*
 * cmd_kafka_mock.c - `cdctop kafka-mock`: runs librdkafka's mock cluster standalone so that
 * separate relay, watch and kcat processes can share it. Prints the bootstrap address as the
 * first line of stdout, then serves until SIGINT/SIGTERM. Main thread only; the cluster's own
 * threads do the serving. Stdout carries line one and then only the replies to commands.
 *
 * Fault controls (for tests): while serving it reads commands from stdin, one per line:
 *     down <broker-id|all>        disconnect the broker(s) and refuse new connections
 *     up <broker-id|all>          accept connections again
 *     rtt <broker-id|all> <ms>    delay every response by ms milliseconds (0 = none)
 * Broker ids are 1..N (--brokers N). Each command is answered with one stdout line, "ok" or
 * "error: <reason>". Blank lines and lines starting with '#' are ignored (no reply). EOF on
 * stdin only stops reading commands: the cluster keeps serving (pass </dev/null or keep a pipe
 * open; run in the background of an interactive shell it stops reading, never gets stopped).
 * Example: `mkfifo f; cdctop kafka-mock <f & exec 3>f; echo 'down all' >&3`.
 * Topics: the mock has no CreateTopics API, so other cdctop processes of the same user ask
 * for a topic with their --partitions through a unix socket in the state dir (kc_ctl_*).
 */
#include "cmds.h"
#include "kconf.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t run = 1;

/* SIGINT/SIGTERM: ask the serve loop to stop. */
static void on_signal(int sig)
{
	(void)sig;
	run = 0;
}

/* Parses "all" (-1) or a broker id in 1..nbrokers; -2 if it is neither. */
static int32_t broker_arg(const char *s, int nbrokers)
{
	if (!strcmp(s, "all"))
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > nbrokers)
		return -2;
	return (int32_t)v;
}

/* Runs one command line; writes the reply ("ok" or "error: ...") into reply. */
static void mock_command(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line, char *reply,
			 size_t cap)
{
	char *words[4] = {"", NULL, NULL, NULL};
	int n = 0;
	for (char *save = NULL, *w = strtok_r(line, " \t\r", &save); w && n < 4;
	     w = strtok_r(NULL, " \t\r", &save))
		words[n++] = w;
	const char *cmd = words[0];
	int want = !strcmp(cmd, "rtt") ? 3 : 2;
	if (strcmp(cmd, "down") && strcmp(cmd, "up") && strcmp(cmd, "rtt")) {
		snprintf(reply, cap, "error: unknown command '%.40s' (down|up|rtt)", cmd);
		return;
	}
	if (n != want) {
		snprintf(reply, cap, "error: usage: %s <broker-id|all>%s", cmd,
			 want == 3 ? " <ms>" : "");
		return;
	}
	int32_t id = broker_arg(words[1], nbrokers);
	if (id == -2) {
		snprintf(reply, cap, "error: %s: broker '%.40s' is not 1..%d or all", cmd, words[1],
			 nbrokers);
		return;
	}
	rd_kafka_resp_err_t e;
	if (!strcmp(cmd, "down")) {
		e = rd_kafka_mock_broker_set_down(mc, id);
	} else if (!strcmp(cmd, "up")) {
		e = rd_kafka_mock_broker_set_up(mc, id);
	} else {
		char *end;
		errno = 0;
		long ms = strtol(words[2], &end, 10);
		if (errno || end == words[2] || *end || ms < 0 || ms > INT_MAX) {
			snprintf(reply, cap, "error: rtt: '%.40s' is not a number of milliseconds",
				 words[2]);
			return;
		}
		e = rd_kafka_mock_broker_set_rtt(mc, id, (int)ms);
	}
	if (e)
		snprintf(reply, cap, "error: %s %s: %s", cmd, words[1], rd_kafka_err2str(e));
	else
		snprintf(reply, cap, "ok");
}

/* Runs each complete line in buf[0..*len) and keeps the incomplete rest at the start. */
static void read_lines(struct kc *kc, char *buf, size_t *len)
{
	char *start = buf, *nl;
	while ((nl = memchr(start, '\n', (size_t)(buf + *len - start)))) {
		*nl = 0;
		char *p = start + strspn(start, " \t\r");
		start = nl + 1;
		if (!*p || *p == '#')
			continue;
		char reply[200], shown[64];
		snprintf(shown, sizeof shown, "%s", p);
		shown[strcspn(shown, "\r")] = 0;
		mock_command(kc_mock(kc), kc_mock_brokers(kc), p, reply, sizeof reply);
		kc_mock_nodelay(kc); /* a broker brought up has a new listener */
		printf("%s\n", reply);
		fflush(stdout);
		u_log("kafka-mock: '%s': %s", shown, reply);
	}
	*len = (size_t)(buf + *len - start);
	memmove(buf, start, *len);
}

/* Reads what stdin has, runs each complete line; returns 0 at EOF or error, else 1. */
static int read_commands(struct kc *kc, char *buf, size_t cap, size_t *len)
{
	ssize_t got = read(STDIN_FILENO, buf + *len, cap - 1 - *len);
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (got < 0) { /* EIO: a background job reading its terminal (SIGTTIN is ignored) */
		u_log("kafka-mock: stdin: %s: no longer reading commands", strerror(errno));
		return 0;
	}
	if (got == 0) { /* EOF: a last line without '\n' still counts */
		if (*len) {
			buf[(*len)++] = '\n';
			read_lines(kc, buf, len);
		}
		return 0;
	}
	*len += (size_t)got;
	read_lines(kc, buf, len);
	if (*len == cap - 1) { /* a line longer than the buffer: drop it */
		printf("error: command line too long\n");
		fflush(stdout);
		*len = 0;
	}
	return 1;
}

int cmd_kafka_mock(struct opts *o)
{
	char err[U_ERRLEN];
	u_on_stop_signals(on_signal, 0);
	signal(SIGPIPE, SIG_IGN); /* a reader of line one may go away */
	signal(SIGTTIN, SIG_IGN); /* `cdctop kafka-mock &` in a shell: read() fails, no stop */

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

	/* relay processes of this user ask for topics with their --partitions through it */
	int ctl = kc_ctl_listen(kc, err);
	if (ctl < 0)
		u_log("kafka-mock: %s: other processes' topics get the mock's default partitions",
		      err);

	char buf[512];
	size_t len = 0;
	int cmds = 1; /* stdin still open */
	while (run) {
		struct pollfd pfd[2] = {{.fd = cmds ? STDIN_FILENO : -1, .events = POLLIN},
					{.fd = ctl, .events = POLLIN}};
		int pr = poll(pfd, 2, 100);
		if (pr > 0 && ctl >= 0 && (pfd[1].revents & POLLIN))
			kc_ctl_serve(kc, ctl);
		if (pr > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			cmds = read_commands(kc, buf, sizeof buf, &len);
		else if (pr > 0 && (pfd[0].revents & POLLNVAL)) /* stdin closed by the caller */
			cmds = 0;
	}
	if (ctl >= 0)
		close(ctl);

	u_log("kafka-mock: stopping");
	kc_free(kc);
	return 0;
}
