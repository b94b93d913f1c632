#!/bin/sh
# s_brokers.sh - every broker of the mock cluster down for 5 s and up again, repeatedly (3
# times; short: once) at seeded random moments while 4 writers inject, a relay runs and a
# streaming consumer (`watch --json`) reads: the relay and the consumer keep running through
# every outage, and afterwards the exact reconciliation holds and the consumer that lived
# through the outages converges on the same counts.
. "$(dirname "$0")/lib.sh"

OUTAGES=$(scale 3 1)
DOWN_S=5
t_db
mock_fifo 3 12
ch_writers 4 50 5
ch_relay_bg "$T/relay.log"
bg "$CDCTOP" watch --json -b "$BOOT" -w 10s >"$T/live.json" 2>"$T/live.err"
WP=$!
wait_for 30 '[ "$(progress)" -gt 0 ]' || fail "the relay relayed nothing: $(cat "$T/relay.log")"

i=1
while [ $i -le $OUTAGES ]; do
	ch_rand 500 2500
	ch_sleep_ms $R
	mock_cmd "down all"
	p1=$(progress)
	sleep $DOWN_S # the outage itself
	kill -0 "$RELAY" 2>/dev/null || fail "the relay exited during outage $i: $(tail -n 5 "$T/relay.log")"
	kill -0 "$WP" 2>/dev/null || fail "the consumer exited during outage $i: $(tail -n 5 "$T/live.err")"
	mock_cmd "up all"
	wait_for 60 '[ "$(progress)" -gt "$p1" ]' ||
		fail "progress did not move within 60 s after outage $i: $(tail -n 5 "$T/relay.log")"
	note "outage $i: ${DOWN_S}s after $R ms, progress $p1 -> $(progress) after up"
	i=$((i + 1))
done
fig outages "$OUTAGES"

ch_writers_stop
wait_for 90 caught_up || fail "the relay did not catch up: progress $(progress) of $(max_id): $(tail -n 5 "$T/relay.log")"
ch_stop "$RELAY" relay
ch_reconcile "after $OUTAGES broker outage(s)"
# the consumer that ran through the outages ends on the same counts (bounded poll)
wait_for 30 'windows_of "$T/live.json" >"$T/live.tsv"; cmp -s "$T/live.tsv" "$T/rc.t"' ||
	fail "the consumer that lived through the outages differs from SQL (< sql, > watch): $(diff "$T/rc.t" "$T/live.tsv" | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
ch_stop "$WP" "the streaming watch"
ch_done "$OUTAGES outage(s) of all brokers for ${DOWN_S}s, relay and consumer lived through: $CH_ROWS rows reconciled, lost 0, double-counted 0"
