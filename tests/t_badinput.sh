#!/bin/sh
# t_badinput.sh - every bad-input path prints exactly one line on stderr and exits non-zero within
# the bound of expect_error: a table of command lines (options, values, names, durations,
# passwords on argv) run without a server, then the paths that need one: unreachable servers,
# missing sockets, a server that does not speak MySQL, bad password and option files, a wrong
# password (the message names the user and where credentials go, and never shows a password).
. "$(dirname "$0")/lib.sh"
C=$CDCTOP
SECRET=Sekr3t-Pw-q7
RIGHT=Right-Pw-7q-ok

# A case that wrongly parses as valid could start a private server in the default state dir.
x_cleanup() {
	"$C" server stop --datadir "$HOME/.local/state/cdctop" >/dev/null 2>&1 || true
}
trap 'x_st=$?; set +e; x_cleanup; (exit $x_st); t_cleanup' EXIT

# no_secret: nothing the last expect_error captured shows a password of this test
no_secret() {
	for _s in "$SECRET" "$RIGHT"; do
		if grep -qF -- "$_s" "$T/ee.err" "$T/ee.out"; then
			fail "a password appeared in the output of '$*': $(cat "$T/ee.err" "$T/ee.out")"
		fi
	done
}

# bad REGEX ARGS...: one case, run in a subshell so that every case runs and all failures are
# listed at the end
bad() {
	ncase=$((ncase + 1))
	if ! (
		_re=$1
		shift
		expect_error "$_re" "$C" "$@"
		no_secret "$@"
	); then
		nfail=$((nfail + 1))
	fi
}
ncase=0
nfail=0

long65=$(printf 'a%.0s' $(seq 1 65))
longdir="$T/$(printf 'd%.0s' $(seq 1 100))"
PW='passwords are not accepted on the command line.*password-file'

note "command-line errors (table): need no server"
# regex <TAB> arguments as shell words; $SECRET, $long65, $longdir, $T are expanded
while IFS='	' read -r re args; do
	case "$re" in '' | '#'*) continue ;; esac
	eval "set -- $args"
	bad "$re" "$@"
