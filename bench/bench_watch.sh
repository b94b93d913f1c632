#!/bin/sh
# bench/bench_watch.sh - `cdctop watch` live: end-to-end latency and the window store's memory.
# A fresh private MariaDB (capture trigger on), a standalone `cdctop kafka-mock` (3 brokers, 3
# partitions), `cdctop relay -b <mock>` (trigger capture) and `cdctop watch -b <mock>` (text
# mode, default 1 h horizon) in the background; after a 20-customer warm-up has been counted,
# `cdctop inject -n 20 --rate 1000` writes 1,000 customers/s (batches of 20, as the monitor
# does) for DURATION seconds while watch's VmRSS is sampled from /proc/<pid>/status every
# second (every 5 s when DURATION > 600). Before watch starts, bench_commit (bench_commit.c)
# writes batches of 20 at 1,000/s for COMMIT_S (20) seconds through the injector's code and
# counts them with cdctop's consumer in its own process. Then, one line per figure:
#   watch.commit_p50   ms, COMMIT returned -> the batch's last row counted (bench_commit), p50
#                      over the batches; target <= 3
#   watch.commit_p99   the same batches' p99; target <= 10
#   watch.latency_p50  ms, watch's own end-to-end p50 (consume time - event time, its histogram
#                      over the last 10-20 s of events) from its last "#" status line before
#                      the injection ended; event time is the trigger's event_timestamp, set
#                      row by row before the COMMIT, so it counts the batch's writing too
#   watch.latency_p99  the same line's p99
#   watch.rss_peak     MiB, watch's VmHWM (peak RSS) at the end of the injection; target <= 32
#   watch.rss_growth   KiB/min, least-squares slope of the sampled RSS over the second half of
#                      the injection; no target: "flat" means near 0 (the detail gives the first
#                      and last samples)
#   watch.idle_cpu     % of a core, watch caught up and idle (the relay still running, its
#                      heartbeats twice a second) over IDLE_S (10) seconds, 3 s after the last
#                      row was counted, beside a second watch of the same topic run with
#                      `-X fetch.wait.max.ms=5` (one consumer handle with a 5 ms fetch wait, the
#                      design before the adaptive wait) over the same seconds; target: at most
#                      2 % of a core above that one
# Correctness: once the injection is over, the relay must have relayed every change row and
# watch must have counted exactly `SELECT COUNT(*) FROM users_change_events` within 30 s, else
# the bench fails (exit 1) with one line saying so.
# While it runs, the check line's queries run on their own connection every second, as the
# monitor's check thread runs them (CHECKLINE=0 leaves them out); watch.checkline_ms is the
# median round.
# Env: CDCTOP (default build/cdctop), BENCH_COMMIT (default build/bench/bench_commit), COMMIT_S
# (default 20), DURATION (seconds of injection, default 60: about 120 s in
# all); RELAY_ARGS and WATCH_ARGS add options to the relay's and watch's command lines (e.g.
# WATCH_ARGS="-X fetch.wait.max.ms=1", to try a setting). `DURATION=3600 sh bench/bench_watch.sh` measures the memory figures over the full 1-hour
# horizon (through bench/run.sh, raise BENCH_TIMEOUT above 3600 too). PREFILL=N (default
# 1,000,000) first writes N customers and their change rows, marked as relayed, so the run
# meets the tables of a long-lived database (an hour at 1,000/s leaves 3.6 million); with
# PREFILL=2000000 the relay's old in-loop COUNT(*)s showed as a p99 of 186 ms (10 ms now).
# After the prefill InnoDB is made to write its dirty pages out (innodb_max_dirty_pages_pct 0
# until at most 100 are left, then the old value back), as a long-lived database has long
# since done; SETTLE=0 skips that and measures while the flush runs.
set -eu
cd "$(dirname "$0")/.."
C=${CDCTOP:-$(pwd)/build/cdctop}
BC=${BENCH_COMMIT:-${BUILD_DIR:-$(pwd)/build}/bench/bench_commit}
DURATION=${DURATION:-60}
COMMIT_S=${COMMIT_S:-20}
PREFILL=${PREFILL-1000000}
TOPIC=cdc.sakila.customer
RATE=1000
BATCH=20
P50_TARGET=3
P99_TARGET=10
RSS_TARGET=32
CHECK_S=30
IDLE_S=${IDLE_S:-10}
IDLE_TARGET=2

