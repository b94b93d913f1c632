#!/bin/sh
# bench/bench_inject.sh - inject throughput: customers/s written by `cdctop inject` into a fresh
# private MariaDB (as cdctop starts it: binlog on, capture trigger on), in batches of 20 and of
# 1000 (each customer is an address insert, a customer insert and the trigger's insert). Each
# size runs ROUNDS times (default 3) after a warm-up; prints the median and the range, parsed from
# inject's summary line. Target: >= 10,000 customers/s at -n 1000. About ten seconds in all.
# Env: CDCTOP (default build/cdctop), ROUNDS.
set -eu
cd "$(dirname "$0")/.."
C=${CDCTOP:-$(pwd)/build/cdctop}
ROUNDS=${ROUNDS:-3}
TARGET=10000
BENCH_NAME=bench_inject
. bench/lib.sh
[ -x "$C" ] || die "$C is not built (make all)"
bench_tmp cdcb

"$C" server start --datadir "$T/db" >/dev/null
"$C" init --datadir "$T/db" >/dev/null
"$C" inject --datadir "$T/db" -n 1000 --batches 2 --seed 1 >/dev/null # warm-up

# run N BATCHES: one inject; prints "customers ms" from its summary line
run() {
	"$C" inject --datadir "$T/db" -n "$1" --batches "$2" --seed 42 |
		sed -n 's/^inject: wrote \([0-9,]*\) customers in .* in \([0-9.]*\) ms, .*/\1 \2/p' |
		tail -n 1 | tr -d ,
}

# figure N BATCHES: ROUNDS runs, one line: median customers/s, range, per-batch time
figure() {
	n=$1 batches=$2
	rates=""
	total_ms=0
	for _ in $(seq 1 "$ROUNDS"); do
		set -- $(run "$n" "$batches")
		[ "${1:-0}" = $((n * batches)) ] || { echo "bench_inject: -n $n --batches $batches wrote '${1:-nothing}'" >&2; exit 1; }
		rates="$rates $(awk -v c="$1" -v ms="$2" 'BEGIN { printf "%d", c * 1000 / ms }')"
		total_ms=$(awk -v a="$total_ms" -v b="$2" 'BEGIN { print a + b }')
	done
	sorted=$(printf '%s\n' $rates | sort -n)
	med=$(printf '%s\n' "$sorted" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	lo=$(printf '%s\n' "$sorted" | head -n 1)
	hi=$(printf '%s\n' "$sorted" | tail -n 1)
	per_batch=$(awk -v t="$total_ms" -v r="$ROUNDS" -v b="$batches" 'BEGIN { printf "%.2f", t / (r * b) }')
	verdict=""
	[ "$n" = 1000 ] && verdict=$(awk -v m="$med" -v t="$TARGET" 'BEGIN { print (m >= t) ? "  target >=" t ": ok" : "  target >=" t ": BELOW" }')
	printf 'inject.batch%-5s %8d customers/s  (median of %d; range %d-%d; %d x %d per run; %s ms/batch)%s\n' \
		"$n" "$med" "$ROUNDS" "$lo" "$hi" "$batches" "$n" "$per_batch" "$verdict"
}

figure 20 500
figure 1000 20

# The ceiling: the same server taking the same shape of rows as the mariadb client's multi-row
# INSERTs, 1,000 addresses then 1,000 customers per transaction (address ids from
# LAST_INSERT_ID(), which lock mode 1 makes consecutive), trigger on: ROUNDS runs of 20 batches,
# the median; then cdctop's -n 1000 median as a ratio of it (goal >= 0.8).
sock="$T/db/mysqld.sock"
awk -v b=20 -v n=1000 'BEGIN {
	for (i = 0; i < b; i++) {
		print "SELECT MIN(city_id) INTO @c FROM city;"
		print "START TRANSACTION;"
		printf "INSERT INTO address (address, address2, district, city_id, postal_code, phone) VALUES "
		for (j = 0; j < n; j++)
			printf "%s(\"%d Maple Avenue\", \"Apt %d\", \"California\", @c, \"%05d\", \"%010d\")", j ? "," : "", j, j % 90, j, 5550000000 + j
		print ";"
		print "SET @a = LAST_INSERT_ID();"
		printf "INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date) VALUES "
		for (j = 0; j < n; j++)
			printf "%s(%d, \"Mary%d\", \"Smith%d\", \"mary.smith%d@example.com\", @a + %d, 1, NOW())", j ? "," : "", 1 + j % 2, j, j, j, j
		print ";"
		print "COMMIT;"
	}
}' >"$T/bulk.sql"
bulk=""
for _ in $(seq 1 "$ROUNDS"); do
	t0=$(date +%s%N)
	mariadb --no-defaults -S "$sock" -uroot sakila <"$T/bulk.sql" || { echo "bench_inject: the bulk insert failed" >&2; exit 1; }
	t1=$(date +%s%N)
	bulk="$bulk $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%d", 20000 / (ns / 1e9) }')"
done
bmed=$(printf '%s\n' $bulk | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
imed=$(printf '%s\n' $rates | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
printf 'inject.ceiling      %8d customers/s  (the mariadb client, multi-row INSERTs of 1000 addresses then 1000 customers per transaction, trigger on; median of %d, runs:%s)\n' \
	"$bmed" "$ROUNDS" "$bulk"
printf 'inject.ratio        %8.2f x            (cdctop inject -n 1000 / the ceiling, this run: %d / %d; goal >= 0.8)%s\n' \
	"$(awk -v a="$imed" -v b="$bmed" 'BEGIN { print a / b }')" "$imed" "$bmed" \
	"$(awk -v a="$imed" -v b="$bmed" 'BEGIN { print (a / b >= 0.8) ? "" : " BELOW" }')"

# the figures only count if every customer was captured
got=$(mariadb --no-defaults -S "$sock" -uroot -N -B sakila -e \
	'SELECT (SELECT COUNT(*) FROM customer) - (SELECT COUNT(*) FROM users_change_events)')
[ "$got" = 0 ] || { echo "bench_inject: customers and change rows differ by $got" >&2; exit 1; }
