#!/bin/sh
# Lost history is never silent: 60,000 rows relayed into a kafka-mock, which keeps ~5 MiB a
# partition, so retention takes the oldest messages before `watch` reads them. `watch --json
# --once` must say so on stderr (one line naming the partitions, where each now starts, and how
# many messages are gone) and in its summary ("lost" and "lost_detail"), and what it counted
# plus what it says is gone must equal SQL's count of change rows.
. "$(dirname "$0")/lib.sh"
t_db
t_mock
"$CDCTOP" inject --datadir "$DBDIR" -n 1000 --batches 60 >/dev/null 2>"$T/inject.err" || fail "inject: $(cat "$T/inject.err")"
timeout 300 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay.err" || fail "relay --once: $(tail -n 3 "$T/relay.err")"
n=$(sql 'SELECT COUNT(*) FROM users_change_events')
timeout 120 "$CDCTOP" watch -b "$BOOT" --json --once >"$T/w.json" 2>"$T/w.err" || fail "watch: $(cat "$T/w.err")"
sum=$(tail -n 1 "$T/w.json")
counted=$(echo "$sum" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counted"])')
lost=$(echo "$sum" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lost"])')
detail=$(echo "$sum" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lost_detail"])')
[ "$lost" -gt 0 ] || fail "the mock kept every message (lost $lost): no retention to test"
assert_eq $((counted + lost)) "$n" "counted + lost against SQL's $n change rows"
echo "$detail" | grep -Eq '^p[0-9]+ from [0-9,]+(, p[0-9]+ from [0-9,]+)*: [0-9,]+ messages gone$' ||
	fail "lost_detail does not name the partitions and the count: '$detail'"
grep -c 'lost messages to retention' "$T/w.err" | grep -qx 1 ||
	fail "stderr does not say so in one line: $(cat "$T/w.err")"
grep -q "$(echo "$detail" | sed 's/[].[*^$]/\\&/g')" "$T/w.err" || fail "stderr and the summary differ: $(cat "$T/w.err")"
note "ok: counted $counted + lost $lost = $n; $detail"
