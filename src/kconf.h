/*
 * kconf.h - the one place that builds librdkafka configuration: the properties from -F and -X
 * (validated once, in order), the bootstrap servers from -b, or an in-process mock cluster when
 * -b is absent, and topic creation. A kc is read-only after kc_new, so any thread may call
 * kc_conf; kc_new/kc_free/kc_ensure_topic run on the thread that owns the pipeline. Never logs
 * or echoes the value of a secret property (keys with "password", "secret" or "sasl.jaas").
 */
#ifndef CDCTOP_KCONF_H
#define CDCTOP_KCONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "opts.h"

/* Opaque: base properties, optional in-process mock cluster, bootstrap string. */
struct kc;

/*
 * From o->brokers (-b; NULL: start librdkafka's mock cluster in-process with o->mock_brokers
 * brokers, unless the properties name bootstrap.servers), o->props_file (-F, applied first)
 * and o->props (-X, applied after the file). Every property is validated by applying it to a
 * scratch rd_kafka_conf_t: an invalid one gives librdkafka's own message on one line, prefixed
 * by where it came from ("-X" or "file:line"). Combinations librdkafka checks only when a
 * client is created surface from rd_kafka_new in the caller. A -F file readable by group or
 * other that holds a secret key prints a one-line warning on stderr. NULL with err on error.
 */
struct kc *kc_new(const struct opts *o, char *err);
/* Destroys the mock cluster (if any) and then its dummy handle; clients must be gone. NULL ok. */
void kc_free(struct kc *kc);

/*
 * A fresh configuration with every user property and bootstrap.servers, and a log callback
 * that keeps librdkafka's log lines off the terminal (see kc_last_log). Caller owns it (pass it
 * to rd_kafka_new or rd_kafka_conf_destroy). NULL with err only if librdkafka refuses a
 * property it accepted in kc_new (the impossible).
 */
rd_kafka_conf_t *kc_conf(const struct kc *kc, char *err);
/* 1 if the user set property key (by -F or -X), so callers apply their defaults only if not. */
int kc_has_prop(const struct kc *kc, const char *key);
/* Sets key=value on conf unless the user set key (the one place cdctop's defaults yield to
   -F and -X). 0, or -1 with err "kafka property KEY: why" if librdkafka refuses it. */
int kc_default(const struct kc *kc, rd_kafka_conf_t *conf, const char *key, const char *value,
	       char *err);

/* "127.0.0.1:port,..." for the mock, or the -b / bootstrap.servers list. */
const char *kc_bootstrap(const struct kc *kc);
/* 1 when kc runs librdkafka's mock cluster in this process. */
int kc_is_mock(const struct kc *kc);
/* The mock cluster's broker count; 0 when -b named a real cluster. */
int kc_mock_brokers(const struct kc *kc);
/* The mock cluster, for fault injection in tests; NULL when -b was given. */
rd_kafka_mock_cluster_t *kc_mock(const struct kc *kc);
/* Sets TCP_NODELAY on the mock brokers' sockets, as a real broker has it (kc_new does; call
   again after a broker is brought up: its listener is new). No-op without the mock. */
void kc_mock_nodelay(const struct kc *kc);

/*
 * Makes sure topic exists with `partitions` partitions. Mock: rd_kafka_mock_topic_create
 * (idempotent). Otherwise kc_probe first (a refused or non-Kafka address fails at once with
 * its code); a standalone cdctop kafka-mock of this user is asked through its control
 * socket. Real cluster: admin CreateTopics (TOPIC_ALREADY_EXISTS is fine); if creation
 * is refused, checks the metadata that the topic exists, else an error saying so. rk is any
 * client handle made from kc_conf(kc) (may be NULL for the mock: then metadata is not
 * checked). Bounded by timeout_ms. 0 on success, -1 with err.
 */
int kc_ensure_topic(struct kc *kc, rd_kafka_t *rk, const char *topic, int partitions,
                    int timeout_ms, char *err);

/*
 * The topic's partition count from the cluster's metadata through rk (all topics listed:
 * never auto-creates it), retrying while it is unknown or has no leader, bounded by
 * timeout_ms; U_ENOTFOUND ("topic 'x' does not exist") or -1 with the last error in err when
 * it never shows up.
 */
int kc_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err);
/* The same from one metadata request, without waiting for a topic that is not there (yet):
   U_ENOTFOUND at once then. */
int kc_topic_partitions_now(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err);

/*
 * Checks at once that kc's brokers answer as Kafka: a TCP connection to each bootstrap
 * address (all within timeout_ms) and a Kafka ApiVersions request (skipped under SSL). 0 when
 * one broker answers (or kc is the in-process mock); else U_EREFUSED (nothing listens),
 * U_ENOTKAFKA (something answers, not Kafka), U_ENOTFOUND (unknown host), U_ETIMEDOUT or
 * U_EFAIL, with one line in err naming the address and what to check.
 */
int kc_probe(const struct kc *kc, int timeout_ms, char *err);

/*
 * kc_probe, then the cluster's list of topics (never creating one) from a short-lived
 * client: the topic's partition count, or U_ENOTFOUND ("topic 'x' does not exist at ...")
 * or the probe's code, with err. Bounded by timeout_ms.
 */
int kc_check_topic(struct kc *kc, const char *topic, int timeout_ms, char *err);

/*
 * The control socket of `cdctop kafka-mock` (mock only): a unix socket in the user's state
 * dir, named after the first broker's port, through which relay processes of the same user
 * ask for a topic with their --partitions (the mock has no CreateTopics API). Returns the
 * listening fd (non-blocking) or -1 with err; kc_free unlinks it. kc_ctl_serve answers one
 * request when the fd is readable ("create <topic> <partitions>" -> "ok", "exists" or
 * "error: ..."). kc_ensure_topic uses it when it finds such a socket for its bootstrap.
 */
int kc_ctl_listen(struct kc *kc, char *err);
void kc_ctl_serve(struct kc *kc, int lfd);

/*
 * Parses properties text (the -F format: key=value lines, '#' comments, blank lines,
 * whitespace around key and value trimmed, CRLF accepted) calling cb(key, value, ctx, err) per
 * property in order; a non-zero cb return stops parsing and returns -1 with "fname:line: "
 * put before the message cb left in err.
 * A line without '=' or with an empty key is -1 with "fname:line: ..." in err (the line's text
 * is never echoed: it may be a secret). Pure; text need not be NUL-terminated.
 */
int kc_parse_props(const char *text, size_t len, const char *fname,
                   int (*cb)(const char *k, const char *v, void *ctx, char *err), void *ctx,
                   char *err);

/* 1 if a property key names a secret whose value must never be printed. */
int kc_secret_key(const char *key);

/*
 * The last librdkafka log line at level error or worse (LOG_ERR = 3) from any handle made
 * with kc_conf or the mock, copied into buf ("" if none); returns how many such lines were
 * seen in this process. Logging policy: librdkafka lines never go to the terminal by default
 * (they would tear the monitor's screen and repeat every second while a broker is down);
 * they are kept here for the status line. With -X debug=... or CDCTOP_KAFKA_LOG=1 in the
 * environment every line is also printed through u_log.
 */
unsigned long kc_last_log(char *buf, size_t len);

#endif
