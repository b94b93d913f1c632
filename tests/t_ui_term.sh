#!/bin/sh
# t_ui_term.sh - the monitor on terminals that are not the usual one, and keys in odd states:
# TERM=dumb is one line and exit 1; TERM=vt100 draws ASCII boxes and leaves no monitor on the
# screen at exit; NO_COLOR gives no colours; the help overlay fits 80x24 and names every key
# and alias; the 80-column header shortens by whole words; keys other than q do nothing while
# "terminal too small" shows; auto injection (I) writes batches of the footer's size; a
# private server stopped under the running monitor is named with its fix on the status line;
# inject --batches, relay --once and watch --once show a progress line on a terminal only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db
C=$CDCTOP

# term_start COLS ROWS VAR=VALUE... -- ARGS...: scr_start with environment settings (env runs
# cdctop, so the pane's pid is still cdctop's)
term_start() {
	_c=$1 _r=$2
	shift 2
	_envs=""
	while [ "$1" != "--" ]; do
		_envs="$_envs $1"
		shift
	done
	shift
	# shellcheck disable=SC2086 # the settings are words
	CDCTOP=env scr_start "$_c" "$_r" $_envs "$C" "$@"
}

note "TERM=dumb: one line on stderr, exit 1, nothing drawn"
term_start 100 30 TERM=dumb -- --datadir "$DBDIR"
scr_wait 20 'EXITED 1' "TERM=dumb exit"
[ "$(grep -c . "$T/ui.err")" = 1 ] || fail "TERM=dumb printed: $(cat "$T/ui.err")"
grep -q 'TERM=dumb cannot move the cursor.*TERM=xterm-256color' "$T/ui.err" ||
	fail "TERM=dumb said: $(cat "$T/ui.err")"
scr_cap >/dev/null
! grep -Eq 'cdctop +mysql|capture' "$SCR" || fail "TERM=dumb drew: $(cat "$SCR")"
scr_tmux kill-server

note "the monitor with -b refused or not Kafka: one line at once, before the screen"
kp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
t0=$(date +%s)
scr_start 100 30 --datadir "$DBDIR" -b "127.0.0.1:$kp"
scr_wait 10 'EXITED 1' "the monitor with a refused -b"
[ $(($(date +%s) - t0)) -lt 8 ] || fail "the monitor took $(($(date +%s) - t0)) s to refuse -b 127.0.0.1:$kp"
[ "$(grep -c . "$T/ui.err")" = 1 ] || fail "refused -b printed: $(cat "$T/ui.err")"
grep -q "cannot reach kafka at '127.0.0.1:$kp': connection refused" "$T/ui.err" ||
	fail "refused -b said: $(cat "$T/ui.err")"
! grep -q 'kafka: kafka at' "$T/ui.err" || fail "refused -b said: $(cat "$T/ui.err")"
scr_tmux kill-server

note "TERM=vt100: ASCII boxes and bars, the monitor wiped at exit"
term_start 100 30 TERM=vt100 -- --datadir "$DBDIR"
scr_wait 30 '\+ capture -+' "vt100 capture pane in ASCII"
scr_cap >/dev/null
! grep -Eq 'lqq|qqk|[┌│█]' "$SCR" || fail "vt100 got line-drawing or Unicode: $(cat "$SCR")"
scr_keys q
scr_wait 20 'EXITED 0' "vt100 quit"
scr_cap >/dev/null
! grep -Eq 'capture|registrations per store' "$SCR" || fail "vt100: the monitor stayed on the screen"
scr_tmux kill-server

note "NO_COLOR: no colour escapes (and colours without it)"
term_start 100 30 NO_COLOR=1 -- --datadir "$DBDIR"
scr_wait 30 '┌ capture ' "NO_COLOR start"
scr_tmux capture-pane -p -e >"$T/nc.esc"
! grep -Eq "$(printf '\033')\\[([0-9;]*;)?(3[0-7]|4[0-7]|38;5)" "$T/nc.esc" ||
	fail "NO_COLOR=1 drew colours: $(grep -c "$(printf '\033')" "$T/nc.esc") lines with escapes"
