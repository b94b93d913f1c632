/*
 * kconf.c - builds librdkafka configuration from -b, -F and -X, runs the in-process mock
 * cluster when no -b is given, and makes sure the topic exists. kc_new/kc_free/kc_ensure_topic
 * run on the thread that owns the pipeline; kc_conf on any thread (the kc is read-only). The
 * log callback runs on librdkafka's threads and only copies a line under a mutex. Must never
 * print the value of a secret property, and never write librdkafka's log to the terminal
 * unless asked (-X debug=..., CDCTOP_KAFKA_LOG=1).
 */
#include "kconf.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define KC_MAX_FILE (1 << 20)

struct kc {
	int n, cap;
	char **keys, **vals;      /* user properties in the order applied: file, then -X */
	char *bootstrap;          /* -b, bootstrap.servers, or the mock's listeners */
	int bootstrap_from_props; /* bootstrap.servers came from -F/-X: do not set it again */
	rd_kafka_t *mock_rk;      /* dummy handle the mock cluster lives on */
	rd_kafka_mock_cluster_t *mc;
	int mock_brokers;
	char *ctl_path; /* kafka-mock's control socket, unlinked by kc_free */
};

static int ctl_create(const struct kc *kc, const char *topic, int partitions, char *err);
static int topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int by_name,
                            int once, char *err);

/* librdkafka's log, process-wide: the handles share one callback and carry no kc pointer. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_last[U_ERRLEN];
static unsigned long log_errors;
static int log_verbose;

/* Keeps error lines for kc_last_log; prints everything when verbose. librdkafka threads. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	pthread_mutex_lock(&log_mu);
	int verbose = log_verbose;
	if (level <= 3) {
		snprintf(log_last, sizeof log_last, "%s: %s", fac, buf);
		for (char *p = log_last; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		log_errors++;
	}
	pthread_mutex_unlock(&log_mu);
	if (verbose)
		u_log("kafka %d %s %s: %s", level, rk ? rd_kafka_name(rk) : "-", fac, buf);
}

unsigned long kc_last_log(char *buf, size_t len)
{
	pthread_mutex_lock(&log_mu);
	if (buf && len)
		snprintf(buf, len, "%s", log_last);
	unsigned long n = log_errors;
	pthread_mutex_unlock(&log_mu);
	return n;
}

int kc_secret_key(const char *key)
{
	return strstr(key, "password") || strstr(key, "secret") || strstr(key, "sasl.jaas") ||
	       strstr(key, "key.pem");
}

/* Copies s[0..n) with surrounding whitespace removed into a new string. */
static char *trim_dup(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\v' ||
	             s[n - 1] == '\f'))
		n--;
	char *d = u_malloc(n + 1);
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

int kc_parse_props(const char *text, size_t len, const char *fname,
                   int (*cb)(const char *k, const char *v, void *ctx, char *err), void *ctx,
                   char *err)
{
	if (!fname)
		fname = "properties";
	size_t pos = 0;
	for (unsigned line = 1; pos < len; line++) {
		const char *l = text + pos;
		const char *nl = memchr(l, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - l) : len - pos;
		pos += ll + (nl ? 1 : 0);
		size_t i = 0;
		while (i < ll && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r' || l[i] == '\v' ||
		                  l[i] == '\f'))
			i++;
		if (i == ll || l[i] == '#')
			continue;
		if (memchr(l + i, 0, ll - i))
			return u_err(err, "%.120s:%u: NUL byte in line: write key=value text",
			             fname, line);
		const char *eq = memchr(l + i, '=', ll - i);
		if (!eq)
			return u_err(err, "%.120s:%u: expected key=value (no '=' on this line)",
			             fname, line);
		char *k = trim_dup(l + i, (size_t)(eq - (l + i)));
		if (!*k) {
			free(k);
			return u_err(err, "%.120s:%u: empty property name before '='", fname, line);
		}
		char *v = trim_dup(eq + 1, (size_t)(l + ll - (eq + 1)));
		char cerr[U_ERRLEN] = "";
		int r = cb(k, v, ctx, cerr);
		free(k);
		size_t vl = strlen(v);
		memset(v, 0, vl); /* may be a secret */
		free(v);
		if (r)
			return u_err(err, "%.120s:%u: %s", fname, line, cerr);
	}
	return 0;
}

