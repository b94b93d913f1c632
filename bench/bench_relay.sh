#!/bin/sh
# bench/bench_relay.sh - relay throughput and idle cost. A fresh private MariaDB gets ROWS
# (default 1,000,000) change rows in one INSERT ... SELECT from the sequence engine (distinct
# customer ids, event times spread over the last hour); a standalone `cdctop kafka-mock` (3
# brokers, 3 partitions); then, one line per figure:
#   relay.drain     rows/s of `cdctop relay --once -b <mock>` draining them all, every message
#                   acknowledged (acks=all, idempotent), progress saved; target >= 50,000
#   relay.kcat      msg/s of `kcat -P -l` producing the same envelopes (dumped from the topic with
#                   kcat -C, repeated to ROWS lines) to the same topic: the transport's limit;
#                   the detail gives cdctop's rate as a ratio of it
#   relay.mysql     rows/s of the mariadb client (--quick) reading the same change rows' columns:
#                   the source's limit
#   relay.ratio     relay.drain / the lower of relay.kcat and relay.mysql; goal >= 0.5
#   relay.baseline  rows/s of bench/baseline_relay.py, a relay in the original notebook's style
#                   (Debian's python3-pymysql + python3-kafka, select by timestamp, one send() per
#                   row, no delivery check, kafka-python's defaults) on BASELINE_ROWS (default
#                   20,000) of them; cdctop/baseline >= 20x
#   relay.baseline_acked  the same with each send awaited (acks=all) and the timestamp saved per
#                   row, on ACKED_ROWS (default 1,000): a reference, no target
#   relay.idle_cpu  % of a core used by a caught-up `cdctop relay` over IDLE_S (10) seconds, from
#                   utime+stime in /proc/<pid>/stat; target < 1% (the detail adds the server's
#                   CPU over the same seconds: the relay's stats queries run there)
# Env: CDCTOP (default build/cdctop), ROWS, BASELINE_ROWS, ACKED_ROWS, IDLE_S. About a minute.
set -eu
cd "$(dirname "$0")/.."
C=${CDCTOP:-$(pwd)/build/cdctop}
ROWS=${ROWS:-1000000}
BASELINE_ROWS=${BASELINE_ROWS:-20000}
ACKED_ROWS=${ACKED_ROWS:-1000}
IDLE_S=${IDLE_S:-10}
TOOLS=${BUILD_DIR:-$(dirname "$C")}/tools
TOPIC=cdc.sakila.customer
DRAIN_TARGET=50000
BASELINE_TARGET=20
IDLE_TARGET=1

BENCH_NAME=bench_relay
. bench/lib.sh
[ -x "$C" ] || die "$C is not built (make all)"
[ -x "$TOOLS/topic_ids" ] || die "$TOOLS/topic_ids is not built (make all)"
command -v kcat >/dev/null || die "kcat is not installed (make deps)"
/usr/bin/python3 -c 'import pymysql, kafka' 2>/dev/null ||
	die "/usr/bin/python3 lacks pymysql or kafka (make deps: python3-pymysql python3-kafka)"
[ "$BASELINE_ROWS" -le "$ROWS" ] && [ "$ACKED_ROWS" -le "$ROWS" ] || die "BASELINE_ROWS and ACKED_ROWS must not exceed ROWS"

bench_tmp cdcb
SOCK="$T/db/mysqld.sock"
# hw_sum: messages ever written to the topic (sum of its high watermarks)
hw_sum() { "$TOOLS/topic_ids" -b "$BOOT" -t "$TOPIC" -w -T 30 | awk '{ s += $3 } END { print s + 0 }'; }
# fig NAME VALUE UNIT DETAILS [VERDICT]: one figure line
fig() { printf '%-20s %9s %-7s (%s)%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"; }
# cpu_ticks PID: utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

"$C" server start --datadir "$T/db" >/dev/null
"$C" init --datadir "$T/db" >/dev/null

# ROWS change rows: distinct customer ids, event times spread evenly over the last hour
t0=$(now)
sql "SET SESSION sql_log_bin = 0;
     INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
       first_name, last_name, email, address_id, active, create_date)
     SELECT 'INSERT', NOW(6) - INTERVAL 1 HOUR + INTERVAL (seq * 3600000000 DIV ($ROWS + 1)) MICROSECOND,
       seq, 1 + seq % 2,
       ELT(1 + seq % 8, 'Mary', 'Patricia', 'Linda', 'Barbara', 'Élise', 'Jennifer', 'Maria', 'Susan'),
       ELT(1 + (seq DIV 8) % 8, 'Smith', 'Johnson', 'Williams', 'Öztürk', 'Jones', 'Garcia', 'Miller', 'Davis'),
       CONCAT('customer', seq, '@sakilacustomer.org'), seq, 1,
       NOW() - INTERVAL 1 HOUR + INTERVAL (seq * 3600 DIV ($ROWS + 1)) SECOND
     FROM seq_1_to_$ROWS"