done <<EOF
unknown option '--frobnicate'	--frobnicate
unknown option '-Z'	-Z
unknown option '--no-such'	inject --no-such
unknown command 'frobnicate'	frobnicate
unknown command 'Inject'	Inject
does not apply to 'init'	init -n 5
does not apply to 'inject'	inject --json
does not apply to 'server'	server start -h localhost
does not apply to 'kafka-mock'	kafka-mock -D sakila
needs a value	inject -n
needs a value	inject --rate
needs a value	init -D
unexpected argument 'extra'	inject extra
unexpected argument '-n'	inject -- -n
-n: 0 is out of range	inject -n 0
-n: -1 is out of range	inject -n -1
-n: 'abc' is not a whole number	inject -n abc
-n: 99999999999 is out of range	inject -n 99999999999
-n: 1000001 is out of range	inject -n 1000001
-n: empty value	inject -n ''
-n: '5x' is not a whole number	inject -n 5x
-n: '1.5' is not a whole number	inject -n 1.5
-n: ' 5' is not a whole number	inject -n ' 5'
-n: '0x10' is not a whole number	inject -n 0x10
--rate: 0 is out of range	inject --rate 0
--rate: -5 is out of range	inject --rate -5
--rate: 'abc' is not a number	inject --rate abc
--rate: empty value	inject --rate ''
--rate: 'nan' is not a number	inject --rate nan
--rate: 'inf' is not a number	inject --rate inf
--rate: 1e-3 is out of range	inject --rate 1e-3
--rate: 2000000 is out of range	inject --rate 2000000
--rate: '10/s' is not a number	inject --rate 10/s
--seed: -1 is out of range	inject --seed -1
--seed: 'abc' is not a whole number	inject --seed abc
--seed: '1.5' is not a whole number	inject --seed 1.5
--seed: empty value	inject --seed ''
--seed: 99999999999999999999 is out of range	inject --seed 99999999999999999999
--batches: 0 is out of range	inject --batches 0
--batches: -2 is out of range	inject --batches -2
--batches: 'many' is not a whole number	inject --batches many
--batches: empty value	inject --batches ''
-P: 0 is out of range	inject -P 0
-P: 70000 is out of range	inject -P 70000
-P: 'mysql' is not a whole number	inject -P mysql
-P: 70000 is out of range	server start -P 70000
--partitions: 0 is out of range	kafka-mock --partitions 0
--partitions: 257 is out of range	kafka-mock --partitions 257
--brokers: 0 is out of range	kafka-mock --brokers 0
--brokers: 17 is out of range	kafka-mock --brokers 17
-h: empty host name	inject -h ''
-S: empty socket path	inject -S ''
-u: empty user name	inject -u ''
--defaults-file: empty file name	inject --defaults-file ''
--password-file: empty file name	inject --password-file ''
--datadir: empty directory name	server start --datadir ''
-b: empty broker list	relay -b ''
-F: empty file name	relay -F ''
# passwords on argv: refused, pointing to where passwords go, never echoed
$PW	-p
$PW	inject -p
$PW	inject -p$SECRET
$PW	-p$SECRET inject
$PW	-u root -p$SECRET init
$PW	inject --password
$PW	inject --password=$SECRET
$PW	inject --password $SECRET
$PW	--password=$SECRET inject
$PW	server start --password=$SECRET
# getopt_long takes unambiguous abbreviations: these must not echo the password either
.	inject --passw=$SECRET
.	inject --pass=$SECRET
.	inject --passwor=$SECRET
secrets are not accepted on the command line.*-F file	relay -X sasl.password=$SECRET
secrets are not accepted on the command line.*-F file	relay -X ssl.key.password=$SECRET
secrets are not accepted on the command line.*-F file	watch -X ssl.keystore.password=$SECRET
secrets are not accepted on the command line.*-F file	relay -X sasl.jaas.config=$SECRET
secrets are not accepted on the command line.*-F file	relay -X sasl.oauthbearer.client.secret=$SECRET
use -X key=value	relay -X acks
use -X key=value	relay -X =all
# names that could inject SQL or break paths
-D: bad database name 'a;b'	inject -D 'a;b'
-D: bad database name 'x\`y'	init -D 'x\`y'
-D: bad database name	inject -D "a'b"
-D: bad database name	inject -D 'sakila; DROP DATABASE sakila'
-D: bad database name	inject -D 'a b'
-D: bad database name	inject -D 'a/b'
-D: bad database name	inject -D ''
-D: bad database name	inject -D $long65
-t: bad topic name 'a b'	relay -t 'a b'
-t: bad topic name	relay -t 'x/y'
-t: bad topic name	relay -t '..'
-t: bad topic name	relay -t ''
-t: bad topic name	relay -t $long65
-t: bad topic name	watch -t 'topic;rm'
# durations
--gap-wait: bad duration unit in '5x'	relay --gap-wait 5x
--gap-wait: bad duration '-1s'	relay --gap-wait -1s
--gap-wait: empty duration	relay --gap-wait ''
--gap-wait: duration .* is too large	relay --gap-wait 99999999999s
-w: '0' is too short	watch -w 0
-w: bad duration 'abc'	watch -w abc
whole seconds	watch -w 1500ms
--horizon: '1s' is too short	watch --horizon 1s
--horizon: '25h' is too long	relay --horizon 25h
the window is longer than the --horizon	watch -w 2h --horizon 1h
--slide must not be longer than the window	watch --slide 2m
--slide: '500ms' is too short	watch --slide 500ms
--lateness: bad duration 'abc'	watch --lateness abc
--until-idle: '0' is too short	watch --until-idle 0
--capture: 'kafka' is not a mode	relay --capture kafka
--once and --until-idle exclude each other	watch --once --until-idle 5s -b 127.0.0.1:1
# ranges in plain numbers, never 1e+06
--rate: 0 is out of range \(use 0\.01 to 1,000,000\)	inject --rate 0
-n: 0 is out of range \(use 1 to 1,000,000\)	inject -n 0
# watch reads a cluster: with no -b there would be nothing but an empty private mock
watch: no -b: there is nothing to read.*name the cluster with -b	watch --once
watch: no -b: there is nothing to read	watch --json --until-idle 2s
# server actions
server: say start, stop or status	server
server: say start, stop or status	server restart
server: say start, stop or status	server start stop
server: say start, stop or status	server START
# a state dir whose socket path would not fit in sun_path, and one that is a file
too long for a unix socket path	server start --datadir $longdir
too long for a unix socket path	init --datadir $longdir
EOF
note "$ncase command-line cases"
[ "$ncase" -ge 100 ] || fail "only $ncase cases ran"
[ ! -e "$HOME/.local/state/cdctop" ] || fail "a bad command line went as far as the private server"
: >"$T/afile"
bad "cannot create directory '$T/afile/data': Not a directory" server start --datadir "$T/afile"