/* Applies k=v to conf; on failure puts librdkafka's message on one line in err, with the key
 * in front when the message names only its alias, and a secret's value hidden. */
static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err)
{
	char e[512], q[160];
	if (rd_kafka_conf_set(conf, k, v, e, sizeof e) == RD_KAFKA_CONF_OK)
		return 0;
	if (kc_secret_key(k) && *v && strstr(e, v))
		snprintf(e, sizeof e,
		         "Invalid value for configuration property \"%.100s\" (value hidden)", k);
	for (char *p = e; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	for (size_t n = strlen(e); n && e[n - 1] == ' '; n--)
		e[n - 1] = 0;
	snprintf(q, sizeof q, "\"%.100s\"", k);
	if (strstr(e, q))
		return u_err(err, "%s", e);
	return u_err(err, "%.100s: %s", k, e);
}

/* State for collecting properties: the kc, its scratch conf, and whether a secret was seen. */
struct collect {
	struct kc *kc;
	rd_kafka_conf_t *scratch;
	int secrets;
};

/* Validates one property on the scratch conf and appends it to the kc. */
static int collect_cb(const char *k, const char *v, void *ctx, char *err)
{
	struct collect *c = ctx;
	if (conf_set(c->scratch, k, v, err) < 0)
		return -1;
	struct kc *kc = c->kc;
	if (kc->n == kc->cap) {
		kc->cap = kc->cap ? kc->cap * 2 : 16;
		kc->keys = u_realloc(kc->keys, (size_t)kc->cap * sizeof *kc->keys);
		kc->vals = u_realloc(kc->vals, (size_t)kc->cap * sizeof *kc->vals);
	}
	kc->keys[kc->n] = u_strdup(k);
	kc->vals[kc->n] = u_strdup(v);
	kc->n++;
	if (kc_secret_key(k))
		c->secrets = 1;
	if (!strcmp(k, "debug") && *v) {
		pthread_mutex_lock(&log_mu);
		log_verbose = 1;
		pthread_mutex_unlock(&log_mu);
	}
	return 0;
}

/* Reads and applies the -F file; warns when it holds secrets others can read. */
static int load_file(struct collect *c, const char *path, char *err)
{
	char e[U_ERRLEN];
	size_t len;
	char *text = u_read_file(path, KC_MAX_FILE, &len, e);
	if (!text)
		return u_err(err, "-F: %s", e);
	c->secrets = 0;
	int r = kc_parse_props(text, len, path, collect_cb, c, err);
	memset(text, 0, len);
	free(text);
	if (r < 0)
		return -1;
	struct stat st;
	if (c->secrets && stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
		u_log("warning: '%s' holds secrets and is readable by others: chmod 600 '%s'", path,
		      path);
	return 0;
}

/* The value of the last user property named key (or its alias), or NULL. */
static const char *prop(const struct kc *kc, const char *key, const char *alias)
{
	for (int i = kc->n - 1; i >= 0; i--)
		if (!strcmp(kc->keys[i], key) || (alias && !strcmp(kc->keys[i], alias)))
			return kc->vals[i];
	return NULL;
}

/*
 * librdkafka's mock leaves Nagle on for its brokers' sockets (rdkafka_mock.c sets only
 * SO_REUSEADDR), where a real broker sets TCP_NODELAY. Then a small response written behind
 * one the client has not acknowledged yet waits for the client's delayed ACK, 40 ms on Linux:
 * an empty fetch answered after the fetch wait, just behind another response, arrived 40 ms
 * late, 2% of the fetches, and that was the live p99 (bench_watch: 36-53 ms; 11 ms with
 * this). Sets TCP_NODELAY on every socket of this process bound to a mock broker's port: the
 * listeners, whose later connections inherit it (Linux), and those already accepted.
 * Clients' sockets have their own ports and are left alone.
 */
void kc_mock_nodelay(const struct kc *kc)
{
	int ports[64], np = 0;
	for (const char *p = kc && kc->mc ? kc->bootstrap : NULL; p && np < 64;) {
		const char *colon = strchr(p, ':');
		if (!colon)
			break;
		ports[np++] = atoi(colon + 1);
		p = strchr(colon, ',');
		p = p ? p + 1 : NULL;
	}
	DIR *d = np ? opendir("/proc/self/fd") : NULL;
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct sockaddr_in a;
		socklen_t al = sizeof a;
		int fd = atoi(de->d_name), on = 1;
		if (!isdigit((unsigned char)de->d_name[0]) || fd == dirfd(d) ||
		    getsockname(fd, (struct sockaddr *)&a, &al) || al < sizeof a ||
		    a.sin_family != AF_INET)
			continue;
		for (int i = 0; i < np; i++)
			if (ntohs(a.sin_port) == ports[i])
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	}
	closedir(d);
}

/* Starts the mock cluster on a dummy producer handle and copies its bootstrap list. */
static int start_mock(struct kc *kc, int brokers, char *err)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	/* level 3 hides the dummy's "no bootstrap.servers" notice */
	if (rd_kafka_conf_set(conf, "log_level", "3", e, sizeof e) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "client.id", "cdctop-mock", e, sizeof e) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return u_err(err, "kafka mock cluster: %s", e);
	}
	kc->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	if (!kc->mock_rk) {
		rd_kafka_conf_destroy(conf);
		return u_err(err, "kafka mock cluster: cannot create its handle: %s", e);
	}
	kc->mc = rd_kafka_mock_cluster_new(kc->mock_rk, brokers);
	if (!kc->mc)
		return u_err(err,
		             "kafka mock cluster: cannot start %d brokers (run with "
		             "CDCTOP_KAFKA_LOG=1 to see librdkafka's reason)",
		             brokers);
	kc->mock_brokers = brokers;
	kc->bootstrap = u_strdup(rd_kafka_mock_cluster_bootstraps(kc->mc));
	kc_mock_nodelay(kc);
	return 0;
}

