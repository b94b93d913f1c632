#!/bin/sh
# bench/bench_restart.sh - the monitor's start with N change rows (default 1,000,000) inside the
# horizon: how long until the screen is correct, i.e. the check line shows
# "check  mysql N  counted N  ✓" in a real terminal (tmux, 120x40). A fresh private MariaDB gets
# N change rows spread over the last 50 minutes (INSERT ... SELECT, no customers: the check
# and the windows read the change table). Then, one line per figure:
#   restart.cold_ms        first start, no checkpoint: the windows are rebuilt from MySQL's
#                          change log (the path a damaged checkpoint or `r` past retention takes)
#   restart.warm_ms        quit, start again: the windows come from the checkpoint; target <= 1000
#   restart.ratio          cold / warm, measured in this run (machines differ 2x; the ratio holds)
#   restart.rss_peak_cold  MiB, the monitor's VmHWM after the cold start (a rebuild of N events
#                          from MySQL), taken once the relay has re-sent the horizon into the
#                          new in-process mock too; target <= 64
#   restart.checkpoint_kib the checkpoint file's size
# Env: CDCTOP, N. Exit 1 (one line) if a start never shows the agreeing check line.
set -eu
cd "$(dirname "$0")/.."
C=${CDCTOP:-$(pwd)/build/cdctop}
N=${N:-1000000}
BENCH_NAME=bench_restart
. bench/lib.sh
[ -x "$C" ] || die "$C is not built (make all)"
command -v tmux >/dev/null || die "tmux is not installed (make deps)"
bench_tmp cdcr
SOCK_T="cdcr-$$"
ms() { echo $(($(date +%s%N) / 1000000)); }
fig() { printf '%-22s %9s %-7s (%s)%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"; }

"$C" server start --datadir "$T/db" >/dev/null
"$C" init --datadir "$T/db" >/dev/null
sql "SET SESSION sql_log_bin = 0;
     INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
       first_name, last_name, email, address_id, active, create_date)
     SELECT 'INSERT', NOW(6) - INTERVAL (3000000000 - seq * (3000000000 DIV $N)) MICROSECOND,
       seq, 1 + seq % 2, 'Bench', 'Row', NULL, 1, 1, NOW() FROM seq_1_to_$N" ||
	die "the prefill of $N change rows failed"
[ "$(sql 'SELECT COUNT(*) FROM users_change_events')" = "$N" ] || die "the prefill left the wrong count"

# start: a monitor in a fresh tmux session; prints ms from the start to the agreeing check line
start() {
	tmux -L "$SOCK_T" kill-server 2>/dev/null || true
	t0=$(ms)
	tmux -L "$SOCK_T" new-session -d -x 120 -y 40 \
		"LANG=C.UTF-8 HOME=$HOME '$C' --datadir '$T/db' -w 1m 2>'$T/ui.err'; echo EXITED \$?; sleep 60"
	want="check  mysql $(fmt "$N")  counted $(fmt "$N")  ✓"
	i=0
	while ! tmux -L "$SOCK_T" capture-pane -p | grep -q "$want"; do
		i=$((i + 1))
		[ $i -lt 3000 ] || die "no '$want' within 60 s: $(tmux -L "$SOCK_T" capture-pane -p | grep -E 'check|windows' | tr -s ' ')"
		sleep 0.02
	done
	echo $(($(ms) - t0))
}
pid_of() { ps -o pid= --ppid "$(tmux -L "$SOCK_T" display-message -p '#{pane_pid}')" | tr -d ' ' | head -n 1; }
quit() {
	tmux -L "$SOCK_T" send-keys q
	i=0
	while ! tmux -L "$SOCK_T" capture-pane -p | grep -q 'EXITED 0'; do
		i=$((i + 1))
		[ $i -lt 600 ] || die "the monitor did not quit: $(cat "$T/ui.err")"
		sleep 0.05
	done
}

cold=$(start)
pid=$(pid_of)
i=0 # the peak once the relay has also re-sent the horizon into the new in-process mock
while ! tmux -L "$SOCK_T" capture-pane -p | grep -q 'relay: caught up'; do
	i=$((i + 1))
	[ $i -lt 1200 ] || die "the relay did not catch up within 60 s"
	sleep 0.05
done
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
quit
ck=$(ls "$T/db"/windows-*.ckpt 2>/dev/null | head -n 1)
[ -n "$ck" ] || die "no checkpoint written at quit"
kib=$(($(stat -c %s "$ck") / 1024))
warm=$(start)
tmux -L "$SOCK_T" capture-pane -p | grep -q 'restored from the checkpoint' ||
	die "the second start did not restore the checkpoint: $(tmux -L "$SOCK_T" capture-pane -p | grep windows:)"
quit
fig restart.cold_ms "$cold" ms "start to 'check  mysql N  counted N  ✓' with $(fmt "$N") change rows in the horizon, no checkpoint: rebuilt from MySQL's change log"
fig restart.warm_ms "$warm" ms "the same after q, from the checkpoint" "$(awk -v w="$warm" 'BEGIN { print (w <= 1000) ? "target <= 1000 ms: ok" : "target <= 1000 ms: BELOW" }')"
fig restart.ratio "$(awk -v c="$cold" -v w="$warm" 'BEGIN { printf "%.1f", c / w }')" x "cold start / start from the checkpoint, this run"
fig restart.rss_peak_cold "$((hwm / 1024))" MiB "VmHWM of the monitor after the cold start (rebuild of $(fmt "$N") events from MySQL, relay re-sending them into the in-process mock)" "$(awk -v m="$((hwm / 1024))" 'BEGIN { print (m <= 64) ? "target <= 64 MiB: ok" : "target <= 64 MiB: BELOW" }')"
fig restart.checkpoint_kib "$kib" KiB "size of the checkpoint file for $(fmt "$N") events over 50 minutes, 2 stores"
