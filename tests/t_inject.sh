#!/bin/sh
# t_inject.sh - `cdctop inject`: every customer gets its address and exactly one change row equal
# to it (SQL joins), log_id follows insertion order, the printed per-store counts equal SQL's; a
# batch failing midway (CDCTOP_TEST_FAIL_AT) leaves nothing; --seed repeats the same persons;
# --batches; --rate keeps to its schedule; SIGINT/SIGTERM end --rate after a whole batch; real
# sakila's SMALLINT ids refuse a batch that would overflow them before writing anything.
. "$(dirname "$0")/lib.sh"
C=$CDCTOP
FIX="$(cd "$(dirname "$0")" && pwd)/fixtures"
t_db

count() { sql "SELECT COUNT(*) FROM $1" "${2:-sakila}"; }
maxid() { sql "SELECT COALESCE(MAX($2), 0) FROM $1" "${3:-sakila}"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
# wrote OUTPUT: the customer count of the last summary line, commas removed
wrote() { printf '%s\n' "$1" | sed -n 's/^inject: wrote \([0-9,]*\) customers.*/\1/p' | tail -n 1 | tr -d ,; }
# counts3 [db]: "customers addresses change-rows"
counts3() { echo "$(count customer "${1:-sakila}") $(count address "${1:-sakila}") $(count users_change_events "${1:-sakila}")"; }
# persons FROM_ID: the customers after FROM_ID with their addresses, one line each, in order
persons() {
	sql "SELECT CONCAT_WS('|', c.store_id, c.first_name, c.last_name, c.email, a.address,
	  a.address2, a.district, a.city_id, a.postal_code, a.phone)
	FROM customer c JOIN address a USING (address_id) WHERE c.customer_id > $1 ORDER BY c.customer_id"
}

note "inject -n 20: 20 customers, 20 addresses, 20 change rows equal to them"
c0=$(maxid customer customer_id)
a0=$(maxid address address_id)
e0=$(maxid users_change_events log_id)
n0=$(counts3)
out=$("$C" inject --datadir "$DBDIR" -n 20) || fail "inject -n 20 failed"
set -- $n0
assert_eq "$(counts3)" "$(($1 + 20)) $(($2 + 20)) $(($3 + 20))" "customers, addresses, change rows"
NEWC="customer_id > $c0"
NEWE="log_id > $e0"
assert_eq "$(sql "SELECT COUNT(DISTINCT c.address_id) FROM customer c JOIN address a USING (address_id)
	WHERE c.$NEWC AND a.address_id > $a0")" 20 "new customers each with their own new address"
assert_eq "$(sql "SELECT COUNT(*) FROM users_change_events e JOIN customer c
	ON c.customer_id = e.customer_id AND c.store_id = e.store_id AND c.first_name = e.first_name
	AND c.last_name = e.last_name AND c.email = e.email AND c.address_id = e.address_id
	AND c.active = e.active AND c.create_date = e.create_date WHERE e.$NEWE")" 20 \
	"change rows equal to their customer rows"
assert_eq "$(sql "SELECT COUNT(*) FROM users_change_events e LEFT JOIN customer c USING (customer_id)
	WHERE e.$NEWE AND (c.customer_id IS NULL OR NOT (c.store_id <=> e.store_id
	AND c.first_name <=> e.first_name AND c.last_name <=> e.last_name AND c.email <=> e.email
	AND c.address_id <=> e.address_id))")" 0 "change rows that differ from their customer"
assert_eq "$(sql "SELECT COUNT(*) FROM customer c LEFT JOIN users_change_events e
	ON e.customer_id = c.customer_id AND e.$NEWE WHERE c.$NEWC AND e.log_id IS NULL")" 0 \
	"new customers without a change row"
assert_eq "$(sql "SELECT COUNT(DISTINCT customer_id) FROM users_change_events WHERE $NEWE")" 20 \
	"customers with a change row"
# log_id strictly increases in insertion (customer_id) order, with no gap within one batch
assert_eq "$(sql "SELECT COUNT(*) FROM (SELECT log_id, customer_id,
	LAG(log_id) OVER (ORDER BY customer_id) AS prev FROM users_change_events WHERE $NEWE) x
	WHERE prev IS NOT NULL AND log_id <= prev")" 0 "change rows out of insertion order"
