/*
 * opts.c - parses the command line of every subcommand into struct opts, with a mask per
 * option saying which subcommands accept it. Runs once on the main thread before anything
 * starts. Must never accept a password on argv: -p/--password are refused with a pointer to
 * the places passwords go.
 */
#include "opts.h"
#include "kconf.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION "0.1.0"

static const char *const cmd_names[CMD__COUNT] = {
    [CMD_UI] = "cdctop",         [CMD_INIT] = "init",   [CMD_INJECT] = "inject",
    [CMD_RELAY] = "relay",       [CMD_WATCH] = "watch", [CMD_KAFKA_MOCK] = "kafka-mock",
    [CMD_SERVER] = "server",
};

const char *opt_cmd_name(enum opt_cmd c)
{
	return c < CMD__COUNT ? cmd_names[c] : "?";
}

#define M(c)  (1u << (c))
#define MYSQL_CMDS (M(CMD_UI) | M(CMD_INIT) | M(CMD_INJECT) | M(CMD_RELAY) | M(CMD_WATCH))
#define KAFKA_CMDS (M(CMD_UI) | M(CMD_RELAY) | M(CMD_WATCH))

enum {
	O_DEFAULTS_FILE = 1000,
	O_PASSWORD_FILE,
	O_PASSWORD,
	O_DATADIR,
	O_PARTITIONS,
	O_BROKERS_N,
	O_BATCHES,
	O_RATE,
	O_SEED,
	O_ONCE,
	O_GAP_WAIT,
	O_HORIZON,
	O_CAPTURE,
	O_JSON,
	O_SLIDE,
	O_LATENESS,
	O_UNTIL_IDLE,
	O_FORMAT,
	O_GROUP_BY,
	O_TABLE,
	O_HELP,
	O_VERSION,
};

struct optdef {
	int val;
	unsigned cmds; /* subcommands that accept it */
	const char *name;
};

static const struct optdef defs[] = {
    {'h', MYSQL_CMDS, "-h"},
    {'P', MYSQL_CMDS | M(CMD_SERVER), "-P"},
    {'S', MYSQL_CMDS, "-S"},
    {'u', MYSQL_CMDS, "-u"},
    {'D', MYSQL_CMDS, "-D"},
    {O_DEFAULTS_FILE, MYSQL_CMDS, "--defaults-file"},
    {O_PASSWORD_FILE, MYSQL_CMDS, "--password-file"},
    {O_DATADIR, MYSQL_CMDS | M(CMD_SERVER), "--datadir"},
    {'b', KAFKA_CMDS, "-b"},
    {'X', KAFKA_CMDS, "-X"},
    {'F', KAFKA_CMDS, "-F"},
    {'t', KAFKA_CMDS | M(CMD_KAFKA_MOCK), "-t"},
    {O_PARTITIONS, KAFKA_CMDS | M(CMD_KAFKA_MOCK), "--partitions"},
    {O_BROKERS_N, M(CMD_KAFKA_MOCK) | M(CMD_UI) | M(CMD_RELAY) | M(CMD_WATCH), "--brokers"},
    {'n', M(CMD_INJECT) | M(CMD_UI), "-n"},
    {O_BATCHES, M(CMD_INJECT), "--batches"},
    {O_RATE, M(CMD_INJECT) | M(CMD_UI), "--rate"},
    {O_SEED, M(CMD_INJECT) | M(CMD_UI), "--seed"},
    {O_ONCE, M(CMD_RELAY) | M(CMD_WATCH), "--once"},
    {O_GAP_WAIT, M(CMD_RELAY) | M(CMD_UI), "--gap-wait"},
    {O_HORIZON, M(CMD_RELAY) | M(CMD_WATCH) | M(CMD_UI), "--horizon"},
    {O_CAPTURE, M(CMD_RELAY) | M(CMD_UI), "--capture"},
    {O_JSON, M(CMD_WATCH), "--json"},
    {'w', M(CMD_WATCH) | M(CMD_UI), "-w"},
    {O_SLIDE, M(CMD_WATCH) | M(CMD_UI), "--slide"},
    {O_LATENESS, M(CMD_WATCH) | M(CMD_UI), "--lateness"},
    {O_UNTIL_IDLE, M(CMD_WATCH), "--until-idle"},
    {O_FORMAT, M(CMD_WATCH) | M(CMD_UI), "--format"},
    {O_GROUP_BY, M(CMD_WATCH) | M(CMD_UI), "--group-by"},
    {O_TABLE, M(CMD_WATCH) | M(CMD_UI), "--table"},
};

