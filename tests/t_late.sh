#!/bin/sh
# Late events, produced for real: while registrations are written at 10/s, a transaction
# inserts three customers (stores 1, 2, 1) and stays open for 15 s, longer than the allowed
# lateness (--lateness 10s); the relay passes its gap, the others commit and move the
# watermark on, then it commits and its rows are relayed late. Both the monitor (-b at a
# standalone mock, -w 10s --lateness 10s) and a streaming `watch --json --lateness 10s` must
# count exactly those three as late, per store as SQL says (watch's {"late":...} lines, the
# screen's late figure, the chart's mark on their window, watch's summary), and no window may
# count them: every (window, store)
# count of watch equals SQL's count without the late rows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
. "$(dirname "$0")/tools/relay.sh"
t_db
t_mock 3

scr_start 120 40 --datadir "$DBDIR" -b "$BOOT" -w 10s --lateness 10s
scr_wait 30 'lateness 10s' "the monitor with --lateness 10s"
scr_wait 30 '│ +2 +[0-9]+ +[0-9]+ ' "the topic's partitions in the kafka pane"
bg "$CDCTOP" watch --json -b "$BOOT" -w 10s --lateness 10s >"$T/live.json" 2>"$T/live.err"
WATCH=$!

# 10 registrations/s for 20 s (one per transaction), and the late transaction 2 s in
bg "$CDCTOP" inject --datadir "$DBDIR" -n 1 --batches 200 --rate 10 --seed 5 >"$T/inj.out" 2>"$T/inj.err"
INJ=$!
wait_for 10 '[ "$(sql "SELECT COUNT(*) FROM customer")" -ge 20 ]' || fail "the injector wrote nothing"
bg mariadb --no-defaults -S "$SOCK" -uroot -N -B sakila -e "
	BEGIN;
	INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date)
	SELECT s, 'Held', 'Late', CONCAT('held', s, '@example.org'), (SELECT MIN(address_id) FROM address), 1, NOW()
	FROM (SELECT 1 AS s UNION ALL SELECT 2 UNION ALL SELECT 1) x;
	SELECT SLEEP(15);
	SELECT UNIX_TIMESTAMP(SYSDATE(6));
	COMMIT;" >"$T/held.out" 2>"$T/held.err"
HELD=$!
wait_for 40 "! kill -0 $HELD" || fail "the held transaction did not end"
wait "$HELD" || fail "the held transaction failed: $(cat "$T/held.err")"
wait_for 40 "! kill -0 $INJ" || fail "the injector did not end"
wait "$INJ" || fail "inject failed: $(tail -n 3 "$T/inj.err")"
committed=$(tail -n 1 "$T/held.out")

# the precondition: when the held rows committed, the newest committed registration was more
# than the lateness ahead of them (else the test proves nothing)
margin=$(sql "SELECT (SELECT UNIX_TIMESTAMP(MAX(event_timestamp)) FROM users_change_events
                      WHERE last_name <> 'Late' AND UNIX_TIMESTAMP(event_timestamp) < $committed)
                   - (SELECT UNIX_TIMESTAMP(MAX(event_timestamp)) FROM users_change_events
                      WHERE last_name = 'Late')")
note "held rows: committed ${margin} s behind the newest registration (lateness 10 s)"
awk -v m="$margin" 'BEGIN { exit !(m > 11) }' || fail "the held rows were only $margin s behind: not late by design"
assert_eq "$(sql "SELECT COUNT(*) FROM users_change_events WHERE last_name = 'Late'")" 3 "held change rows"