assert_eq "$(sql "SELECT MAX(log_id) - MIN(log_id) + 1 FROM users_change_events WHERE $NEWE")" 20 \
	"log_id span of one batch"
assert_eq "$(sql "SELECT COUNT(*) FROM users_change_events WHERE $NEWE AND event_timestamp IS NOT NULL
	AND event_type = 'INSERT' AND event_timestamp BETWEEN NOW(6) - INTERVAL 5 MINUTE AND NOW(6)")" 20 \
	"change rows with a recent event_timestamp and event_type INSERT"
assert_eq "$(sql "SELECT COUNT(*) FROM (SELECT event_timestamp,
	LAG(event_timestamp) OVER (ORDER BY log_id) AS prev FROM users_change_events WHERE $NEWE) x
	WHERE prev IS NOT NULL AND event_timestamp < prev")" 0 "event_timestamp going backwards"
assert_eq "$(sql "SELECT COUNT(*) FROM customer c WHERE c.$NEWC AND c.first_name <> '' AND c.last_name <> ''
	AND c.email REGEXP '^[a-z0-9.]+@example\\\\.(com|org|net)\$' AND c.active = 1
	AND c.store_id IN (SELECT store_id FROM store)")" 20 "customers with names, an email and a real store"
assert_eq "$(sql "SELECT COUNT(*) FROM address a JOIN city USING (city_id) WHERE a.address_id > $a0
	AND a.address REGEXP '^[0-9]+ ' AND a.district <> '' AND a.postal_code REGEXP '^[0-9]{5}\$'
	AND a.phone REGEXP '^[0-9]{10,12}\$'")" 20 "addresses with street, district, postal code, phone, city"

note "the summary's per-store counts equal SQL's GROUP BY store_id"
echo "$out" | grep -Eq '^inject: wrote 20 customers in 1 batch \(.*\) in [0-9.]+ ms, [0-9,]+ customers/s$' ||
	fail "summary line: $out"
printed=$(echo "$out" | sed -n 's/^inject: wrote .* batch[es]* (\(.*\)) in .*/\1/p')
expected=$(sql "SELECT GROUP_CONCAT(CONCAT('store ', s.store_id, ': ', IFNULL(g.n, 0))
	ORDER BY s.store_id SEPARATOR ', ') FROM store s LEFT JOIN (SELECT store_id, COUNT(*) AS n
	FROM customer WHERE $NEWC GROUP BY store_id) g USING (store_id)")
assert_eq "$printed" "$expected" "per-store counts"

note "a batch failing midway exits non-zero with one line and leaves no partial rows"
for k in 7 1 20; do
	n0=$(counts3)
	expect_error 'rolled back' env CDCTOP_TEST_FAIL_AT=$k "$C" inject --datadir "$DBDIR" -n 20
	assert_eq "$(counts3)" "$n0" "counts after a batch failing at customer $k"
	grep -q 'inject: wrote [1-9]' "$T/ee.out" && fail "failed batch claims rows: $(cat "$T/ee.out")"
done
expect_error 'rolled back' env CDCTOP_TEST_FAIL_AT=3 "$C" inject --datadir "$DBDIR" -n 5 --batches 4
assert_eq "$(counts3)" "$n0" "counts after --batches 4 failing in batch 1"
# the next inject works
"$C" inject --datadir "$DBDIR" -n 3 >/dev/null || fail "inject after a failed batch"
set -- $n0
assert_eq "$(counts3)" "$(($1 + 3)) $(($2 + 3)) $(($3 + 3))" "counts after a good batch"

note "multi-row inserts pair every customer with its own address, as one row at a time does"
# the same seed through each way of learning the address ids (RETURNING, the default on
# MariaDB; consecutive ids from LAST_INSERT_ID(); one insert per row, MySQL 8's fallback) must
# give the same customers with the same addresses; 250 rows span chunks of 100, 100 and 50
ref=""
for mode in per-row consecutive returning; do
	m=$(maxid customer customer_id)
	if [ "$mode" = returning ]; then
		out=$("$C" inject --datadir "$DBDIR" -n 250 --seed 77) || fail "inject ($mode)"
	else
		out=$(CDCTOP_TEST_INJECT_IDS=$mode "$C" inject --datadir "$DBDIR" -n 250 --seed 77) ||
			fail "inject ($mode)"
	fi
	assert_eq "$(wrote "$out")" 250 "customers written ($mode)"
	pm=$(persons "$m")
	assert_eq "$(printf '%s\n' "$pm" | wc -l)" 250 "customers joined to an address ($mode)"
	assert_eq "$(sql "SELECT COUNT(DISTINCT address_id) FROM customer WHERE customer_id > $m")" 250 \
		"distinct addresses ($mode)"
	if [ -z "$ref" ]; then ref=$pm; else assert_eq "$pm" "$ref" "customers and addresses ($mode vs per-row)"; fi