struct kc *kc_new(const struct opts *o, char *err)
{
	struct kc *kc = u_calloc(1, sizeof *kc);
	const char *env = getenv("CDCTOP_KAFKA_LOG");
	if (env && *env && strcmp(env, "0")) {
		pthread_mutex_lock(&log_mu);
		log_verbose = 1;
		pthread_mutex_unlock(&log_mu);
	}
	struct collect c = {kc, rd_kafka_conf_new(), 0};
	if (o->props_file && load_file(&c, o->props_file, err) < 0)
		goto fail_props;
	for (int i = 0; i < o->nprops; i++) {
		const char *kv = o->props[i];
		const char *eq = strchr(kv, '=');
		char e[U_ERRLEN];
		if (!eq || eq == kv) {
			u_err(err, "-X: expected key=value");
			goto fail_props;
		}
		char *k = trim_dup(kv, (size_t)(eq - kv));
		char *v = trim_dup(eq + 1, strlen(eq + 1));
		int r = collect_cb(k, v, &c, e);
		free(k);
		free(v);
		if (r < 0) {
			u_err(err, "-X: %s", e);
			goto fail_props;
		}
	}
	rd_kafka_conf_destroy(c.scratch);
	c.scratch = NULL;

	const char *bs = prop(kc, "bootstrap.servers", "metadata.broker.list");
	if (o->brokers) {
		kc->bootstrap = u_strdup(o->brokers);
	} else if (bs && *bs) {
		kc->bootstrap = u_strdup(bs);
		kc->bootstrap_from_props = 1;
	} else if (start_mock(kc, o->mock_brokers > 0 ? o->mock_brokers : 3, err) < 0) {
		goto fail;
	}
	return kc;

fail_props:
	rd_kafka_conf_destroy(c.scratch);
fail:
	kc_free(kc);
	return NULL;
}

void kc_free(struct kc *kc)
{
	if (!kc)
		return;
	if (kc->ctl_path) {
		unlink(kc->ctl_path);
		free(kc->ctl_path);
	}
	if (kc->mc)
		rd_kafka_mock_cluster_destroy(kc->mc);
	if (kc->mock_rk)
		rd_kafka_destroy(kc->mock_rk);
	for (int i = 0; i < kc->n; i++) {
		memset(kc->vals[i], 0, strlen(kc->vals[i]));
		free(kc->keys[i]);
		free(kc->vals[i]);
	}
	free(kc->keys);
	free(kc->vals);
	free(kc->bootstrap);
	free(kc);
}