static const struct option longopts[] = {
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'P'},
    {"socket", required_argument, NULL, 'S'},
    {"user", required_argument, NULL, 'u'},
    {"database", required_argument, NULL, 'D'},
    {"defaults-file", required_argument, NULL, O_DEFAULTS_FILE},
    {"password-file", required_argument, NULL, O_PASSWORD_FILE},
    {"password", optional_argument, NULL, O_PASSWORD},
    {"datadir", required_argument, NULL, O_DATADIR},
    {"topic", required_argument, NULL, 't'},
    {"partitions", required_argument, NULL, O_PARTITIONS},
    {"brokers", required_argument, NULL, O_BROKERS_N},
    {"batches", required_argument, NULL, O_BATCHES},
    {"rate", required_argument, NULL, O_RATE},
    {"seed", required_argument, NULL, O_SEED},
    {"once", no_argument, NULL, O_ONCE},
    {"gap-wait", required_argument, NULL, O_GAP_WAIT},
    {"horizon", required_argument, NULL, O_HORIZON},
    {"capture", required_argument, NULL, O_CAPTURE},
    {"json", no_argument, NULL, O_JSON},
    {"window", required_argument, NULL, 'w'},
    {"slide", required_argument, NULL, O_SLIDE},
    {"lateness", required_argument, NULL, O_LATENESS},
    {"until-idle", required_argument, NULL, O_UNTIL_IDLE},
    {"format", required_argument, NULL, O_FORMAT},
    {"group-by", required_argument, NULL, O_GROUP_BY},
    {"table", required_argument, NULL, O_TABLE},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static const char pw_msg[] =
    "passwords are not accepted on the command line: put password= in ~/.my.cnf "
    "([client] or [cdctop]) or a --defaults-file, or use --password-file";

/* 1 if argv word a is -p..., --password or an abbreviation of it (--pass=x), which would
   carry a password on the command line. --password-file and --partitions are fine. */
static int is_password_opt(const char *a)
{
	if (a[0] == '-' && a[1] == 'p')
		return 1;
	if (strncmp(a, "--", 2))
		return 0;
	const char *name = a + 2;
	size_t n = strcspn(name, "=");
	if (n < 2)
		return 0;
	if (n > 8 && !strncmp(name, "password-file", n))
		return 0; /* --password-file or an abbreviation of it */
	return n <= 8 && !strncmp(name, "password", n);
}

/* 1 if a -X key names a secret, which belongs in a -F file, never on argv. */
static int secret_key(const char *kv)
{
	char key[128];
	size_t klen = strcspn(kv, "=");
	if (klen >= sizeof key)
		klen = sizeof key - 1;
	memcpy(key, kv, klen);
	key[klen] = 0;
	return kc_secret_key(key);
}

static void usage(void)
{
	fputs("usage: cdctop [options]                  pipeline + live monitor (the demo)\n"
	      "       cdctop init                       create the schema objects that are missing\n"
	      "       cdctop inject [-n N] [--batches B] [--rate R] [--seed S]\n"
	      "       cdctop relay [--once] [--gap-wait D] [--horizon D] [--capture trigger|binlog]\n"
	      "       cdctop watch [--json] [-w SIZE] [--slide S] [--lateness L] [--horizon D]\n"
	      "                    [--once | --until-idle D] [--format cdctop|debezium]\n"
	      "                    [--group-by COLUMN] [--table T]\n"
	      "       cdctop kafka-mock [--brokers N] [--partitions N] [-t TOPIC]\n"
	      "       cdctop server start|stop|status [--datadir DIR] [-P PORT]\n"
	      "Monitor: -n N --rate R --seed S -w SIZE --slide S --lateness L --horizon D\n"
	      "        --gap-wait D --capture trigger|binlog --partitions N --brokers N\n"
	      "        a Debezium topic, no MySQL or relay of its own: -b BROKERS -t TOPIC\n"
	      "        with --format debezium, --group-by COLUMN or --table T\n"
	      "MySQL:  -h HOST -P PORT -S SOCKET -u USER -D DB --defaults-file F --password-file F\n"
	      "        --datadir DIR (private server)\n"
	      "Kafka:  -b BROKERS -X key=value -F FILE -t TOPIC --partitions N --brokers N\n"
	      "See cdctop(1) for details.\n",
	      stdout);
}