done
note "a batch failing in its second chunk of 100 leaves nothing"
n0=$(counts3)
CDCTOP_TEST_FAIL_AT=150 "$C" inject --datadir "$DBDIR" -n 250 >/dev/null 2>&1 && fail "the batch with a bad row 150 succeeded"
assert_eq "$(counts3)" "$n0" "counts after a batch failing at row 150"

note "the same --seed gives the same persons; another seed gives others"
m1=$(maxid customer customer_id)
"$C" inject --datadir "$DBDIR" -n 20 --seed 4242 >/dev/null || fail "inject --seed 4242"
m2=$(maxid customer customer_id)
"$C" inject --datadir "$DBDIR" -n 20 --seed 4242 >/dev/null || fail "second inject --seed 4242"
m3=$(maxid customer customer_id)
"$C" inject --datadir "$DBDIR" -n 20 --seed 4243 >/dev/null || fail "inject --seed 4243"
p1=$(persons "$m1" | head -n 20)
p2=$(persons "$m2" | head -n 20)
p3=$(persons "$m3" | head -n 20)
[ "$(printf '%s\n' "$p1" | wc -l)" = 20 ] || fail "expected 20 persons for seed 4242, got: $p1"
assert_eq "$p2" "$p1" "persons of two injects with --seed 4242"
[ "$p3" != "$p1" ] || fail "--seed 4243 gave the same persons as --seed 4242"
[ "$(printf '%s\n' "$p1" | sort -u | wc -l)" -ge 15 ] || fail "seed 4242 gave few distinct persons: $p1"
# ... and across batches: --batches 2 -n 10 with the seed continues the same sequence
m4=$(maxid customer customer_id)
"$C" inject --datadir "$DBDIR" -n 10 --batches 2 --seed 4242 >/dev/null || fail "inject --batches 2 --seed"
assert_eq "$(persons "$m4")" "$p1" "persons of --seed 4242 in two batches of 10"

note "--batches 3 -n 5 writes 15"
n0=$(counts3)
out=$("$C" inject --datadir "$DBDIR" --batches 3 -n 5) || fail "inject --batches 3 -n 5"
set -- $n0
assert_eq "$(counts3)" "$(($1 + 15)) $(($2 + 15)) $(($3 + 15))" "counts after --batches 3 -n 5"
echo "$out" | grep -q '^inject: wrote 15 customers in 3 batches' || fail "summary: $out"

note "--rate 100 -n 10 --batches 5 keeps to its schedule (>= 0.4 s) and writes 50"
n0=$(count customer)
t0=$(ms)
out=$("$C" inject --datadir "$DBDIR" -n 10 --rate 100 --batches 5) || fail "inject --rate 100"
el=$(($(ms) - t0))
[ "$el" -ge 400 ] || fail "--rate 100 -n 10 --batches 5 took $el ms, the schedule needs >= 400 ms"
[ "$el" -lt 10000 ] || fail "--rate 100 -n 10 --batches 5 took $el ms"
assert_eq "$(count customer)" "$((n0 + 50))" "customers after --rate --batches 5"
assert_eq "$(wrote "$out")" 50 "printed count after --rate --batches 5"
took=$(echo "$out" | tail -n 1 | sed -n 's/.*) in \([0-9]*\)\.[0-9] ms,.*/\1/p')
[ -n "$took" ] && [ "$took" -ge 400 ] || fail "summary's time is not >= 400 ms: $out"

