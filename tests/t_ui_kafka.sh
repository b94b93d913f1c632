#!/bin/sh
# Kafka gone under a running monitor (-b at a standalone kafka-mock whose brokers are taken
# down through its command fifo): the kafka pane and the status line say so, keys still work,
# injected rows wait in the backlog; brokers back up, the backlog drains and the histogram
# equals SQL's truth again. With 500 ms broker replies, q while messages are in flight
# flushes them and saves progress (latest_cdc_timestamp = the last log_id). Brokers down once
# more, q still exits 0 (a 5 s hang check).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

mkfifo "$T/mock.in"
exec 3<>"$T/mock.in" # opened read-write first: no open of the fifo blocks, and it stays open
# (not through bg: an asynchronous command's stdin is /dev/null unless it redirects it itself)
"$CDCTOP" kafka-mock --brokers 3 <"$T/mock.in" >"$T/mock.out" 2>"$T/mock.err" &
BG_PIDS="$BG_PIDS $!"
wait_for 20 '[ -s "$T/mock.out" ]' || fail "kafka-mock printed no address: $(cat "$T/mock.err")"
BOOT=$(head -n 1 "$T/mock.out")
mock() { # mock 'command': sends it and waits for its reply line
	_n=$(wc -l <"$T/mock.out")
	echo "$1" >&3
	wait_for 10 "[ \$(wc -l <\"$T/mock.out\") -gt $_n ]" || fail "kafka-mock did not answer '$1'"
	tail -n 1 "$T/mock.out" | grep -q '^ok' || fail "kafka-mock: '$1': $(tail -n 1 "$T/mock.out")"
}

scr_start 120 40 --datadir "$DBDIR" -b "$BOOT" -w 1h
scr_wait 30 "kafka: ${BOOT%%,*}" "the broker list in the header"
scr_keys i
scr_wait 10 'customers +20 ' "the first batch"
scr_bars_equal 20 3600

note "brokers down"
mock 'down all'
scr_wait 15 '┌ kafka · unreachable' "the kafka pane's title"
scr_wait 5 '^ kafka: unreachable' "the status line"
note "status: $(grep -E '^ kafka: unreachable' "$SCR" | cut -c1-100)"
scr_keys '?'
scr_wait 3 'help · any key closes' "the help overlay while Kafka is down"
scr_keys x
scr_wait_gone 3 'any key closes' "the help overlay"
scr_keys i
scr_wait 10 'customers +40 ' "a batch written while Kafka is down"
scr_wait 10 'backlog +20 ' "the batch waiting in the backlog"

note "brokers up"
mock 'up all'
scr_wait_gone 30 'unreachable' "the Kafka-down state"
scr_wait 30 'backlog +0 ' "the backlog drained"
scr_bars_equal 30 3600
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"

note "q with deliveries in flight (every broker answers after 500 ms, within the quit's 700 ms wait): q flushes and saves"
progress() { sql "SELECT last_log_id FROM latest_cdc_timestamp WHERE topic = 'cdc.sakila.customer'"; }
mock 'rtt all 500'
scr_keys i
scr_wait 10 'inflight [1-9]' "messages in flight"
p0=$(progress)
scr_keys q
scr_wait 30 'EXITED 0' "exit with deliveries in flight"
# read before anything else runs against the database: the progress the quit saved
p1=$(progress)
max=$(sql 'SELECT MAX(log_id) FROM users_change_events')
assert_eq "$max" 60 "change rows after the third batch"
note "progress $p0 while in flight, $p1 after q (max log_id $max)"
[ "$p0" -lt "$max" ] || fail "the batch was acknowledged before q: nothing was in flight to flush"
assert_eq "$p1" "$max" "saved progress after q with deliveries in flight"
mock 'rtt all 0'
scr_tmux kill-server
scr_start 120 40 --datadir "$DBDIR" -b "$BOOT" -w 1h
scr_wait 30 "kafka: ${BOOT%%,*}" "the second start"
scr_bars_equal 20 3600

note "q with the brokers down"
mock 'down all'
scr_wait 15 '┌ kafka · unreachable' "the kafka pane's title, again"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q with the brokers down"
exec 3>&-
note "ok"