rd_kafka_conf_t *kc_conf(const struct kc *kc, char *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[U_ERRLEN];
	rd_kafka_conf_set_log_cb(conf, log_cb);
	for (int i = 0; i < kc->n; i++)
		if (conf_set(conf, kc->keys[i], kc->vals[i], e) < 0)
			goto fail;
	if (!kc->bootstrap_from_props && conf_set(conf, "bootstrap.servers", kc->bootstrap, e) < 0)
		goto fail;
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	u_err(err, "kafka configuration: %s", e);
	return NULL;
}

int kc_has_prop(const struct kc *kc, const char *key)
{
	return prop(kc, key, NULL) != NULL;
}

int kc_default(const struct kc *kc, rd_kafka_conf_t *conf, const char *key, const char *value,
	       char *err)
{
	char e[512];
	if (kc_has_prop(kc, key))
		return 0;
	if (rd_kafka_conf_set(conf, key, value, e, sizeof e) != RD_KAFKA_CONF_OK)
		return u_err(err, "kafka property %s: %s", key, e);
	return 0;
}

const char *kc_bootstrap(const struct kc *kc)
{
	return kc->bootstrap;
}

int kc_is_mock(const struct kc *kc)
{
	return kc->mc != NULL;
}

int kc_mock_brokers(const struct kc *kc)
{
	return kc->mock_brokers;
}

rd_kafka_mock_cluster_t *kc_mock(const struct kc *kc)
{
	return kc->mc;
}

/* Milliseconds left until the monotonic deadline (us), at least 0. */
static int left_ms(int64_t deadline)
{
	int64_t l = (deadline - u_mono_us()) / 1000;
	return l < 0 ? 0 : (int)(l > 0x7fffffff ? 0x7fffffff : l);
}

int kc_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err)
{
	return topic_partitions(rk, topic, timeout_ms, 0, 0, err);
}

int kc_topic_partitions_now(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err)
{
	return topic_partitions(rk, topic, timeout_ms, 0, 1, err);
}

/* kc_topic_partitions; by_name asks for the topic by name, which lets a cluster with
 * auto.create.topics.enable (and the mock) create it; else all topics are listed, which
 * never creates one. */
/* One metadata request (of rkt, or of every topic when NULL): the partition count of topic in
   *n (-1 none) and the error that stands for its absence. */
static rd_kafka_resp_err_t md_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *topic,
                                         int ms, int *n)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, !rkt, rkt, &md, ms);
	*n = -1;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return e;
	e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, topic)) {
			e = md->topics[i].err;
			if (!e && md->topics[i].partition_cnt > 0)
				*n = md->topics[i].partition_cnt;
			else if (!e)
				e = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
		}
	rd_kafka_metadata_destroy(md);
	return e;
}

