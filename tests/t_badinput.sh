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
bad "cannot connect to MySQL at '127\\.0\\.0\\.1:$p'.*check -h/-P/-S" inject -h 127.0.0.1 -P "$p"
bad "cannot connect to MySQL at '127\\.0\\.0\\.1:$p'" init -h 127.0.0.1 -P "$p"
bad "cannot connect to MySQL.*no-such-host\\.invalid" inject -h no-such-host.invalid
# a socket path that does not exist, and one that is a plain file
bad "cannot connect to MySQL at socket '$T/nope\\.sock'" inject -S "$T/nope.sock"
: >"$T/plain.sock"
bad "cannot connect to MySQL at socket '$T/plain\\.sock'" inject -S "$T/plain.sock"

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
# a Kafka address that is not Kafka (the same HTTP server): bounded, one line
bad "cannot reach kafka at '127\\.0\\.0\\.1:$hp'" watch --once -b "127.0.0.1:$hp"
bad "kafka at '127\\.0\\.0\\.1:$hp' did not answer" relay --once -b "127.0.0.1:$hp" --datadir "$DBDIR"

# password files: missing, a directory, too large, unreadable (not as root: root reads anything)
bad "--password-file: cannot open '$T/missing\\.pw'" inject -S "$SOCK" --password-file "$T/missing.pw"
bad "--password-file: cannot open '$T/missing\\.pw'" inject --password-file "$T/missing.pw"
mkdir -p "$T/pwdir"
bad "--password-file: '$T/pwdir' is not a regular file" inject -S "$SOCK" --password-file "$T/pwdir"
head -c 5000 /dev/zero | tr '\0' x >"$T/big.pw"
bad "--password-file: '$T/big\\.pw' is too large" inject -S "$SOCK" --password-file "$T/big.pw"
if [ "$(id -u)" != 0 ]; then
	printf '%s\n' "$SECRET" >"$T/noread.pw"
	chmod 000 "$T/noread.pw"
	bad "--password-file: cannot open '$T/noread\\.pw': Permission denied" \
		inject -S "$SOCK" --password-file "$T/noread.pw"
else
	note "skipped the unreadable password file: root reads it anyway"
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

# databases that are not there, or hold no sakila
bad "Unknown database 'nosuchdb'.*cdctop init" inject -S "$SOCK" -D nosuchdb
sql 'CREATE DATABASE emptydb' mysql
bad "store" inject -S "$SOCK" -D emptydb

[ "$nfail" = 0 ] || fail "$nfail of $ncase cases failed (see FAIL lines above)"
note "t_badinput passed ($ncase cases)"