# everything relayed (the held ids late, after the gap wait)
wait_for 30 '[ "$(progress)" = "$(max_id)" ]' || fail "the relay did not catch up: progress $(progress) of $(max_id)"
want_late=$(sql "SELECT store_id, COUNT(*) FROM users_change_events WHERE last_name = 'Late'
                 GROUP BY store_id ORDER BY store_id" | tr '\t' ' ')

# watch: the last {"late":...} line per store
late_of() {
	sed -n 's/^{"late":{"store_id":\([0-9]*\),"count":\([0-9]*\)}}$/\1 \2/p' "$1" |
		awk '{ v[$1] = $2 } END { for (s in v) print s, v[s] }' | sort -n
}
wait_for 30 '[ "$(late_of "$T/live.json")" = "$want_late" ]' ||
	fail "watch's late lines '$(late_of "$T/live.json" | tr '\n' ' ')' != SQL '$(echo $want_late)'"
note "watch: late per store $(late_of "$T/live.json" | tr '\n' ' ')= SQL"

# the screen's late figure
per=$(echo "$want_late" | awk '{ printf "%sstore %s: %s", (NR > 1 ? ", " : ""), $1, $2 }')
scr_wait 30 "│ late 3 \\($per\\) " "the monitor's late count, per store as SQL says"
scr_cap >/dev/null
note "screen: $(grep -o '│ late [0-9].*' "$SCR" | cut -c1-80)"

# the chart marks the window the late rows belonged to: picked by scrollback, its legend says
# how many (SQL's count of the held rows in it), and its axis carries the ! mark
lw=$(sql "SELECT DISTINCT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp) / 10) * 10 AS SIGNED)
          FROM users_change_events WHERE last_name = 'Late'")
[ "$(echo "$lw" | wc -l)" = 1 ] || fail "the held rows fell in more than one window: $(echo $lw)"
scr_select 20 "$lw"
grep -Eq '(store [0-9]+ [0-9,]+ of [0-9,]+ +)+3 late' "$SCR" || fail "the late rows' window $lw: no '3 late' in the legend: $(grep -E 'store [0-9]+ [0-9,]+ of' "$SCR")"
grep -Eq '^│ *0└.*┴!' "$SCR" || fail "no ! on the chart's axis: $(grep -E '0└' "$SCR")"
note "chart: window $lw shows 3 late, marked ! on the axis"
scr_keys End

# no window holds a late row: watch's counts equal SQL's without them
windows_of() {
	sed -n 's/^{"window_start":"\([^"]*\)","window_end":"[^"]*","store_id":\([0-9]*\),"count":\([0-9]*\),"final":[a-z]*}$/\2\t\1\t\3/p' "$1" |
		awk -F'\t' '{ v[$1 "\t" $2] = $3 } END { for (k in v) print k "\t" v[k] }' | sort
}
sql "SET time_zone = '+00:00';
     SELECT store_id, DATE_FORMAT(FROM_UNIXTIME(FLOOR(UNIX_TIMESTAMP(event_timestamp) / 10) * 10),
            '%Y-%m-%dT%H:%i:%sZ'), COUNT(*)
     FROM users_change_events WHERE last_name <> 'Late' GROUP BY 1, 2" | sort >"$T/truth.tsv"
wait_for 20 'windows_of "$T/live.json" >"$T/live.tsv"; cmp -s "$T/live.tsv" "$T/truth.tsv"' ||
	fail "watch's windows differ from SQL without the late rows (< sql, > watch): $(diff "$T/truth.tsv" "$T/live.tsv" | head -n 8)"
note "watch: $(wc -l <"$T/live.tsv" | tr -d ' ') (window, store) counts equal SQL without the 3 late rows"

kill -TERM "$WATCH"
wait_for 10 "! kill -0 $WATCH" || fail "watch did not end on SIGTERM"
tail -n 1 "$T/live.json" | grep -q "^{\"consumed\":[0-9]*,\"counted\":$(($(sql "SELECT COUNT(*) FROM users_change_events") - 3)),\"duplicates\":[0-9]*,\"late\":3," ||
	fail "watch's summary: $(tail -n 1 "$T/live.json") (expected counted = change rows - 3, late 3)"
scr_keys q
scr_wait 30 'EXITED 0' "exit"
note "ok"
