#!/bin/sh
# Quit and restart during injection: a headless injector writes 2,000 customers/s for the whole
# test while the monitor is quit with q and started again ten times. After each start, the
# injector is paused (SIGSTOP) and the check line must agree ("check  mysql N  counted N  ✓")
# with N equal to SQL's count of change rows, the open window's bars equal SQL's per-store
# counts, and late 0: re-sent history is never judged late, nothing is lost or counted twice.
# The state comes from the checkpoint (the status line says so) after the first run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

case "${BUILD_DIR:-}" in
*asan* | *tsan*) LIM=90 ;;
*) LIM=30 ;;
esac

bg "$CDCTOP" inject --datadir "$DBDIR" --rate 2000 -n 20 --seed 11 >"$T/inject.out" 2>"$T/inject.err"
INJ=$!
count() { sql 'SELECT COUNT(*) FROM users_change_events'; }
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 1234567 -> 1,234,567
wait_for 30 '[ "$(count)" -gt 0 ]' || fail "the injector wrote nothing: $(cat "$T/inject.err")"

cycle=1
while [ $cycle -le 10 ]; do
	scr_start 120 40 --datadir "$DBDIR" -w 1h
	scr_wait $LIM 'check  mysql [0-9,]+  counted' "cycle $cycle: the check line"
	# the monitor runs while rows keep coming: at least 1,000 more relayed
	c0=$(count)
	wait_for $LIM '[ "$(sql "SELECT last_log_id FROM latest_cdc_timestamp")" -gt $((c0 + 1000)) ]' ||
		fail "cycle $cycle: the relay did not follow the injector"
	kill -STOP "$INJ"
	n=$(count)
	scr_wait $LIM "check  mysql $(fmt "$n")  counted $(fmt "$n")  ✓" \
		"cycle $cycle: the check line agreeing with SQL's $n"
	scr_bars_equal $LIM 3600
	grep -Eq 'late [0-9,]+   rejected' "$SCR" || fail "cycle $cycle: no late figure on screen"
	assert_eq "$(grep -Eo 'late [0-9,]+' "$SCR" | head -n1)" "late 0" "cycle $cycle: late events"
	note "cycle $cycle: mysql $n = counted, late 0"
	kill -CONT "$INJ"
	# quit while the injector writes
	wait_for $LIM '[ "$(count)" -gt $((n + 200)) ]' || fail "cycle $cycle: the injector did not resume"
	scr_exit_mark
	scr_keys q
	scr_exit_wait 0 "cycle $cycle: q"
	cycle=$((cycle + 1))
done

# a start right after a quit shows the restored state at once, from the checkpoint
scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait $LIM 'windows: restored from the checkpoint: [0-9,]+ events' "the restore on the status line"
kill -TERM "$INJ"
wait "$INJ" 2>/dev/null || true
n=$(count)
scr_wait $LIM "check  mysql $(fmt "$n")  counted $(fmt "$n")  ✓" "the final check line"
scr_bars_equal $LIM 3600
assert_eq "$(grep -Eo 'late [0-9,]+' "$SCR" | head -n1)" "late 0" "late events at the end"
scr_keys q
scr_wait $LIM 'EXITED 0' "the last exit"
note "ok: 10 restarts during injection, $n change rows, every check line equal to SQL, late 0"
