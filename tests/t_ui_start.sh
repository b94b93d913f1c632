#!/bin/sh
# The monitor starts with every pane, names the private server and the in-process mock
# cluster, quits on q (a hang check, not the 1 s bench figure) with the terminal given back
# (`stty -a` in the pane after the exit equals `stty -a` before the start), quits on SIGTERM
# the same way, gives the terminal back the same way when it crashes (SIGSEGV), and
# refuses to start (one line, non-zero, no curses) when there is no terminal or a start-up
# step fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

note "no terminal: one line, exit 1"
expect_error 'needs a terminal' "$CDCTOP" --datadir "$DBDIR"

note "start-up: every pane, the private server and the mock address"
scr_start 120 40 --datadir "$DBDIR"
scr_wait 30 'kafka: mock 127\.0\.0\.1:[0-9]+ \(3 brokers\)' "header"
# each pane is waited for (bounded): under TSan the first frame can still be on its way
# when the header, its first line, is already shown
scr_wait 10 "mysql: private $DBDIR \(sakila\)" "the header's private server"
for pane in '┌ capture ' '┌ kafka ' '┌ registrations per store' 'part +low +high +committed +lag' \
	'customers' 'backlog' 'gap wait' 'produce' 'late 0 +rejected 0' 'q quit' \
	'window 30s tumbling' 'lateness 1m'; do
	scr_wait 10 "$pane" "the start-up screen's '$pane'"
done
# the three partitions appear with watermarks once the probe has answered
scr_wait 10 '│ +2 +[0-9]+ +[0-9]+ ' "partition 2's row"

note "q: exit 0 (hang check ${EXIT_MS} ms), terminal restored"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q"
scr_wait 5 'cdct-prompt\$' "shell prompt"
scr_cap >/dev/null
! grep -q 'registrations per store' "$SCR" || fail "the monitor's screen stayed after exit"
scr_stty_same "q"
scr_keys 'echo typed-$((6*7))' Enter
scr_wait 5 'typed-42' "the shell (cooked mode, echo)"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"

note "SIGTERM: exit 0, terminal restored"
scr_tmux kill-server
scr_start 100 30 --datadir "$DBDIR"
scr_wait 30 '┌ capture ' "second start"
pid=$(scr_pid)
[ -n "$pid" ] || fail "no cdctop process under the session"
scr_exit_mark
kill -TERM "$pid"
scr_exit_wait 0 "SIGTERM"
scr_wait 5 'cdct-prompt\$' "shell prompt after SIGTERM"
scr_stty_same "SIGTERM"

note "a crash (SIGSEGV): the terminal is given back"
scr_tmux kill-server
ulimit -c 0 2>/dev/null || true # no core file in the tree
scr_start 100 30 --datadir "$DBDIR"
scr_wait 30 '┌ capture ' "third start"
pid=$(scr_pid)
[ -n "$pid" ] || fail "no cdctop process under the session"
kill -SEGV "$pid"
scr_wait 20 'EXITED [1-9][0-9]*' "a non-zero exit after SIGSEGV"
scr_wait 5 'cdct-prompt\$' "shell prompt after the crash"
scr_stty_same "SIGSEGV"
scr_keys 'echo crashed-$((6*7))' Enter
scr_wait 5 'crashed-42' "the shell after the crash (cooked mode, echo)"

note "a start-up error: one line, exit 1, the terminal untouched"
scr_tmux kill-server
scr_start 100 30 --datadir "$DBDIR" -X no.such.property=1
scr_wait 30 'EXITED 1' "exit status of a bad -X"
n=$(grep -c . "$T/ui.err" || true)
[ "$n" = 1 ] || fail "a bad -X printed $n lines: $(cat "$T/ui.err")"
grep -q 'no.such.property' "$T/ui.err" || fail "the error does not name the property: $(cat "$T/ui.err")"
scr_cap >/dev/null
! grep -q '┌ capture' "$SCR" || fail "curses started before the start-up error"
note "ok"
