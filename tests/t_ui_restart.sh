#!/bin/sh
# Quit and restart during injection, ten times: while a headless injector writes 2,000
# customers/s, the monitor is quit with q and started again; then the injector stops and the
# check line must agree ("check  mysql N  counted N  ✓") with N equal to SQL's count of change
# rows, the open window's bars equal SQL's per-store counts, and late 0: re-sent history is
# never judged late, nothing is lost or counted twice. A last start says it restored the
# state from the checkpoint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

case "${BUILD_DIR:-}" in
*asan* | *tsan*) LIM=90 ;;
*) LIM=30 ;;
esac

count() { sql 'SELECT COUNT(*) FROM users_change_events'; }
relayed() { sql 'SELECT last_log_id FROM latest_cdc_timestamp'; }
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 1234567 -> 1,234,567
# inject_start: a headless injector at 2,000/s in the background (INJ); inject_stop ends it
# between two batches (SIGTERM finishes the batch being written).
inject_start() {
	bg "$CDCTOP" inject --datadir "$DBDIR" --rate 2000 -n 20 >>"$T/inject.out" 2>>"$T/inject.err"
	INJ=$!
}
inject_stop() {
	kill -TERM "$INJ"
	wait "$INJ" 2>/dev/null || true
}
# follow WHAT: waits until the relay has saved progress 1,000 rows past what MySQL held now
follow() {
	_c0=$(count)
	wait_for $LIM '[ "$(relayed)" -gt $((_c0 + 1000)) ]' || fail "$1: the relay did not follow the injector"
}
# agree WHAT: the check line equal to SQL's count, the bars equal to SQL, late 0
agree() {
	_n=$(count)
	scr_wait $LIM "check  mysql $(fmt "$_n")  counted $(fmt "$_n")  ✓" "$1: the check line agreeing with SQL's $_n"
	scr_bars_equal $LIM 3600
	grep -Eq 'late [0-9,]+   rejected' "$SCR" || fail "$1: no late figure on screen"
	assert_eq "$(grep -Eo 'late [0-9,]+' "$SCR" | head -n1)" "late 0" "$1: late events"
	note "$1: mysql $_n = counted, late 0"
}

# --lateness 5s: history re-sent after a restart is older than that, so any of it judged
# against a watermark that live rows moved on would show as late
scr_start 120 40 --datadir "$DBDIR" -w 1h --lateness 5s
scr_wait $LIM 'check  ' "start-up"
cycle=1
while [ $cycle -le 10 ]; do
	inject_start
	follow "cycle $cycle, before q"
	scr_exit_mark
	scr_keys q
	scr_exit_wait 0 "cycle $cycle: q during injection"
	scr_start 120 40 --datadir "$DBDIR" -w 1h --lateness 5s
	scr_wait $LIM 'check  mysql [0-9,]+  counted' "cycle $cycle: the check line after the restart"
	follow "cycle $cycle, after the restart"
	inject_stop
	agree "cycle $cycle"
	cycle=$((cycle + 1))
done
scr_exit_mark
scr_keys q
scr_exit_wait 0 "the last q"

# a start right after a quit shows the restored state at once, from the checkpoint
scr_start 120 40 --datadir "$DBDIR" -w 1h --lateness 5s
scr_wait $LIM 'windows: restored from the checkpoint: [0-9,]+ events' "the restore on the status line"
agree "after the last restart"
scr_keys q
scr_wait $LIM 'EXITED 0' "the last exit"
note "ok: 10 restarts during injection at 2,000/s, every check line equal to SQL, late 0"
