#!/bin/sh
# bench_binlog.sh - the binlog capture mode's figures, on a fresh private MariaDB (binlog on) and
# standalone mock clusters (`cdctop kafka-mock`, 3 brokers, 3 partitions):
#  1. inject throughput with the capture trigger vs without it (-n 1000 --batches 20, five
#     alternating runs each after a warm-up, median), and the ratio: what the trigger costs;
#  2. binlog backlog drain: 200,000 customers written with the trigger dropped, then
#     `relay --once --capture=binlog` from the position saved before them, timed from process
#     start to exit (target >= 50,000 rows/s), and net of the time an empty `relay --once`
#     takes (connect, topic metadata, the final heartbeat wait);
#  3. COMMIT -> consumed latency at 1,000 customers/s (batches of 20, as `inject --rate 1000`)
#     for the trigger relay and the binlog relay, one after the other in this run: a small
#     tool (C, below, built against the build's libcdctop.a) commits the batches and notes
#     each customer's commit time, and a consumer in the same process (assign at the end,
#     fetch.wait.max.ms=10 as watch uses) decodes each envelope (env_decode) and notes when
#     it arrives; latency = arrival - COMMIT returned, one clock. Watch's window store adds
#     only its in-memory count on top.
#  4. binlog.idle_growth: bytes/s the binlog grows while a caught-up binlog relay idles (its own
#     progress saves; should be 0).
# One line per figure, "<name> <value> <unit> (details)  target ...: ok|BELOW" (bench/README.md);
# a figure below target does not fail the run; notes go to stderr. About 80 seconds.
# Env: CDCTOP (default build/cdctop), BUILD_DIR (its build dir, for libcdctop.a), DRAIN_N
# (customers for the drain, default 200000), LAT_SECONDS (default 20).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${CDCTOP:=$ROOT/${BUILD:-build}/cdctop}"
[ -x "$CDCTOP" ] || { echo "bench_binlog: $CDCTOP is not built (make all)" >&2; exit 1; }
CDCTOP=$(cd "$(dirname "$CDCTOP")" && pwd)/$(basename "$CDCTOP")
BUILD_DIR=${BUILD_DIR:-$(dirname "$CDCTOP")}
export CDCTOP BUILD_DIR
DRAIN_N=${DRAIN_N:-200000}
LAT_SECONDS=${LAT_SECONDS:-20}
TOPIC=cdc.sakila.customer
. "$ROOT/tests/lib.sh"
note() { echo "# $*" >&2; } # progress notes on stderr: stdout carries only the figures

