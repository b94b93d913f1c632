#!/bin/sh
# The monitor with --capture=binlog: with the capture trigger dropped, `i` twice writes two
# batches that reach the histogram through the row binlog; the per-store counts of a 1h
# window equal SQL's count of the customer table, the capture pane shows the binlog
# positions, and users_change_events stays empty (no trigger is re-created).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db
sql "DROP TRIGGER customer_after_insert_cdc"

scr_start 120 40 --datadir "$DBDIR" --capture=binlog -w 1h --seed 11
scr_wait 30 'capture: binlog' "start-up in binlog mode"
scr_wait 20 'binlog read +mysql-bin\.[0-9]+:[0-9]+' "the binlog position read"
for k in 1 2; do
	scr_keys i
	scr_wait 10 "customers +$((k * 20)) " "customers after batch $k"
done
want=$(sql "SELECT store_id, COUNT(*) FROM customer GROUP BY store_id ORDER BY store_id" | tr '\t' ' ')
i=0
while :; do
	scr_cap >/dev/null
	got=$(scr_bars | awk '$2 != 0')
	[ "$got" = "$want" ] && break
	i=$((i + 1))
	[ $i -lt 150 ] || fail "histogram '$(echo $got)' != customers per store '$(echo $want)'"
	sleep 0.1
done
note "histogram: $(echo $got)"
scr_wait 10 'server at +mysql-bin\.[0-9]+:[0-9]+' "the server's binlog position"
scr_wait 10 'lag +[0-9,]+ bytes' "the binlog lag"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 0 "change rows (no trigger)"
assert_eq "$(sql "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'sakila'")" 0 \
	"triggers after the monitor's start-up"
scr_keys q
scr_wait 10 'EXITED 0' "exit"