note "errors that need a server (or its absence)"
t_db
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# unreachable: a port nobody listens on
p=$(free_port)
# (the message says what happened in words, not libmariadb's "Can't connect ... (111)")
bad "cannot connect to MySQL at '127\\.0\\.0\\.1:$p' as 'root': connection refused; check -h/-P/-S" \
	inject -h 127.0.0.1 -P "$p"
bad "cannot connect to MySQL at '127\\.0\\.0\\.1:$p'.*: connection refused" init -h 127.0.0.1 -P "$p"
bad "cannot connect to MySQL.*unknown host 'no-such-host\\.invalid'" inject -h no-such-host.invalid
# a socket path that does not exist, and one that is a plain file
bad "cannot connect to MySQL at socket '$T/nope\\.sock'.*: no socket there" inject -S "$T/nope.sock"
: >"$T/plain.sock"
bad "cannot connect to MySQL at socket '$T/plain\\.sock'.*: not a socket" inject -S "$T/plain.sock"
for f in "$T"/ee.err; do
	! grep -q "Can't connect" "$f" || fail "libmariadb's wording leaked: $(cat "$f")"
done

# servers that are not MySQL: one that answers with a banner and closes; an HTTP server, which
# waits for a request and never speaks first (the connect timeout must end the wait)
cat >"$T/banner.py" <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
s.settimeout(300)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    except OSError:
        pass
    c.close()
PY
bg python3 "$T/banner.py" >"$T/banner.port"
wait_for 10 '[ -s "$T/banner.port" ]' || fail "could not start the banner listener"
bp=$(cat "$T/banner.port")
bad "cannot connect to MySQL at '127\\.0\\.0\\.1:$bp'" inject -h 127.0.0.1 -P "$bp"
hp=$(free_port)
bg python3 -m http.server --bind 127.0.0.1 "$hp" >/dev/null 2>&1
wait_for 10 "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $hp), 1)'" ||
	fail "http.server did not listen on $hp"
t0=$(date +%s)
bad "cannot connect to MySQL at '127\\.0\\.0\\.1:$hp'" inject -h 127.0.0.1 -P "$hp"
note "http.server: error after $(($(date +%s) - t0)) s"
# a Kafka address that is not Kafka (the same HTTP server, the SSH-like banner): says so in
# whole words, never librdkafka's "increase receive.message.max.bytes" guess
# secs CMD...: runs bad and prints how many seconds it took
secs() {
	_t0=$(date +%s%N)
	bad "$@"
	echo $((($(date +%s%N) - _t0) / 1000000000))
}
s=$(secs "'127\\.0\\.0\\.1:$hp' is not a Kafka broker.*check -b\$" watch --once -b "127.0.0.1:$hp")
[ "$s" -lt 8 ] || fail "watch took $s s to see that 127.0.0.1:$hp is not Kafka"
bad "'127\\.0\\.0\\.1:$hp' is not a Kafka broker" relay --once -b "127.0.0.1:$hp" --datadir "$DBDIR"
bad "'127\\.0\\.0\\.1:$bp' is not a Kafka broker" watch --until-idle 2s -b "127.0.0.1:$bp"
if grep -Eq 'receive\.message|kafka: kafka at' "$T/ee.err"; then fail "kafka wording: $(cat "$T/ee.err")"; fi
# refused: at once (no 10 s wait), in words, and no "kafka: kafka at"
kp=$(free_port)
for cmd in "watch --once" "watch --json --once" "relay --once --datadir $DBDIR"; do
	# shellcheck disable=SC2086 # cmd is words
	s=$(secs "cannot reach kafka at '127\\.0\\.0\\.1:$kp': connection refused: check -b and that the cluster is up" \
		$cmd -b "127.0.0.1:$kp")
	[ "$s" -lt 3 ] || fail "'$cmd -b 127.0.0.1:$kp' took $s s to fail on a refused port"