static int topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int by_name,
                            int once, char *err)
{
	int64_t deadline = u_mono_us() + (int64_t)timeout_ms * 1000;
	rd_kafka_topic_t *rkt = by_name ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
	if (by_name && !rkt)
		return u_err(err, "topic '%s': %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
	rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
	int n = -1;
	for (;;) {
		int ms = left_ms(deadline);
		rd_kafka_resp_err_t e = md_partitions(rk, rkt, topic, ms > 0 ? ms : 1, &n);
		if (n > 0)
			break;
		last = e;
		if (left_ms(deadline) <= 0 || once)
			break;
		u_sleep_us(50000);
	}
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (n > 0)
		return n;
	if (last == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		u_err(err, "topic '%s' does not exist", topic);
		return U_ENOTFOUND;
	}
	return u_err(err, "topic '%s': no metadata within %d ms: %s", topic, timeout_ms,
	             rd_kafka_err2str(last));
}

/* Asks the cluster to create the topic; 0 if created or it already exists, else -1 with the
 * reason in err. */
static int admin_create(rd_kafka_t *rk, const char *topic, int partitions, int timeout_ms,
                        char *err)
{
	char e[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, e, sizeof e);
	if (!nt)
		return u_err(err, "%s", e);
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, e, sizeof e);
	rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, e, sizeof e);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	int r = -1;
	if (!ev) {
		u_err(err, "no answer within %d ms", timeout_ms);
	} else if (rd_kafka_event_error(ev)) {
		u_err(err, "%s", rd_kafka_event_error_string(ev));
	} else {
		const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
		size_t cnt = 0;
		const rd_kafka_topic_result_t **tr =
		    res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
		if (!cnt) {
			u_err(err, "empty CreateTopics result");
		} else {
			rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[0]);
			const char *ts = rd_kafka_topic_result_error_string(tr[0]);
			if (!te || te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
				r = 0;
			else
				u_err(err, "%s", ts && *ts ? ts : rd_kafka_err2str(te));
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_NewTopic_destroy(nt);
	return r;
}

/* Partitions of topic if the cluster lists it (all-topics metadata: asking for one topic
 * would auto-create it), 0 if it does not, -1 with err if the cluster does not answer. */
static int topic_listed(struct kc *kc, rd_kafka_t *rk, const char *topic, int timeout_ms, char *err)
{
	const struct rd_kafka_metadata *md = NULL;
	unsigned long logs = kc_last_log(NULL, 0);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
	if (e) {
		char last[U_ERRLEN] = "";
		if (kc_last_log(last, sizeof last) == logs)
			last[0] = 0;
		/* "FAIL: [thrd:..]: host/id: Connect to ... failed: why (after 0ms in ...)" */
		char *why = strstr(last, "]: ");
		why = why ? why + 3 : NULL;
		char *tail = why ? strstr(why, " (after ") : NULL;
		if (tail)
			*tail = 0;
		char d[32];
		u_fmt_duration((int64_t)timeout_ms * 1000, d, sizeof d);
		u_err(err, "cannot reach kafka at '%.80s' within %s: %s%s%.120s%s", kc->bootstrap,
		      d, rd_kafka_err2str(e), why ? " (" : "", why ? why : "", why ? ")" : "");
		return U_ETIMEDOUT;
	}
	int n = 0;
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
			n = md->topics[i].partition_cnt > 0 ? md->topics[i].partition_cnt : 1;
	rd_kafka_metadata_destroy(md);
	return n;
}

int kc_ensure_topic(struct kc *kc, rd_kafka_t *rk, const char *topic, int partitions,
                    int timeout_ms, char *err)
{
	char e[U_ERRLEN];
	if (partitions < 1)
		partitions = 1;
	if (kc->mc) {
		int rf = kc->mock_brokers < 3 ? kc->mock_brokers : 3;
		rd_kafka_resp_err_t r = rd_kafka_mock_topic_create(kc->mc, topic, partitions, rf);
		if (r && r != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			return u_err(err, "cannot create topic '%s' on the mock cluster: %s", topic,
			             rd_kafka_err2str(r));
		if (rk && kc_topic_partitions(rk, topic, timeout_ms, e) < 0)
			return u_err(err, "mock cluster: %s", e);
		return 0;
	}
	if (!rk)
		return u_err(err, "topic '%s': no client handle to create it with", topic);
	int64_t deadline = u_mono_us() + (int64_t)timeout_ms * 1000;
	int n = kc_probe(kc, timeout_ms < 3000 ? timeout_ms : 3000, err);
	if (n < 0)
		return n; /* refused, not Kafka, unknown host: say so at once */
	n = topic_listed(kc, rk, topic, left_ms(deadline), err);
	if (n != 0)
		return n > 0 ? 0 : n; /* there already (whatever its partitions), or no answer */
	int ms;
	int c = ctl_create(kc, topic, partitions, e);
	if (c < 0)
		return u_err(err, "%s", e);
	if (c == 0) { /* a standalone cdctop kafka-mock made it */
		ms = left_ms(deadline);
		if (kc_topic_partitions(rk, topic, ms > 1000 ? ms : 1000, e) < 0)
			return u_err(err, "%s at '%s'", e, kc->bootstrap);
		return 0;
	}
	ms = left_ms(deadline);
	if (admin_create(rk, topic, partitions, ms > 1000 ? ms : 1000, e) == 0) {
		/* created: wait until the metadata shows it, so producing starts at once */
		ms = left_ms(deadline);
		char e2[U_ERRLEN];
		if (kc_topic_partitions(rk, topic, ms > 1000 ? ms : 1000, e2) < 0)
			return u_err(err, "%s at '%s'", e2, kc->bootstrap);
		return 0;
	}
	/* creation refused (no ACL, old broker, policy): asking for the topic by name lets a
	 * cluster with auto.create.topics.enable create it */
	ms = left_ms(deadline);
	char e2[U_ERRLEN];
	if (topic_partitions(rk, topic, ms > 1000 ? ms : 1000, 1, 0, e2) > 0)
		return 0;
	return u_err(err,
	             "topic '%s' is not on '%s' and cannot be created (%.80s): create it with %d "
	             "partitions, or allow CreateTopics",
	             topic, kc->bootstrap, e, partitions);
}

/* One bootstrap entry "[proto://]host[:port]" split into host and port (9092 by default);
 * -1 when it cannot be parsed. */
static int split_hostport(const char *s, size_t n, char *host, size_t hcap, char *port,
                          size_t pcap)
{
	char e[300];
	if (n >= sizeof e)
		return -1;
	memcpy(e, s, n);
	e[n] = 0;
	char *h = strstr(e, "://");
	h = h ? h + 3 : e;
	while (*h == ' ')
		h++;
	char *p = NULL;
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (!close)
			return -1;
		*close = 0;
		h++;
		p = close[1] == ':' ? close + 2 : NULL;
	} else {
		char *c = strrchr(h, ':');
		if (c && c == strchr(h, ':')) {
			*c = 0;
			p = c + 1;
		}
	}
	for (size_t l = strlen(h); l && h[l - 1] == ' '; l--)
		h[l - 1] = 0;
	if (!*h || strlen(h) >= hcap)
		return -1;
	snprintf(host, hcap, "%s", h);
	snprintf(port, pcap, "%s", p && *p ? p : "9092");
	return 0;
}

/* Sends a Kafka ApiVersions v0 request on fd and checks that the answer is a Kafka response
 * to it: 0, or U_ENOTKAFKA (closed, garbage, or silence until the deadline). */
static int kafka_hello(int fd, int64_t deadline)
{
	static const char client[] = "cdctop-probe";
	unsigned char req[64];
	size_t n = 4;
	const uint32_t corr = 0x63646374; /* "cdct" */
	req[n++] = 0, req[n++] = 18;      /* ApiKey ApiVersions */
	req[n++] = 0, req[n++] = 0;       /* version 0 */
	for (int i = 3; i >= 0; i--)
		req[n++] = (unsigned char)(corr >> (8 * i));
	req[n++] = 0, req[n++] = (unsigned char)(sizeof client - 1);
	memcpy(req + n, client, sizeof client - 1);
	n += sizeof client - 1;
	uint32_t body = (uint32_t)(n - 4);
	for (int i = 0; i < 4; i++)
		req[i] = (unsigned char)(body >> (8 * (3 - i)));
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (poll(&pfd, 1, left_ms(deadline)) <= 0)
				return U_ENOTKAFKA;
			continue;
		}
		if (w <= 0)
			return U_ENOTKAFKA;
		off += (size_t)w;
	}
	unsigned char resp[8];
	size_t got = 0;
	while (got < sizeof resp) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, left_ms(deadline)) <= 0)
			return U_ENOTKAFKA;
		ssize_t r = recv(fd, resp + got, sizeof resp - got, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return U_ENOTKAFKA;
		got += (size_t)r;
	}
	uint32_t size = 0, rcorr = 0;
	for (int i = 0; i < 4; i++) {
		size = size << 8 | resp[i];
		rcorr = rcorr << 8 | resp[4 + i];
	}
	return size >= 6 && size <= (1u << 20) && rcorr == corr ? 0 : U_ENOTKAFKA;
}