scr_keys q
scr_wait 20 'EXITED 0' "NO_COLOR quit"
scr_tmux kill-server
scr_start 100 30 --datadir "$DBDIR"
scr_wait 30 '┌ capture ' "colour start"
scr_tmux capture-pane -p -e >"$T/c.esc"
grep -Eq "$(printf '\033')\\[([0-9;]*;)?(3[0-7]|4[0-7]|38;5)" "$T/c.esc" ||
	fail "without NO_COLOR there were no colours either (the test proves nothing)"
scr_keys q
scr_wait 20 'EXITED 0' "colour quit"
scr_tmux kill-server

note "80x24: help fits with every key and alias; the header keeps whole words"
scr_start 80 24 --datadir "$DBDIR" -n 3 --rate 0.5
scr_wait 30 'kafka: mock 127\.0\.0\.1:[0-9]+' "80x24 header"
scr_cap >/dev/null
head -n 1 "$SCR" >"$T/head.txt"
grep -Eq '^ cdctop  mysql: private( …)? \(sakila\)   kafka: mock 127\.0\.0\.1:[0-9]+( \(3 brokers\))? +[0-9]{2}:[0-9]{2}:[0-9]{2}$' "$T/head.txt" ||
	fail "80-column header: '$(cat "$T/head.txt")'"
scr_keys '?'
scr_wait 5 'Ctrl-L' "help"
scr_cap >/dev/null
for k in '│ +i +inject' ' I +auto-inject' '< > , \.' '\[ \]' '\+ - = _' ' s +tumbling' ' p +pause' \
	' r +rebuild' '\? h F1' 'Ctrl-L' 'q Q F10' ' k +mock brokers' ' x +crash the relay' \
	' g +hold next batch' ' b +roll back' ' d +re-deliver' 'Left Right' 'dashed axis: open'; do
	grep -Eq -- "$k" "$SCR" || { cat "$SCR"; fail "the help at 80x24 lacks /$k/"; }
done
# the box closes (its bottom border is on the screen), and the longest lines end whole
grep -Eq '└─+┘' "$SCR" || { cat "$SCR"; fail "the help box is cut at 80x24"; }
for end in 'auto-inject on / off +│' '1 2 5 10 20 50 \.\.\. 5000/s +│' '\.\.\. 1000 +│' \
	'\.\.\. 1h +│' 'pause / resume display +│' 'quit, saving progress +│' \
	'crash the relay \(kill -9\) +│' 'roll back the next batch +│' 'messages \(duplicates\) +│' \
	'gap wait, rates +│' 'errors, e2e +│' 'dashed axis: open +│' 'Home oldest, End live +│' \
	'\(above status\) +│'; do
	grep -Eq -- "$end" "$SCR" || { cat "$SCR"; fail "a help line at 80x24 does not end in /$end/"; }
done
scr_keys x
scr_wait_gone 5 'Ctrl-L' "help closing"

note "I: auto injection writes batches of the footer's size (-n 3)"
scr_keys I
scr_wait 15 '\+3 last batch' "auto batch of 3"

note "terminal too small: i does nothing unseen"
scr_keys I
# the injector answers once the batch in flight is written: no batch is on its way after this
scr_wait 15 'continuous injection off' "auto injection off"
n0=$(sql 'SELECT COUNT(*) FROM customer')
scr_resize 60 20
scr_wait 5 'terminal too small' "too small"
scr_keys i i i
scr_resize 80 24
scr_wait 5 'capture' "back to size"
# a barrier instead of a wait for nothing: keys act in order, so batches for the three i above
# would be written before this one's, which the status line answers
scr_keys i
scr_wait 15 'inject: wrote 3 customers' "a batch once back to size"
n1=$(sql 'SELECT COUNT(*) FROM customer')
[ "$n1" = "$((n0 + 3))" ] || fail "i while too small injected $((n1 - n0 - 3)) customers"