# fig NAME VALUE UNIT DETAILS [VERDICT]: one figure line (the format of bench/README.md)
fig() { printf '%-24s %9s %-7s (%s)%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"; }
# verdict OK-CONDITION-AS-AWK-EXPR TEXT: "target TEXT: ok" or "target TEXT: BELOW"
verdict() { awk "BEGIN { print ($1) ? \"target $2: ok\" : \"target $2: BELOW\" }"; }
inj() { "$CDCTOP" inject -S "$SOCK" -u root "$@" </dev/null; }

# mock NAME: a standalone mock cluster; sets BOOT.
mock() {
	_m=$1
	bg "$CDCTOP" kafka-mock --brokers 3 >"$T/$_m.out" 2>"$T/$_m.err"
	wait_for 20 '[ -s "$T/$_m.out" ]' || fail "kafka-mock printed no address: $(cat "$T/$_m.err")"
	BOOT=$(head -n 1 "$T/$_m.out")
}

# rate_of OUTPUT: customers/s from inject's "wrote N customers ... in X ms" line.
rate_of() {
	sed -n 's/^inject: wrote \([0-9,]*\) customers .* in \([0-9.]*\) ms, .*/\1 \2/p' | tr -d , |
		awk '{ printf "%d\n", $1 / ($2 / 1000) }'
}

# median N...: the median of the arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# fmt N: N with thousands separators.
fmt() { echo "$1" | sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }

t_db
note "server: $DBDIR ($(sql 'SELECT VERSION()'))"

# --- 1. inject throughput with and without the trigger ------------------------------------------
with="" without=""
run_with() {
	"$CDCTOP" init -S "$SOCK" -u root >/dev/null || fail "init (re-create the trigger)"
	[ "$(sql "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'sakila'")" = 1 ] ||
		fail "no capture trigger after init"
	r=$(inj -n 1000 --batches 20 | rate_of)
	with="$with $r"
}
run_without() {
	sql "DROP TRIGGER IF EXISTS customer_after_insert_cdc"
	r=$(inj -n 1000 --batches 20 | rate_of)
	without="$without $r"
}
inj -n 1000 --batches 20 >/dev/null || fail "warm-up inject" # warm the server up, not measured
for round in 1 2 3 4 5; do # alternating order: the growing tables cost both modes alike
	if [ $((round % 2)) = 0 ]; then run_without; run_with; else run_with; run_without; fi
	note "round $round: with trigger $(echo "$with" | awk '{print $NF}')/s, without $(echo "$without" | awk '{print $NF}')/s"
done
# shellcheck disable=SC2086
w=$(median $with)
# shellcheck disable=SC2086
wo=$(median $without)
fig binlog.inject_trigger "$w" cust/s "inject -n 1000 --batches 20 with the capture trigger, median of 5:$with"
fig binlog.inject_notrigger "$wo" cust/s "the same with the trigger dropped, median of 5:$without"
ratio=$(awk -v a="$wo" -v b="$w" 'BEGIN { printf "%.2f", a / b }')
fig binlog.trigger_cost "$ratio" x "without/with: dropping the trigger gives back $(awk -v a="$wo" -v b="$w" 'BEGIN { printf "%.0f", (a / b - 1) * 100 }')% insert throughput; the trigger costs $(awk -v a="$wo" -v b="$w" 'BEGIN { printf "%.0f", (1 - b / a) * 100 }')%"

# --- 2. binlog backlog drain -------------------------------------------------------------------
mock drain
sql "DROP TRIGGER IF EXISTS customer_after_insert_cdc"
P=$(sql "SHOW MASTER STATUS" | cut -f1,2)
t0=$(date +%s%N)
inj -n 1000 --batches $((DRAIN_N / 1000)) >"$T/drain_inject.out" || fail "inject for the drain"
t1=$(date +%s%N)
note "wrote $DRAIN_N customers in $(((t1 - t0) / 1000000)) ms ($(rate_of <"$T/drain_inject.out")/s, no trigger)"
sql "DELETE FROM latest_cdc_binlog WHERE topic = '$TOPIC';
     INSERT INTO latest_cdc_binlog (topic, file, pos, last_customer_id, relayed)
     VALUES ('$TOPIC', '$(echo "$P" | cut -f1)', $(echo "$P" | cut -f2), 0, 0)"
t0=$(date +%s%N)
timeout 600 "$CDCTOP" relay --once --capture=binlog -b "$BOOT" -S "$SOCK" -u root </dev/null 2>"$T/drain.log" ||
	fail "relay --once --capture=binlog: $(tail -n 5 "$T/drain.log")"
t1=$(date +%s%N)
n=$(sed -n 's/.*stopped at progress [0-9]* (\([0-9]*\) relayed this run).*/\1/p' "$T/drain.log")
[ "$n" = "$DRAIN_N" ] || fail "the drain relayed ${n:-?} rows, expected $DRAIN_N: $(tail -n 5 "$T/drain.log")"
ms=$(((t1 - t0) / 1000000))
drain=$((n * 1000 / (ms > 0 ? ms : 1)))
t0=$(date +%s%N)
timeout 120 "$CDCTOP" relay --once --capture=binlog -b "$BOOT" -S "$SOCK" -u root </dev/null 2>"$T/empty.log" ||
	fail "empty relay --once: $(tail -n 5 "$T/empty.log")"
t1=$(date +%s%N)
grep -q "(0 relayed this run)" "$T/empty.log" || fail "the empty relay --once relayed rows: $(tail -n 2 "$T/empty.log")"
ems=$(((t1 - t0) / 1000000))
net=$((ms - ems > 0 ? n * 1000 / (ms - ems) : 0))
fig binlog.drain "$drain" rows/s "relay --once --capture=binlog of $(fmt "$n") customers (1,000 per transaction, with their addresses) in $ms ms, process start to exit, acks=all, idempotent, 3 brokers x 3 partitions" \
	"$(verdict "$drain >= 50000" ">= 50,000")"
fig binlog.drain_net "$net" rows/s "the same less the $ems ms an empty relay --once takes (connect, metadata, the last heartbeat wait)"

# --- 3. COMMIT -> consumed latency, trigger vs binlog --------------------------------------------
LAT="$T/lat"
cat >"$T/lat.c" <<'EOF'
/*
 * lat - COMMIT -> consumed latency: writes customers (an address, then the customer, as inject
 * does) in transactions of -n rows at -r rows/s for -d seconds, noting when each COMMIT
 * returned; a consumer thread (assigned at the partitions' ends before the first write,
 * fetch.wait.max.ms=10) decodes every envelope and notes when each customer_id first arrived.
 * Prints "n=N missing=M p50_ms=.. p99_ms=.. max_ms=..". One monotonic clock for both.
 */
#include "envelope.h"

#include <librdkafka/rdkafka.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct seen { uint32_t id; int64_t us; };
static struct seen *seen;
static size_t nseen, capseen;
static atomic_int stop, ready;
static atomic_long consumed;
static const char *brokers, *topic;

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "lat: %s: %s\n", what, msg);
	exit(1);
}

