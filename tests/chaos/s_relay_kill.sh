#!/bin/sh
# s_relay_kill.sh - relay `kill -9` at seeded random moments (50 times; short: 10) while 4
# concurrent writers inject (`cdctop inject --rate`, 4 processes) and the mock's brokers answer
# with a random delay, so kills land while starting, relaying, and with acks outstanding.
# After each kill the saved progress never went back; at the end a `relay --once`, then the
# exact reconciliation: every log_id on the topic, watch counts = SQL truth.
. "$(dirname "$0")/lib.sh"

KILLS=$(scale 50 10)
t_db
mock_fifo 3 12 # 12 partitions: far below the mock's ~5 MiB per partition retention
ch_writers 4 50 5
wait_for 20 '[ "$(max_id)" -gt 0 ]' || fail "the writers wrote nothing: $(cat "$T"/writer.*.out)"

last=0
moved=0
i=1
while [ $i -le $KILLS ]; do
	ch_rand 0 40
	mock_cmd "rtt all $R"
	L="$T/relay.$i.log"
	p0=$(progress)
	ch_relay_bg "$L"
	# odd kills: anywhere in the first 1.5 s (connecting, reading, relaying, waiting for acks);
	# even kills: 0-300 ms after its first acknowledged progress was saved (relaying)
	if [ $((i % 2)) = 1 ]; then
		ch_rand 30 1500
		when="$R ms after start"
	else
		wait_for 30 '[ "$(progress)" -gt "$p0" ]' || fail "relay $i saved no progress in 30 s: $(cat "$L")"
		ch_rand 0 300
		when="$R ms into relaying"
	fi
	ch_sleep_ms $R
	kill -KILL "$RELAY" 2>/dev/null || fail "relay $i exited by itself: $(tail -n 5 "$L")"
	wait "$RELAY" 2>/dev/null || true
	p=$(progress)
	[ "$p" -ge "$last" ] || fail "progress went back from $last to $p after kill $i"
	[ "$p" -gt "$last" ] && moved=$((moved + 1))
	last=$p
	i=$((i + 1))
done
note "$KILLS relay kill -9: progress $last of $(max_id) rows, moved after $moved kills"
[ $moved -ge $((KILLS / 4)) ] || fail "progress moved after only $moved of $KILLS kills: the relays did no work"
fig kills "$KILLS"
fig relay_kills "$KILLS"

mock_cmd "rtt all 0"
ch_writers_stop
ch_relay_once "$T/final.log"
ch_reconcile "after $KILLS relay kills"
ch_done "$KILLS relay kill -9 with 4 writers, $CH_ROWS rows reconciled ($CH_RESENT re-sent copies ignored), lost 0, double-counted 0"