fill_s=$(elapsed "$t0" "$(now)")
[ "$(sql 'SELECT COUNT(*) FROM users_change_events')" = "$ROWS" ] || die "the fill did not write $ROWS rows"

"$C" kafka-mock --brokers 3 --partitions 3 </dev/null >"$T/mock.out" 2>"$T/mock.err" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/mock.out" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || die "kafka-mock printed no address: $(cat "$T/mock.err")"
	sleep 0.1
done
BOOT=$(head -n 1 "$T/mock.out")

# relay.drain: the whole backlog, every message acknowledged, progress saved
t0=$(now)
"$C" relay --once -b "$BOOT" --datadir "$T/db" 2>"$T/relay.log" || die "relay --once failed: $(tail -n 3 "$T/relay.log")"
drain_s=$(elapsed "$t0" "$(now)")
[ "$(sql "SELECT last_log_id FROM latest_cdc_timestamp WHERE topic = '$TOPIC'")" = "$ROWS" ] ||
	die "progress after relay --once is not $ROWS"
held=$(hw_sum)
[ "$held" = "$ROWS" ] || die "the topic got $held messages, not $ROWS"
drain=$(rate "$ROWS" "$drain_s")
fig relay.drain "$drain" rows/s "$ROWS rows in $drain_s s, acks=all, idempotent, 3 brokers x 3 partitions; fill $fill_s s" \
	"$(verdict "$drain >= $DRAIN_TARGET" ">= $DRAIN_TARGET")"

# relay.kcat: the same envelopes through kcat -P (the mock keeps ~5 MiB per partition: dump what
# it holds, repeat it to ROWS lines)
kcat -b "$BOOT" -t "$TOPIC" -C -e -q -o beginning -f '%k\t%s\n' >"$T/dump" 2>"$T/kcat.err" ||
	die "kcat -C failed: $(cat "$T/kcat.err")"
dumped=$(wc -l <"$T/dump" | tr -d ' ')
[ "$dumped" -gt 0 ] || die "kcat -C dumped nothing"
reps=$(((ROWS + dumped - 1) / dumped))
i=0
while [ $i -lt $reps ]; do cat "$T/dump"; i=$((i + 1)); done | head -n "$ROWS" >"$T/envelopes"
bytes=$(wc -c <"$T/envelopes" | tr -d ' ')
rm -f "$T/dump"
before=$(hw_sum)
t0=$(now)
kcat -b "$BOOT" -t "$TOPIC" -P -K '\t' -X enable.idempotence=true -X acks=all -l "$T/envelopes" 2>"$T/kcat.err" ||
	die "kcat -P failed: $(cat "$T/kcat.err")"
kcat_s=$(elapsed "$t0" "$(now)")
[ "$(($(hw_sum) - before))" = "$ROWS" ] || die "kcat -P did not deliver $ROWS messages"
kcat_rate=$(rate "$ROWS" "$kcat_s")
fig relay.kcat "$kcat_rate" msg/s "kcat -P -l of $ROWS envelopes, $((bytes / ROWS)) bytes avg, in $kcat_s s, acks=all, idempotent; cdctop drain = $(awk -v a="$drain" -v b="$kcat_rate" 'BEGIN { printf "%.2f", a / b }') of it"

# relay.mysql: the mariadb client reading the same change rows, the same columns as the relay
# reads them (--quick: streamed, not buffered), into /dev/null: the source's limit
t0=$(now)
mariadb --no-defaults -S "$SOCK" -uroot -N -B --quick sakila -e "SELECT log_id,
	CAST(UNIX_TIMESTAMP(event_timestamp) * 1000000 AS SIGNED), customer_id, store_id, address_id,
	active, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED), first_name, last_name, email
	FROM users_change_events ORDER BY log_id" >/dev/null || die "the mariadb client's read failed"
