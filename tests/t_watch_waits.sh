#!/bin/sh
# t_watch_waits.sh - the consumer's adaptive fetch wait (consumer.c: the data partitions move
# to a handle with a 1 ms fetch wait when messages arrive, and back to the 5 ms one after 2 s
# without any). Three bursts, each followed by an idle period of 4 s, relayed live by
# `cdctop relay` to a standalone mock and read live by `watch --json`: every move starts the
# new handle where the old one's reads ended, so at the end every (window, store) count
# equals SQL, and the summary says consumed = counted = SQL's change rows, no duplicate
# (nothing read twice), and at least two switches per burst. A watch beside it with
# -X fetch.wait.max.ms=5 (the user's one wait) ends on the same counts with 0 switches.
. "$(dirname "$0")/lib.sh"
case "${BUILD_DIR:-}" in
*asan* | *tsan*) SLOW=4 ;;
*) SLOW=1 ;;
esac

t_db
t_mock 3
bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay.log"
wait_for $((60 * SLOW)) 'grep -q "caught up" "$T/relay.log"' ||
	fail "the relay never caught up: $(tail -n 3 "$T/relay.log")"
bg "$CDCTOP" watch --json -b "$BOOT" -w 10s >"$T/w.json" 2>"$T/w.err"
W=$!
bg "$CDCTOP" watch --json -b "$BOOT" -w 10s -X fetch.wait.max.ms=5 >"$T/w5.json" 2>"$T/w5.err"
W5=$!

relayed_all() {
	[ "$(sql "SELECT last_log_id FROM latest_cdc_timestamp WHERE topic = 'cdc.sakila.customer'")" = \
		"$(sql 'SELECT MAX(log_id) FROM users_change_events')" ]
}
for r in 1 2 3; do
	"$CDCTOP" inject --datadir "$DBDIR" -n 20 --batches 10 --rate 400 --seed "$r" >/dev/null ||
		fail "inject, burst $r"
	wait_for $((30 * SLOW)) relayed_all || fail "burst $r: the relay did not relay it: $(tail -n 2 "$T/relay.log")"
	# the idle period is this test's input: longer than the quick handle's 2 s hold, so the
	# partitions go back to the slow handle before the next burst
	sleep 4
done
rows=$(sql 'SELECT COUNT(*) FROM users_change_events')
assert_eq "$rows" 600 "change rows"
truth 10 >"$T/truth.tsv"
for f in w w5; do
	wait_for $((30 * SLOW)) 'windows_of "$T/$f.json" >"$T/$f.tsv" && cmp -s "$T/$f.tsv" "$T/truth.tsv"' ||
		fail "$f: the counts differ from SQL (< sql, > watch): $(diff "$T/truth.tsv" "$T/$f.tsv" | head -n 8)"
done
kill -TERM "$W" "$W5"
wait_for $((20 * SLOW)) '! kill -0 "$W" && ! kill -0 "$W5"' || fail "watch did not exit on SIGTERM"
s=$(tail -n 1 "$T/w.json")
s5=$(tail -n 1 "$T/w5.json")
note "adaptive: $s"
note "one wait: $s5"
case "$s" in
'{"consumed":600,"counted":600,"duplicates":0,"late":0,"expired":0,"rejected":0,'*) ;;
*) fail "adaptive watch: summary: $s" ;;
esac
sw=$(echo "$s" | sed -n 's/.*"wait_switches":\([0-9]*\)}$/\1/p')
[ -n "$sw" ] && [ "$sw" -ge 6 ] || fail "adaptive watch: $sw wait switches over 3 bursts, expected at least 6"
case "$s5" in
'{"consumed":600,"counted":600,"duplicates":0,'*'"wait_switches":0}') ;;
*) fail "one-wait watch: summary: $s5" ;;
esac
note "3 bursts, $sw switches between the waits: every count equal to SQL, nothing read twice"
[ ! -s "$T/w.err" ] || fail "watch wrote to stderr: $(cat "$T/w.err")"
