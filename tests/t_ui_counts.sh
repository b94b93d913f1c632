#!/bin/sh
# The monitor's keys drive the pipeline and its histogram tells the truth: `i` three times
# writes three batches whose per-store counts in the open window equal SQL's count of
# users_change_events in that window (a 1h window holds all three), the capture pane's backlog
# returns to 0, and the customer count matches the table. q saves progress 60; started again
# (a new in-process mock cluster), the histogram shows the same counts (the relay re-sends the
# horizon, the consumer deduplicates) and the new cluster holds the 60 messages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

scr_start 120 40 --datadir "$DBDIR" -w 1h --seed 7
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up"
scr_wait 10 'no registrations' "the empty histogram"
note "i three times"
for k in 1 2 3; do
	scr_keys i
	scr_wait 10 "customers +$((k * 20)) " "customers after batch $k"
done
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 60 "change rows in MySQL"
scr_wait 10 'window [0-9:]+–[0-9:]+ \(open\)' "the open window's label"
scr_bars_equal 15 3600
note "histogram: $(scr_bars | tr '\n' ' ')"
scr_wait 15 'backlog +0 ' "backlog back to 0"
scr_wait 15 'change rows +60 ' "change rows"
scr_wait 10 '│ all +[0-9,]+ +60 ' "the partitions' high watermarks summing to 60"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q"
assert_eq "$(sql "SELECT last_log_id FROM latest_cdc_timestamp WHERE topic = 'cdc.sakila.customer'")" 60 \
	"saved progress after q"

note "start again: a new in-process mock cluster, the same counts"
scr_tmux kill-server
scr_start 120 40 --datadir "$DBDIR" -w 1h --seed 8
scr_wait 30 'kafka: mock 127\.0\.0\.1' "the second start"
scr_bars_equal 30 3600
note "histogram after the restart: $(scr_bars | tr '\n' ' ')"
scr_wait 15 '│ all +[0-9,]+ +60 ' "the horizon re-sent to the new cluster (60 messages)"
scr_wait 10 'customers +60 ' "customers after the restart"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 60 "change rows after the restart (nothing injected)"
scr_keys q
scr_wait 10 'EXITED 0' "exit"
note "ok"