# stop_rate SIGNAL: --rate 50 -n 10 (no --batches) until stopped by SIGNAL after >= 2 batches;
# it must end with exit 0, after a whole batch, having printed what it wrote.
stop_rate() {
	n0=$(count customer)
	e0=$(count users_change_events)
	"$C" inject --datadir "$DBDIR" --rate 50 -n 10 >"$T/rate.out" 2>"$T/rate.err" &
	pid=$!
	BG_PIDS="$BG_PIDS $pid"
	wait_for 20 '[ $(count customer) -ge $((n0 + 20)) ]' || fail "--rate 50 wrote too little: $(cat "$T/rate.err")"
	kill -"$1" "$pid"
	wait_for 10 '! [ -d /proc/$pid ] || grep -q "^[^)]*) Z" /proc/$pid/stat' ||
		fail "inject --rate did not end within 10 s of SIG$1"
	set +e
	wait "$pid"
	rc=$?
	set -e
	BG_PIDS=$(echo " $BG_PIDS " | sed "s/ $pid / /")
	assert_eq "$rc" 0 "exit status after SIG$1"
	got=$(($(count customer) - n0))
	[ $((got % 10)) = 0 ] && [ "$got" -ge 20 ] || fail "SIG$1 left $got customers, not whole batches of 10"
	assert_eq "$(($(count users_change_events) - e0))" "$got" "change rows after SIG$1"
	assert_eq "$(wrote "$(cat "$T/rate.out")")" "$got" "printed count after SIG$1"
	[ ! -s "$T/rate.err" ] || fail "stderr after SIG$1: $(cat "$T/rate.err")"
}
note "SIGINT ends inject --rate after the current batch, exit 0, count as printed"
stop_rate INT
note "SIGTERM does the same"
stop_rate TERM

note "real sakila's SMALLINT ids: a batch that would overflow is refused before writing"
sql 'CREATE DATABASE realsak' mysql
mariadb --no-defaults -S "$SOCK" -uroot realsak <"$FIX/real-sakila.sql" || fail "loading real-sakila.sql"
sql "INSERT INTO address (address_id, address, district, city_id, phone)
	VALUES (65530, '1 Edge Road', 'Alberta', 300, '14035550100');
     INSERT INTO customer (customer_id, store_id, first_name, last_name, email, address_id, create_date)
	VALUES (65530, 2, 'EDGE', 'CASE', 'EDGE.CASE@sakilacustomer.org', 65530, NOW())" realsak
"$C" init -S "$SOCK" -D realsak >/dev/null || fail "init on realsak"
n0=$(counts3 realsak)
expect_error 'customer\.customer_id would overflow.*65535' "$C" inject -S "$SOCK" -D realsak -n 20
assert_eq "$(counts3 realsak)" "$n0" "realsak counts after the refused batch"
assert_eq "$(sql "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'realsak'
	AND TABLE_NAME = 'address'")" 65531 "address AUTO_INCREMENT untouched (nothing was tried)"
# the last 5 ids still fit, then not one more
"$C" inject -S "$SOCK" -D realsak -n 5 >/dev/null || fail "inject -n 5 up to id 65535"
assert_eq "$(maxid customer customer_id realsak)" 65535 "largest customer id"
expect_error 'would overflow' "$C" inject -S "$SOCK" -D realsak -n 1
set -- $n0
assert_eq "$(counts3 realsak)" "$(($1 + 5)) $(($2 + 5)) $(($3 + 5))" "realsak counts at the limit"

note "... also when only the AUTO_INCREMENT counter is near the limit (ids burnt by rollbacks)"
sql 'CREATE DATABASE realsak_ai' mysql
mariadb --no-defaults -S "$SOCK" -uroot realsak_ai <"$FIX/real-sakila.sql" || fail "loading real-sakila.sql"
sql 'ALTER TABLE customer AUTO_INCREMENT = 65530' realsak_ai
"$C" init -S "$SOCK" -D realsak_ai >/dev/null || fail "init on realsak_ai"
n0=$(counts3 realsak_ai)
set +e
"$C" inject -S "$SOCK" -D realsak_ai -n 20 >"$T/ai.out" 2>"$T/ai.err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "inject -n 20 with AUTO_INCREMENT 65530 exited 0: $(cat "$T/ai.out")"
assert_eq "$(counts3 realsak_ai)" "$n0" "realsak_ai counts after the failed batch"
assert_eq "$(grep -c . "$T/ai.err")" 1 "stderr lines of the failed batch"
grep -q 'customer\.customer_id would overflow' "$T/ai.err" ||
	fail "AUTO_INCREMENT 65530 + 20: expected the overflow error before writing, got: $(cat "$T/ai.err")"

note "t_inject passed"
