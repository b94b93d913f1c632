#!/bin/sh
# t_binlog_relay_kill.sh - a binlog-mode relay (`relay --capture=binlog`, trigger dropped)
# killed with SIGKILL at random moments, restarted 20 times while `cdctop inject --rate` keeps
# writing and the mock's brokers answer with a random delay (so kills also land with acks
# outstanding). After every kill: the saved binlog position and last_customer_id never go
# back, and every customer up to last_customer_id is on the topic (one injecting connection:
# id order is commit order, so progress never passed an unacknowledged row). A final
# `relay --once` leaves every customer on the topic at least once, and `watch --json --once
# -w 10s` gives per-window, per-store counts equal to the SQL truth from the customer table
# (re-sent messages deduplicated by customer id, none late or rejected).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

KILLS=${KILLS:-20}

# saved: "file<TAB>pos<TAB>last_customer_id" of the topic's binlog progress row.
saved() { sql "SELECT file, pos, last_customer_id FROM latest_cdc_binlog WHERE topic = '$TOPIC'"; }
max_cid() { sql "SELECT COALESCE(MAX(customer_id), 0) FROM customer"; }

# rand_ms LO HI: a random number of milliseconds in [LO, HI].
rand_ms() {
	_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $(($1 + _r % ($2 - $1 + 1)))
}

t_db
sql "DROP TRIGGER customer_after_insert_cdc"
# 12 partitions: the mock keeps only ~5 MiB per partition, and the checks read the whole topic
mock_fifo 3 12

# the first binlog relay of a topic starts at the current position: anchor it before writing
timeout 60 "$CDCTOP" relay --once --capture=binlog -b "$BOOT" --datadir "$DBDIR" </dev/null 2>"$T/anchor.log" ||
	fail "anchor relay --once: $(tail -n 5 "$T/anchor.log")"
[ -n "$(saved)" ] || fail "no binlog position saved by the first relay"

# one connection (-S: no init, the trigger stays dropped)
bg "$CDCTOP" inject -S "$SOCK" -u root -n 10 --rate 200 --seed 9 >"$T/inject.out" 2>"$T/inject.err"
INJ=$!
wait_for 20 '[ "$(max_cid)" -gt 0 ]' || fail "inject wrote nothing: $(cat "$T/inject.err")"

last_seq=0 last_pos=0 last_id=0
moved=0
i=1
while [ $i -le $KILLS ]; do
	rtt=$(rand_ms 0 150)
	mock_cmd "rtt all $rtt"
	: >"$T/run.log"
	bg "$CDCTOP" relay --capture=binlog -b "$BOOT" --datadir "$DBDIR" 2>"$T/run.log"
	RP=$!
	# a random moment: every 4th run anywhere from its start (connecting, opening the stream),
	# the others once it reads the binlog (mid-batch, waiting for acks, caught up)
	if [ $((i % 4)) = 0 ]; then
		ms=$(rand_ms 20 800)
		at="after ${ms} ms"
	else
		wait_for 30 'grep -q "reading the binlog" "$T/run.log"' ||
			fail "relay $i did not start reading the binlog within 30 s: $(cat "$T/run.log")"
		ms=$(rand_ms 0 1000)
		at="${ms} ms into reading"
	fi
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -KILL "$RP" 2>/dev/null || fail "relay $i exited by itself: $(tail -n 5 "$T/run.log")"
	wait "$RP" 2>/dev/null || true
	cat "$T/run.log" >>"$T/relay.log"
	echo "--- killed $at (rtt $rtt ms)" >>"$T/relay.log"
	mock_cmd "rtt all 0" # only the relay runs under the delay, not the checks
	s=$(saved)
	file=$(echo "$s" | cut -f1)
	pos=$(echo "$s" | cut -f2)
	id=$(echo "$s" | cut -f3)
	seq=$(echo "${file##*.}" | sed 's/^0*//')
	seq=${seq:-0}
	# the saved position never goes back (file sequence, then offset)
	if [ "$seq" -lt "$last_seq" ] || { [ "$seq" -eq "$last_seq" ] && [ "$pos" -lt "$last_pos" ]; }; then
		fail "saved position went back from $last_seq:$last_pos to $file:$pos after kill $i"
	fi
	[ "$id" -ge "$last_id" ] || fail "last_customer_id went back from $last_id to $id after kill $i"
	# every customer up to last_customer_id is on the topic
	topic_dump "$BOOT" >"$T/topic"
	sql "SELECT customer_id FROM customer WHERE customer_id <= $id ORDER BY customer_id" >"$T/upto"
	check_ids_on_topic "$T/upto" "$T/topic" "after kill $i $at (last_customer_id $id)"
	[ "$id" -gt "$last_id" ] && moved=$((moved + 1))
	note "kill $i $at (rtt $rtt ms): saved $file:$pos, last_customer_id $id of $(max_cid), all <= $id on the topic"
	last_seq=$seq last_pos=$pos last_id=$id
	i=$((i + 1))