BENCH_NAME=bench_watch
. bench/lib.sh
[ -x "$C" ] || die "$C is not built (make all)"
[ -x "$BC" ] || die "$BC is not built (make bench builds it)"
case "$COMMIT_S" in '' | *[!0-9]* | 0) die "COMMIT_S must be a whole number of seconds, at least 1" ;; esac
# watch starts after bench_commit and counts its rows from the topic's start: above ~32,000
# rows the mock (about 12,000 envelopes a partition) has dropped the first ones
[ "$COMMIT_S" -le 30 ] || die "COMMIT_S must be at most 30 (watch reads bench_commit's rows back, and the mock keeps about 36,000)"
case "$DURATION" in '' | *[!0-9]*) die "DURATION must be a whole number of seconds" ;; esac
[ "$DURATION" -ge 2 ] || die "DURATION must be at least 2 seconds"
case "$PREFILL" in '' | *[!0-9]*) die "PREFILL must be a whole number of rows" ;; esac
BATCHES=$((RATE * DURATION / BATCH))
SAMPLE_S=1
[ "$DURATION" -le 600 ] || SAMPLE_S=5

bench_tmp cdcb
# fig NAME VALUE UNIT DETAILS [VERDICT]: one figure line
fig() { printf '%-20s %9s %-7s (%s)%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"; }
# status_of FILE [LINES]: watch's last "#" status line (within the first LINES lines)
status_of() { head -n "${2:-2147483647}" "$1" | grep '^#' | tail -n 1; }
# counted_of LINE: the "counted N" of a status line, without separators
counted_of() { echo "$1" | sed -n 's/.* counted \([0-9,]*\) .*/\1/p' | tr -d ,; }
# counted_now: what watch's last status line says it counted (empty before the first one)
counted_now() { counted_of "$(status_of "$T/watch.out")"; }
# relayed_all: the relay's saved progress is the newest change row
relayed_all() {
	[ "$(sql "SELECT last_log_id FROM latest_cdc_timestamp WHERE topic = '$TOPIC'")" = \
		"$(sql 'SELECT MAX(log_id) FROM users_change_events')" ]
}
# dirty_pages: InnoDB's dirty pages in the buffer pool
dirty_pages() {
	sql "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | awk '{ print $2 }'
}
# rss_kb PID FIELD: VmRSS or VmHWM of a process, in KiB
rss_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

"$C" server start --datadir "$T/db" >/dev/null
"$C" init --datadir "$T/db" >/dev/null
# PREFILL: customers (and, through the trigger, change rows) already relayed before the run, so
# the run meets tables of a long-lived database: the relay's progress row starts after them
if [ "$PREFILL" -gt 0 ]; then
	pf0=$(now)
	sql "SET SESSION sql_log_bin = 0;
	     INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date)
	     SELECT 1 + seq % 2, 'Pre', 'Filled', CONCAT('prefill', seq, '@example.org'),
	       (SELECT MIN(address_id) FROM address), 1, NOW() - INTERVAL 1 DAY FROM seq_1_to_$PREFILL;
	     INSERT INTO latest_cdc_timestamp (topic, last_log_id)
	     SELECT '$TOPIC', MAX(log_id) FROM users_change_events" ||
		die "the prefill of $PREFILL customers failed"
	PREFILL_S=$(elapsed "$pf0" "$(now)")
	[ "$(sql 'SELECT COUNT(*) FROM users_change_events')" = "$PREFILL" ] ||
		die "the prefill did not leave $PREFILL change rows"
	# a long-lived database wrote these pages out long ago; left alone, InnoDB flushes the
	# prefill's dirty pages (~60 MB, its checkpoint age near the 96 MB redo log's limit) at
	# ~20 MB/s for the next 15-30 s, through the measurement, and the relay's empty reads then
	# took up to 12 ms. SETTLE=0 measures in that storm.
	if [ "${SETTLE:-1}" != 0 ]; then
		st0=$(now)
		# the low-water mark follows the maximum down to 0; both go back as they were
		# shellcheck disable=SC2046 # the two values as words
		set -- $(sql 'SELECT @@GLOBAL.innodb_max_dirty_pages_pct,
		                     @@GLOBAL.innodb_max_dirty_pages_pct_lwm')
		[ $# = 2 ] || die "cannot read innodb_max_dirty_pages_pct (and _lwm)"
		sql 'SET GLOBAL innodb_max_dirty_pages_pct = 0' ||
			die "cannot set innodb_max_dirty_pages_pct (SETTLE=0 runs without it)"
		wait_for 240 '[ "$(dirty_pages)" -le 100 ]' ||
			die "InnoDB still had $(dirty_pages) dirty pages 240 s after the prefill"
		sql "SET GLOBAL innodb_max_dirty_pages_pct = $1;
		     SET GLOBAL innodb_max_dirty_pages_pct_lwm = $2" ||
			die "cannot restore innodb_max_dirty_pages_pct to $1 (_lwm $2)"
		SETTLE_NOTE=", its dirty pages flushed in $(elapsed "$st0" "$(now)") s"
	else
		SETTLE_NOTE=", its dirty pages not flushed first (SETTLE=0)"
	fi
fi

"$C" kafka-mock --brokers 3 --partitions 3 </dev/null >"$T/mock.out" 2>"$T/mock.err" &
PIDS="$PIDS $!"
wait_for 20 '[ -s "$T/mock.out" ]' || die "kafka-mock printed no address: $(cat "$T/mock.err")"
BOOT=$(head -n 1 "$T/mock.out")

"$C" relay -b "$BOOT" --datadir "$T/db" ${RELAY_ARGS:-} </dev/null 2>"$T/relay.log" &
RP=$!
PIDS="$PIDS $RP"
wait_for 60 'grep -q "relay: caught up" "$T/relay.log"' ||
	die "the relay never caught up: $(tail -n 3 "$T/relay.log")"

# the check line's load, as the monitor's check thread (src/check.c) puts it on MySQL from a
# connection of its own about every second: once the horizon's rows per second in full, then
# each round the oldest open transaction, the settled id and the rows above the last one
# (CHECKLINE=0: none)
if [ "${CHECKLINE:-1}" != 0 ]; then
	(
		settled=0
		a=$(now)
		sql "SELECT FLOOR(UNIX_TIMESTAMP(event_timestamp)), COUNT(*) FROM users_change_events
		     WHERE event_timestamp >= NOW(6) - INTERVAL 3602 SECOND GROUP BY 1" >/dev/null || exit 0
		echo "full $(elapsed "$a" "$(now)")"
		while :; do
			a=$(now)
			top=$(sql "SELECT COALESCE(UNIX_TIMESTAMP(MIN(trx_started)), 0) FROM information_schema.INNODB_TRX;
			           SELECT COALESCE(MAX(log_id), 0) FROM users_change_events" | tail -n 1) || break
			sql "SELECT FLOOR(UNIX_TIMESTAMP(event_timestamp)), COUNT(*) FROM users_change_events
			     WHERE log_id > $settled AND log_id <= $top GROUP BY 1;
			     SELECT FLOOR(UNIX_TIMESTAMP(event_timestamp)), COUNT(*) FROM users_change_events
			     WHERE log_id > $top GROUP BY 1" >/dev/null || break
			settled=$top
			echo "round $(elapsed "$a" "$(now)")"
			sleep 1
		done
	) >"$T/checkline" &
	PIDS="$PIDS $!"
fi

# COMMIT -> counted (bench_commit): batches of BATCH at RATE through the injector's code, each
# COMMIT's return timed to the moment cdctop's consumer (in bench_commit's process, as watch
# configures it) has counted the whole batch; COMMIT_S seconds after 2 s of warm-up
if [ "${CHECKLINE:-1}" != 0 ]; then
	wait_for 60 'grep -q "^full" "$T/checkline"' || die "the check line's first count never ended"
fi
"$BC" "$T/db" "$BOOT" "$COMMIT_S" "$RATE" >"$T/commit.out" 2>"$T/commit.err" ||
	die "bench_commit failed: $(tail -n 2 "$T/commit.err")"
COMMIT_ROWS=$(($(sql 'SELECT COUNT(*) FROM users_change_events') - PREFILL))

"$C" watch -b "$BOOT" ${WATCH_ARGS:-} </dev/null >"$T/watch.out" 2>"$T/watch.err" &
WP=$!
PIDS="$PIDS $WP"

# warm-up: one batch through the whole pipeline, so watch is reading before the measurement
"$C" inject --datadir "$T/db" -n "$BATCH" --batches 1 </dev/null >"$T/warm.out" 2>&1 ||
	die "the warm-up inject failed: $(tail -n 3 "$T/warm.out")"
wait_for 30 '[ "$(counted_now)" = $((COMMIT_ROWS + BATCH)) ]' ||
	die "watch did not count the $BATCH warm-up customers in 30 s (status: '$(status_of "$T/watch.out")'; $(tail -n 2 "$T/watch.err"))"
sleep 1

# the measurement: inject at RATE for DURATION s, watch's RSS sampled meanwhile
t0=$(now)
(
	while kill -0 "$WP" 2>/dev/null; do
		r=$(rss_kb "$WP" VmRSS) || break
		echo "$(elapsed "$t0" "$(now)") $r"
		sleep "$SAMPLE_S"
	done
) >"$T/rss" &
SP=$!
PIDS="$PIDS $SP"
timeout -k 5 $((DURATION * 2 + 60)) "$C" inject --datadir "$T/db" -n "$BATCH" --batches "$BATCHES" --rate "$RATE" \
	</dev/null >"$T/inject.out" 2>"$T/inject.err" || die "inject failed: $(tail -n 3 "$T/inject.err")"
inject_s=$(elapsed "$t0" "$(now)")
lines=$(wc -l <"$T/watch.out" | tr -d ' ')
kill -0 "$WP" 2>/dev/null || die "watch exited during the injection: $(tail -n 3 "$T/watch.err")"
hwm=$(rss_kb "$WP" VmHWM)
kill -TERM "$SP" 2>/dev/null || true
wait "$SP" 2>/dev/null || true
inject_rate=$(tail -n 1 "$T/inject.out" | sed -n 's/.*, \([0-9,]*\) customers\/s$/\1/p' | tr -d ,)

# correctness: every change row relayed and counted, within CHECK_S s of the injection's end
rows=$(($(sql 'SELECT COUNT(*) FROM users_change_events') - PREFILL))
want=$((BATCHES * BATCH + BATCH + COMMIT_ROWS))
[ "$rows" = "$want" ] || die "users_change_events holds $rows new rows, not $want"
t1=$(now)
wait_for $CHECK_S relayed_all ||
	die "the relay did not relay all $rows change rows within $CHECK_S s: $(tail -n 2 "$T/relay.log")"
left=$((CHECK_S + ${t1%.*} - $(date +%s)))
[ $left -gt 0 ] || left=1
wait_for $left '[ "$(counted_now)" = "$rows" ]' || true # the last status line may lag the last event: the summary decides
catch_s=$(elapsed "$t1" "$(now)")

# idle: watch beside a one-handle 5 ms watch, both caught up, over the same IDLE_S seconds
"$C" watch -b "$BOOT" -X fetch.wait.max.ms=5 </dev/null >"$T/watch5.out" 2>"$T/watch5.err" &
W5=$!
PIDS="$PIDS $W5"
# caught up once its status line shows the e2e figures (the mock keeps about 5 MB a partition,
# so a topic of more than ~12,000 envelopes a partition no longer holds the first rows)
wait_for 60 'status_of "$T/watch5.out" | grep -q " e2e p50 "' ||
	die "the 5 ms watch did not catch up in 60 s (status: '$(status_of "$T/watch5.out")')"
sleep 3 # past the quick handle's 2 s hold
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
a0=$(ticks "$WP") b0=$(ticks "$W5")
sleep "$IDLE_S"
a1=$(ticks "$WP") b1=$(ticks "$W5")
idle_a=$(awk -v t=$((a1 - a0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.2f", t * 100 / hz / s }')
idle_b=$(awk -v t=$((b1 - b0)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN { printf "%.2f", t * 100 / hz / s }')
kill -TERM "$W5" 2>/dev/null || true

kill -TERM "$WP"
wait_for 10 '! kill -0 "$WP"' || die "watch did not exit within 10 s of SIGTERM"
summary=$(grep '^consumed [0-9,]*, counted' "$T/watch.out" | tail -n 1) # figures have separators
[ "$(echo "$summary" | sed -n 's/^consumed [0-9,]*, counted \([0-9,]*\),.*/\1/p' | tr -d ,)" = "$rows" ] ||
	die "watch did not count the $rows change rows within $CHECK_S s of the injection's end: '${summary:-no summary}' (last status: '$(status_of "$T/watch.out")')"

# the figures
st=$(status_of "$T/watch.out" "$lines")
# shellcheck disable=SC2046 # "P50 P99" as words
set -- $(echo "$st" | sed -n 's/.* e2e p50 \([0-9.]*\) ms p99 \([0-9.]*\) ms$/\1 \2/p')
[ $# = 2 ] || die "no e2e figures in watch's last status line before the injection ended: '$st'"
p50=$1
p99=$2
at=$(echo "$st" | cut -d' ' -f2)
how="$DURATION s at $RATE/s (inject ${inject_rate:-?}/s, batches of $BATCH) via relay (trigger) and a 3x3 mock${PREFILL_S:+, tables prefilled with $PREFILL rows in $PREFILL_S s${SETTLE_NOTE:-}}"
# shellcheck disable=SC2046 # "commit P50 P99 MAX N WARM POLL AMBIGUOUS" as words
set -- $(grep '^commit ' "$T/commit.out")
[ $# = 8 ] || die "bench_commit printed no figures: $(cat "$T/commit.out")"
fig watch.commit_p50 "$2" ms "COMMIT returned -> the batch's last row counted, over $5 batches of $BATCH at $RATE/s after $6 s of warm-up (bench_commit: the injector's code and cdctop's consumer in one process, the relay beside, counted read every $7 us on a thread of its own; max $4 ms; $8 batches still being counted at the next COMMIT, their figure a lower bound); all $COMMIT_ROWS rows it wrote counted${PREFILL_S:+; tables holding $PREFILL rows${SETTLE_NOTE:-}}" \
	"$(verdict "$2 <= $P50_TARGET" "<= $P50_TARGET ms")"
fig watch.commit_p99 "$3" ms "the same batches' p99" "$(verdict "$3 <= $P99_TARGET" "<= $P99_TARGET ms")"
fig watch.latency_p50 "$p50" ms "watch's own e2e histogram over its last 10-20 s of events, status line of $at UTC; $how; event time = the trigger's event_timestamp, set row by row before the COMMIT, so a batch's first row counts the batch's own writing too (watch.commit_p50 starts at the COMMIT's return)"
fig watch.latency_p99 "$p99" ms "the same status line's p99; all $rows change rows counted (watch's summary = COUNT(*) of users_change_events) $catch_s s after the injection ended${CHECKLINE_NOTE:-}"
if grep -q '^round' "$T/checkline" 2>/dev/null; then
	fig watch.checkline_ms "$(awk '$1 == "round" { print $2 }' "$T/checkline" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] * 1000 }')" ms \
		"median round of the check line's queries beside the measurement ($(grep -c '^round' "$T/checkline") rounds, max $(awk '$1 == "round" { print $2 }' "$T/checkline" | sort -n | tail -n 1) s; the first, full count over $PREFILL+ rows: $(awk '$1 == "full" { print $2 }' "$T/checkline") s)"
fi
n=$(wc -l <"$T/rss" | tr -d ' ')
[ "$n" -ge 2 ] || die "only $n RSS samples of watch"
peak=$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')
smax=$(awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$T/rss")
fig watch.rss_peak "$peak" MiB "VmHWM of watch (text mode, 1 h horizon) after $DURATION s at $RATE events/s; sampled VmRSS max $smax MiB ($n samples every $SAMPLE_S s)" \
	"$(verdict "$peak <= $RSS_TARGET" "<= $RSS_TARGET MiB")"
# shellcheck disable=SC2046 # "SLOPE N FIRST LAST" as words
set -- $(awk -v h="$(awk -v s="$inject_s" 'BEGIN { print s / 2 }')" '
	NR == 1 { first = $2 } { last = $2 }
	$1 >= h { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
	END {
		d = n * sxx - sx * sx
		v = (n >= 2 && d > 0) ? (n * sxy - sx * sy) / d * 60 : 0
		printf "%.1f %d %d %d\n", (v > -0.05 && v < 0.05) ? 0 : v, n, first, last
	}' "$T/rss")
fig watch.idle_cpu "$idle_a" %core "caught-up watch over $IDLE_S s, $((a1 - a0)) ticks of 1/$hz s; the one-handle 5 ms watch beside it over the same seconds: $idle_b %core (+$(awk -v a="$idle_a" -v b="$idle_b" 'BEGIN { printf "%.2f", a - b }'))" \
	"$(verdict "$idle_a - $idle_b <= $IDLE_TARGET" "<= +$IDLE_TARGET %core")"
fig watch.rss_growth "$1" KiB/min "least-squares slope of watch's VmRSS over the second half of the $inject_s s injection ($2 samples); flat means near 0; first sample $3 KiB, last $4 KiB"