int kc_probe(const struct kc *kc, int timeout_ms, char *err)
{
	if (kc->mc)
		return 0;
	const char *proto = prop(kc, "security.protocol", NULL);
	int tls = proto && strcasestr(proto, "ssl");
	int64_t deadline = u_mono_us() + (int64_t)timeout_ms * 1000;
	int best = U_EFAIL;
	char why[160] = "no broker address", bad[300] = "";
	const char *s = kc->bootstrap;
	while (*s) {
		size_t n = strcspn(s, ",");
		char host[256], port[16], w[160];
		if (split_hostport(s, n, host, sizeof host, port, sizeof port) < 0) {
			int shown = n < 80 ? (int)n : 80;
			snprintf(why, sizeof why, "bad broker address '%.*s'", shown, s);
		} else {
			int fd = u_tcp_connect(host, port, left_ms(deadline), w, sizeof w);
			if (fd >= 0) {
				int r = tls ? 0 : kafka_hello(fd, deadline);
				close(fd);
				if (r == 0)
					return 0;
				best = U_ENOTKAFKA;
				snprintf(bad, sizeof bad, "%s:%s", host, port);
			} else if (best != U_ENOTKAFKA &&
			           (best == U_EFAIL || fd == U_EREFUSED || best == U_ENOTFOUND)) {
				best = fd;
				snprintf(why, sizeof why, "%s", w);
			}
		}
		s += n;
		if (*s == ',')
			s++;
	}
	if (best == U_ENOTKAFKA) {
		u_err(err,
		      "'%.100s' is not a Kafka broker (it does not answer the Kafka protocol): "
		      "check -b",
		      bad);
		return U_ENOTKAFKA;
	}
	if (best == U_ETIMEDOUT)
		snprintf(why, sizeof why, "no answer within %d ms", timeout_ms);
	u_err(err, "cannot reach kafka at '%.100s': %s: check -b and that the cluster is up",
	      kc->bootstrap, why);
	return best;
}

