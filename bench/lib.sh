# shellcheck shell=sh
# bench/lib.sh - what the bench scripts share, sourced from the repository's root after
# BENCH_NAME (the script's name, for messages) and C (the cdctop binary) are set: die, a
# private scratch directory with its own HOME, the cleanup of what a bench started (the pids
# in PIDS, the tmux server SOCK_T, the private MariaDB in $T/db), sql against that server,
# clocks, bounded waits and the figure line's verdict. tests/lib.sh is the tests' own: it
# makes its directory and traps as it is sourced.
#   bench_tmp PREFIX   T=/tmp/PREFIX.XXXXXX and HOME inside it (no ~/.my.cnf of the user's
#                      redirects a bench); the traps that clean up on exit and on a signal

die() {
	echo "${BENCH_NAME:-bench}: $*" >&2
	exit 1
}

bench_tmp() {
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	export HOME="$T/home"
	mkdir -p "$HOME"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}
PIDS=""
SOCK_T=""

# bench_cleanup: TERM to PIDS (KILL after 5 s), the tmux server, the server, the directory
bench_cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	[ -z "$SOCK_T" ] || tmux -L "$SOCK_T" kill-server 2>/dev/null || true
	"$C" server stop --datadir "$T/db" >/dev/null 2>&1 || true
	rm -rf "$T"
}

# sql QUERY: its rows, tab-separated, no header, from the bench's own server
sql() { mariadb --no-defaults -S "$T/db/mysqld.sock" -uroot -N -B sakila -e "$1"; }
now() { date +%s.%N; }
# elapsed T0 T1: seconds between two now()s
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# rate N SECONDS: N per second, as an integer
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }'; }
# verdict OK-CONDITION-AS-AWK-EXPR TEXT: "target TEXT: ok" or "target TEXT: BELOW"
verdict() { awk "BEGIN { print ($1) ? \"target $2: ok\" : \"target $2: BELOW\" }"; }
# fmt N: N with thousands separators
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
# wait_for SECONDS 'shell condition': polls every 0.1 s until it holds; 1 if it did not within
# SECONDS on the clock (a count of polls would stretch with each poll's own time)
wait_for() {
	_end=$(($(date +%s) + $1 + 1)) # whole seconds: at least SECONDS, under one more
	while ! eval "$2" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}
