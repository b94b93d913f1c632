#!/bin/sh
# t_ui_figures.sh - the monitor's figures say what they mean: latency "-" before anything was
# measured and one unit per figure after; inject, relay and produce (acknowledged) rates agree
# over a batch and all fall back to 0 after it, and produce is 0 while Kafka is down; every
# Kafka row's lag is high - max(committed, low), the "all" row included; window labels are UTC
# whatever TZ says; the chart's open window is marked open (title, dashed axis), counts of
# 10,000 and more included, and never said "(final)".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db
C=$CDCTOP

# rates: "inject relay produce" from the last capture, numbers without separators
rates() {
	_i=$(grep -Eo 'inject [0-9.,]+/s' "$SCR" | head -n 1 | tr -dc '0-9.')
	_r=$(grep -Eo 'relay [0-9.,]+/s' "$SCR" | head -n 1 | tr -dc '0-9.')
	_p=$(grep -Eo 'produce [0-9.,]+/s' "$SCR" | head -n 1 | tr -dc '0-9.')
	echo "${_i:-?} ${_r:-?} ${_p:-?}"
}

# kafka_rows: "name low high committed lag" per row of the kafka pane (separators dropped)
kafka_rows() {
	awk '/││/ { s = $0; sub(/.*││/, "", s); gsub(/[│,]/, "", s)
	            if (s ~ /^ *([0-9]+|all) +[0-9-]+ +[0-9-]+ +[0-9-]+ +[0-9-]+ *$/) print s }' "$SCR" |
		awk '{ print $1, $2, $3, $4, $5 }'
}

# lag_ok: every row's lag equals high - max(committed, low); prints the first bad row
lag_ok() {
	kafka_rows | awk '$4 == "-" || $5 == "-" { next }
		{ at = ($4 > $2) ? $4 : $2; want = ($3 > at) ? $3 - at : 0
		  if ($5 != want) { print; bad = 1; exit } }
		END { exit bad }'
}

note "start (TZ=America/New_York, -w 1h, batches of 100)"
CDCTOP=env scr_start 120 40 TZ=America/New_York "$C" --datadir "$DBDIR" -w 1h -n 100
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up"
scr_wait 10 'e2e p50 - +p99 -' "latency before anything was measured"

note "a batch: inject, relay and produce agree, then all go back to 0"
scr_keys i
agreed=""
for _ in $(seq 1 50); do
	scr_cap >/dev/null
	set -- $(rates)
	if [ "$1" != 0 ] && [ "$1" != "?" ] && [ "$1" = "$2" ] && [ "$2" = "$3" ]; then
		agreed="$1"
		break
	fi
	sleep 0.1
done
[ -n "$agreed" ] || fail "inject, relay and produce never agreed over the batch: last '$(rates)'"
note "rates over the batch: $agreed/s each"
note "latency: one unit for p50 and p99 (while the batch is in the last 10 s)"
# a batch committed before the consumer's first read of MySQL's change log (it runs at start,
# later on a loaded machine) is history, which has no latency: then the next batch is live
LAT='e2e p50 [0-9.]+ (us|ms|s) +p99 [0-9.]+ (us|ms|s)'
batches=1 # batches of 100 injected with i: a second one when the first was history
for try in 1 2; do
	for _ in $(seq 1 100); do
		scr_cap >/dev/null
		grep -Eq -- "$LAT" "$SCR" && break
		sleep 0.1
	done
	grep -Eq -- "$LAT" "$SCR" && break
	note "no latency after batch $try: $(grep -Eo 'windows: [^│]*' "$SCR" | head -n 1)"
	scr_keys i
	batches=$((try + 1))
done
scr_wait 10 "$LAT" "measured latency"
scr_cap >/dev/null
l=$(grep -Eo 'e2e p50 [0-9.]+ (us|ms|s) +p99 [0-9.]+ (us|ms|s)' "$SCR")
echo "$l" | grep -Eq 'p50 [0-9.]+ (us|ms|s) +p99 [0-9.]+ \1$' || fail "two units in one figure: '$l'"
note "$l"