/* All-topics metadata (asking for one topic by name would auto-create it): the partitions
 * of topic, U_ENOTFOUND if the cluster does not list it, U_ETIMEDOUT with err if no answer. */
static int topic_listed_md(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           rd_kafka_resp_err_t *why)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e =
	    rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms > 0 ? timeout_ms : 1);
	*why = e;
	if (e)
		return U_ETIMEDOUT;
	int n = U_ENOTFOUND;
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, topic)) {
			*why = md->topics[i].err;
			if (!md->topics[i].err && md->topics[i].partition_cnt > 0)
				n = md->topics[i].partition_cnt;
			else if (md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				n = U_ETIMEDOUT; /* listed, no leader yet */
		}
	rd_kafka_metadata_destroy(md);
	return n;
}

int kc_check_topic(struct kc *kc, const char *topic, int timeout_ms, char *err)
{
	int64_t deadline = u_mono_us() + (int64_t)timeout_ms * 1000;
	int r = kc_probe(kc, timeout_ms < 3000 ? timeout_ms : 3000, err);
	if (r < 0)
		return r;
	char e[512];
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	if (!conf)
		return U_EFAIL;
	rd_kafka_conf_set(conf, "client.id", "cdctop-check", e, sizeof e);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return u_err(err, "kafka: cannot create a client for '%.80s': %s", kc->bootstrap,
		             e);
	}
	rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR__TIMED_OUT;
	int n;
	do {
		n = topic_listed_md(rk, topic, left_ms(deadline), &why);
		if (n != U_ETIMEDOUT)
			break;
		u_sleep_us(50000);
	} while (left_ms(deadline) > 0);
	rd_kafka_destroy(rk);
	if (n > 0)
		return n;
	if (n == U_ENOTFOUND)
		u_err(err,
		      "topic '%.64s' does not exist at '%.80s': relay something first, or name the "
		      "topic with -t",
		      topic, kc->bootstrap);
	else
		u_err(err, "no metadata for topic '%.64s' from '%.80s' within %d ms: %s",
		      topic, kc->bootstrap, timeout_ms, rd_kafka_err2str(why));
	return n;
}

/* The control socket of a standalone `cdctop kafka-mock` whose first broker listens on port:
 * <state dir>/kafka-mock-<port>.sock, the state dir being $XDG_STATE_HOME/cdctop or
 * ~/.local/state/cdctop. -1 when no state dir is known or the path is too long. */
