#!/bin/sh
# Resizing relayouts at once: below 80x24 a clear "terminal too small" message instead of a
# garbled screen (only q works: a key like i would act unseen), then back at 80x24 and 120x40 every pane again with the
# histogram still equal to SQL's truth and every pane's right border at the last column.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up"
scr_keys i
scr_wait 10 'customers +20 ' "the first batch"
scr_bars_equal 15 3600
scr_borders 120 "120x40"

note "60x20: too small"
scr_resize 60 20
scr_wait 5 'terminal too small \(need 80x24, have 60x20\)' "the too-small message"
scr_cap >/dev/null
! grep -q 'registrations per store' "$SCR" || fail "panes drawn into a 60x20 terminal"
scr_keys i # ignored while too small: nothing is written unseen (checked at 80x24 below)

note "80x24: every pane"
scr_resize 80 24
scr_wait 5 '┌ registrations per store' "the histogram at 80x24"
for pane in '┌ capture ' '┌ kafka ' 'customers +20 ' 'q quit' 'kafka: mock 127\.0\.0\.1:[0-9]+'; do
	scr_wait 10 "$pane" "'$pane' at 80x24"
done
scr_borders 80 "80x24"
scr_bars_equal 15 3600
# the i pressed while too small: keys act in order, so had it acted, its batch would be written
# before this one's, which the status line answers
scr_keys i
scr_wait 15 'inject: wrote 20 customers' "a batch at 80x24"
assert_eq "$(sql "SELECT COUNT(*) FROM customer WHERE last_update > NOW() - INTERVAL 1 HOUR")" 40 \
	"customers: the first batch and this one, none for the i while too small"
scr_bars_equal 15 3600

note "back to 120x40"
scr_resize 120 40
scr_wait 5 'lateness 1m   capture: trigger' "the wide header at 120x40"
scr_wait 5 '│ +2 +[0-9]+ +[0-9]+ ' "partition rows at 120x40"
scr_bars_equal 5 3600
! grep -q 'terminal too small' "$SCR" || fail "the too-small message stayed"
scr_borders 120 "120x40 again"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
scr_keys q
scr_wait 10 'EXITED 0' "exit"
note "ok"
