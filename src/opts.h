/*
 * opts.h - the command line: one struct holding every option of every subcommand, parsed once
 * in main. Owns nothing at run time; other modules read the struct. Never prints secrets:
 * passwords are refused on argv and only ever read from files.
 */
#ifndef CDCTOP_OPTS_H
#define CDCTOP_OPTS_H

#include <stdint.h>

enum opt_cmd {
	CMD_UI = 0, /* no subcommand: pipeline + monitor */
	CMD_INIT,
	CMD_INJECT,
	CMD_RELAY,
	CMD_WATCH,
	CMD_KAFKA_MOCK,
	CMD_SERVER,
	CMD__COUNT
};

enum opt_capture { CAPTURE_TRIGGER = 0, CAPTURE_BINLOG };

/* --format: the topic's messages, judged per message by default. */
enum opt_format { FORMAT_AUTO = 0, FORMAT_CDCTOP, FORMAT_DEBEZIUM };

#define OPT_MAX_PROPS 64

struct opts {
	enum opt_cmd cmd;
	const char *server_action; /* start|stop|status for CMD_SERVER */

	/* MySQL target */
	const char *host, *socket, *user, *db, *defaults_file, *password_file, *datadir;
	unsigned port;
	int server_named; /* -h/-P/-S/--defaults-file given: do not use the private server */

	/* Kafka */
	const char *brokers;             /* -b; NULL: in-process mock cluster */
	const char *props[OPT_MAX_PROPS]; /* -X key=value, in order */
	int nprops;
	const char *props_file; /* -F */
	const char *topic;      /* -t */
	int partitions;
	int mock_brokers; /* kafka-mock --brokers, and the in-process mock */

	/* inject */
	long long n;       /* customers per batch */
	long long batches; /* 0: one batch (or until stopped with --rate) */
	double rate;       /* customers/s; 0: as fast as possible */
	uint64_t seed;
	int seed_set;

	/* relay */
	int once;
	int64_t gap_wait_us;
	int64_t horizon_us;
	enum opt_capture capture;

	/* watch */
	int json;
	int64_t window_us, slide_us, lateness_us;
	int64_t until_idle_us; /* watch --until-idle; --once sets a short idle */
	enum opt_format format;
	const char *group_by; /* --group-by: Debezium messages' column counted by (store_id) */
	const char *table;    /* --table: the one source.table read from a Debezium topic */
};

/*
 * Parses argv into o (defaults filled in first). On a bad option returns -1 with one line in
 * err naming the problem and what to do; returns 1 when --help/--version printed and the
 * caller should exit 0.
 */
int opt_parse(int argc, char **argv, struct opts *o, char *err);

/* The monitor watches a foreign topic (--format debezium, --group-by or --table given): no
 * MySQL, relay, injector or check line of its own, only the consumer and the Kafka probe. */
static inline int opt_foreign(const struct opts *o)
{
	return o->format == FORMAT_DEBEZIUM || o->group_by || o->table;
}

/* The subcommand's name, for messages. */
const char *opt_cmd_name(enum opt_cmd c);

#define OPT_DEFAULT_TOPIC "cdc.sakila.customer"

#endif
