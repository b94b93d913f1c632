#!/bin/sh
# t_server.sh - `cdctop server start|stop|status` on private MariaDB servers in this test's temp
# dir: start says where the server is, a second start finds it (same pid), status exit codes
# (0 running, 3 not), stale pid/socket files after a kill -9 and a pid file naming an unrelated
# process, stop, private permissions (0700 dir, socket closed to other users), -P on 127.0.0.1
# only, a busy port, and a server started by an unprivileged user.
. "$(dirname "$0")/lib.sh"
C=$CDCTOP

# Servers in state dirs other than $DBDIR, stopped at exit before lib.sh's cleanup.
EXTRA_DIRS=""
x_cleanup() {
	for d in $EXTRA_DIRS; do "$C" server stop --datadir "$d" >/dev/null 2>&1 || true; done
}
trap 'x_st=$?; set +e; x_cleanup; (exit $x_st); t_cleanup' EXIT

# alive PID: the process exists and is not a zombie (a killed mariadbd is re-parented to a
# PID 1 that may never reap it).
alive() {
	_s=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$_s" ] && [ "$_s" != Z ] && [ "$_s" != X ]
}

# live mariadbd processes serving state dir $1 (by their --datadir argument)
servers_for() {
	_n=0
	for _p in $(pgrep -f -- "--datadir=$1/data( |\$)" || true); do
		alive "$_p" && _n=$((_n + 1))
	done
	echo $_n
}

# listeners PORT: "file:address" of each socket listening on TCP PORT (from /proc/net, so no
# iproute2 needed); 127.0.0.1 is 0100007F in /proc/net/tcp
listeners() {
	awk -v h="$(printf '%04X' "$1")" '$4 == "0A" { split($2, a, ":"); if (a[2] == h) print FILENAME ":" a[1] }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null || true
}

# free_port: a TCP port on 127.0.0.1 nobody listens on (the kernel's pick, then checked).
free_port() {
	for _try in 1 2 3 4 5; do
		_p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
			echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000)))
		if [ -z "$(listeners "$_p")" ]; then
			echo "$_p"
			return 0
		fi
	done
	return 1
}

# status_rc DIR: runs server status (output in $T/status.out), prints its exit status
status_rc() {
	set +e
	"$C" server status --datadir "$1" >"$T/status.out" 2>"$T/status.err"
	_rc=$?
	set -e
	echo $_rc
}

note "status before the first start: not running, exit 3"
assert_eq "$(status_rc "$DBDIR")" 3 "status exit before start"
grep -q 'not running' "$T/status.out" || fail "status said: $(cat "$T/status.out")"

note "start prints where it is"
out=$("$C" server start --datadir "$DBDIR") || fail "server start failed"
echo "$out" | grep -Eq '^started: pid [0-9]+, ' || fail "start said: $out"
echo "$out" | grep -qF "socket $SOCK" || fail "start does not name the socket: $out"
echo "$out" | grep -qF "datadir $DBDIR/data" || fail "start does not name the datadir: $out"
pid1=$(echo "$out" | sed -n 's/^started: pid \([0-9]*\),.*/\1/p')
alive "$pid1" || fail "pid $pid1 from start is not a live process"
assert_eq "$(cat "$DBDIR/mysqld.pid")" "$pid1" "pid file"
assert_eq "$(sql 'SELECT @@socket, @@skip_networking' mysql)" "$(printf '%s\t1' "$SOCK")" \
	"socket and networking off"
assert_eq "$(sql 'SELECT @@datadir' mysql)" "$DBDIR/data/" "server's datadir"

note "a second start finds the running server"
out=$("$C" server start --datadir "$DBDIR") || fail "second start failed"
echo "$out" | grep -Eq "^already running: pid $pid1, " || fail "second start said: $out"
assert_eq "$(servers_for "$DBDIR")" 1 "mariadbd processes for $DBDIR after two starts"

note "status: exit 0, says running with the pid"
assert_eq "$(status_rc "$DBDIR")" 0 "status exit while running"
grep -Eq "^running: pid $pid1, socket $SOCK" "$T/status.out" || fail "status said: $(cat "$T/status.out")"

