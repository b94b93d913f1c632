/*
 * test_kconf.c - librdkafka configuration: the -F file parser (comments, blanks, trimming,
 * errors with line numbers), property validation with librdkafka's own messages, the secret
 * file warning, and against a real in-process mock cluster: the bootstrap list, topic
 * creation seen in metadata, the admin path with its metadata fallback, and TCP_NODELAY on
 * the mock brokers' sockets (listeners, accepted connections, a broker brought up again),
 * never on a client's. One process.
 */
#include "check.h"
#include "kconf.h"
#include "opts.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Collected properties, "k=v;" appended. */
struct got {
	char text[1024];
	int n;
};

/* Appends k=v; to the collection. */
static int collect(const char *k, const char *v, void *ctx, char *err)
{
	struct got *g = ctx;
	(void)err;
	size_t l = strlen(g->text);
	snprintf(g->text + l, sizeof g->text - l, "%s=%s;", k, v);
	g->n++;
	return 0;
}

/* Refuses the key "bad". */
static int refuse_bad(const char *k, const char *v, void *ctx, char *err)
{
	(void)v;
	(void)ctx;
	return strcmp(k, "bad") ? 0 : u_err(err, "no bad keys");
}

/* Parses text and checks the collection or the error. */
static void parse(const char *text, int want_rc, const char *want)
{
	struct got g = {"", 0};
	char err[U_ERRLEN] = "";
	int rc = kc_parse_props(text, strlen(text), "f.conf", collect, &g, err);
	CHECK_EQ(rc, want_rc);
	const char *have = rc ? err : g.text;
	CHECK(!strcmp(have, want));
	if (strcmp(have, want))
		fprintf(stderr, "  parse: want '%s', got '%s'\n", want, have);
}

/* The -F file format. */
static void props_parsing(void)
{
	parse("", 0, "");
	parse("\n\n   \n\t\n", 0, "");
	parse("# comment\n  # indented comment\na=1\n", 0, "a=1;");
	parse("  key.one  =  value with spaces  \r\nk2=v=w\nk3=\nlast=no-newline", 0,
	      "key.one=value with spaces;k2=v=w;k3=;last=no-newline;");
	parse("a=1\nb=2\nno equals here\nc=3\n", -1,
	      "f.conf:3: expected key=value (no '=' on this line)");
	parse("a=1\n  = value\n", -1, "f.conf:2: empty property name before '='");
	parse("a=1\r\n#x\r\nsasl.password\r\n", -1,
	      "f.conf:3: expected key=value (no '=' on this line)");
	/* a callback error gets the file and line in front */
	struct got g = {"", 0};
	char err[U_ERRLEN];
	const char *t = "ok=1\nbad=2\n";
	CHECK_EQ(kc_parse_props(t, strlen(t), "x.props", refuse_bad, &g, err), -1);
	CHECK(!strcmp(err, "x.props:2: no bad keys"));
	/* not NUL-terminated: only len bytes are read */
	char raw[8] = {'a', '=', '1', '\n', 'b', '=', '2', 'X'};
	CHECK_EQ(kc_parse_props(raw, 7, NULL, collect, &g, err), 0);
	CHECK(strstr(g.text, "b=2;") != NULL);
	/* a NUL byte inside a line is an error, not a silent cut */
	CHECK_EQ(kc_parse_props("a=1\0x\n", 6, "n", collect, &g, err), -1);
	CHECK(!strncmp(err, "n:1:", 4));
	CHECK(kc_secret_key("sasl.password"));
	CHECK(kc_secret_key("ssl.key.password"));
	CHECK(kc_secret_key("sasl.oauthbearer.client.secret"));
	CHECK(kc_secret_key("sasl.jaas.config"));
	CHECK(!kc_secret_key("sasl.username"));
}

/* Options as main would leave them, with no -b: the in-process mock. */
static struct opts base_opts(void)
{
	struct opts o;
	memset(&o, 0, sizeof o);
	o.topic = OPT_DEFAULT_TOPIC;
	o.partitions = 3;
	o.mock_brokers = 3;
	return o;
}