mysql_s=$(elapsed "$t0" "$(now)")
mysql_rate=$(rate "$ROWS" "$mysql_s")
fig relay.mysql "$mysql_rate" rows/s "mariadb --quick reading the $ROWS change rows' relay columns in $mysql_s s"
low=$(awk -v a="$kcat_rate" -v b="$mysql_rate" 'BEGIN { print (a < b) ? a : b }')
fig relay.ratio "$(awk -v a="$drain" -v b="$low" 'BEGIN { printf "%.2f", a / b }')" x \
	"relay.drain / the lower of relay.kcat and relay.mysql, this run: $drain / $low" \
	"$(verdict "$drain >= 0.5 * $low" ">= 0.5")"

# relay.baseline: the notebook-style Python relay on the newest BASELINE_ROWS rows
sql "SET time_zone = '+00:00';
     INSERT INTO latest_cdc_timestamp (topic, last_event_timestamp)
     SELECT 'bench.baseline', event_timestamp FROM users_change_events WHERE log_id = $((ROWS - BASELINE_ROWS))"
/usr/bin/python3 bench/baseline_relay.py "$SOCK" "$BOOT" bench.baseline bench.baseline >"$T/base.out" 2>"$T/base.err" ||
	die "baseline_relay.py failed: $(tail -n 3 "$T/base.err")"
set -- $(sed -n 's/^baseline: \([0-9]*\) rows in \([0-9.]*\) s$/\1 \2/p' "$T/base.out")
[ "${1:-0}" = "$BASELINE_ROWS" ] || die "baseline relayed '${1:-?}' rows, not $BASELINE_ROWS: $(cat "$T/base.out")"
base_rate=$(rate "$1" "$2")
ratio=$(awk -v a="$drain" -v b="$base_rate" 'BEGIN { printf "%.1f", a / b }')
fig relay.baseline "$base_rate" rows/s "bench/baseline_relay.py: $1 rows in $2 s; cdctop/baseline = ${ratio}x" \
	"$(verdict "$ratio >= $BASELINE_TARGET" "cdctop/baseline >= ${BASELINE_TARGET}x")"

# relay.baseline_acked: the same relay waiting for each row's acknowledgement (acks=all)
sql "SET time_zone = '+00:00';
     INSERT INTO latest_cdc_timestamp (topic, last_event_timestamp)
     SELECT 'bench.baseline_acked', event_timestamp FROM users_change_events WHERE log_id = $((ROWS - ACKED_ROWS))"
/usr/bin/python3 bench/baseline_relay.py --acked "$SOCK" "$BOOT" bench.baseline_acked bench.baseline_acked >"$T/base.out" 2>"$T/base.err" ||
	die "baseline_relay.py --acked failed: $(tail -n 3 "$T/base.err")"
set -- $(sed -n 's/^baseline: \([0-9]*\) rows in \([0-9.]*\) s$/\1 \2/p' "$T/base.out")
[ "${1:-0}" = "$ACKED_ROWS" ] || die "baseline --acked relayed '${1:-?}' rows, not $ACKED_ROWS: $(cat "$T/base.out")"
acked_rate=$(rate "$1" "$2")
fig relay.baseline_acked "$acked_rate" rows/s "bench/baseline_relay.py --acked, each send awaited, acks=all: $1 rows in $2 s; cdctop/this = $(awk -v a="$drain" -v b="$acked_rate" 'BEGIN { printf "%.0f", a / b }')x"

# relay.idle_cpu: a caught-up relay (the table still holds ROWS rows), IDLE_S seconds
"$C" relay -b "$BOOT" --datadir "$T/db" 2>"$T/idle.log" &
RP=$!
PIDS="$PIDS $RP"
i=0
while ! grep -q "relay: caught up" "$T/idle.log"; do
	i=$((i + 1))
	[ $i -lt 300 ] || die "the idle relay never caught up: $(tail -n 3 "$T/idle.log")"
	sleep 0.1
done
sleep 1 # past start-up
SRV=$(cat "$T/db/mysqld.pid")
hz=$(getconf CLK_TCK)
r0=$(cpu_ticks "$RP")
s0=$(cpu_ticks "$SRV")
sleep "$IDLE_S"
r1=$(cpu_ticks "$RP")
s1=$(cpu_ticks "$SRV")
kill -0 "$RP" 2>/dev/null || die "the idle relay exited: $(tail -n 3 "$T/idle.log")"
idle=$(awk -v d=$((r1 - r0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.2f", d / hz / s * 100 }')
srv=$(awk -v d=$((s1 - s0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.2f", d / hz / s * 100 }')
fig relay.idle_cpu "$idle" %core "caught-up relay over $IDLE_S s: $((r1 - r0)) ticks of 1/$hz s; mariadbd meanwhile $srv%, $ROWS rows in the table" \
	"$(verdict "$idle < $IDLE_TARGET" "< ${IDLE_TARGET}%")"
