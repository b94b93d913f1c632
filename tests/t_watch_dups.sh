#!/bin/sh
# t_watch_dups.sh - exactly-once counts under re-delivery and garbage on the topic: after a
# relay, 30 envelopes produced a second time with kcat -P leave every (window, store) count
# unchanged (counted as duplicates), and malformed messages (not JSON, JSON without log_id,
# wrong types, a foreign table, an empty value) are counted as rejected with their
# partition@offset, never counted, never stopping the consumer. A restarted watch prints the
# very same output.
. "$(dirname "$0")/lib.sh"

TOPIC=cdc.sakila.customer
command -v kcat >/dev/null || fail "kcat is not installed (make deps)"

t_db
t_mock 3

# watch_once OUT: `watch --json --once` (10 s windows) into OUT.
watch_once() {
	timeout 60 "$CDCTOP" watch --json --once -b "$BOOT" -w 10s >"$1" 2>"$T/w.err" ||
		fail "watch --once exited non-zero: $(cat "$T/w.err")"
}

"$CDCTOP" inject --datadir "$DBDIR" -n 50 --batches 2 --seed 11 >/dev/null || fail "inject"
timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay.log" ||
	fail "relay --once: $(tail -n 5 "$T/relay.log")"
watch_once "$T/before.json"
grep -q '^{"consumed":100,"counted":100,"duplicates":0,"late":0,"expired":0,"rejected":0,' "$T/before.json" ||
	fail "baseline summary: $(tail -n 1 "$T/before.json")"
grep -v '^{"consumed"' "$T/before.json" >"$T/before.windows"
[ -s "$T/before.windows" ] || fail "no window lines in the baseline"

# 30 envelopes again (the same log_ids, as a re-sending relay would), each on a partition
# of kcat's choosing: whatever partition a copy lands on, it is a duplicate.
timeout 30 kcat -b "$BOOT" -t "$TOPIC" -C -e -q -o beginning -c 30 -f '%s\n' >"$T/dups" ||
	fail "kcat -C could not read the topic"
assert_eq "$(wc -l <"$T/dups" | tr -d ' ')" 30 "envelopes read back"
timeout 30 kcat -b "$BOOT" -t "$TOPIC" -P -l "$T/dups" || fail "kcat -P (duplicates)"

# malformed: 6 messages, each on one line (kcat -P splits on newlines).
cat >"$T/bad" <<'EOF'
not json at all
{"before":null,"after":{"customer_id":1,"store_id":1},"source":{"connector":"cdctop","db":"sakila","table":"customer","ts_ms":1700000000000},"op":"c","ts_ms":1700000000000}
{"before":null,"after":{"customer_id":"one","store_id":1},"source":{"connector":"cdctop","db":"sakila","table":"customer","log_id":999999,"ts_ms":1700000000000},"op":"c","ts_ms":1700000000000}
{"before":null,"after":{"customer_id":1,"store_id":1},"source":{"connector":"cdctop","db":"sakila","table":"customer","log_id":"7","ts_ms":1700000000000},"op":"c","ts_ms":1700000000000}
{"before":null,"after":{"film_id":1},"source":{"connector":"cdctop","db":"sakila","table":"film","log_id":999998,"ts_ms":1700000000000},"op":"c","ts_ms":1700000000000}
[1,2,3
EOF
timeout 30 kcat -b "$BOOT" -t "$TOPIC" -P -l "$T/bad" || fail "kcat -P (malformed)"
# an empty value and a NULL value (tombstone), by key (kcat -P skips empty lines)
printf 'k1:\n' | timeout 30 kcat -b "$BOOT" -t "$TOPIC" -P -K: || fail "kcat -P (empty)"
printf 'k2:\n' | timeout 30 kcat -b "$BOOT" -t "$TOPIC" -P -K: -Z || fail "kcat -P (null)"

watch_once "$T/after.json"
grep -v '^{"consumed"' "$T/after.json" >"$T/after.windows"
cmp -s "$T/before.windows" "$T/after.windows" ||
	fail "counts changed by duplicates or garbage: $(diff "$T/before.windows" "$T/after.windows" | head -n 6)"
summary=$(tail -n 1 "$T/after.json")
note "summary: $summary"
case "$summary" in
'{"consumed":138,"counted":100,"duplicates":30,"late":0,"expired":0,"rejected":8,"rejects":["p'[0-9]*@[0-9]*': '*) ;;
*) fail "summary after duplicates and garbage: $summary" ;;
esac
# four reasons are shown, each naming what was wrong (which four depends on kcat's partitions)
assert_eq "$(echo "$summary" | grep -oE '"p[0-9]+@[0-9]+: (not JSON|no source|source\.log_id|after\.|source\.table|not a JSON object)[^"]*"' | wc -l | tr -d ' ')" 4 "reasons shown"

# a restart reads the same topic and prints the same thing
watch_once "$T/again.json"
cmp -s "$T/after.json" "$T/again.json" ||
	fail "restarted watch differs: $(diff "$T/after.json" "$T/again.json" | head -n 6)"
note "restart: same output"