/* Writes text to a new file with the given mode; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof path, "/tmp/cdctop-test-kconf-%d-%s", (int)getpid(), name);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	chmod(path, mode);
	return path;
}

/* Runs kc_new with stderr captured into cap; returns the kc (or NULL with err). */
static struct kc *kc_new_captured(const struct opts *o, char *err, char *cap, size_t caplen)
{
	char path[128];
	snprintf(path, sizeof path, "/tmp/cdctop-test-kconf-%d-stderr", (int)getpid());
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	struct kc *kc = kc_new(o, err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, cap, caplen - 1, 0);
	cap[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	return kc;
}

/* Invalid properties give librdkafka's message; files with secrets; bootstrap from props. */
static void validation(void)
{
	struct opts o = base_opts();
	char err[U_ERRLEN] = "", cap[1024];
	o.brokers = "127.0.0.1:1";

	o.props[o.nprops++] = "acks=banana";
	CHECK(kc_new(&o, err) == NULL);
	CHECK(!strncmp(err, "-X: ", 4));
	CHECK(!strcmp(err, "-X: acks: Invalid value for configuration property "
	                   "\"request.required.acks\""));
	CHECK(!strchr(err, '\n'));

	o.nprops = 0;
	o.props[o.nprops++] = "linger.ms=5";
	o.props[o.nprops++] = "no.such.property=1";
	CHECK(kc_new(&o, err) == NULL);
	CHECK(!strcmp(err, "-X: No such configuration property: \"no.such.property\""));

	/* from a file: the file and line come first; a hidden value stays hidden */
	o.nprops = 0;
	o.props_file = write_file("bad.conf", "# x\nclient.id=me\nmessage.max.bytes=-5\n", 0600);
	CHECK(kc_new(&o, err) == NULL);
	CHECK(strstr(err, "bad.conf:3: Configuration property \"message.max.bytes\" value -5 is "
	                  "outside allowed range 1000..1000000000") != NULL);
	CHECK(err[strlen(err) - 1] != ' ');
	o.props_file = write_file("missing-eq.conf", "client.id=me\nsasl.password hunter2\n", 0600);
	CHECK(kc_new(&o, err) == NULL);
	CHECK(strstr(err, "missing-eq.conf:2: expected key=value") != NULL);
	CHECK(strstr(err, "hunter2") == NULL);
	o.props_file = "/nonexistent/cdctop.conf";
	CHECK(kc_new(&o, err) == NULL);
	CHECK(strstr(err, "-F: cannot open '/nonexistent/cdctop.conf'") != NULL);

	/* a secret in a world-readable file: one warning line, not the value */
	o.props_file = write_file("secret.conf",
	                          "security.protocol=sasl_plaintext\nsasl.mechanisms=PLAIN\n"
	                          "sasl.username=u\nsasl.password=hunter2\n",
	                          0644);
	struct kc *kc = kc_new_captured(&o, err, cap, sizeof cap);
	CHECK(kc != NULL);
	CHECK(strstr(cap, "warning") && strstr(cap, "chmod 600"));
	CHECK(strstr(cap, "hunter2") == NULL);
	CHECK(strchr(cap, '\n') == cap + strlen(cap) - 1); /* one line */
	CHECK(kc_has_prop(kc, "sasl.password"));
	CHECK(!kc_has_prop(kc, "linger.ms"));
	CHECK(!kc_is_mock(kc));
	CHECK(kc_mock(kc) == NULL);
	CHECK_EQ(kc_mock_brokers(kc), 0);
	CHECK(!strcmp(kc_bootstrap(kc), "127.0.0.1:1"));
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	CHECK(conf != NULL);
	char v[256];
	size_t vl = sizeof v;
	CHECK_EQ(rd_kafka_conf_get(conf, "bootstrap.servers", v, &vl), RD_KAFKA_CONF_OK);
	CHECK(!strcmp(v, "127.0.0.1:1"));
	vl = sizeof v;
	CHECK_EQ(rd_kafka_conf_get(conf, "sasl.username", v, &vl), RD_KAFKA_CONF_OK);
	CHECK(!strcmp(v, "u"));
	rd_kafka_conf_destroy(conf);
	kc_free(kc);

	/* the same file with mode 0600: no warning */
	chmod(o.props_file, 0600);
	kc = kc_new_captured(&o, err, cap, sizeof cap);
	CHECK(kc != NULL);
	CHECK_EQ(strlen(cap), 0);
	kc_free(kc);

	/* bootstrap.servers in the file and no -b: that cluster, no mock; -b wins over it */
	o.brokers = NULL;
	o.props_file = write_file("bs.conf", "bootstrap.servers=10.0.0.1:9092\n", 0600);
	kc = kc_new(&o, err);
	CHECK(kc && !kc_is_mock(kc) && !strcmp(kc_bootstrap(kc), "10.0.0.1:9092"));
	kc_free(kc);
	o.brokers = "10.9.9.9:9092";
	kc = kc_new(&o, err);
	CHECK(kc && !strcmp(kc_bootstrap(kc), "10.9.9.9:9092"));
	conf = kc_conf(kc, err);
	vl = sizeof v;
	rd_kafka_conf_get(conf, "bootstrap.servers", v, &vl);
	CHECK(!strcmp(v, "10.9.9.9:9092"));
	rd_kafka_conf_destroy(conf);
	kc_free(kc);
	unlink(o.props_file);
	kc_free(NULL);
}

/* A client of kc (a producer), or NULL. */
static rd_kafka_t *client(struct kc *kc)
{
	char err[U_ERRLEN], e[512];
	rd_kafka_conf_t *conf = kc_conf(kc, err);
	CHECK(conf != NULL);
	if (!conf)
		return NULL;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	CHECK(rk != NULL);
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

/* The in-process mock: bootstrap list, topic creation, metadata, and the admin path. */
static void mock(void)
{
	struct opts o = base_opts();
	char err[U_ERRLEN] = "";
	o.mock_brokers = 4;
	int64_t t0 = u_mono_us();
	struct kc *kc = kc_new(&o, err);
	CHECK(kc != NULL);
	if (!kc) {
		fprintf(stderr, "kc_new: %s\n", err);
		return;
	}
	printf("mock cluster up in %lld ms: %s\n", (long long)(u_mono_us() - t0) / 1000,
	       kc_bootstrap(kc));
	CHECK(kc_is_mock(kc));
	CHECK(kc_mock(kc) != NULL);
	CHECK_EQ(kc_mock_brokers(kc), 4);
	const char *bs = kc_bootstrap(kc);
	int addrs = 1;
	for (const char *p = bs; *p; p++)
		addrs += *p == ',';
	CHECK_EQ(addrs, 4);
	CHECK(!strncmp(bs, "127.0.0.1:", 10));

	rd_kafka_t *rk = client(kc);
	t0 = u_mono_us();
	CHECK_EQ(kc_ensure_topic(kc, rk, "cdc.test.one", 5, 5000, err), 0);
	CHECK_EQ(kc_ensure_topic(kc, rk, "cdc.test.one", 5, 5000, err), 0); /* idempotent */
	CHECK_EQ(kc_ensure_topic(kc, NULL, "cdc.test.two", 2, 5000, err), 0);
	printf("ensure_topic x3 in %lld ms\n", (long long)(u_mono_us() - t0) / 1000);
	CHECK_EQ(kc_topic_partitions(rk, "cdc.test.one", 5000, err), 5);
	CHECK_EQ(kc_topic_partitions(rk, "cdc.test.two", 5000, err), 2);
	const struct rd_kafka_metadata *md = NULL;
	CHECK_EQ(rd_kafka_metadata(rk, 1, NULL, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
	if (md) {
		CHECK_EQ(md->broker_cnt, 4);
		int found = 0;
		for (int i = 0; i < md->topic_cnt; i++)
			if (!strcmp(md->topics[i].topic, "cdc.test.one")) {
				found = 1;
				CHECK_EQ(md->topics[i].partition_cnt, 5);
			}
		CHECK(found);
		rd_kafka_metadata_destroy(md);
	}

	/* the same cluster named with -b: the real-cluster path (admin CreateTopics, which the
	 * mock refuses, then the metadata check) */
	struct opts ob = base_opts();
	ob.brokers = bs;
	struct kc *real = kc_new(&ob, err);
	CHECK(real && !kc_is_mock(real));
	rd_kafka_t *rk2 = client(real);
	t0 = u_mono_us();
	int rc = kc_ensure_topic(real, rk2, "cdc.test.one", 5, 3000, err);
	CHECK_EQ(rc, 0);
	if (rc)
		fprintf(stderr, "ensure_topic via -b: %s\n", err);
	printf("ensure_topic via -b (admin, then metadata) in %lld ms\n",
	       (long long)(u_mono_us() - t0) / 1000);
	CHECK(kc_ensure_topic(real, NULL, "x", 1, 100, err) < 0);
	/* a new topic: the mock refuses CreateTopics (no controller), then auto-creates it when
	 * asked by name: bounded by the timeout */
	t0 = u_mono_us();
	rc = kc_ensure_topic(real, rk2, "cdc.test.auto", 2, 1000, err);
	CHECK_EQ(rc, 0);
	CHECK(kc_topic_partitions(rk2, "cdc.test.auto", 1000, err) > 0);
	printf("new topic via -b in %lld ms\n", (long long)(u_mono_us() - t0) / 1000);
	CHECK(u_mono_us() - t0 < 4000000);
	rd_kafka_destroy(rk2);
	kc_free(real);

	/* a cluster that is not there: bounded, one clear line */
	ob.brokers = "127.0.0.1:1";
	real = kc_new(&ob, err);
	rk2 = client(real);
	t0 = u_mono_us();
	CHECK(kc_ensure_topic(real, rk2, "cdc.test.one", 3, 1500, err) < 0);
	int64_t took = (u_mono_us() - t0) / 1000;
	CHECK(took < 6000);
	CHECK(strstr(err, "127.0.0.1:1") != NULL);
	CHECK(!strchr(err, '\n'));
	printf("unreachable cluster: %lld ms: %s\n", (long long)took, err);
	rd_kafka_destroy(rk2);
	kc_free(real);

	char last[U_ERRLEN];
	unsigned long nlog = kc_last_log(last, sizeof last);
	printf("librdkafka error lines kept: %lu (last: %s)\n", nlog, last);

	rd_kafka_destroy(rk);
	t0 = u_mono_us();
	kc_free(kc);
	printf("mock cluster down in %lld ms\n", (long long)(u_mono_us() - t0) / 1000);
}

/* One of this process's sockets on local port `port`: (peer 0) the listener, else the one
   connected to 127.0.0.1:peer. Its TCP_NODELAY (0 or 1), or -1 when there is none. */
static int nodelay_of(int port, int peer)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int got = -1;
	struct dirent *de;
	while (got < 0 && (de = readdir(d)) != NULL) {
		struct sockaddr_in a, b;
		socklen_t al = sizeof a, bl = sizeof b;
		int fd = atoi(de->d_name), listening = 0, on = 0;
		socklen_t ll = sizeof listening, ol = sizeof on;
		if (!isdigit((unsigned char)de->d_name[0]) || fd == dirfd(d) ||
		    getsockname(fd, (struct sockaddr *)&a, &al) || a.sin_family != AF_INET ||
		    ntohs(a.sin_port) != port ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll))
			continue;
		if (peer ? listening || getpeername(fd, (struct sockaddr *)&b, &bl) ||
		                   ntohs(b.sin_port) != peer
		         : !listening)
			continue;
		if (!getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &ol))
			got = on != 0;
	}
	closedir(d);
	return got;
}

/* The local port of a connected socket, or 0. */
static int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	return getsockname(fd, (struct sockaddr *)&a, &al) ? 0 : ntohs(a.sin_port);
}

