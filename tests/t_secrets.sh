#!/bin/sh
# t_secrets.sh - secrets never leak. A private MariaDB whose root user has a password
# (S3cr3t-db-pw), reached with -S and --password-file, and with --defaults-file (password=), and
# Kafka properties in a -F file with sasl.password=S3cr3t-kafka-pw (accepted by librdkafka and
# unused without a sasl security.protocol, so the mock cluster serves it): init, inject, relay
# (--once and running), watch, the monitor under tmux, a run that starts mariadbd itself, and
# forced errors (a wrong socket, a wrong password, an unreachable cluster, bad property lines,
# librdkafka debug logging). Neither secret may appear in /proc/<pid>/cmdline or environ of
# cdctop or of a process it starts (mariadbd), in any stdout/stderr, in the tmux capture, or in
# an error message. Also: a 0644 -F file holding sasl.password and a 0644 defaults file holding
# password= get one warning line each (0600: none); the private server's state dir, data dir
# and socket are owner-only; -D and -t with quotes, semicolons or backticks are refused before
# any use (no server started, no topic created).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

DBPW=S3cr3t-db-pw
KPW=S3cr3t-kafka-pw
O="$T/out" # every stdout, stderr, /proc dump and screen capture, grepped at the end
S="$T/sec" # the files that hold the secrets (never grepped)
mkdir -p "$O" "$S"
chmod 700 "$S"
N=0

# run NAME CMD...: runs a command (bounded) with stdout and stderr kept in $O; must exit 0.
run() {
	_n=$1
	shift
	timeout 60 "$@" >"$O/$_n.out" 2>"$O/$_n.err" ||
		fail "$_n: '$*' failed: $(tail -n 3 "$O/$_n.err")"
}

# err_run NAME 'regex' CMD...: the command must fail (non-zero, no signal, within 30 s) with
# an error line on stderr matching regex; its output is kept in $O.
err_run() {
	_n=$1 _re=$2
	shift 2
	set +e
	timeout 30 "$@" >"$O/$_n.out" 2>"$O/$_n.err"
	_rc=$?
	set -e
	[ $_rc -ne 0 ] || fail "$_n: '$*' exited 0, expected an error"
	[ $_rc -ne 124 ] || fail "$_n: '$*' hung (killed after 30 s)"
	[ $_rc -lt 128 ] || fail "$_n: '$*' died of signal $((_rc - 128))"
	grep -Eq -- "$_re" "$O/$_n.err" || fail "$_n: '$*' said '$(cat "$O/$_n.err")', expected /$_re/"
}

# snap WHAT PID: copies /proc/PID/cmdline and environ, and those of its descendants, into $O.
snap() {
	for _p in $2 $(pgrep -P "$2" 2>/dev/null || true); do
		N=$((N + 1))
		tr '\0' ' ' <"/proc/$_p/cmdline" >"$O/proc.$1.$_p.cmdline" 2>/dev/null ||
			fail "$1: cannot read /proc/$_p/cmdline"
		tr '\0' '\n' <"/proc/$_p/environ" >"$O/proc.$1.$_p.environ" 2>/dev/null ||
			fail "$1: cannot read /proc/$_p/environ"
	done
}

# no_secrets WHAT: neither secret in any file of $O so far.
no_secrets() {
	_hits=$(grep -rl -e "$DBPW" -e "$KPW" "$O" || true)
	[ -z "$_hits" ] || fail "$1: a secret leaked into: $(echo $_hits) - $(grep -rh -e "$DBPW" -e "$KPW" $_hits | head -n 2)"
}

# mode_of FILE: its permission bits in octal.
mode_of() { stat -c %a "$1"; }

# owner_only FILE WHAT: no group or other permission bit.
owner_only() {
	_m=$(mode_of "$1")
	[ $((0$_m & 077)) = 0 ] || fail "$2 '$1' has mode $_m: expected owner-only"
}

t_db
t_mock 3

# --- the private server is the current user's only
owner_only "$DBDIR" "the private server's state dir"
owner_only "$DBDIR/data" "the private server's data dir"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
owner_only "$SOCK" "the private server's socket"
owner_only "$DBDIR/mysqld.err" "the private server's error log"
note "private server: state dir $(mode_of "$DBDIR"), data dir $(mode_of "$DBDIR/data"), socket $(mode_of "$SOCK"), error log $(mode_of "$DBDIR/mysqld.err")"