static const struct optdef *find_def(int val)
{
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
		if (defs[i].val == val)
			return &defs[i];
	return NULL;
}

static int dur(const char *name, const char *arg, int64_t min_us, int64_t *out, char *err)
{
	char e[U_ERRLEN];
	if (u_parse_duration(arg, out, e) < 0)
		return u_err(err, "%s: %s", name, e);
	if (*out < min_us) {
		char b[32];
		return u_err(err, "%s: '%s' is too short (at least %s)", name, arg,
			     u_fmt_duration(min_us, b, sizeof b));
	}
	return 0;
}

static void defaults(struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->db = "sakila";
	o->topic = OPT_DEFAULT_TOPIC;
	o->partitions = 3;
	o->mock_brokers = 3;
	o->n = 20;
	o->gap_wait_us = 2000000;
	o->horizon_us = 3600 * 1000000LL;
	o->window_us = 30 * 1000000LL;
	o->lateness_us = 60 * 1000000LL;
}

static int find_cmd(const char *s, enum opt_cmd *c)
{
	for (int i = 1; i < CMD__COUNT; i++)
		if (!strcmp(s, cmd_names[i])) {
			*c = (enum opt_cmd)i;
			return 0;
		}
	return -1;
}

/* One option about the MySQL server and the data directory (-h -P -S -u -D, --defaults-file,
   --password-file, --datadir); *seen is set when one names the server: 1 when it is one of these,
   0 when not, -1 with err. */
static int opt_server(int c, struct opts *o, unsigned *seen, char *err)
{
	long long v;
	switch (c) {
	case 'h':
		if (!*optarg)
			return u_err(err, "-h: empty host name");
		o->host = optarg;
		*seen = 1;
		return 1;
	case 'P':
		if (u_parse_int("-P", optarg, 1, 65535, &v, err) < 0)
			return -1;
		o->port = (unsigned)v;
		if (o->cmd != CMD_SERVER)
			*seen = 1;
		return 1;
	case 'S':
		if (!*optarg)
			return u_err(err, "-S: empty socket path");
		o->socket = optarg;
		*seen = 1;
		return 1;
	case 'u':
		if (!*optarg)
			return u_err(err, "-u: empty user name");
		o->user = optarg;
		return 1;
	case 'D':
		if (!u_valid_ident(optarg))
			return u_err(err, "-D: bad database name '%.40s': use letters, digits "
					  "and _ only (at most 64)", optarg);
		o->db = optarg;
		return 1;
	case O_DEFAULTS_FILE:
		if (!*optarg)
			return u_err(err, "--defaults-file: empty file name");
		o->defaults_file = optarg;
		*seen = 1;
		return 1;
	case O_PASSWORD_FILE:
		if (!*optarg)
			return u_err(err, "--password-file: empty file name");
		o->password_file = optarg;
		return 1;
	case O_DATADIR:
		if (!*optarg)
			return u_err(err, "--datadir: empty directory name");
		o->datadir = optarg;
		return 1;
	}
	return 0;
}

/* One option about the Kafka cluster and topic (-b -X -F -t, --partitions, --brokers): 1 when it is one of these,
   0 when not, -1 with err. */
static int opt_kafka(int c, struct opts *o, char *err)
{
	long long v;
	switch (c) {
	case 'b':
		if (!*optarg)
			return u_err(err, "-b: empty broker list: give host:port[,host:port]");
		o->brokers = optarg;
		return 1;
	case 'X':
		if (!strchr(optarg, '=') || optarg[0] == '=')
			return u_err(err, "-X '%.60s': use -X key=value", optarg);
		if (secret_key(optarg))
			return u_err(err, "-X: secrets are not accepted on the command line: put "
					  "the property in a -F file (mode 0600)");
		if (o->nprops >= OPT_MAX_PROPS)
			return u_err(err, "-X: too many properties (at most %d); use -F FILE",
				     OPT_MAX_PROPS);
		o->props[o->nprops++] = optarg;
		return 1;
	case 'F':
		if (!*optarg)
			return u_err(err, "-F: empty file name");
		o->props_file = optarg;
		return 1;
	case 't':
		if (!u_valid_topic(optarg))
			return u_err(err, "-t: bad topic name '%.40s': use letters, digits, "
					  "'.', '_' and '-' only (at most 64)", optarg);
		o->topic = optarg;
		return 1;
	case O_PARTITIONS:
		if (u_parse_int("--partitions", optarg, 1, 256, &v, err) < 0)
			return -1;
		o->partitions = (int)v;
		return 1;
	case O_BROKERS_N:
		if (u_parse_int("--brokers", optarg, 1, 16, &v, err) < 0)
			return -1;
		o->mock_brokers = (int)v;
		return 1;
	}
	return 0;
}