/* A blocking TCP connection to 127.0.0.1:port, or -1. */
static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The accepted side of the connection from client port cport to broker port bport: its
   TCP_NODELAY once the broker's thread has accepted it (bounded: 5 s), else -1. */
static int accepted_nodelay(int bport, int cport)
{
	int v = -1;
	for (int64_t t0 = u_mono_us(); (v = nodelay_of(bport, cport)) < 0 &&
	                               u_mono_us() - t0 < 5000000;)
		u_sleep_us(2000);
	return v;
}

/* A real broker sets TCP_NODELAY; the mock does not, and kc_new/kc_mock_nodelay make up
   for it (kconf.c says why: a 40 ms delayed ACK behind small responses). Checked on the
   sockets themselves, through /proc/self/fd, as the kernel holds them. */
static void nodelay(void)
{
	/* the bare mock, as librdkafka leaves it: printed, not checked (it tells whether the
	   workaround is still needed) */
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[256];
	rd_kafka_conf_set(conf, "log_level", "3", e, sizeof e);
	rd_kafka_t *bare = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	if (!bare)
		rd_kafka_conf_destroy(conf); /* still ours when rd_kafka_new fails */
	rd_kafka_mock_cluster_t *bmc = bare ? rd_kafka_mock_cluster_new(bare, 1) : NULL;
	if (bmc) {
		const char *bs = rd_kafka_mock_cluster_bootstraps(bmc);
		const char *colon = strrchr(bs, ':');
		printf("librdkafka's own mock listener: TCP_NODELAY %d\n",
		       colon ? nodelay_of(atoi(colon + 1), 0) : -1);
		rd_kafka_mock_cluster_destroy(bmc);
	}
	if (bare)
		rd_kafka_destroy(bare);

	struct opts o = base_opts();
	char err[U_ERRLEN] = "";
	struct kc *kc = kc_new(&o, err);
	CHECK(kc != NULL);
	if (!kc) {
		fprintf(stderr, "kc_new: %s\n", err);
		return;
	}
	int ports[3], np = 0;
	for (const char *p = kc_bootstrap(kc); p && np < 3; p = strchr(p, ',')) {
		p += *p == ',';
		const char *colon = strchr(p, ':');
		if (colon)
			ports[np++] = atoi(colon + 1);
	}
	CHECK_EQ(np, 3);
	if (np != 3) {
		kc_free(kc);
		return;
	}
	for (int i = 0; i < np; i++)
		CHECK_EQ(nodelay_of(ports[i], 0), 1); /* every listener */

	/* a connection accepted after kc_new inherits the listener's setting (Linux); the
	   client's own socket keeps Nagle, even after another kc_mock_nodelay */
	int fd = dial(ports[0]);
	int cport = fd >= 0 ? local_port(fd) : 0;
	CHECK(cport > 0);
	if (cport > 0) /* 0 would find the listener instead */
		CHECK_EQ(accepted_nodelay(ports[0], cport), 1);
	kc_mock_nodelay(kc);
	int on = -1;
	socklen_t ol = sizeof on;
	CHECK_EQ(fd >= 0 ? getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &ol) : -1, 0);
	CHECK_EQ(on, 0);
	if (fd >= 0)
		close(fd);

	/* a broker taken down and brought up again listens anew: kc_mock_nodelay covers it.
	   Which port is broker 2's is librdkafka's business: every listener and a connection
	   to each are checked */
	rd_kafka_mock_cluster_t *mc = kc_mock(kc);
	int32_t id = 2;
	CHECK_EQ(rd_kafka_mock_broker_set_down(mc, id), RD_KAFKA_RESP_ERR_NO_ERROR);
	CHECK_EQ(rd_kafka_mock_broker_set_up(mc, id), RD_KAFKA_RESP_ERR_NO_ERROR);
	int before = 1;
	for (int i = 0; i < np; i++)
		before &= nodelay_of(ports[i], 0) == 1;
	printf("broker %d up again, before kc_mock_nodelay: all listeners TCP_NODELAY %d\n", id,
	       before);
	kc_mock_nodelay(kc);
	for (int i = 0; i < np; i++) {
		CHECK_EQ(nodelay_of(ports[i], 0), 1);
		fd = dial(ports[i]);
		cport = fd >= 0 ? local_port(fd) : 0;
		CHECK(cport > 0);
		if (cport > 0)
			CHECK_EQ(accepted_nodelay(ports[i], cport), 1);
		if (fd >= 0)
			close(fd);
	}
	kc_free(kc);
}

int main(void)
{
	props_parsing();
	validation();
	mock();
	nodelay();
	return check_done("test_kconf");
}