note "the private server stopped under the monitor: the status names it and the fix"
"$C" server stop --datadir "$DBDIR" >/dev/null || fail "server stop"
scr_wait 20 'private server is not running: run cdctop server start' "status line after server stop"
scr_keys q
scr_wait 20 'EXITED 0' "quit with the server down"
note "progress of long headless work: on a terminal only"
# a mock whose every response takes 300 ms, so the drain and the read last long enough to see
mkfifo "$T/mock.cmd"
exec 7<>"$T/mock.cmd" # read-write first: no open of the fifo blocks, and it stays open
"$C" kafka-mock <"$T/mock.cmd" >"$T/pmock.out" 2>"$T/pmock.err" &
BG_PIDS="$BG_PIDS $!"
wait_for 20 '[ -s "$T/pmock.out" ]' || fail "kafka-mock: $(cat "$T/pmock.err")"
PB=$(head -n 1 "$T/pmock.out")
"$C" server start --datadir "$DBDIR" >/dev/null || fail "server start"
# term_run 'command': runs it in a tmux pane (stderr on the terminal); the raw stream is kept
term_run() {
	SCR_N=$((SCR_N + 1))
	SCR_SOCK="cdct-$$-p$SCR_N-$(date +%s%N)"
	: >"$T/stream"
	scr_tmux new-session -d -x 120 -y 10 "sh -c 'sleep 0.5; $1; echo EXITED \$?; sleep 600'" ||
		fail "tmux new-session"
	BG_PIDS="$BG_PIDS $(scr_tmux display-message -p '#{pid}')"
	scr_tmux pipe-pane -o "cat >>'$T/stream'"
}
term_run "LANG=C.UTF-8 '$C' inject --datadir '$DBDIR' --batches 40 -n 100 --rate 1000"
scr_wait 20 'EXITED 0' "inject --batches on a terminal"
grep -Eq 'inject: [0-9,]+/4,000 customers +[0-9,.]+/s( +[0-9]+s left)?' "$T/stream" ||
	fail "no progress line from inject --batches: $(tr '\r' '\n' <"$T/stream" | tail -n 5)"
scr_tmux kill-server
echo 'rtt all 300' >&7
term_run "LANG=C.UTF-8 '$C' relay --once --datadir '$DBDIR' -b '$PB'"
scr_wait 60 'EXITED 0' "relay --once on a terminal"
grep -Eq 'relay: drain: [0-9,]+/[0-9,]+ rows +[0-9,.]+/s' "$T/stream" ||
	fail "no progress line from relay --once: $(tr '\r' '\n' <"$T/stream" | tail -n 5)"
scr_tmux kill-server
term_run "LANG=C.UTF-8 '$C' watch --once -b '$PB' >/dev/null"
scr_wait 60 'EXITED 0' "watch --once on a terminal"
grep -Eq 'watch: read: [0-9,]+/[0-9,]+ messages +[0-9,.]+/s' "$T/stream" ||
	fail "no progress line from watch --once: $(tr '\r' '\n' <"$T/stream" | tail -n 5)"
scr_tmux kill-server
# the last line on the screen is the result, not a progress line left behind
echo 'rtt all 0' >&7
for cmd in "inject --datadir $DBDIR --batches 3 -n 10" "relay --once --datadir $DBDIR -b $PB" \
	"watch --once -b $PB"; do
	# shellcheck disable=SC2086 # cmd is words
	"$C" $cmd >"$T/p.out" 2>"$T/p.err" || fail "$cmd: $(cat "$T/p.err")"
	! grep -Eq 'customers +[0-9,.]+/s +|rows +[0-9,.]+/s|messages +[0-9,.]+/s' "$T/p.err" ||
		fail "a progress line in a pipe from '$cmd': $(cat "$T/p.err")"
	! grep -q "$(printf '\r')" "$T/p.err" || fail "a carriage return in a pipe from '$cmd'"
done
exec 7>&-
note "t_ui_term passed"