static int ctl_path(const char *port, char *buf, size_t len)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;
	if (x && *x)
		n = snprintf(buf, len, "%s/cdctop/kafka-mock-%s.sock", x, port);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.local/state/cdctop/kafka-mock-%s.sock", home, port);
	else
		return -1;
	return n > 0 && (size_t)n < len && (size_t)n < sizeof(((struct sockaddr_un *)0)->sun_path)
	           ? 0
	           : -1;
}

/* mkdir -p of path's directory, mode 0700. */
static void mkdir_parents(const char *path)
{
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash)
		return;
	*slash = 0;
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(d, 0700);
			*p = '/';
		}
	mkdir(d, 0700);
}

/* The port of the first mock broker ("127.0.0.1:40709,..." -> "40709"). */
static void first_port(const char *bootstrap, char *port, size_t len)
{
	char host[256];
	if (split_hostport(bootstrap, strcspn(bootstrap, ","), host, sizeof host, port, len) < 0)
		snprintf(port, len, "0");
}

int kc_ctl_listen(struct kc *kc, char *err)
{
	char port[16];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!kc->mc)
		return u_err(err, "no mock cluster to control");
	first_port(kc->bootstrap, port, sizeof port);
	if (ctl_path(port, sa.sun_path, sizeof sa.sun_path) < 0)
		return u_err(err, "no state dir for the control socket (set HOME)");
	mkdir_parents(sa.sun_path);
	unlink(sa.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return u_err(err, "control socket: %s", strerror(errno));
	mode_t old = umask(077);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 8) < 0) {
		u_err(err, "control socket '%s': %s", sa.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	free(kc->ctl_path);
	kc->ctl_path = u_strdup(sa.sun_path);
	return fd;
}

void kc_ctl_serve(struct kc *kc, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct timeval tv = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	char line[256], reply[200];
	size_t got = 0;
	while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
		ssize_t r = recv(fd, line + got, sizeof line - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	line[got] = 0;
	line[strcspn(line, "\r\n")] = 0;
	char topic[128];
	int parts = 0;
	if (sscanf(line, "create %127s %d", topic, &parts) != 2 || !u_valid_topic(topic) ||
	    parts < 1 || parts > 256) {
		snprintf(reply, sizeof reply, "error: usage: create <topic> <partitions>\n");
	} else {
		int rf = kc->mock_brokers < 3 ? kc->mock_brokers : 3;
		rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(kc->mc, topic, parts, rf);
		if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			snprintf(reply, sizeof reply, "exists\n");
		else if (e)
			snprintf(reply, sizeof reply, "error: %s\n", rd_kafka_err2str(e));
		else
			snprintf(reply, sizeof reply, "ok\n");
		u_log("kafka-mock: create topic '%s' (%d partition%s): %.*s", topic, parts,
		      parts == 1 ? "" : "s", (int)strcspn(reply, "\n"), reply);
	}
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0) {
		/* the asker went away: nothing to tell */
	}
	close(fd);
}

/* Asks a standalone `cdctop kafka-mock` of this user at kc's bootstrap to create topic (the
 * mock has no CreateTopics API): 0 when created or already there, 1 when no such mock
 * control socket exists (not a cdctop mock), -1 with err when the mock refused. */
static int ctl_create(const struct kc *kc, const char *topic, int partitions, char *err)
{
	char port[16];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	first_port(kc->bootstrap, port, sizeof port);
	if (ctl_path(port, sa.sun_path, sizeof sa.sun_path) < 0)
		return 1;
	struct stat st;
	if (stat(sa.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
		return 1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd); /* a stale socket of a mock that is gone */
		return 1;
	}
	char req[200], reply[200];
	int n = snprintf(req, sizeof req, "create %s %d\n", topic, partitions);
	ssize_t got = -1;
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n)
		got = recv(fd, reply, sizeof reply - 1, 0);
	close(fd);
	if (got <= 0)
		return 1;
	reply[got] = 0;
	reply[strcspn(reply, "\n")] = 0;
	if (!strncmp(reply, "ok", 2) || !strncmp(reply, "exists", 6))
		return 0;
	return u_err(err, "the mock cluster at '%.80s' cannot create topic '%s': %.100s",
	             kc->bootstrap, topic, reply);
}
