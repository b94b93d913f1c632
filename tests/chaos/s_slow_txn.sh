#!/bin/sh
# s_slow_txn.sh - 8 writers (mariadb clients) whose transactions sleep up to 2 s between their
# inserts and COMMIT, about a quarter rolling back instead, while a fast writer commits later
# ids around them (6 transactions per writer and round; short: 2). (1) With a relay running
# (--gap-wait 1s, shorter than the longest sleeps): no committed row is skipped - every
# committed log_id reaches the topic, those that committed after the gap wait too (late).
# (2) Another round with no relay running, then `relay --once`: it passes the rollback gaps
# after the gap wait and terminates, progress = max(log_id). Then the exact reconciliation.
. "$(dirname "$0")/lib.sh"

TXNS=$(scale 6 2) # per writer and round
t_db
t_mock 3

# slow_writers ROUND: 8 mariadb clients in the background, TXNS transactions each, seeded
# sleeps of 0-2 s before COMMIT, ~1 in 4 rolled back; pids in SLOW, rollbacks added to ROLLED.
ROLLED=0
slow_writers() {
	SLOW=""
	k=1
	while [ $k -le 8 ]; do
		s=""
		j=1
		while [ $j -le $TXNS ]; do
			ch_rand 1 2
			st=$R
			ch_rand 0 2000
			sl=$(printf '%d.%03d' $((R / 1000)) $((R % 1000)))
			ch_rand 1 4
			if [ $R = 1 ]; then
				end=ROLLBACK
				ROLLED=$((ROLLED + 1))
			else
				end=COMMIT
			fi
			s="$s BEGIN;
			  INSERT INTO address (address, district, city_id, phone)
			    VALUES ('$k Slow Road', 'Slow', (SELECT MIN(city_id) FROM city), '555-0199');
			  INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date)
			    VALUES ($st, 'Slow$1w${k}t$j', '$end', 'slow$1w${k}t$j@example.org', LAST_INSERT_ID(), 1, NOW());
			  SELECT SLEEP($sl);
			  $end;"
			j=$((j + 1))
		done
		bg mariadb --no-defaults -S "$SOCK" -uroot -N -B sakila -e "$s" >"$T/slow.$1.$k.out" 2>&1
		SLOW="$SLOW $!"
		k=$((k + 1))
	done
}

# slow_wait ROUND: every slow writer ended with status 0.
slow_wait() {
	for p in $SLOW; do
		wait_for 60 "! kill -0 $p" || fail "round $1: slow writer $p still running after 60 s"
		wait "$p" || fail "round $1: a slow writer failed: $(cat "$T"/slow.$1.*.out | head -n 3)"
	done
}

# missing_on_topic: the number of committed log_ids not (yet) on the topic.
missing_on_topic() {
	"$TOOLS/topic_ids" -b "$BOOT" -t "$TOPIC" -T 30 | cut -f3 | sort -u >"$T/mt.on"
	sql_ids | sort -u | join -v1 - "$T/mt.on" | wc -l | tr -d ' '
}

# (1) relay running, with a gap wait shorter than the longest sleeps: the rows of transactions
# that commit after it are skipped first and must still reach the topic (re-checked, late)
ch_relay_bg "$T/relay.log" --gap-wait 1s
ch_writers 1 40 2
slow_writers 1
slow_wait 1
ch_writers_stop
wait_for 60 '[ "$(missing_on_topic)" = 0 ]' ||
	fail "round 1: $(missing_on_topic) committed row(s) never reached the topic: $(grep -E 'gap|late' "$T/relay.log" | tail -n 5)"
late=$(grep -o 'relay: [0-9]* skipped row(s) committed late' "$T/relay.log" | awk '{ s += $2 } END { print s + 0 }')
skips=$(grep -c "gap: skipped" "$T/relay.log" || true)
ch_stop "$RELAY" relay
note "round 1: $(grep -c 'waiting for gap' "$T/relay.log" || true) gap waits, $skips skipped after 1 s, $late row(s) of them committed later and were relayed late; every committed row on the topic"
[ "$(sql "SELECT COUNT(*) FROM customer WHERE last_name = 'ROLLBACK'")" = 0 ] || fail "rolled-back rows are visible"

# (2) no relay while the writers run; relay --once afterwards must pass the rollback gaps
r1=$ROLLED
slow_writers 2
ch_writers 1 40 2
slow_wait 2
ch_writers_stop
sk0=$(sql "SELECT skipped FROM latest_cdc_timestamp WHERE topic = '$TOPIC'")
t0=$(date +%s)
ch_relay_once "$T/once.log"
took=$(($(date +%s) - t0))
assert_eq "$(progress)" "$(max_id)" "progress after relay --once past the rollback gaps"
sk1=$(sql "SELECT skipped FROM latest_cdc_timestamp WHERE topic = '$TOPIC'")
r2=$((ROLLED - r1))
[ $((sk1 - sk0)) -ge "$r2" ] || fail "round 2: relay --once skipped $((sk1 - sk0)) ids, expected at least the $r2 rolled back"
note "round 2: relay --once passed $((sk1 - sk0)) gap id(s) ($r2 rollbacks) and ended in ${took}s"

ch_reconcile "after $((16 * TXNS)) slow transactions ($ROLLED rolled back)"
ch_done "8 writers sleeping 0-2 s before COMMIT, $ROLLED of $((16 * TXNS)) rolled back: no committed row skipped ($late relayed late), relay --once passed the gaps in ${took}s; $CH_ROWS rows reconciled, lost 0, double-counted 0"