note "the state dir and socket are the current user's only"
assert_eq "$(stat -c '%a %u' "$DBDIR")" "700 $(id -u)" "state dir mode and owner"
assert_eq "$(stat -c '%a %u' "$DBDIR/data")" "700 $(id -u)" "data dir mode and owner"
[ -S "$SOCK" ] || fail "$SOCK is not a socket"
sm=$(stat -c '%a' "$SOCK")
[ $((0$sm & 077)) = 0 ] || fail "socket mode is $sm, expected no group/other bits"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null; then
	chmod 711 "$T" # others may pass through the temp dir; the state dir must stop them
	as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
	if as_nobody mariadb --no-defaults -S "$SOCK" -uroot -e 'SELECT 1' >"$T/nob.out" 2>&1; then
		fail "user nobody reached the private server through $SOCK"
	fi
	grep -q '(13)' "$T/nob.out" || fail "nobody's connect failed, but not with EACCES: $(cat "$T/nob.out")"
fi

note "kill -9: data survives, stale pid and socket files are handled"
sql 'CREATE DATABASE marker_before_kill' mysql
kill -9 "$pid1"
wait_for 10 '! alive $pid1' || fail "mariadbd $pid1 survived kill -9"
[ -e "$DBDIR/mysqld.pid" ] && [ -e "$SOCK" ] || fail "kill -9 left no stale files to test with"
assert_eq "$(status_rc "$DBDIR")" 3 "status exit after kill -9"
grep -q 'not running' "$T/status.out" || fail "status after kill -9 said: $(cat "$T/status.out")"
out=$("$C" server start --datadir "$DBDIR") || fail "start after kill -9 failed"
pid2=$(echo "$out" | sed -n 's/^started: pid \([0-9]*\),.*/\1/p')
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] || fail "start after kill -9 said: $out"
alive "$pid2" || fail "new server $pid2 is not alive"
assert_eq "$(sql "SHOW DATABASES LIKE 'marker_before_kill'" mysql)" marker_before_kill \
	"database created before kill -9"
assert_eq "$(servers_for "$DBDIR")" 1 "mariadbd processes after restart"

note "stop: the server ends, its files go, status exit 3"
out=$("$C" server stop --datadir "$DBDIR") || fail "stop failed"
echo "$out" | grep -q '^stopped' || fail "stop said: $out"
alive "$pid2" && fail "mariadbd $pid2 still runs after stop returned"
[ ! -e "$SOCK" ] || fail "stop left the socket"
[ ! -e "$DBDIR/mysqld.pid" ] || fail "stop left the pid file"
assert_eq "$(status_rc "$DBDIR")" 3 "status exit after stop"
grep -q 'not running' "$T/status.out" || fail "status after stop said: $(cat "$T/status.out")"
out=$("$C" server stop --datadir "$DBDIR") || fail "stop of a stopped server failed"
echo "$out" | grep -q 'not running' || fail "second stop said: $out"

note "a pid file naming an unrelated live process is stale, and that process is left alone"
bg sleep 300
other=$!
echo "$other" >"$DBDIR/mysqld.pid"
: >"$SOCK" # a stale non-socket file where the socket goes
assert_eq "$(status_rc "$DBDIR")" 3 "status with a pid file naming 'sleep'"
"$C" server stop --datadir "$DBDIR" >/dev/null || fail "stop with a stale pid file failed"
alive "$other" || fail "stop killed the unrelated process $other"
echo "$other" >"$DBDIR/mysqld.pid"
: >"$SOCK"
out=$("$C" server start --datadir "$DBDIR") || fail "start over a stale pid file failed"
pid3=$(echo "$out" | sed -n 's/^started: pid \([0-9]*\),.*/\1/p')
[ -n "$pid3" ] && [ "$pid3" != "$other" ] || fail "start over a stale pid file said: $out"
alive "$other" || fail "start killed the unrelated process $other"
[ -S "$SOCK" ] || fail "$SOCK is not a socket after start"
assert_eq "$(sql 'SELECT 1' mysql)" 1 "query after start over stale files"
"$C" server stop --datadir "$DBDIR" >/dev/null