/* One option about what a command does and how much (-n, --batches, --rate, --seed, --once, --gap-wait,
   --horizon, --capture, --json): 1 when it is one of these,
   0 when not, -1 with err. */
static int opt_run(int c, struct opts *o, char *err)
{
	long long v;
	switch (c) {
	case 'n':
		if (u_parse_int("-n", optarg, 1, 1000000, &o->n, err) < 0)
			return -1;
		return 1;
	case O_BATCHES:
		if (u_parse_int("--batches", optarg, 1, 1000000000, &o->batches, err) < 0)
			return -1;
		return 1;
	case O_RATE:
		if (u_parse_double("--rate", optarg, 0.01, 1000000, &o->rate, err) < 0)
			return -1;
		return 1;
	case O_SEED:
		if (u_parse_int("--seed", optarg, 0, 0x7fffffffffffffffLL, &v, err) < 0)
			return -1;
		o->seed = (uint64_t)v;
		o->seed_set = 1;
		return 1;
	case O_ONCE:
		o->once = 1;
		return 1;
	case O_GAP_WAIT:
		if (dur("--gap-wait", optarg, 0, &o->gap_wait_us, err) < 0)
			return -1;
		return 1;
	case O_HORIZON:
		if (dur("--horizon", optarg, 60 * 1000000LL, &o->horizon_us, err) < 0)
			return -1;
		if (o->horizon_us > 24 * 3600 * 1000000LL)
			return u_err(err, "--horizon: '%s' is too long (at most 24h)", optarg);
		return 1;
	case O_CAPTURE:
		if (!strcmp(optarg, "trigger"))
			o->capture = CAPTURE_TRIGGER;
		else if (!strcmp(optarg, "binlog"))
			o->capture = CAPTURE_BINLOG;
		else
			return u_err(err, "--capture: '%.40s' is not a mode: use trigger or "
					  "binlog", optarg);
		return 1;
	case O_JSON:
		o->json = 1;
		return 1;
	}
	return 0;
}

/* One option about the windows and the topic's format (-w, --slide, --lateness, --until-idle, --format,
   --group-by, --table): 1 when it is one of these,
   0 when not, -1 with err. */
static int opt_window(int c, struct opts *o, char *err)
{
	switch (c) {
	case 'w':
		if (dur("-w", optarg, 1000000, &o->window_us, err) < 0)
			return -1;
		return 1;
	case O_SLIDE:
		if (dur("--slide", optarg, 1000000, &o->slide_us, err) < 0)
			return -1;
		return 1;
	case O_LATENESS:
		if (dur("--lateness", optarg, 0, &o->lateness_us, err) < 0)
			return -1;
		return 1;
	case O_UNTIL_IDLE:
		if (dur("--until-idle", optarg, 1000, &o->until_idle_us, err) < 0)
			return -1;
		return 1;
	case O_FORMAT:
		if (!strcmp(optarg, "cdctop"))
			o->format = FORMAT_CDCTOP;
		else if (!strcmp(optarg, "debezium"))
			o->format = FORMAT_DEBEZIUM;
		else
			return u_err(err, "--format: '%.40s' is not a format: use cdctop or "
					  "debezium (or leave it out to judge each message)",
				     optarg);
		return 1;
	case O_GROUP_BY:
	case O_TABLE:
		if (!*optarg || strlen(optarg) > 64)
			return u_err(err, "%s: give a column or table name of 1 to 64 bytes",
				     c == O_TABLE ? "--table" : "--group-by");
		*(c == O_TABLE ? &o->table : &o->group_by) = optarg;
		return 1;
	}
	return 0;
}

/* Finds the subcommand, the first word that is not an option or an option's argument, and
   takes it out of argv so getopt sees only options (and server's action). The new argc, or
   -1 with err. */
