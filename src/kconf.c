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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KC_MAX_FILE (1 << 20)

struct kc {
	int n, cap;
	char **keys, **vals;      /* user properties in the order applied: file, then -X */
	char *bootstrap;          /* -b, bootstrap.servers, or the mock's listeners */
	int bootstrap_from_props; /* bootstrap.servers came from -F/-X: do not set it again */
	rd_kafka_t *mock_rk;      /* dummy handle the mock cluster lives on */
	rd_kafka_mock_cluster_t *mc;
	int mock_brokers;
};

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
	int64_t deadline = u_mono_us() + (int64_t)timeout_ms * 1000;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt)
		return u_err(err, "topic '%s': %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
	rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
	int n = -1;
	for (;;) {
		const struct rd_kafka_metadata *md = NULL;
		int ms = left_ms(deadline);
		rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, ms > 0 ? ms : 1);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
			for (int i = 0; i < md->topic_cnt; i++)
				if (!strcmp(md->topics[i].topic, topic)) {
					e = md->topics[i].err;
					if (!e && md->topics[i].partition_cnt > 0)
						n = md->topics[i].partition_cnt;
					else if (!e)
						e = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
				}
			rd_kafka_metadata_destroy(md);
		}
		if (n > 0)
			break;
		last = e;
		if (left_ms(deadline) <= 0)
			break;
		u_sleep_us(50000);
	}
	rd_kafka_topic_destroy(rkt);
	if (n > 0)
		return n;
	if (last == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
		return u_err(err, "topic '%s' does not exist", topic);
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
		return u_err(err, "kafka at '%.80s' did not answer within %d ms: %s%s%.120s%s",
		             kc->bootstrap, timeout_ms, rd_kafka_err2str(e), why ? " (" : "",
		             why ? why : "", why ? ")" : "");
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
	int n = topic_listed(kc, rk, topic, timeout_ms, err);
	if (n != 0)
		return n > 0 ? 0 : -1; /* there already (whatever its partitions), or no answer */
	int ms = left_ms(deadline);
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
	if (kc_topic_partitions(rk, topic, ms > 1000 ? ms : 1000, e2) > 0)
		return 0;
	return u_err(err,
	             "topic '%s' is not on '%s' and cannot be created (%.80s): create it with %d "
	             "partitions, or allow CreateTopics",
	             topic, kc->bootstrap, e, partitions);
}
