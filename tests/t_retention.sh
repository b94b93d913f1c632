#!/bin/sh
# Past Kafka's retention: the in-process mock keeps ~5 MiB per partition, so after 60,000 rows
# its low watermarks have moved on. The windows still hold everything (the consumer read it in
# time): the check line equals SQL. `r` then cannot rebuild from the topic, and says so: it
# rebuilds from MySQL's change log, with the count of rows on the status line, and the counts
# equal SQL again, late 0. A restart restores the same state from the checkpoint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

case "${BUILD_DIR:-}" in
*asan* | *tsan*) LIM=180 ;;
*) LIM=60 ;;
esac
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
count() { sql 'SELECT COUNT(*) FROM users_change_events'; }

scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait $LIM 'check  ' "start-up"
"$CDCTOP" inject --datadir "$DBDIR" -n 1000 --batches 60 --seed 5 >/dev/null 2>"$T/inject.err" ||
	fail "inject: $(cat "$T/inject.err")"
n=$(count)
assert_eq "$n" 60000 "change rows"
scr_wait $LIM "check  mysql $(fmt "$n")  counted $(fmt "$n")  ✓" "the check line after 60,000 rows"
# retention: the total row's low watermark is above 0
low=$(sed -n 's/.*│ all  *\([0-9,]*\) .*/\1/p' "$SCR" | head -n1 | tr -d ',')
[ -n "$low" ] && [ "$low" -gt 0 ] || fail "the mock kept every message (low '$low'): no retention to test"
note "retention: the partitions' low watermarks sum to $low"
scr_bars_equal $LIM 3600

scr_keys r
scr_wait $LIM "rebuilt from MySQL's change log: $(fmt "$n") rows" "the rebuild's source on the status line"
grep -q 'topic no longer holds the horizon' "$SCR" || fail "the status line does not say why: $(grep windows: "$SCR")"
scr_wait $LIM "check  mysql $(fmt "$n")  counted $(fmt "$n")  ✓" "the check line after r"
scr_bars_equal $LIM 3600
assert_eq "$(grep -Eo 'late [0-9,]+' "$SCR" | head -n1)" "late 0" "late events after r"

scr_exit_mark
scr_keys q
scr_exit_wait 0 "q"
scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait $LIM "restored from the checkpoint: $(fmt "$n") events" "the restore"
scr_wait $LIM "check  mysql $(fmt "$n")  counted $(fmt "$n")  ✓" "the check line after the restart"
scr_bars_equal $LIM 3600
scr_keys q
scr_wait $LIM 'EXITED 0' "exit"
note "ok: $n rows past retention, rebuilt from MySQL and restored, equal to SQL"
