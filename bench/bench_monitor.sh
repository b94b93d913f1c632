#!/bin/sh
# bench/bench_monitor.sh - the monitor's continuous injection at the top of its rate ladder: does
# 5000/s hold while the same process relays, consumes and draws? A fresh private MariaDB, the
# monitor in a real terminal (tmux, 120x40) started with `--rate 5000` (batches of 20, the
# default -n) and the in-process mock; `I` turns continuous injection on, and after WARM_S (3)
# seconds the customers table is counted by SQL, again MEASURE_S (20) seconds later. Then `I`
# turns it off and the check line must agree with MySQL ("check  mysql N  counted N  ✓", N the
# change rows) within 60 s, else the bench fails (exit 1) with one line saying so. One line per
# figure:
#   monitor.inject_rate   customers/s written while auto-inject ran at 5000/s, by SQL COUNT(*)
#                         over the measured seconds; the screen's own "inject N/s" beside it
#   monitor.inject_ratio  that rate / the 5000/s asked for, this run; target >= 0.95
# Env: CDCTOP, RATE (default 5000), MEASURE_S (default 20).
set -eu
cd "$(dirname "$0")/.."
C=${CDCTOP:-$(pwd)/build/cdctop}
RATE=${RATE:-5000}
MEASURE_S=${MEASURE_S:-20}
WARM_S=3
TARGET=0.95
BENCH_NAME=bench_monitor
. bench/lib.sh
[ -x "$C" ] || die "$C is not built (make all)"
command -v tmux >/dev/null || die "tmux is not installed (make deps)"
case "$MEASURE_S" in '' | *[!0-9]* | 0) die "MEASURE_S must be a whole number of seconds, at least 1" ;; esac
bench_tmp cdcm
SOCK_T="cdcm-$$"
fig() { printf '%-22s %9s %-13s (%s)%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"; }
screen() { tmux -L "$SOCK_T" capture-pane -p; }
# wait_screen SECONDS TEXT: polls the screen every 0.05 s until it shows TEXT; 1 if it never did
wait_screen() {
	_i=0
	while ! screen | grep -qF "$2"; do
		_i=$((_i + 1))
		[ $_i -lt $(($1 * 20)) ] || return 1
		sleep 0.05
	done
}

"$C" server start --datadir "$T/db" >/dev/null
"$C" init --datadir "$T/db" >/dev/null
tmux -L "$SOCK_T" new-session -d -x 120 -y 40 \
	"LANG=C.UTF-8 HOME=$HOME '$C' --datadir '$T/db' --rate $RATE 2>'$T/ui.err'; echo EXITED \$?; sleep 60"
wait_screen 60 "check  mysql 0  counted 0  ✓" ||
	die "the monitor never showed an agreeing check line: $(screen | grep -E 'check|error' | tr -s ' ' | head -n 3)"
c_start=$(sql 'SELECT COUNT(*) FROM customer')
tmux -L "$SOCK_T" send-keys I
wait_screen 10 "auto $(fmt "$RATE")/s" || die "auto-inject did not start: $(screen | grep inject | tr -s ' ')"
sleep "$WARM_S"
t0=$(now)
c0=$(sql 'SELECT COUNT(*) FROM customer')
sleep "$MEASURE_S"
c1=$(sql 'SELECT COUNT(*) FROM customer')
t1=$(now)
shown=$(screen | sed -n 's/.*inject \([0-9.,k]*\/s\) *auto.*/\1/p' | head -n 1)
tmux -L "$SOCK_T" send-keys I
wait_screen 10 "auto off" || die "auto-inject did not stop: $(screen | grep inject | tr -s ' ')"
[ "$c0" -gt "$c_start" ] || die "no customer was written in the $WARM_S s after I"
# the screen must end equal to MySQL: every change row counted, once
sleep 1 # past the batch in flight when I was pressed
n=$(sql 'SELECT COUNT(*) FROM users_change_events')
wait_screen 60 "check  mysql $(fmt "$n")  counted $(fmt "$n")  ✓" ||
	die "the check line did not agree with MySQL's $n change rows within 60 s: $(screen | grep -E 'check' | tr -s ' ')"
tmux -L "$SOCK_T" send-keys q
wait_screen 30 "EXITED 0" || die "the monitor did not quit cleanly: $(tail -n 2 "$T/ui.err")"

rate=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
ratio=$(awk -v r="$rate" -v w="$RATE" 'BEGIN { printf "%.2f", r / w }')
fig monitor.inject_rate "$rate" customers/s "the monitor's auto-inject at $RATE/s, batches of 20, relaying, consuming and drawing in the same process: $(fmt "$((c1 - c0))") customers by SQL COUNT(*) over $(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", e - s }') s; the screen showed inject ${shown:-?}; then the check line agreed with MySQL's $(fmt "$n") change rows"
fig monitor.inject_ratio "$ratio" x "monitor.inject_rate / the $RATE/s asked for, this run" \
	"$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN { print (r >= t) ? "target >= " t ": ok" : "target >= " t ": BELOW" }')"
