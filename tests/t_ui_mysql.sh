#!/bin/sh
# MySQL stopped under a running monitor: the status line and the capture pane say so within
# seconds, the UI keeps answering keys (the help overlay opens and closes), an inject fails
# visibly instead of hanging (its own message on the status line; SQL: no customer added);
# started again, the monitor recovers by itself and new batches count as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up"
scr_keys i
scr_wait 10 'customers +20 ' "the first batch"
scr_bars_equal 15 3600

note "server stop"
"$CDCTOP" server stop --datadir "$DBDIR" >/dev/null
scr_wait 10 '^ mysql: down' "the status line"
scr_wait 5 '┌ capture · mysql down' "the capture pane's title"
note "status: $(grep -E '^ mysql: down' "$SCR" | cut -c1-100)"
scr_keys '?'
scr_wait 3 'help · any key closes' "the help overlay while MySQL is down"
scr_keys x
scr_wait_gone 3 'any key closes' "the help overlay"
scr_keys i
# the batch's own answer (not the key hints or the capture label, which always say "inject")
scr_wait 10 '^ inject: (not written, mysql is down|batch rolled back)' "the failed batch's message"
note "answer to i: $(grep -E '^ inject: ' "$SCR" | cut -c1-100)"

note "server start"
"$CDCTOP" server start --datadir "$DBDIR" >/dev/null
assert_eq "$(sql 'SELECT COUNT(*) FROM customer')" 20 "customers after the batch that failed (MySQL down)"
scr_wait_gone 20 'mysql: down|mysql down' "the MySQL-down state"
scr_keys i
scr_wait 20 'customers +40 ' "a batch after the restart"
assert_eq "$(sql 'SELECT COUNT(*) FROM customer')" 40 "customers after one more batch (the failed one not written late)"
scr_bars_equal 20 3600
scr_wait 15 'backlog +0 ' "backlog back to 0"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
scr_keys q
scr_wait 10 'EXITED 0' "exit"
note "ok"