done
bad "cannot reach kafka at 'no-such-host\\.invalid': unknown host" watch --once -b no-such-host.invalid

# password files: missing, a directory, too large, unreadable (as nobody when run as root)
bad "--password-file: cannot open '$T/missing\\.pw'" inject -S "$SOCK" --password-file "$T/missing.pw"
bad "--password-file: cannot open '$T/missing\\.pw'" inject --password-file "$T/missing.pw"
mkdir -p "$T/pwdir"
bad "--password-file: '$T/pwdir' is not a regular file" inject -S "$SOCK" --password-file "$T/pwdir"
head -c 5000 /dev/zero | tr '\0' x >"$T/big.pw"
bad "--password-file: '$T/big\\.pw' is too large" inject -S "$SOCK" --password-file "$T/big.pw"
printf '%s\n' "$SECRET" >"$T/noread.pw"
chmod 000 "$T/noread.pw"
if [ "$(id -u)" != 0 ]; then
	bad "--password-file: cannot open '$T/noread\\.pw': Permission denied" \
		inject -S "$SOCK" --password-file "$T/noread.pw"
else
	# root reads anything: the same case as nobody (setpriv, util-linux)
	ncase=$((ncase + 1))
	if ! (expect_error "--password-file: cannot open '$T/noread\\.pw': Permission denied" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$C" inject -S "$SOCK" \
		--password-file "$T/noread.pw"); then
		nfail=$((nfail + 1))
	fi
fi

# option files: missing, a directory, bad syntax
bad "cannot open '$T/missing\\.cnf'" inject --defaults-file "$T/missing.cnf"
bad "'$T/pwdir' is not a regular file" inject --defaults-file "$T/pwdir"
printf '[client\nuser=app\n' >"$T/hdr.cnf"
bad "hdr\\.cnf:1: bad group header" inject --defaults-file "$T/hdr.cnf"
printf 'user=app\n[client]\n' >"$T/outside.cnf"
bad "outside\\.cnf:1: option outside a \\[group\\]" inject --defaults-file "$T/outside.cnf"
printf '[client]\nsocket=%s\n= %s\n' "$SOCK" "$SECRET" >"$T/noname.cnf"
bad "noname\\.cnf:3: missing option name" inject --defaults-file "$T/noname.cnf"
printf '[]\n' >"$T/emptygrp.cnf"
bad "emptygrp\\.cnf:1: bad group header" init --defaults-file "$T/emptygrp.cnf"

# a user with a password: the wrong one is refused with one line naming the user and where
# credentials go; neither the wrong nor the right password is ever shown
sql "CREATE USER 'app'@'localhost' IDENTIFIED BY '$RIGHT'; GRANT ALL ON sakila.* TO 'app'@'localhost'" mysql
printf '%s\n' "$SECRET" >"$T/wrong.pw"
printf '%s\n' "$RIGHT" >"$T/right.pw"
chmod 600 "$T/wrong.pw" "$T/right.pw"
ACCESS="Access denied for user 'app'.*check the user and the password \\(option file or --password-file\\)"
bad "as 'app'.*$ACCESS" inject -S "$SOCK" -u app --password-file "$T/wrong.pw"
bad "as 'app'.*$ACCESS" init -S "$SOCK" -u app --password-file "$T/wrong.pw"
bad "as 'app'.*Access denied.*using password: NO" inject -S "$SOCK" -u app
printf '[client]\nsocket=%s\nuser=app\npassword=%s\n' "$SOCK" "$SECRET" >"$T/wrong.cnf"
chmod 600 "$T/wrong.cnf"
bad "as 'app'.*$ACCESS" inject --defaults-file "$T/wrong.cnf"
mkdir -p "$HOME"
cp "$T/wrong.cnf" "$HOME/.my.cnf" # ~/.my.cnf applies to a server named on the command line
bad "as 'app'.*$ACCESS" inject -S "$SOCK"
rm -f "$HOME/.my.cnf"
# control: the right password works, so the errors above were about the password
out=$("$C" inject -S "$SOCK" -u app --password-file "$T/right.pw" -n 2 2>&1) ||
	fail "inject with the right password failed: $out"
case "$out" in *"$RIGHT"*) fail "the password appeared in: $out" ;; esac
bad "as 'nosuchuser'.*Access denied" inject -S "$SOCK" -u nosuchuser
# a password file others can read works, with a warning (as -F and --defaults-file have)
printf '%s\n' "$RIGHT" >"$T/open.pw"
chmod 644 "$T/open.pw"
"$C" inject -n 1 -S "$SOCK" -u app --password-file "$T/open.pw" >"$T/open.out" 2>"$T/open.err" ||
	fail "init with a 0644 password file: $(cat "$T/open.err")"
