# tests/lib.sh - shared helpers for the shell tests, sourced by each tests/t_*.sh. Each test
# gets its own temp dir, its own private MariaDB (t_db) and, if asked, its own mock Kafka
# cluster (t_mock); everything is torn down on exit. Waits are bounded polls on a condition.
set -eu
: "${CDCTOP:?CDCTOP must name the cdctop binary}"
T=$(mktemp -d /tmp/cdct.XXXXXX)
BG_PIDS=""
DBDIR="$T/db"
SOCK="$DBDIR/mysqld.sock"
export HOME="$T/home" # no ~/.my.cnf of the user's leaks into a test
mkdir -p "$HOME"

t_cleanup() {
	st=$?
	for p in $BG_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $BG_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -d "$DBDIR" ]; then "$CDCTOP" server stop --datadir "$DBDIR" >/dev/null 2>&1 || true; fi
	if [ "$st" = 0 ] || [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
	exit "$st"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
note() { echo "# $*"; }
# thousands N: N with the screen's thousands separators (10100 -> 10,100); dash's printf has no %'d.
thousands() { echo "$1" | sed -e :a -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e ta; }

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# Starts this test's private MariaDB and runs init.
t_db() {
	"$CDCTOP" server start --datadir "$DBDIR" >/dev/null || fail "server start"
	"$CDCTOP" init --datadir "$DBDIR" >/dev/null || fail "init"
}

# sql 'statement' [db]: runs SQL on the test's server, tab-separated, no headers.
sql() {
	mariadb --no-defaults -S "$SOCK" -uroot -N -B "${2:-sakila}" -e "$1"
}

# bg CMD...: runs a command in the background, killed at exit; its pid is in $!
bg() {
	"$@" &
	BG_PIDS="$BG_PIDS $!"
}

# wait_for SECONDS 'shell condition': polls every 0.1 s until the condition holds.
wait_for() {
	_limit=$(($1 * 10))
	_i=0
	while ! eval "$2" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -ge $_limit ] && return 1
		sleep 0.1
	done
	return 0
}

# windows_of FILE: the window lines of watch --json output as "store<TAB>start<TAB>count",
# the last value of each (window, store), sorted.
windows_of() {
	sed -n 's/^{"window_start":"\([^"]*\)","window_end":"[^"]*","store_id":\([0-9]*\),"count":\([0-9]*\),"final":[a-z]*}$/\2\t\1\t\3/p' "$1" |
		awk -F'\t' '{ v[$1 "\t" $2] = $3 } END { for (k in v) print k "\t" v[k] }' | sort
}

# truth SIZE: the SQL ground truth for tumbling windows of SIZE seconds, in the same format.
truth() {
	sql "SET time_zone = '+00:00';
	     SELECT store_id,
	            DATE_FORMAT(FROM_UNIXTIME(FLOOR(UNIX_TIMESTAMP(event_timestamp) / $1) * $1),
	                        '%Y-%m-%dT%H:%i:%sZ'),
	            COUNT(*)
	     FROM users_change_events GROUP BY 1, 2" | sort
}

# Starts a standalone mock Kafka cluster (cdctop kafka-mock); sets BOOT to its address.
t_mock() {
	bg "$CDCTOP" kafka-mock --brokers "${1:-3}" >"$T/mock.out" 2>"$T/mock.err"
	MOCK_PID=$!
	wait_for 20 '[ -s "$T/mock.out" ]' || fail "kafka-mock printed no address: $(cat "$T/mock.err")"
	BOOT=$(head -n 1 "$T/mock.out")
}

# dbz_send TOPIC PARTITION SHAPE NAME...: each Debezium fixture (tests/fixtures/debezium/SHAPE/
# NAME.key.json as the key, NAME.value.json as the value) as one message into $BOOT with kcat;
# a name without a value file is a tombstone (a null value).
dbz_send() {
	_t=$1 _p=$2 _d="$(cd "$(dirname "$0")" && pwd)/fixtures/debezium/$3"
	shift 3
	for n in "$@"; do
		key=$(tr -d '\n' <"$_d/$n.key.json")
		if [ -f "$_d/$n.value.json" ]; then
			timeout 30 kcat -b "$BOOT" -t "$_t" -p "$_p" -P -k "$key" "$_d/$n.value.json" ||
				fail "kcat -P $n"
		else
			printf '%s|\n' "$key" | timeout 30 kcat -b "$BOOT" -t "$_t" -p "$_p" -P -K'|' -Z ||
				fail "kcat -P $n (tombstone)"
		fi
	done
}

# dbz_skewed OUT: Debezium creates (schemas off, one per line for kcat -l) of 200 distinct
# address_id values with skewed counts: the v-th value gets 400 / v + 1 creates, its value is
# v * 37 % 211 + 1, and they are handed out round by round in a shuffled order, so that neither
# first seen nor the value is the ranking. Each has its own binlog position; event times rise
# over 2025-12-01 10:00:00-19. OUT.rank: "count value" per value, from the messages, most
# first (ties: the lower value).
dbz_skewed() {
	_d="$(cd "$(dirname "$0")" && pwd)/fixtures/debezium/off"
	awk -v tmpl="$(tr -d '\n' <"$_d/create4.value.json")" 'BEGIN {
		n = 0
		for (r = 0; r <= 400; r++)
			for (j = 0; j < 200; j++) {
				v = (j * 89) % 200 + 1
				if (int(400 / v) + 1 > r)
					val[n++] = (v * 37) % 211 + 1
			}
		for (k = 0; k < n; k++) {
			m = tmpl
			sub(/"address_id": 8/, "\"address_id\": " val[k], m)
			sub(/"pos": 1002/, "\"pos\": " (100000 + k * 100), m)
			sub(/"ts_ms": 1764583212000/, "\"ts_ms\": " (1764583200000 + int(k * 20 / n) * 1000), m)
			print m
		}
	}' >"$1"
	sed 's/.*"address_id": \([0-9]*\),.*/\1/' "$1" | sort -n | uniq -c |
		awk '{ print $1, $2 }' | sort -k1,1nr -k2,2n >"$1.rank"
}

# expect_error 'regex' CMD...: the command must exit non-zero within 30 s, printing exactly
# one line on stderr that matches regex, and nothing that looks like a crash.
expect_error() {
	_re=$1
	shift
	set +e
	timeout 30 "$@" >"$T/ee.out" 2>"$T/ee.err"
	_rc=$?
	set -e
	[ $_rc -ne 0 ] || fail "'$*' exited 0, expected an error"
	[ $_rc -ne 124 ] || fail "'$*' hung (killed after 30 s)"
	[ $_rc -lt 128 ] || fail "'$*' died of signal $((_rc - 128))"
	_n=$(grep -c . "$T/ee.err" || true)
	[ "$_n" = 1 ] || fail "'$*' printed $_n lines on stderr, expected 1: $(cat "$T/ee.err")"
	grep -Eq -- "$_re" "$T/ee.err" || fail "'$*' said '$(cat "$T/ee.err")', expected /$_re/"
}
