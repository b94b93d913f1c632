#!/bin/sh
# t_watch.sh - `cdctop watch` end to end: registrations injected into a private MariaDB over
# more than one 10 s window, relayed to a standalone mock cluster by `relay --once`, then
# `watch --json --once -b` for 10 s, 30 s and 60 s tumbling windows and a 30 s window hopping
# by 10 s: every (window, store) count equals the SQL ground truth on users_change_events.
# Streaming mode (--until-idle) ends on the same counts after a second round arrives live.
# Bad input (-w 0s, -w 5x, --slide longer than -w, unknown broker host) fails with one line.
. "$(dirname "$0")/lib.sh"

TOPIC=cdc.sakila.customer

# Bad input first: no server needed.
expect_error 'too short' "$CDCTOP" watch -w 0s --once
expect_error "5x" "$CDCTOP" watch -w 5x --once
expect_error 'slide.*longer' "$CDCTOP" watch --slide 40s -w 30s --once
expect_error "cannot reach kafka at 'nosuchhost.invalid:9092'.*check -b" \
	"$CDCTOP" watch --json --once -b nosuchhost.invalid:9092
note "bad input: one line each"

t_db
t_mock 3
note "mock at $BOOT"

# relay_once LOG: drains the change table to the topic.
relay_once() {
	timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/$1.log" ||
		fail "relay --once exited non-zero: $(tail -n 5 "$T/$1.log")"
}

# watch_once SIZE [ARGS]: `watch --json --once` into $T/w.json, its window lines as sorted
# "store<TAB>window_start<TAB>count" in $T/w.tsv.
watch_once() {
	_s=$1
	shift
	timeout 60 "$CDCTOP" watch --json --once -b "$BOOT" -w "${_s}s" "$@" >"$T/w.json" 2>"$T/w.err" ||
		fail "watch --once -w ${_s}s $* exited non-zero: $(cat "$T/w.err")"
	windows_of "$T/w.json" >"$T/w.tsv"
}

# Round 1: 4 batches of 20, one every 4 s (12 s: at least two 10 s windows).
"$CDCTOP" inject --datadir "$DBDIR" -n 20 --batches 4 --rate 5 --seed 7 >/dev/null || fail "inject"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 80 "change rows after inject"
relay_once relay1

for size in 10 30 60; do
	watch_once $size
	truth $size >"$T/truth.tsv"
	cmp -s "$T/w.tsv" "$T/truth.tsv" ||
		fail "-w ${size}s: watch differs from SQL (< sql, > watch): $(diff "$T/truth.tsv" "$T/w.tsv" | head -n 8)"
	[ "$(wc -l <"$T/w.tsv")" -ge 2 ] || fail "-w ${size}s: expected at least two (window, store) counts"
	grep -q '^{"consumed":80,"counted":80,"duplicates":0,"late":0,"expired":0,"rejected":0,' "$T/w.json" ||
		fail "-w ${size}s: summary: $(tail -n 1 "$T/w.json")"
	note "-w ${size}s: $(wc -l <"$T/w.tsv" | tr -d ' ') (window, store) counts equal SQL"
done
assert_eq "$(cut -f2 "$T/w.tsv" | sort -u | wc -l | tr -d ' ')" \
	"$(truth 60 | cut -f2 | sort -u | wc -l | tr -d ' ')" "60 s windows"
watch_once 10
[ "$(cut -f2 "$T/w.tsv" | sort -u | wc -l)" -ge 2 ] || fail "the injection did not span two 10 s windows"

# Hopping: 30 s windows every 10 s = the sum of three consecutive 10 s buckets.
truth 10 | while IFS="$(printf '\t')" read -r st start n; do
	s=$(date -u -d "$start" +%s)
	for k in 0 10 20; do printf '%s\t%s\t%s\n' "$st" "$((s - k))" "$n"; done
done | awk -F'\t' '{ v[$1 "\t" $2] += $3 } END { for (k in v) print k "\t" v[k] }' |
	while IFS="$(printf '\t')" read -r st s n; do
		printf '%s\t%s\t%s\n' "$st" "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%SZ)" "$n"
	done | sort >"$T/hop.tsv"
watch_once 30 --slide 10s
cmp -s "$T/w.tsv" "$T/hop.tsv" ||
	fail "-w 30s --slide 10s: watch differs from SQL (< sql, > watch): $(diff "$T/hop.tsv" "$T/w.tsv" | head -n 8)"
note "-w 30s --slide 10s: hopping counts equal SQL"

# Streaming: a watch started before round 2 ends (--until-idle) on the new ground truth.
bg "$CDCTOP" watch --json --until-idle 12s -b "$BOOT" -w 10s >"$T/live.json" 2>"$T/live.err"
LIVE=$!
# streaming: it has read round 1 (a window line) before round 2 is written
wait_for 30 'grep -q window_start "$T/live.json"' || fail "watch --until-idle printed no window: $(cat "$T/live.err")"
"$CDCTOP" inject --datadir "$DBDIR" -n 25 --batches 2 --seed 8 >/dev/null || fail "inject round 2"
relay_once relay2
wait_for 40 '! kill -0 $LIVE' || fail "watch --until-idle 12s did not exit"
wait "$LIVE" || fail "watch --until-idle exited non-zero: $(cat "$T/live.err")"
windows_of "$T/live.json" >"$T/live.tsv"
truth 10 >"$T/truth.tsv"
cmp -s "$T/live.tsv" "$T/truth.tsv" ||
	fail "streaming: last values differ from SQL (< sql, > watch): $(diff "$T/truth.tsv" "$T/live.tsv" | head -n 8)"
tail -n 1 "$T/live.json" | grep -q '^{"consumed":130,"counted":130,' ||
	fail "streaming summary: $(tail -n 1 "$T/live.json")"
note "streaming: $(grep -c window_start "$T/live.json") change lines, last values equal SQL"

# Text mode: a table with a column per store, and the same total.
timeout 60 "$CDCTOP" watch --once -b "$BOOT" -w 60s >"$T/text.out" 2>"$T/text.err" ||
	fail "watch --once (text) exited non-zero: $(cat "$T/text.err")"
grep -q '^window (UTC) *state *store 1 *store 2' "$T/text.out" || fail "text header: $(head -n 3 "$T/text.out")"
total=$(awk '/^[0-9]{4}-/ { for (i = 4; i <= NF; i++) s += $i } END { print s + 0 }' "$T/text.out")
assert_eq "$total" 130 "text table total"
note "text table ok"

# SIGTERM ends a live watch cleanly: exit 0, the summary last.
bg "$CDCTOP" watch --json -b "$BOOT" -w 10s >"$T/term.json" 2>"$T/term.err"
TP=$!
wait_for 20 'grep -q window_start "$T/term.json"' || fail "live watch printed no window: $(cat "$T/term.err")"
kill -TERM "$TP"
wait_for 10 '! kill -0 $TP' || fail "watch did not end on SIGTERM"
wait "$TP" || fail "watch exited non-zero on SIGTERM: $(cat "$T/term.err")"
tail -n 1 "$T/term.json" | grep -q '^{"consumed":130,' || fail "no summary after SIGTERM: $(tail -n 1 "$T/term.json")"
note "SIGTERM: exit 0 with the summary"

# No -b with --once: refused (a new in-process mock holds nothing to read; issue 12)
expect_error 'no -b: there is nothing to read.*name the cluster with -b' "$CDCTOP" watch --json --once
[ ! -s "$T/ee.out" ] || fail "watch --once without -b printed: $(cat "$T/ee.out")"
note "no -b with --once: refused in one line"