# --- the secrets, in owner-only files
printf '%s\n' "$DBPW" >"$S/pw"
printf '[client]\nsocket=%s\nuser=root\npassword=%s\n' "$SOCK" "$DBPW" >"$S/my.cnf"
printf '# kafka\nsasl.username=cdctop\nsasl.password=%s\n' "$KPW" >"$S/kafka.props"
printf '[client]\nsocket=%s\nuser=root\npassword=%s\n' "$SOCK" "$DBPW" >"$S/client.cnf" # the test's own client
chmod 600 "$S"/*
sql "ALTER USER 'root'@'localhost' IDENTIFIED BY '$DBPW'; FLUSH PRIVILEGES" mysql
! sql "SELECT 1" 2>/dev/null || fail "root still connects without a password"
# psql 'statement': SQL as root with the password (from the test's own option file)
psql() { mariadb --defaults-file="$S/client.cnf" -N -B sakila -e "$1"; }
[ "$(psql 'SELECT 1')" = 1 ] || fail "root does not connect with the password"
PWF="--password-file=$S/pw"

# --- init, inject and relay with --password-file and with --defaults-file; watch with -F
run init "$CDCTOP" init -S "$SOCK" "$PWF"
run inject1 "$CDCTOP" inject -S "$SOCK" "$PWF" -n 50 --batches 2 --seed 1
run inject2 "$CDCTOP" inject --defaults-file "$S/my.cnf" -n 50 --batches 2 --seed 2
run relay1 "$CDCTOP" relay --once -S "$SOCK" "$PWF" -b "$BOOT" -F "$S/kafka.props"
[ "$(psql 'SELECT last_log_id FROM latest_cdc_timestamp')" = 200 ] || fail "relay --once with the password did not relay the 200 rows"
run watch1 "$CDCTOP" watch --json --once -b "$BOOT" -F "$S/kafka.props" -w 1h
grep -q '^{"consumed":200,"counted":200,' "$O/watch1.out" || fail "watch -F: $(tail -n 1 "$O/watch1.out")"
! grep -qi warning "$O"/*.err || fail "a warning for 0600 files: $(grep -hi warning "$O"/*.err)"
note "init, inject (--password-file, --defaults-file), relay --once, watch -F: 200 rows, no warning for 0600 files"

# --- running processes: argv and environment of relay (--defaults-file) and streaming watch
bg "$CDCTOP" relay --defaults-file "$S/my.cnf" -b "$BOOT" -F "$S/kafka.props" >"$O/relay2.out" 2>"$O/relay2.err"
RP=$!
bg "$CDCTOP" watch --json -b "$BOOT" -F "$S/kafka.props" -w 1h >"$O/watch2.out" 2>"$O/watch2.err"
WP=$!
run inject3 "$CDCTOP" inject --defaults-file "$S/my.cnf" -n 25 --batches 2 --seed 3
wait_for 30 '[ "$(psql "SELECT last_log_id FROM latest_cdc_timestamp")" = 250 ]' ||
	fail "the running relay did not relay the new rows: $(tail -n 3 "$O/relay2.err")"
wait_for 30 'grep -q "\"count\":" "$O/watch2.out"' || fail "the streaming watch printed nothing"
snap relay "$RP"
snap watch "$WP"
kill -TERM "$RP" "$WP"
wait_for 20 "! kill -0 $RP && ! kill -0 $WP" || fail "relay or watch did not stop on SIGTERM"
no_secrets "relay, watch (running)"

# --- a run that starts mariadbd itself (a second private server, Kafka secret in -F)
D2="$T/db2"
bg "$CDCTOP" relay --datadir "$D2" -b "$BOOT" -F "$S/kafka.props" -t cdc.secrets.private >"$O/relay3.out" 2>"$O/relay3.err"
RP=$!
wait_for 60 'grep -q "relay: caught up" "$O/relay3.err"' || fail "relay on a fresh private server: $(tail -n 3 "$O/relay3.err")"
MP=$(cat "$D2/mysqld.pid")
[ -d "/proc/$MP" ] || fail "no mariadbd at pid $MP"
snap relay-private "$RP"
snap mariadbd "$MP"
kill -TERM "$RP"
wait_for 20 "! kill -0 $RP" || fail "relay did not stop on SIGTERM"
owner_only "$D2" "a state dir cdctop created"
owner_only "$D2/data" "a data dir cdctop created"
owner_only "$D2/mysqld.sock" "a socket cdctop created"
"$CDCTOP" server stop --datadir "$D2" >"$O/stop2.out" 2>"$O/stop2.err" || fail "server stop $D2"
no_secrets "relay that started mariadbd, mariadbd"
note "relay, watch, a relay that started mariadbd ($MP) and mariadbd: no secret in cmdline or environ"

# --- errors with the secrets given
err_run badsock 'cannot connect' "$CDCTOP" relay --once -S "$T/no/such.sock" "$PWF" -b "$BOOT" -F "$S/kafka.props"
printf '%s-x\n' "$DBPW" >"$S/wrongpw"
err_run wrongpw 'cannot connect.*password' "$CDCTOP" inject -S "$SOCK" --password-file "$S/wrongpw" -n 1
printf '[client]\nsocket=%s\nuser=root\npassword=%s-x\n' "$SOCK" "$DBPW" >"$S/wrong.cnf"
chmod 600 "$S/wrong.cnf"
err_run wrongcnf 'cannot connect.*password' "$CDCTOP" relay --once --defaults-file "$S/wrong.cnf" -b "$BOOT"
err_run nokafka 'kafka' "$CDCTOP" watch --json --once -b 127.0.0.1:1 -F "$S/kafka.props"
err_run xsecret 'secret|password' "$CDCTOP" relay --once -b "$BOOT" -X "sasl.password=$KPW"
printf 'sasl.password %s\n' "$KPW" >"$S/noeq.props"
chmod 600 "$S/noeq.props"
err_run noeq 'noeq.props:1' "$CDCTOP" watch --json --once -b "$BOOT" -F "$S/noeq.props"
printf 'sasl.passwd=%s\n' "$KPW" >"$S/typo.props" # a typo in the secret's key
chmod 600 "$S/typo.props"
err_run typo 'sasl.passwd' "$CDCTOP" watch --json --once -b "$BOOT" -F "$S/typo.props"
printf '[client\npassword=%s\n' "$DBPW" >"$S/badsyntax.cnf"
chmod 600 "$S/badsyntax.cnf"
err_run badcnf 'badsyntax.cnf:1' "$CDCTOP" inject --defaults-file "$S/badsyntax.cnf" -n 1
no_secrets "error messages"
note "errors (wrong socket, wrong password, no kafka, -X secret, bad property lines, bad option file): no secret"

# --- librdkafka's own debug logging (debug=conf,...) with the secret set
cp "$S/kafka.props" "$S/debug.props"
printf 'debug=conf,security,broker\n' >>"$S/debug.props"
run debug "$CDCTOP" relay --once -S "$SOCK" "$PWF" -b "$BOOT" -F "$S/debug.props"
grep -q 'sasl.password' "$O/debug.err" && note "librdkafka's debug log names sasl.password: $(grep -o 'sasl.password[^ ]* *[^ ]*' "$O/debug.err" | head -n 1)"
no_secrets "librdkafka debug logging"

# --- group/world-readable secrets: one warning line each, and the command still works
cp "$S/kafka.props" "$T/open.props"
chmod 644 "$T/open.props"
run warnprops "$CDCTOP" relay --once -S "$SOCK" "$PWF" -b "$BOOT" -F "$T/open.props"
assert_eq "$(grep -ci 'warning' "$O/warnprops.err")" 1 "warning lines for a 0644 -F file with sasl.password"
grep -i warning "$O/warnprops.err" | grep -q "open.props" || fail "the warning does not name the file: $(grep -i warning "$O/warnprops.err")"
cp "$S/my.cnf" "$T/open.cnf"
chmod 644 "$T/open.cnf"
run warncnf "$CDCTOP" inject --defaults-file "$T/open.cnf" -n 1 --seed 4
assert_eq "$(grep -ci 'warning' "$O/warncnf.err")" 1 "warning lines for a 0644 defaults file with password="
grep -i warning "$O/warncnf.err" | grep -q "open.cnf" || fail "the warning does not name the file: $(grep -i warning "$O/warncnf.err")"
no_secrets "warnings"
note "0644 files: $(grep -hi warning "$O/warnprops.err" | cut -c1-90)... / $(grep -hi warning "$O/warncnf.err" | cut -c1-90)..."

# --- identifiers: refused before any use (no server started in a fresh dir, no topic made)
for bad in "sak'ila" 'sak;ila' 'sak`ila' 'sakila; DROP DATABASE sakila' 'sa"kila'; do
	F="$T/fresh.$N"
	N=$((N + 1))
	for cmd in init inject; do
		err_run "badD.$N.$cmd" 'database' "$CDCTOP" $cmd -D "$bad" --datadir "$F"
	done
	err_run "badD.$N.relay" 'database' "$CDCTOP" relay --once -D "$bad" --datadir "$F" -b "$BOOT"
	[ ! -e "$F" ] || fail "-D '$bad': the state dir was created (used before validation)"
done
for bad in "cdc'x" 'cdc;x' 'cdc`x' 'cdc x' 'cdc";DROP'; do
	F="$T/fresh.$N"
	N=$((N + 1))
	err_run "badt.$N.relay" 'topic' "$CDCTOP" relay --once -t "$bad" --datadir "$F" -b "$BOOT"
	err_run "badt.$N.watch" 'topic' "$CDCTOP" watch --json --once -t "$bad" -b "$BOOT"
	err_run "badt.$N.mock" 'topic' "$CDCTOP" kafka-mock -t "$bad"
	[ ! -e "$F" ] || fail "-t '$bad': the state dir was created (used before validation)"
done
timeout 30 kcat -b "$BOOT" -L >"$T/topics" 2>&1 || fail "kcat -L: $(cat "$T/topics")"
! grep -q 'topic "cdc[^.a-z]' "$T/topics" || fail "a bad topic was created: $(grep 'topic "cdc' "$T/topics")"
note "-D and -t with quotes, semicolons, backticks, spaces: refused with one line, nothing started or created"

# --- the monitor under tmux: a named server with --password-file, then one that starts mariadbd
# (screen.sh fails the test when tmux is missing: make deps installs it; no silent skip)
. "$(dirname "$0")/screen.sh"
scr_start 120 40 -S "$SOCK" "$PWF" -b "$BOOT" -F "$S/kafka.props"
scr_wait 30 '┌ capture ' "the monitor (password file)"
c0=$(psql 'SELECT COUNT(*) FROM customer')
scr_keys i
wait_for 20 '[ "$(psql "SELECT COUNT(*) FROM customer")" -gt "$c0" ]' || fail "the monitor's i wrote nothing"
snap ui "$(scr_pid)"
scr_cap >"$O/screen.1"
scr_keys '?'
scr_wait 5 'help · any key closes' "the help overlay"
scr_cap >"$O/screen.2"
scr_keys x q
scr_wait 10 'EXITED 0' "the monitor's exit"
scr_cap >"$O/screen.3"
cp "$T/ui.err" "$O/ui1.err"
scr_tmux kill-server
no_secrets "the monitor with --password-file"

# the monitor starts a private server itself (mariadbd its child), Kafka secret in -F
D3="$T/db3"
scr_start 120 40 --datadir "$D3" -b "$BOOT" -F "$S/kafka.props" -t cdc.secrets.ui
scr_wait 60 '┌ capture ' "the monitor (private server)"
MP=$(cat "$D3/mysqld.pid")
snap ui-private "$(scr_pid)"
snap mariadbd-ui "$MP"
scr_cap >"$O/screen.4"
scr_keys q
scr_wait 10 'EXITED 0' "the monitor's exit"
cp "$T/ui.err" "$O/ui2.err"
scr_tmux kill-server
"$CDCTOP" server stop --datadir "$D3" >/dev/null 2>&1 || fail "server stop $D3"
no_secrets "the monitor that started mariadbd ($MP)"
note "monitor: screens, help, stderr, cmdline and environ of cdctop and its mariadbd: no secret"

cp "$DBDIR/mysqld.err" "$O/mysqld.err"
cp "$T/mock.out" "$T/mock.err" "$O/"
no_secrets "all"
note "$(ls "$O" | wc -l | tr -d ' ') files checked ($(ls "$O" | grep -c '^proc\.') /proc dumps): neither secret anywhere"

# --- server start -P: the private server admits only its owner over TCP (issue 12). The
# password-less root@127.0.0.1 of mariadb-install-db is gone before the port ever opens; the
# only TCP account is cdctop@127.0.0.1, its generated password in a 0600 client.cnf in the state
# dir that cdctop reads itself; the password is on no command line, in no output, log or binlog.
D4="$T/db4"
P4=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run tcp-start "$CDCTOP" server start --datadir "$D4" -P "$P4"
grep -q "port 127.0.0.1:$P4 (user cdctop, password in $D4/client.cnf)" "$O/tcp-start.out" ||
	fail "server start -P: $(cat "$O/tcp-start.out")"
owner_only "$D4/client.cnf" "the TCP account's option file"
TPW=$(sed -n 's/^password=//p' "$D4/client.cnf")
[ "${#TPW}" -ge 24 ] || fail "the generated password is ${#TPW} characters"
snap mariadbd-tcp "$(cat "$D4/mysqld.pid")"
accts=$(mariadb --no-defaults -S "$D4/mysqld.sock" -uroot -N -B -e \
	"SELECT CONCAT(user, '@', host) FROM mysql.user WHERE host <> 'localhost' ORDER BY 1" | tr '\n' ' ')
[ "$accts" = "cdctop@127.0.0.1 " ] || fail "TCP accounts: '$accts' (expected only cdctop@127.0.0.1)"
for u in root cdctop ''; do
	if mariadb --no-defaults -h 127.0.0.1 -P "$P4" -u "$u" -N -e 'SELECT 1' >/dev/null 2>&1; then
		fail "user '$u' got in over TCP without a password"
	fi
done
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	if su nobody -s /bin/sh -c "mariadb --no-defaults -h 127.0.0.1 -P $P4 -uroot -N -e 'SELECT 1'" \
		>/dev/null 2>&1; then
		fail "nobody logged in as root over TCP"
	fi
	note "user nobody is refused over TCP"
fi
# cdctop itself: -h 127.0.0.1 -P PORT with no credentials uses the TCP account
run tcp-init "$CDCTOP" init -h 127.0.0.1 -P "$P4" --datadir "$D4"
grep -q "cdctop@127.0.0.1:$P4" "$O/tcp-init.out" || fail "init over TCP: $(cat "$O/tcp-init.out")"
run tcp-inject "$CDCTOP" inject -h 127.0.0.1 -P "$P4" --datadir "$D4" -n 5
mariadb --defaults-file="$D4/client.cnf" -N -e 'SELECT CURRENT_USER()' >"$O/tcp-client.out" ||
	fail "the option file does not log in"
grep -q 'cdctop@127.0.0.1' "$O/tcp-client.out" || fail "logged in as $(cat "$O/tcp-client.out")"
# a restart keeps the password; the password reaches no log and no binlog
run tcp-stop "$CDCTOP" server stop --datadir "$D4"
run tcp-start2 "$CDCTOP" server start --datadir "$D4" -P "$P4"
[ "$(sed -n 's/^password=//p' "$D4/client.cnf")" = "$TPW" ] || fail "a restart changed the password"
cp "$D4/mysqld.err" "$O/mysqld-tcp.err"
for b in "$D4"/data/mysql-bin.[0-9]*; do
	mariadb-binlog "$b" >"$O/binlog.$(basename "$b").txt" 2>/dev/null || true
done
run tcp-stop2 "$CDCTOP" server stop --datadir "$D4"
_hits=$(grep -rlF -- "$TPW" "$O" || true)
[ -z "$_hits" ] || fail "the TCP password leaked into: $(echo $_hits)"
note "server start -P: only cdctop@127.0.0.1 over TCP, password in a 0600 file, in no output/log/binlog"
