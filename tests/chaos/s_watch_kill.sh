#!/bin/sh
# s_watch_kill.sh - the consumer (`cdctop watch --json`, streaming) `kill -9` at seeded random
# moments mid-stream (20 times; short: 5) while 2 writers inject and a relay runs; each
# restart rebuilds its windows from the topic. Then a streaming watch started after the last
# kill ends (--until-idle) on the SQL truth, and the exact reconciliation (watch --once).
. "$(dirname "$0")/lib.sh"

KILLS=$(scale 20 5)
t_db
t_mock 3
ch_writers 2 50 5
ch_relay_bg "$T/relay.log"
wait_for 30 '[ "$(progress)" -gt 0 ]' || fail "the relay relayed nothing: $(cat "$T/relay.log")"

i=1
while [ $i -le $KILLS ]; do
	W="$T/watch.$i.json"
	bg "$CDCTOP" watch --json -b "$BOOT" -w 10s >"$W" 2>"$T/watch.$i.err"
	WP=$!
	# odd kills: 0-500 ms after it printed its first window (rebuilt, streaming); even
	# kills: anywhere in its first 1.5 s (assigning, rebuilding, streaming)
	if [ $((i % 2)) = 1 ]; then
		wait_for 30 'grep -q window_start "$W"' || fail "watch $i printed no window: $(cat "$T/watch.$i.err")"
		ch_rand 0 500
	else
		ch_rand 50 1500
	fi
	ch_sleep_ms $R
	kill -KILL "$WP" 2>/dev/null || fail "watch $i exited by itself: $(cat "$T/watch.$i.err")"
	wait "$WP" 2>/dev/null || true
	i=$((i + 1))
done
fig kills "$KILLS"
fig watch_kills "$KILLS"

ch_writers_stop
wait_for 60 caught_up || fail "the relay did not catch up: progress $(progress) of $(max_id): $(tail -n 5 "$T/relay.log")"
ch_stop "$RELAY" relay

# a streaming consumer after the kills: its last values equal the truth
timeout 60 "$CDCTOP" watch --json --until-idle 2s -b "$BOOT" -w 10s >"$T/live.json" 2>"$T/live.err" ||
	fail "watch --until-idle: $(cat "$T/live.err")"
windows_of "$T/live.json" >"$T/live.tsv"
truth >"$T/truth.tsv"
cmp -s "$T/live.tsv" "$T/truth.tsv" ||
	fail "streaming watch after $KILLS kills differs from SQL (< sql, > watch): $(diff "$T/truth.tsv" "$T/live.tsv" | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
# what each killed consumer had printed never exceeded the truth (no double count mid-rebuild)
i=1
while [ $i -le $KILLS ]; do
	windows_of "$T/watch.$i.json" >"$T/killed.tsv"
	set -- $(diff_counts "$T/killed.tsv" "$T/truth.tsv")
	[ "$2" = 0 ] || fail "watch $i (killed) had printed $2 more than the truth: $(diff "$T/truth.tsv" "$T/killed.tsv" | grep '^>' | head -n 4 | tr '\n' ' ')"
	i=$((i + 1))
done
ch_reconcile "after $KILLS watch kills"
ch_done "$KILLS watch kill -9 mid-stream, restarts rebuild from the topic: $CH_ROWS rows reconciled, lost 0, double-counted 0"