scr_wait 8 'inject 0/s .*relay 0/s' "inject and relay back to 0"
scr_cap >/dev/null
set -- $(rates)
[ "$1 $2 $3" = "0 0 0" ] || fail "after the batch: inject $1, relay $2, produce $3 (expected 0 0 0)"

note "lag = high - max(committed, low) in every row, the all row too"
scr_wait 10 '│ all ' "the all row"
for _ in $(seq 1 20); do
	scr_cap >/dev/null
	bad=$(lag_ok) || fail "a kafka row's lag is not high - max(committed, low): '$bad' in
$(kafka_rows)"
	sleep 0.2
done
[ "$(kafka_rows | wc -l)" -ge 4 ] || fail "kafka rows: $(kafka_rows)"

note "window labels are UTC under TZ=America/New_York"
scr_wait 10 "window $(sql_label 3600) \\(open\\)" "the UTC window label"

note "the open mark on counts of 10,000 and more; no (final) over open windows"
"$C" inject --datadir "$DBDIR" -n 10000 >/dev/null || fail "inject 10000"
want=$(thousands $((batches * 100 + 10000)))
scr_wait 20 "customers +$want " "$want customers"
scr_wait 20 'store [0-9]+ [0-9],[0-9]{3} of ' "a count of thousands in the legend"
scr_cap >/dev/null
grep -Eq 'window [0-9:]+–[0-9:]+ \(open\)' "$SCR" || fail "the selected (newest) window is not marked open: $(grep -o 'window [0-9:]*.[0-9:]* ([a-z]*)' "$SCR")"
grep -Eq '^│ *0└.*╌│$' "$SCR" || fail "the open window's axis is not dashed: $(grep -E '0└' "$SCR")"
! grep -q '(final)' "$SCR" || fail "'(final)' shown over open windows"
open_total() {
	scr_bars | awk '{ s += $2 } END { print s + 0 }'
}
# the consumer may still be counting the batch (slower under sanitizers): a bounded poll
wait_for 30 'scr_cap >/dev/null; [ "$(open_total)" -ge 10000 ]' ||
	fail "open window's counts in the legend: $(open_total), expected $want in all"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "quit"
scr_tmux kill-server

note "Kafka down while injecting: produce (acknowledged) is 0, the relay waits with rows in flight"
mkfifo "$T/mock.in"
exec 3<>"$T/mock.in" # read-write first: no open of the fifo blocks, and it stays open
"$C" kafka-mock --brokers 3 <"$T/mock.in" >"$T/mock.out" 2>"$T/mock.err" &
BG_PIDS="$BG_PIDS $!"
wait_for 20 '[ -s "$T/mock.out" ]' || fail "kafka-mock printed no address: $(cat "$T/mock.err")"
BOOT=$(head -n 1 "$T/mock.out")
scr_start 120 40 --datadir "$DBDIR" -b "$BOOT" -w 1h --rate 20
scr_wait 30 "kafka: ${BOOT%%,*}" "the monitor on the kafka-mock"
scr_keys I
scr_wait 10 'produce [1-9][0-9,.]*/s' "produce while Kafka is up"
echo 'down all' >&3
scr_wait 20 '┌ kafka · unreachable' "Kafka down"
sleep 3 # the 2 s rate window has only the outage in it
scr_cap >/dev/null
set -- $(rates)
[ "$3" = 0 ] || fail "produce $3/s while every broker is down (inject $1/s, relay $2/s)"
note "brokers down: inject $1/s, relay $2/s, produce $3/s"
scr_keys I
echo 'up all' >&3
scr_wait 30 'produce [1-9][0-9,.]*/s' "produce again once the brokers are back"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "quit after the outage"
exec 3>&-
note "t_ui_figures passed"