grep -q "warning: --password-file '$T/open.pw' is readable by others: chmod 600 it" "$T/open.err" ||
	fail "no warning for a password file others can read: $(cat "$T/open.err")"
! grep -qF "$RIGHT" "$T/open.err" "$T/open.out" || fail "the password appeared"
chmod 600 "$T/open.pw"
"$C" inject -n 1 -S "$SOCK" -u app --password-file "$T/open.pw" >"$T/open.out" 2>"$T/open.err" || fail "init 0600"
! grep -q warning "$T/open.err" || fail "a 0600 password file warned: $(cat "$T/open.err")"


# databases that are not there, or hold no sakila
bad "Unknown database 'nosuchdb'.*cdctop init" inject -S "$SOCK" -D nosuchdb
# the private server: a -D that is not there is refused, never created by inject
bad "database 'nosuchdb' does not exist on the private server: create it with cdctop init -D nosuchdb" \
	inject --datadir "$DBDIR" -D nosuchdb
[ -z "$(sql "SHOW DATABASES LIKE 'nosuchdb'" mysql)" ] || fail "inject -D nosuchdb created the database"
# ... and the same rule for the relay (the monitor's pipeline shares it: schema_private_db)
bad "database 'nosuchdb' does not exist on the private server: create it with cdctop init -D nosuchdb" \
	relay --once --datadir "$DBDIR" -D nosuchdb
[ -z "$(sql "SHOW DATABASES LIKE 'nosuchdb'" mysql)" ] || fail "relay -D nosuchdb created the database"
sql 'CREATE DATABASE emptydb' mysql
bad "store" inject -S "$SOCK" -D emptydb

note "kafka: watch never creates a topic; relay asks a cdctop kafka-mock for its --partitions"
t_mock
bad "topic 'nosuch\\.topic' does not exist at '$BOOT'.*relay something first" \
	watch -b "$BOOT" -t nosuch.topic --once
bad "topic 'nosuch\\.topic' does not exist" watch -b "$BOOT" -t nosuch.topic --json --until-idle 2s
if kcat -b "$BOOT" -L 2>/dev/null | grep -q nosuch.topic; then fail "watch created nosuch.topic"; fi
"$C" inject --datadir "$DBDIR" -n 30 >/dev/null || fail "inject 30"
t0=$(date +%s%N)
"$C" relay --datadir "$DBDIR" -b "$BOOT" -t new.topic --partitions 2 --once >"$T/nt.out" 2>"$T/nt.err" ||
	fail "relay -t new.topic --partitions 2 --once: $(cat "$T/nt.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
np=$(kcat -b "$BOOT" -L -t new.topic 2>/dev/null | grep -c 'partition [0-9]')
[ "$np" = 2 ] || fail "relay --partitions 2 made $np partitions on the kafka-mock"
! grep -qi unreachable "$T/nt.err" || fail "relay --once said unreachable: $(cat "$T/nt.err")"
[ "$ms" -lt 5000 ] || fail "relay --once to a new topic took $ms ms"
note "relay -t new.topic --partitions 2 --once: $np partitions in $ms ms"

[ "$nfail" = 0 ] || fail "$nfail of $ncase cases failed (see FAIL lines above)"
note "t_badinput passed ($ncase cases)"