note "-P PORT: listens on 127.0.0.1:PORT only"
NET="$T/net"
EXTRA_DIRS="$EXTRA_DIRS $NET"
port=""
for _ in 1 2 3; do
	p=$(free_port) || fail "no free port found"
	if out=$("$C" server start --datadir "$NET" -P "$p" 2>"$T/net.err"); then
		port=$p
		break
	fi
	grep -q 'in use' "$NET/mysqld.err" 2>/dev/null || fail "start -P $p failed: $(cat "$T/net.err")"
	"$C" server stop --datadir "$NET" >/dev/null 2>&1 || true # someone took the port: retry
done
[ -n "$port" ] || fail "start -P failed three times"
echo "$out" | grep -qF "port 127.0.0.1:$port" || fail "start -P said: $out"
# over TCP only the account server start made answers (its password in the 0600 client.cnf)
assert_eq "$(mariadb --defaults-file="$NET/client.cnf" -h 127.0.0.1 -P "$port" -N -B -e 'SELECT @@port, @@bind_address')" \
	"$(printf '%s\t127.0.0.1' "$port")" "port and bind address seen over TCP"
assert_eq "$(listeners "$port")" /proc/net/tcp:0100007F "listening sockets on port $port"
assert_eq "$(status_rc "$NET")" 0 "status of the -P server"
grep -qF "port 127.0.0.1:$port" "$T/status.out" || fail "status does not name the port: $(cat "$T/status.out")"
"$C" server stop --datadir "$NET" >/dev/null
if mariadb --defaults-file="$NET/client.cnf" -h 127.0.0.1 -P "$port" -e 'SELECT 1' >/dev/null 2>&1; then
	fail "port $port still answers after stop"
fi

note "-P on a busy port: one-line error, no server left behind"
BUSY="$T/busy"
EXTRA_DIRS="$EXTRA_DIRS $BUSY"
bp=$(free_port) || fail "no free port found"
bg python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("ok", flush=True); time.sleep(300)' "$bp" >"$T/busy.out"
wait_for 10 '[ -s "$T/busy.out" ]' || fail "could not occupy port $bp"
expect_error 'mysqld\.err' "$C" server start --datadir "$BUSY" -P "$bp"
wait_for 10 '[ "$(servers_for "$BUSY")" = 0 ]' || fail "a mariadbd for $BUSY survived the failed start"
grep -q 'in use' "$BUSY/mysqld.err" || fail "the server log does not say the port is in use"

note "an unprivileged user runs its own server"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null &&
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$C"; then
	NOB="$T/nobody"
	mkdir -p "$NOB/home"
	chown -R nobody "$NOB"
	EXTRA_DIRS="$EXTRA_DIRS $NOB/db"
	nob() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env HOME="$NOB/home" "$@"; }
	out=$(nob "$C" server start --datadir "$NOB/db") || fail "start as nobody failed"
	npid=$(echo "$out" | sed -n 's/^started: pid \([0-9]*\),.*/\1/p')
	[ -n "$npid" ] || fail "start as nobody said: $out"
	assert_eq "$(ps -o user= -p "$npid" | tr -d ' ')" nobody "owner of nobody's mariadbd"
	assert_eq "$(stat -c '%a %U' "$NOB/db")" "700 nobody" "nobody's state dir"
	nob "$C" init --datadir "$NOB/db" >/dev/null || fail "init as nobody failed"
	nob "$C" inject --datadir "$NOB/db" -n 3 >/dev/null || fail "inject as nobody failed"
	nob "$C" server stop --datadir "$NOB/db" >/dev/null || fail "stop as nobody failed"
	alive "$npid" && fail "nobody's server still runs after stop"
elif [ "$(id -u)" != 0 ]; then
	note "this whole test ran as an unprivileged user (uid $(id -u)): nothing more to run"
else
	SKIPPED="the unprivileged-user section: as root it needs setpriv, a 'nobody' user and a binary nobody may run"
fi
if [ -n "${SKIPPED:-}" ]; then
	echo "SKIP: $SKIPPED" # run.sh reports the test as skipped, not as passed
	exit 77
fi
note "t_server passed"