done
[ $moved -ge $((KILLS / 4)) ] || fail "progress moved after only $moved of $KILLS kills: $(tail -n 20 "$T/relay.log")"

kill -TERM "$INJ"
wait "$INJ" 2>/dev/null || true
mock_cmd "rtt all 0"
timeout 120 "$CDCTOP" relay --once --capture=binlog -b "$BOOT" --datadir "$DBDIR" </dev/null 2>"$T/final.log" ||
	fail "final relay --once: $(tail -n 5 "$T/final.log")"
assert_eq "$(sql 'SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "sakila"')" 0 "triggers"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 0 "change rows (no trigger)"
topic_dump "$BOOT" >"$T/topic"
sql "SELECT customer_id FROM customer ORDER BY customer_id" >"$T/ids"
# the windows below need the whole topic: no partition may have lost its start (mock retention)
ret=$(awk -F'\t' '!($1 in lo) || $2 < lo[$1] { lo[$1] = $2 } END { for (p in lo) if (lo[p] > 0) printf " %s@%s", p, lo[p] }' "$T/topic")
[ -z "$ret" ] || fail "the mock dropped old messages (retention), partitions start at:$ret"
check_ids_on_topic "$T/ids" "$T/topic" "after the final relay --once"
assert_eq "$(saved | cut -f3)" "$(max_cid)" "last_customer_id after the final relay --once"
n=$(wc -l <"$T/ids" | tr -d ' ')
msgs=$(wc -l <"$T/topic" | tr -d ' ')
dups=$((msgs - n)) # copies beyond the first (re-sent after kills)
note "$n customers, all on the topic ($msgs messages, $dups re-sent copies, $(topic_ids_of "$T/topic" | uniq -d | wc -l | tr -d ' ') ids re-sent); progress moved after $moved kills"

# windows: watch --json --once, 10 s tumbling, against the SQL truth of the customer table
timeout 60 "$CDCTOP" watch --json --once -b "$BOOT" -w 10s >"$T/w.json" 2>"$T/w.err" ||
	fail "watch --json --once: $(cat "$T/w.err")"
sed -n 's/^{"window_start":"\([^"]*\)","window_end":"[^"]*","store_id":\([0-9]*\),"count":\([0-9]*\),"final":[a-z]*}$/\2\t\1\t\3/p' "$T/w.json" |
	sort >"$T/w.tsv"
sql "SET time_zone = '+00:00';
     SELECT store_id, DATE_FORMAT(FROM_UNIXTIME(FLOOR(UNIX_TIMESTAMP(create_date) / 10) * 10),
                                  '%Y-%m-%dT%H:%i:%sZ'), COUNT(*)
     FROM customer GROUP BY 1, 2" | sort >"$T/truth.tsv"
[ "$(wc -l <"$T/truth.tsv")" -ge 4 ] || fail "expected at least two 10 s windows of two stores: $(cat "$T/truth.tsv")"
cmp -s "$T/w.tsv" "$T/truth.tsv" ||
	fail "watch -w 10s differs from SQL (< sql, > watch): $(diff "$T/truth.tsv" "$T/w.tsv" | head -n 8)"
tail -n 1 "$T/w.json" | grep -q "^{\"consumed\":[0-9]*,\"counted\":$n,\"duplicates\":$dups,\"late\":0,\"expired\":0,\"rejected\":0," ||
	fail "watch summary (expected counted $n, duplicates $dups, none late or rejected): $(tail -n 1 "$T/w.json")"
note "watch -w 10s: $(wc -l <"$T/w.tsv" | tr -d ' ') (window, store) counts equal SQL; $(tail -n 1 "$T/w.json")"
echo "t_binlog_relay_kill: ok"
