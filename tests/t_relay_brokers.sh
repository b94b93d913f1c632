#!/bin/sh
# t_relay_brokers.sh - every broker of the mock cluster down for several seconds mid-stream
# (kafka-mock's stdin: `down all`, then `up all`) while `cdctop inject --rate` keeps writing:
# the relay keeps running and says Kafka is down, its progress does not move while nothing can
# be acknowledged, and after `up all` it catches up with no id lost (all on the topic, read
# back by a real consumer). Twice: with the default message timeout (librdkafka retries), and
# with -X message.timeout.ms=1500 so that deliveries fail during the outage and the relay must
# produce them again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

DOWN_S=5
t_db
mock_fifo 3

# outage NAME [relay args...]: one round with a fresh relay process.
outage() {
	name=$1
	shift
	L="$T/relay.$name.log"
	bg "$CDCTOP" inject --datadir "$DBDIR" -n 10 --rate 200 >"$T/inject.$name.out" 2>&1
	INJ=$!
	bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" "$@" 2>"$L"
	RP=$!
	p0=$(progress)
	wait_for 30 '[ "$(progress)" -gt "$((p0 + 200))" ]' || fail "$name: the relay relayed nothing: $(cat "$L")"

	mock_cmd "down all"
	before=$(max_id)
	t_down=$(date +%s%N)
	wait_for 60 'grep -Eiq "relay: .*kafka.*(down|unreachable)" "$L"' ||
		fail "$name: the relay's log does not say kafka is down: $(cat "$L")"
	note "$name: the relay said kafka is down after $((($(date +%s%N) - t_down) / 1000000)) ms"
	# from the moment it said so, nothing can be acknowledged (progress saved before it may
	# still have been in flight: read it after the relay noticed, not after a guessed sleep)
	p1=$(progress)
	sleep $DOWN_S
	p2=$(progress)
	during=$(max_id)
	kill -0 "$RP" 2>/dev/null || fail "$name: the relay exited while the brokers were down: $(tail -n 5 "$L")"
	[ "$during" -gt "$before" ] || fail "$name: nothing was injected during the outage"
	assert_eq "$p2" "$p1" "$name: progress while every broker was down (no acks possible)"
	note "$name: brokers down ${DOWN_S}s: progress held at $p1 while rows grew $before -> $during"
	mock_cmd "up all"

	sleep 1
	kill -TERM "$INJ"
	wait "$INJ" 2>/dev/null || true
	wait_for 90 '[ "$(progress)" = "$(max_id)" ]' ||
		fail "$name: the relay did not catch up after up all: progress $(progress) of $(max_id): $(tail -n 10 "$L")"
	topic_dump "$BOOT" >"$T/topic.$name"
	sql_ids >"$T/ids.$name"
	check_ids_on_topic "$T/ids.$name" "$T/topic.$name" "$name: after the brokers came back"
	kill -TERM "$RP"
	wait_for 20 "! kill -0 $RP" || fail "$name: the relay did not stop on SIGTERM"
	set +e
	wait "$RP"
	rc=$?
	set -e
	assert_eq "$rc" 0 "$name: relay exit status after SIGTERM"
	note "$name: caught up, all $(wc -l <"$T/ids.$name" | tr -d ' ') ids on the topic ($(wc -l <"$T/topic.$name" | tr -d ' ') messages)"
}

outage retry
grep -Ei "relay: .*kafka.*(down|unreachable)" "$T/relay.retry.log" | head -n 1 | sed 's/^/#   /'

outage timeout -X message.timeout.ms=1500
log_has "$T/relay.timeout.log" "delivery failed.*re-sending" "timeout: failed deliveries"
grep -Ei "delivery failed" "$T/relay.timeout.log" | head -n 2 | sed 's/^/#   /'