static void *consume(void *arg)
{
	(void)arg;
	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	const char *kv[][2] = {{"bootstrap.servers", brokers}, {"group.id", "cdctop-lat"},
	                       {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "10"},
	                       {"log_level", "3"}};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], e, sizeof e))
			die(kv[i][0], e);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
	if (!rk)
		die("consumer", e);
	const rd_kafka_metadata_t *md;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
	    md->topics[0].partition_cnt < 1)
		die("metadata", topic);
	int np = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++) {
		int64_t lo, hi;
		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000))
			die("watermarks", topic);
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
	}
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	/* a first poll round so the fetchers are running before the first write */
	for (int i = 0; i < 10; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
		if (m)
			rd_kafka_message_destroy(m);
	}
	ready = 1;
	while (!stop) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 20);
		if (!m)
			continue;
		int64_t t = now_us();
		struct cdc_row r;
		char derr[256];
		if (!m->err && env_decode(m->payload, m->len, &r, derr) == 0) {
			if (nseen == capseen) {
				capseen = capseen ? 2 * capseen : 65536;
				seen = realloc(seen, capseen * sizeof *seen);
			}
			seen[nseen++] = (struct seen){r.customer_id, t};
			consumed++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	double rate = 1000, secs = 20;
	int batch = 20, opt;
	while ((opt = getopt(argc, argv, "S:b:t:r:n:d:")) != -1) {
		if (opt == 'S') sock = optarg;
		else if (opt == 'b') brokers = optarg;
		else if (opt == 't') topic = optarg;
		else if (opt == 'r') rate = atof(optarg);
		else if (opt == 'n') batch = atoi(optarg);
		else if (opt == 'd') secs = atof(optarg);
		else return 2;
	}
	if (!sock || !brokers || !topic || batch < 1 || rate <= 0)
		die("usage", "lat -S SOCK -b BROKERS -t TOPIC [-r RATE] [-n BATCH] [-d SECONDS]");
	MYSQL *m = mysql_init(NULL);
	if (!mysql_real_connect(m, NULL, "root", NULL, "sakila", 0, sock, 0))
		die("mysql", mysql_error(m));
	if (mysql_query(m, "SET time_zone = '+00:00'") || mysql_autocommit(m, 0))
		die("mysql", mysql_error(m));
	MYSQL_STMT *sa = mysql_stmt_init(m), *sc = mysql_stmt_init(m);
	const char *qa = "INSERT INTO address (address, district, city_id, phone) VALUES "
	                 "('1 Latency Lane', 'Bench', 1, '555')";
	const char *qc = "INSERT INTO customer (store_id, first_name, last_name, email, address_id, "
	                 "active, create_date) VALUES (?, 'Lat', 'Bench', 'lat@example.com', "
	                 "LAST_INSERT_ID(), 1, NOW())";
	if (mysql_stmt_prepare(sa, qa, strlen(qa)) || mysql_stmt_prepare(sc, qc, strlen(qc)))
		die("prepare", mysql_error(m));
	int store = 1;
	MYSQL_BIND b;
	memset(&b, 0, sizeof b);
	b.buffer_type = MYSQL_TYPE_LONG;
	b.buffer = &store;
	mysql_stmt_bind_param(sc, &b);

	pthread_t th;
	pthread_create(&th, NULL, consume, NULL);
	while (!ready)
		usleep(10000);
	size_t cap = (size_t)(rate * secs) + (size_t)batch + 16, n = 0;
	uint32_t *ids = malloc(cap * sizeof *ids);
	int64_t *commit_us = malloc(cap * sizeof *commit_us);
	int64_t period = (int64_t)(batch * 1e6 / rate), t0 = now_us(), next = t0;
	while (now_us() - t0 < (int64_t)(secs * 1e6) && n + (size_t)batch <= cap) {
		int64_t w = next - now_us();
		if (w > 0)
			usleep((useconds_t)w);
		next += period;
		size_t first = n;
		for (int i = 0; i < batch; i++) {
			store = 1 + (int)(n % 2);
			if (mysql_stmt_execute(sa) || mysql_stmt_execute(sc))
				die("insert", mysql_error(m));
			ids[n++] = (uint32_t)mysql_stmt_insert_id(sc);
		}
		if (mysql_commit(m))
			die("commit", mysql_error(m));
		int64_t t = now_us();
		for (size_t i = first; i < n; i++)
			commit_us[i] = t;
	}
	int64_t wrote_s = now_us() - t0;
	for (int64_t end = now_us() + 20000000; now_us() < end && (size_t)consumed < n;)
		usleep(20000);
	usleep(200000);
	stop = 1;
	pthread_join(th, NULL);
	/* first arrival of each id: sort arrivals by id, then time */
	uint32_t lo = ids[0], hi = ids[0];
	for (size_t i = 0; i < n; i++) {
		lo = ids[i] < lo ? ids[i] : lo;
		hi = ids[i] > hi ? ids[i] : hi;
	}
	int64_t *arr = calloc(hi - lo + 1, sizeof *arr);
	for (size_t i = 0; i < nseen; i++)
		if (seen[i].id >= lo && seen[i].id <= hi &&
		    (!arr[seen[i].id - lo] || seen[i].us < arr[seen[i].id - lo]))
			arr[seen[i].id - lo] = seen[i].us;
	int64_t *lat = malloc(n * sizeof *lat);
	size_t k = 0, missing = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t a = arr[ids[i] - lo];
		if (!a)
			missing++;
		else
			lat[k++] = a - commit_us[i];
	}
	qsort(lat, k, sizeof *lat, cmp64);
	if (!k)
		die("result", "no customer arrived");
	printf("n=%zu missing=%zu p50_ms=%.1f p99_ms=%.1f max_ms=%.1f rate=%.0f\n", n, missing,
	       lat[k / 2] / 1000.0, lat[(k * 99) / 100] / 1000.0, lat[k - 1] / 1000.0,
	       n / (wrote_s / 1e6));
	mysql_close(m);
	return missing ? 1 : 0;
}
EOF
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -I"$ROOT/src" $(pkg-config --cflags libmariadb rdkafka jansson) \
	-o "$LAT" "$T/lat.c" "$BUILD_DIR/libcdctop.a" $(pkg-config --libs ncursesw libmariadb rdkafka jansson) \
	-lpthread -lm 2>"$T/lat.cc" || fail "cannot build the latency tool: $(head -n 5 "$T/lat.cc")"