static int take_command(int argc, char **argv, struct opts *o, char *err)
{
	int cmd_at = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			cmd_at = i;
			break;
		}
		if (!strcmp(a, "--"))
			break;
		/* short options taking an argument as a separate word */
		if (a[1] && !a[2] && strchr("hPSuDbXFtnw", a[1]))
			i++;
		else if (a[1] == '-' && !strchr(a, '=')) {
			for (const struct option *lo = longopts; lo->name; lo++)
				if (!strcmp(a + 2, lo->name) && lo->has_arg == required_argument)
					i++;
		}
	}
	if (!cmd_at)
		return argc;
	if (find_cmd(argv[cmd_at], &o->cmd) < 0)
		return u_err(err,
			     "unknown command '%.40s': use init, inject, relay, watch, "
			     "kafka-mock or server (see cdctop --help)",
			     argv[cmd_at]);
	for (int i = cmd_at; i < argc - 1; i++)
		argv[i] = argv[i + 1];
	return argc - 1;
}

/* What getopt returned before it is an option of ours: an unknown option, a missing value, a
   password, --help or --version, or an option of another command. 0 for an option to take,
   1 when it was --help or --version (printed), -1 with err. */
static int screen_option(int c, char **argv, const struct opts *o, char *err)
{
	if (c == '?') {
		if (optopt)
			return u_err(err, "unknown option '-%c' (see cdctop --help)", optopt);
		return u_err(err, "unknown option '%.*s' (see cdctop --help)",
			     (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
	}
	if (c == ':')
		return u_err(err, "option '%.60s' needs a value (see cdctop --help)",
			     argv[optind - 1]);
	if (c == 'p' || c == O_PASSWORD)
		return u_err(err, "%s", pw_msg);
	if (c == O_HELP) {
		usage();
		return 1;
	}
	if (c == O_VERSION) {
		printf("cdctop %s\n", VERSION);
		return 1;
	}
	const struct optdef *d = find_def(c);
	if (d && !(d->cmds & M(o->cmd)))
		return u_err(err, "option %s does not apply to '%s' (see cdctop --help)", d->name,
			     opt_cmd_name(o->cmd));
	return 0;
}

/* The options that exclude or need each other. -1 with err. */
static int check_combination(const struct opts *o, char *err)
{
	if (o->once && o->until_idle_us)
		return u_err(err, "--once and --until-idle exclude each other: --once reads to the "
				  "end and exits, --until-idle D streams until D passes with nothing new");
	if (o->window_us % 1000000 || (o->slide_us && o->slide_us % 1000000))
		return u_err(err, "window and slide must be whole seconds (e.g. 30s, 1m)");
	if (o->slide_us > o->window_us)
		return u_err(err, "--slide must not be longer than the window (-w)");
	if (o->format == FORMAT_CDCTOP && ((o->group_by && strcmp(o->group_by, "store_id")) ||
					   o->table))
		return u_err(err, "--group-by and --table apply to Debezium topics: cdctop's own "
				  "envelope is counted by store_id (drop --format cdctop)");
	if (o->window_us > o->horizon_us)
		return u_err(err, "-w: the window is longer than the --horizon");
	if (o->cmd == CMD_UI && opt_foreign(o) && !o->brokers)
		return u_err(err, "--format debezium, --group-by and --table watch a topic cdctop "
				  "does not write: give its cluster with -b HOST:PORT");
	return 0;
}

/* The words after the options: server's action, nothing for the other commands. */
static int take_action(int rest, char **words, struct opts *o, char *err)
{
	if (o->cmd == CMD_SERVER) {
		if (rest != 1 ||
		    (strcmp(words[0], "start") && strcmp(words[0], "stop") && strcmp(words[0], "status")))
			return u_err(err, "server: say start, stop or status (cdctop server start)");
		o->server_action = words[0];
	} else if (rest > 0) {
		return u_err(err, "unexpected argument '%.40s' (see cdctop --help)", words[0]);
	}
	return 0;
}

int opt_parse(int argc, char **argv, struct opts *o, char *err)
{
	defaults(o);
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (is_password_opt(argv[i]))
			return u_err(err, "%s", pw_msg);
	if ((argc = take_command(argc, argv, o, err)) < 0)
		return -1;
	unsigned seen_server = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h:P:S:u:D:b:X:F:t:n:w:p::", longopts, NULL)) != -1) {
		int rc = screen_option(c, argv, o, err);
		if (rc)
			return rc;
		rc = opt_server(c, o, &seen_server, err);
		if (!rc)
			rc = opt_kafka(c, o, err);
		if (!rc)
			rc = opt_run(c, o, err);
		if (!rc)
			rc = opt_window(c, o, err);
		if (rc < 0)
			return -1;
	}
	o->server_named = (int)seen_server;
	if (check_combination(o, err) < 0)
		return -1;
	return take_action(argc - optind, argv + optind, o, err);
}
