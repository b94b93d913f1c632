#!/bin/sh
# Re-windowing from the held buckets: with registrations spread over three minutes, `+` and
# `-` move the window along the ladder (30s -> 1m -> 30s) and `s` makes it hopping (slide =
# size/3); each time the header and the histogram's label change and the per-store counts of
# the open window equal SQL's count for that window size, at once. `r` rebuilds the windows
# from the topic: the consumer says how many messages it re-read, which must equal the topic's
# size by kcat's watermarks, and the bars and the two windows before the newest, picked by
# scrollback (Left), equal SQL again. Q quits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

# 36 change rows 5 s apart ending now, stores 1 and 2 unevenly, in log_id (= time) order
sql "INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
       first_name, last_name, email, address_id, active, create_date)
     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 35)
     SELECT 'INSERT', NOW(6) - INTERVAL (175 - 5 * i) SECOND, 1000 + i, 1 + (i % 3 = 0),
            'Test', CONCAT('Row', i), NULL, 1, 1, NOW() FROM n ORDER BY i"

scr_start 120 40 --datadir "$DBDIR" -w 30s
scr_wait 30 'window 30s tumbling' "start-up"
scr_wait 15 "window $(sql_label 30) \\(open\\)" "the 30s window's label"
scr_bars_equal 15 30
note "30s: $(scr_bars | tr '\n' ' ')"

note "+: 1m"
scr_keys +
scr_wait 5 'window 1m tumbling' "header after +"
scr_wait 5 "window $(sql_label 60) \\(open\\)" "the 1m window's label"
scr_bars_equal 5 60
note "1m: $(scr_bars | tr '\n' ' ')"

note "-: back to 30s"
scr_keys -
scr_wait 5 'window 30s tumbling' "header after -"
scr_wait 5 "window $(sql_label 30) \\(open\\)" "the 30s window's label again"
scr_bars_equal 5 30

note "s: hopping 30s every 10s"
scr_keys s
scr_wait 5 'window 30s hopping every 10s' "header after s"
scr_wait 5 "window $(sql_label 30 10) \\(open\\)" "the hopping window's label"
scr_bars_equal 5 30 10
note "hopping: $(scr_bars | tr '\n' ' ')"
scr_keys s
scr_wait 5 'window 30s tumbling' "header after s again"

note "r: rebuild from the topic"
scr_scroll_equal 15 30
scr_keys r
# the consumer's own word once every partition was read again (the key's flash is the UI's)
scr_wait 20 'windows: rebuilt from the topic: [0-9,]+ messages re-read' "the rebuild's result"
reread=$(grep -o 'rebuilt from the topic: [0-9,]* messages re-read' "$SCR" | tr -d , | grep -o '[0-9][0-9]*' | head -n 1)
BOOT=$(grep -o 'kafka: mock 127\.0\.0\.1:[0-9]*' "$SCR" | head -n 1 | cut -d' ' -f3)
TOPIC=cdc.sakila.customer
np=$(timeout 30 kcat -b "$BOOT" -L -t "$TOPIC" | grep -c '^ *partition [0-9]')
[ "$np" -ge 1 ] || fail "kcat -L found no partition of $TOPIC at $BOOT"
held=0 p=0
while [ $p -lt "$np" ]; do
	hi=$(timeout 30 kcat -b "$BOOT" -Q -t "$TOPIC:$p:-1" | awk '/offset/ { print $NF }')
	lo=$(timeout 30 kcat -b "$BOOT" -Q -t "$TOPIC:$p:-2" | awk '/offset/ { print $NF }')
	[ -n "$hi" ] && [ -n "$lo" ] || fail "kcat -Q gave no watermarks for partition $p"
	held=$((held + hi - lo))
	p=$((p + 1))
done
note "rebuild: $reread messages re-read; kcat: $held messages in $np partitions"
assert_eq "$reread" "$held" "messages re-read by the rebuild (kcat's watermarks)"
assert_eq "$held" "$(sql 'SELECT COUNT(*) FROM users_change_events')" "messages on the topic (change rows)"
scr_bars_equal 20 30
scr_scroll_equal 15 30

note "the chart: several windows, the newest open (its axis dashed)"
scr_wait 5 'window [0-9:]+–[0-9:]+ \(open\)' "live follow after End"
scr_cap >/dev/null
[ "$(grep -E '^│ *0└' "$SCR" | grep -o '┴' | wc -l)" -ge 3 ] ||
	fail "fewer than three windows on the chart's axis: $(grep -E '└' "$SCR")"
grep -Eq '^│ *0└.*┴╌+│$' "$SCR" || fail "the newest window's axis is not dashed (open): $(grep -E '0└' "$SCR")"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
scr_exit_mark
scr_keys Q
scr_exit_wait 0 "Q"
note "ok"