# lat_run MODE RELAY-ARGS...: a relay in the background, caught up, then the latency tool.
lat_run() {
	_mode=$1
	shift
	mock "lat_$_mode"
	bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" "$@" 2>"$T/relay_$_mode.log"
	_rp=$!
	wait_for 120 'grep -Eq "relay: caught up" "$T/relay_$_mode.log"' ||
		fail "the $_mode relay did not catch up: $(tail -n 5 "$T/relay_$_mode.log")"
	"$LAT" -S "$SOCK" -b "$BOOT" -t "$TOPIC" -r 1000 -n 20 -d "$LAT_SECONDS" >"$T/lat_$_mode.out" 2>&1 ||
		fail "latency ($_mode): $(cat "$T/lat_$_mode.out") $(tail -n 3 "$T/relay_$_mode.log")"
	# shellcheck disable=SC2046 # "n N missing M p50_ms X ..." as words
	set -- $(sed 's/=/ /g' "$T/lat_$_mode.out")
	fig "binlog.latency_$_mode" "$6" "ms p50" "COMMIT returned -> envelope decoded by a consumer, $_mode relay: p99 $8 ms, max ${10} ms; $2 customers at ${12}/s, 20 per commit"
	if [ "$_mode" = binlog ]; then # an idle relay should write nothing to the binlog
		sleep 2
		_p0=$(sql "SHOW MASTER STATUS" | cut -f1,2)
		sleep 10
		_p1=$(sql "SHOW MASTER STATUS" | cut -f1,2)
		_g=$(printf '%s\n%s\n' "$_p0" "$_p1" | awk -F'\t' 'NR == 1 { f = $1; p = $2 } NR == 2 { print (f == $1) ? int(($2 - p) / 10) : "?" }')
		fig binlog.idle_growth "$_g" B/s "the server's binlog growth over 10 s with a caught-up binlog relay and nothing else writing (its own progress saves)" \
			"$(verdict "\"$_g\" == \"0\"" "0")"
	fi
	kill -TERM "$_rp"
	wait "$_rp" 2>/dev/null || true
}

# trigger mode: the trigger back, its relay caught up on the change rows of part 1
"$CDCTOP" init -S "$SOCK" -u root >/dev/null || fail "init (re-create the trigger)"
lat_run trigger
# binlog mode: no trigger, a new topic instance: start at the current position
sql "DROP TRIGGER customer_after_insert_cdc; DELETE FROM latest_cdc_binlog WHERE topic = '$TOPIC'"
lat_run binlog --capture=binlog
