#!/bin/sh
# t_relay_kill.sh - a relay killed with SIGKILL at random moments, restarted 20 times while
# `cdctop inject --rate` keeps writing and the mock's brokers answer with a random delay
# (kafka-mock's `rtt all N`, so kills also land with acks outstanding): after every kill,
# every change row with log_id <= the saved progress (latest_cdc_timestamp.last_log_id) is on
# the topic, read back by a real consumer (progress never passed an unacknowledged id), and
# progress never goes back; a final `relay --once` leaves every log_id on the topic at least
# once and progress = max(log_id).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

KILLS=${KILLS:-20}
t_db
mock_fifo 3 12 # 12 partitions: ~60 MiB before the mock's retention drops anything

bg "$CDCTOP" inject --datadir "$DBDIR" -n 20 --rate 200 --seed 9 >"$T/inject.out" 2>"$T/inject.err"
INJ=$!
wait_for 20 '[ "$(max_id)" -gt 0 ]' || fail "inject wrote nothing: $(cat "$T/inject.err")"

# rand_ms LO HI: a random number of milliseconds in [LO, HI].
rand_ms() {
	_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $(($1 + _r % ($2 - $1 + 1)))
}

last=0
moved=0
i=1
while [ $i -le $KILLS ]; do
	# a random broker round-trip (0-50 ms) so that kills also land with acks outstanding
	rtt=$(rand_ms 0 50)
	mock_cmd "rtt all $rtt"
	L="$T/relay.$i.log"
	bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" 2>"$L"
	RP=$!
	# a random moment: odd runs anywhere in their first 2 s (connecting, starting up,
	# relaying, waiting for acks, caught up), even runs 0-300 ms after they started relaying
	if [ $((i % 2)) = 1 ]; then
		ms=$(rand_ms 50 2000)
		when="after $ms ms"
	else
		wait_for 30 'grep -q "relay: relaying" "$L"' || fail "relay $i never started relaying: $(cat "$L")"
		ms=$(rand_ms 0 300)
		when="$ms ms into relaying"
	fi
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -KILL "$RP" 2>/dev/null || fail "relay $i exited by itself: $(tail -n 5 "$L")"
	wait "$RP" 2>/dev/null || true
	p=$(check_progress_safe "$BOOT" "after kill $i $when")
	[ "$p" -ge "$last" ] || fail "progress went back from $last to $p after kill $i"
	[ "$p" -gt "$last" ] && moved=$((moved + 1))
	note "kill $i $when (rtt $rtt ms): progress $p of $(max_id) rows, every id <= $p on the topic"
	last=$p
	i=$((i + 1))
done
[ $moved -ge $((KILLS / 4)) ] || fail "progress moved after only $moved of $KILLS kills"

kill -TERM "$INJ"
wait "$INJ" 2>/dev/null || true
mock_cmd "rtt all 0"
timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/final.log" ||
	fail "final relay --once: $(tail -n 5 "$T/final.log")"
topic_dump "$BOOT" >"$T/topic"
sql_ids >"$T/ids"
check_ids_on_topic "$T/ids" "$T/topic" "after the final relay --once"
assert_eq "$(progress)" "$(max_id)" "progress after the final relay --once"
dups=$(topic_ids_of "$T/topic" | uniq -d | wc -l | tr -d ' ')
note "$(wc -l <"$T/ids" | tr -d ' ') rows, all on the topic ($(wc -l <"$T/topic" | tr -d ' ') messages, $dups ids re-sent after kills); progress moved after $moved kills"
