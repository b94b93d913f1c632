#!/bin/sh
# s_monitor.sh - the monitor's own state through restarts and Kafka retention. Two writers
# inject throughout while the monitor (-b at a standalone kafka-mock, --lateness 5s) is started
# and ended again and again, each end drawn from q, SIGTERM and SIGKILL (full: 8 runs; short:
# 3); each run must first show the check line agreeing with SQL for the rows of that moment
# (writers paused at a batch boundary) with late 0. Then, with the monitor down, 60,000 rows
# are relayed headless past the mock's retention (~5 MiB a partition): the next start must
# notice what the topic no longer has and fill it in from MySQL, the check line and the bars
# equal to SQL again; `r` rebuilds from MySQL's change log and says so. The exact
# reconciliation runs after the restarts (before retention takes messages off the topic).
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || ch_skip "tmux is not installed"
. "$CH_DIR/../screen.sh"

t_db
mock_fifo 3
case "${BUILD_DIR:-}" in
*asan* | *tsan*) LIM=180 ;;
*) LIM=60 ;;
esac
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
count() { sql 'SELECT COUNT(*) FROM users_change_events'; }
# agree WHAT: writers stopped, the check line equals SQL, the bars too, late 0
agree() {
	_n=$(count)
	scr_wait $LIM "check  mysql $(fmt "$_n")  counted $(fmt "$_n")  ✓" "$1: the check line at $_n rows"
	scr_bars_equal $LIM 3600
	[ "$(grep -Eo 'late [0-9,]+' "$SCR" | head -n1)" = "late 0" ] || fail "$1: $(grep -Eo 'late [0-9,]+' "$SCR" | head -n1)"
}
start() {
	scr_start 120 40 --datadir "$DBDIR" -b "$BOOT" -w 1h --lateness 5s
	scr_wait $LIM 'check  mysql [0-9,]+  counted' "$1: the monitor's check line"
}

RUNS=$(scale 8 3)
kills=0
i=1
while [ $i -le $RUNS ]; do
	ch_writers 2 300 10
	start "run $i"
	ch_rand 1 4
	p0=$(progress)
	wait_for $LIM "[ \"\$(progress)\" -ge $((p0 + R * 100)) ]" || fail "run $i: the monitor's relay relayed nothing"
	ch_writers_stop
	agree "run $i"
	ch_writers 2 300 10
	wait_for $LIM "[ \"\$(max_id)\" -gt $(max_id) ]" || fail "run $i: the writers wrote nothing"
	ch_rand 0 2
	pid=$(scr_pid)
	case $R in
	0) scr_keys q && scr_wait $LIM 'EXITED 0' "run $i: q" && how=q ;;
	1) kill -TERM "$pid" && scr_wait $LIM 'EXITED 0' "run $i: SIGTERM" && how=TERM ;;
	*)
		kill -KILL "$pid"
		wait_for 10 'scr_tmux capture-pane -p -J | grep -q "EXITED 137"' || fail "run $i: no exit 137 after SIGKILL"
		how=KILL kills=$((kills + 1))
		;;
	esac
	note "run $i: agreed with SQL at $_n rows, ended by $how mid-inject"
	scr_tmux kill-server
	ch_writers_stop
	i=$((i + 1))
done
ch_relay_once "$T/relay.restarts.log"
ch_reconcile "after $RUNS monitor runs"

# retention while the monitor is down: 60,000 rows relayed past what the mock keeps
"$CDCTOP" inject --datadir "$DBDIR" -n 1000 --batches 60 --seed "$CHAOS_SEED" >"$T/bulk.out" 2>&1 ||
	fail "bulk inject: $(tail -n 2 "$T/bulk.out")"
ch_relay_once "$T/relay.bulk.log"
start "after retention"
agree "after retention"
low=$(sed -n 's/.*│ all  *\([0-9,]*\) .*/\1/p' "$SCR" | head -n1 | tr -d ',')
[ -n "$low" ] && [ "$low" -gt 0 ] || fail "the mock kept every message (low '$low'): no retention happened"
note "after retention: the partitions' low watermarks sum to $low; the counts equal SQL"
scr_keys r
scr_wait $LIM "rebuilt from MySQL's change log" "r after retention"
agree "r after retention"
scr_keys q
scr_wait $LIM 'EXITED 0' "the last q"
fig kills "$kills"
fig ui_restarts "$RUNS"
ch_done "$RUNS monitor runs ended by q, SIGTERM or SIGKILL ($kills kills) during injection, each agreeing with SQL and late 0; 60,000 rows past retention filled in from MySQL; $(count) rows equal to SQL"
