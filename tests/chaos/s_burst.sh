#!/bin/sh
# s_burst.sh - load and clock edges. (1) 1,000 registrations within one second (one
# transaction: inject -n 1000 --batches 1), relayed by `relay --once`: counts exact. (2) Events
# spanning a 10 s window boundary: injection starts ~1 s before a boundary computed from the
# clock (20 batches of 10 at 100/s, so ~2 s of rows), rows fall on both sides: counts exact in
# both windows.
. "$(dirname "$0")/lib.sh"

t_db
t_mock 3

# (1) 1,000 in one second
"$CDCTOP" inject --datadir "$DBDIR" -n 1000 --batches 1 --seed "$CHAOS_SEED" >"$T/burst.out" 2>&1 ||
	fail "inject -n 1000: $(cat "$T/burst.out")"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 1000 "change rows after the burst"
span=$(sql "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(event_timestamp), MAX(event_timestamp)) FROM users_change_events")
[ "$span" -lt 1000000 ] || fail "the 1,000 registrations took $span us, not within one second"
ch_relay_once "$T/relay1.log"
ch_reconcile "1,000 registrations in $((span / 1000)) ms"
rows1=$CH_ROWS

# (2) a window boundary: start 1 s before the next 10 s boundary at least 2 s away
now=$(date +%s%3N)
b=$(((now / 10000 + 1) * 10000))
[ $((b - now)) -ge 2000 ] || b=$((b + 10000))
ch_sleep_ms $((b - 1000 - now))
"$CDCTOP" inject --datadir "$DBDIR" -n 10 --batches 20 --rate 100 --seed $((CHAOS_SEED + 1)) >"$T/edge.out" 2>&1 ||
	fail "inject across the boundary: $(cat "$T/edge.out")"
bs=$((b / 1000))
before=$(sql "SELECT COUNT(*) FROM users_change_events WHERE log_id > 1000 AND UNIX_TIMESTAMP(event_timestamp) < $bs")
after=$(sql "SELECT COUNT(*) FROM users_change_events WHERE log_id > 1000 AND UNIX_TIMESTAMP(event_timestamp) >= $bs")
[ "$before" -gt 0 ] && [ "$after" -gt 0 ] ||
	fail "the rows did not span the boundary $(date -u -d "@$bs" +%T): $before before, $after after (a slow machine?)"
ch_relay_once "$T/relay2.log"
ch_reconcile "across the boundary $(date -u -d "@$bs" +%T)"
# the two windows on either side hold exactly the SQL counts (checked in ch_reconcile); show them
w0=$(date -u -d "@$((bs - 10))" +%Y-%m-%dT%H:%M:%SZ)
w1=$(date -u -d "@$bs" +%Y-%m-%dT%H:%M:%SZ)
grep -q "	$w0	" "$T/rc.w" && grep -q "	$w1	" "$T/rc.w" ||
	fail "watch has no counts for both windows $w0 and $w1: $(cat "$T/rc.w")"
ch_done "1,000 registrations in $((span / 1000)) ms and $((before + after)) across a window boundary ($before before, $after after): $CH_ROWS rows reconciled, lost 0, double-counted 0"
