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
[ -x "$C" ] || { echo "bench_inject: $C is not built (make all)" >&2; exit 1; }

T=$(mktemp -d /tmp/cdcb.XXXXXX)
export HOME="$T/home" # no ~/.my.cnf of the user's redirects the bench
mkdir -p "$HOME"
cleanup() {
	"$C" server stop --datadir "$T/db" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# the figures only count if every customer was captured
sock="$T/db/mysqld.sock"
got=$(mariadb --no-defaults -S "$sock" -uroot -N -B sakila -e \
	'SELECT (SELECT COUNT(*) FROM customer) - (SELECT COUNT(*) FROM users_change_events)')
[ "$got" = 0 ] || { echo "bench_inject: customers and change rows differ by $got" >&2; exit 1; }
