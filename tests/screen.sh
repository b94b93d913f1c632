# tests/screen.sh - the monitor tests' one screen helper, sourced after tests/lib.sh: a private
# tmux server per test, keys, capture, bounded waits for text, numbers parsed off the screen,
# and the SQL ground truth for the newest window and for those picked by scrollback. Every
# wait is a bounded poll.
command -v tmux >/dev/null || fail "tmux is not installed (make deps)"
SCR_N=0
SCR_SOCK=
SCR="$T/screen.txt"

# The tmux server is killed at exit along with the test's other background processes.
scr_tmux() { tmux -L "$SCR_SOCK" "$@"; }

# scr_start COLS ROWS ARGS...: runs cdctop ARGS in a fresh tmux server and session of that
# size, inside a shell that writes the moment cdctop ended (date +%s%N) to $T/ui.exit_ns,
# prints "EXITED <status>" and then waits at a prompt ("cdct-prompt$ "). Before cdctop starts
# the shell saves `stty -a` of the pane in $T/stty.before (see scr_stty_same). LANG is
# $SCR_LANG (default C.UTF-8); SCR_ENV, when set, holds more VAR=value words for cdctop's
# environment (SCR_ENV='TERM=vt100 NO_COLOR=1'). Each call gets its own server, so an old one
# may still be going away.
scr_start() {
	_c=$1 _r=$2
	shift 2
	SCR_N=$((SCR_N + 1))
	SCR_SOCK="cdct-$$-$SCR_N-$(date +%s%N)"
	rm -f "$T/ui.exit_ns" "$T/stty.before"
	_cmd="stty -a >\"$T/stty.before\"; LANG=${SCR_LANG:-C.UTF-8} TZ=UTC ${SCR_ENV:-} \"\$@\" 2>\"$T/ui.err\"; _st=\$?; date +%s%N >\"$T/ui.exit_ns\"; echo EXITED \$_st; PS1='cdct-prompt\$ ' exec sh -i"
	scr_tmux new-session -d -x "$_c" -y "$_r" sh -c "$_cmd" sh "$CDCTOP" "$@" ||
		fail "tmux new-session"
	BG_PIDS="$BG_PIDS $(scr_tmux display-message -p '#{pid}')"
}

# scr_cap: the screen as plain text, also kept in $SCR. A frame reaches tmux in several
# writes (ncurses flushes a buffer of about one screen's cells, and a frame with box lines
# and colours is larger), so a capture may show a frame half drawn: the screen is taken
# again until two captures in a row agree (at most 5 times; a screen that changes every
# few milliseconds keeps the last one). That usually skips a half-drawn frame, not always:
# a test that needs a whole screen waits for each part of it (scr_wait).
scr_cap() {
	scr_tmux capture-pane -p >"$SCR" 2>/dev/null || : >"$SCR"
	_k=0
	while [ $_k -lt 4 ]; do
		scr_tmux capture-pane -p >"$SCR.2" 2>/dev/null || : >"$SCR.2"
		cmp -s "$SCR" "$SCR.2" && break
		mv "$SCR.2" "$SCR"
		_k=$((_k + 1))
	done
	cat "$SCR"
}

# scr_keys KEY...: tmux send-keys (literal keys; names such as F1 or Escape work too).
scr_keys() { scr_tmux send-keys "$@"; }

# scr_resize COLS ROWS
scr_resize() { scr_tmux resize-window -x "$1" -y "$2"; }

# scr_wait SECONDS 'ERE' [WHAT]: polls every 0.1 s until the screen matches; fails with the
# screen shown when it does not within the time.
scr_wait() {
	_lim=$(($1 * 10)) _i=0
	while :; do
		scr_cap >/dev/null
		grep -Eq -- "$2" "$SCR" && return 0
		_i=$((_i + 1))
		if [ $_i -ge $_lim ]; then
			echo "--- screen:" >&2
			cat "$SCR" >&2
			echo "--- stderr:" >&2
			cat "$T/ui.err" >&2 2>/dev/null || true
			fail "${3:-screen} did not show /$2/ within $1 s"
		fi
		sleep 0.1
	done
}

# scr_wait_gone SECONDS 'ERE' [WHAT]: the same, until the screen no longer matches.
scr_wait_gone() {
	_lim=$(($1 * 10)) _i=0
	while :; do
		scr_cap >/dev/null
		grep -Eq -- "$2" "$SCR" || return 0
		_i=$((_i + 1))
		if [ $_i -ge $_lim ]; then
			cat "$SCR" >&2
			fail "${3:-screen} still shows /$2/ after $1 s"
		fi
		sleep 0.1
	done
}

# scr_num 'ERE': the last number (thousands separators dropped) on the first screen line
# matching ERE, from the last capture; empty if no line matches.
scr_num() {
	grep -E -m1 -- "$1" "$SCR" | tr -d ',' | grep -Eo '[0-9]+' | tail -n 1
}

# scr_bars: "store count" per line, from the chart's legend: each store's count in the
# selected window ("█ store 1 12 of 340"; in live follow the newest window).
scr_bars() {
	grep -Eo 'store [0-9]+ [0-9,]+ of [0-9,]+' "$SCR" | tr -d ',' | awk '{ print $2, $3 }'
}

# The newest window the monitor shows is the one holding its clock: the newest event, or
# MySQL's clock (the relay's heartbeats) once time has moved past it while nothing arrived.
# So the helpers below check what the screen shows against SQL for the window it names, and
# allow a label from the newest event's window to the window of MySQL's clock.

# sql_newest SIZE [SLIDE]: "store count" per store for the newest window of SIZE seconds
# (epoch-aligned; hopping every SLIDE seconds: the newest window holding the newest event).
sql_newest() {
	_sl=${2:-$1}
	sql "SELECT store_id, COUNT(*) FROM users_change_events,
	       (SELECT FLOOR(UNIX_TIMESTAMP(MAX(event_timestamp)) / $_sl) * $_sl AS s
	          FROM users_change_events) w
	     WHERE UNIX_TIMESTAMP(event_timestamp) >= w.s
	       AND UNIX_TIMESTAMP(event_timestamp) < w.s + $1
	     GROUP BY store_id ORDER BY store_id" | tr '\t' ' '
}

# sql_window START SIZE: "store count" per store for [START, START + SIZE), epoch seconds.
sql_window() {
	sql "SELECT store_id, COUNT(*) FROM users_change_events
	     WHERE UNIX_TIMESTAMP(event_timestamp) >= $1 AND UNIX_TIMESTAMP(event_timestamp) < $1 + $2
	     GROUP BY store_id ORDER BY store_id" | tr '\t' ' '
}

# sql_label SIZE [SLIDE]: an ERE for the labels the newest window may have now (UTC,
# "HH:MM:SS–HH:MM:SS"): from the window of the newest event to the window of MySQL's clock
# (one more step of slack for a heartbeat on its way).
sql_label() {
	_sl=${2:-$1}
	_re=$(sql "SET time_zone = '+00:00';
	     WITH RECURSIVE w(s, top) AS (
	       SELECT FLOOR(UNIX_TIMESTAMP(MAX(event_timestamp)) / $_sl) * $_sl,
	              FLOOR(UNIX_TIMESTAMP(GREATEST(MAX(event_timestamp), NOW(6))) / $_sl) * $_sl + $_sl
	         FROM users_change_events
	       UNION ALL SELECT s + $_sl, top FROM w WHERE s + $_sl <= top AND s < top + 0)
	     SELECT CONCAT(DATE_FORMAT(FROM_UNIXTIME(s), '%H:%i:%s'), '–',
	                   DATE_FORMAT(FROM_UNIXTIME(s + $1), '%H:%i:%s')) FROM w" | paste -sd '|')
	echo "($_re)"
}

# scr_shown_start: the epoch second the chart's selected window (its title) starts at (UTC today, or
# yesterday when that would be in the future), from the last capture (Unicode or ASCII title);
# empty without a label.
scr_shown_start() {
	_hms=$(sed -En 's/.*registrations per store [^ ]+ window ([0-9]{2}:[0-9]{2}:[0-9]{2})(–|-)[0-9].*/\1/p' "$SCR" | head -n 1)
	[ -n "$_hms" ] || return 0
	_st=$(date -u -d "$(date -u +%F) $_hms" +%s)
	[ "$_st" -le $(($(date +%s) + 60)) ] || _st=$((_st - 86400))
	echo "$_st"
}

# scr_bars_equal SECONDS SIZE [SLIDE]: waits until the chart legend's counts equal SQL's per-store
# counts for the window the screen names (stores without events in it must show 0), and that
# window is the newest event's or later. An empty window passes only once the clock has moved
# past the newest event's window.
scr_bars_equal() {
	_lim=$(($1 * 10)) _i=0 _sl=${3:-$2}
	while :; do
		scr_cap >/dev/null
		_st=$(scr_shown_start)
		_newest=$(sql "SELECT FLOOR(UNIX_TIMESTAMP(MAX(event_timestamp)) / $_sl) * $_sl FROM users_change_events")
		_want=
		[ -n "$_st" ] && _want=$(sql_window "$_st" "$2")
		_got=$(scr_bars | awk '$2 != 0')
		if [ -n "$_st" ] && [ "$_got" = "$_want" ] && [ "$_st" -ge "${_newest:-0}" ] &&
			{ [ -n "$_want" ] || [ "$_st" -gt "${_newest:-0}" ]; }; then
			return 0
		fi
		_i=$((_i + 1))
		if [ $_i -ge $_lim ]; then
			cat "$SCR" >&2
			fail "chart legend '$(echo $_got)' != SQL truth '$(echo $_want)' for the $2 s window shown (start ${_st:-none}, newest event's window ${_newest:-none})"
		fi
		sleep 0.1
	done
}

# scr_borders COLS [WHAT]: every pane's right border is at the last column. In the last
# capture, every line of a box (starting with a corner or side: Unicode or ASCII) is exactly
# COLS characters long and ends with a right corner or side; the capture and kafka panes share
# their top line (their borders meet: "┐┌"), and there are at least the three panes' top lines.
scr_borders() {
	python3 - "$SCR" "$1" "${2:-screen}" <<'PYEOF' || fail "${2:-screen}: pane borders at ${1} columns (screen above)"
import sys
path, cols, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(path, encoding="utf-8").read().split("\n")
starts, ends = "┌│└├+|", "┐│┘┤+|"
bad, tops = [], 0
for n, l in enumerate(lines, 1):
    if not l or l[0] not in starts:
        continue
    if l[0] in "┌+" and l[-1:] in "┐+":
        tops += l.count("┌") if "┌" in l else 1
    if len(l) != cols or l[-1] not in ends:
        bad.append("line %d: %d columns, ends with %r: %r" % (n, len(l), l[-1:], l[-12:]))
side = [l for l in lines if l.startswith(("┌ capture", "+ capture", "+-capture", "┌─capture"))]
if not side or not ("┐┌" in side[0] or "++" in side[0]):
    bad.append("the capture and kafka panes do not share a top line with meeting borders: %r" % (side[:1],))
if tops < 3:
    bad.append("only %d pane top lines" % tops)
if bad:
    sys.stderr.write(open(path, encoding="utf-8").read())
    sys.stderr.write("%s: %s\n" % (what, "; ".join(bad[:6])))
    sys.exit(1)
PYEOF
}

# scr_colours: the number of colour SGR parameters (foreground/background 30-37, 40-47, 90-97,
# 100-107, 38/48) in the pane's current contents (tmux capture-pane -e); 0 for a monochrome
# screen.
scr_colours() {
	scr_tmux capture-pane -p -e >"$T/screen.esc" 2>/dev/null || : >"$T/screen.esc"
	python3 -c '
import re, sys
n = 0
for m in re.finditer(r"\x1b\[([0-9;]*)m", open(sys.argv[1], encoding="utf-8", errors="replace").read()):
    ps = [int(p) for p in m.group(1).split(";") if p]
    for p in ps:
        if 30 <= p <= 37 or 40 <= p <= 47 or 90 <= p <= 97 or 100 <= p <= 107 or p in (38, 48):
            n += 1
print(n)' "$T/screen.esc"
}

# scr_select SECONDS START: Left or Right until the chart's selected window (the pane title)
# starts at START (epoch seconds); each key waits for the title to move.
scr_select() {
	_lim=$(($1 * 10)) _i=0
	scr_cap >/dev/null
	while :; do
		_st=$(scr_shown_start)
		[ "${_st:-0}" = "$2" ] && return 0
		[ $_i -lt $_lim ] || { cat "$SCR" >&2; fail "the chart's selection did not reach window $2 within $1 s (at ${_st:-none})"; }
		if [ "${_st:-0}" -gt "$2" ]; then scr_keys Left; else scr_keys Right; fi
		_was=$_st
		while [ $_i -lt $_lim ]; do
			sleep 0.1
			_i=$((_i + 1))
			scr_cap >/dev/null
			[ "$(scr_shown_start)" != "$_was" ] && break
		done
	done
}

# scr_scroll_equal SECONDS SIZE [STEPS]: from the window shown, Left STEPS times (default 2);
# after each, waits until the legend's counts equal SQL's for the window the title names and
# that window starts before the last one. End returns to live follow. The scrollback's check.
scr_scroll_equal() {
	_n=${3:-2}
	scr_cap >/dev/null
	_prev=$(scr_shown_start)
	[ -n "$_prev" ] || fail "no window selected on the chart"
	while [ "$_n" -gt 0 ]; do
		scr_keys Left
		_lim=$(($1 * 10)) _i=0
		while :; do
			scr_cap >/dev/null
			_st=$(scr_shown_start)
			_want=
			[ -n "$_st" ] && _want=$(sql_window "$_st" "$2")
			_got=$(scr_bars | awk '$2 != 0')
			[ -n "$_st" ] && [ "$_st" -lt "$_prev" ] && [ "$_got" = "$_want" ] && break
			_i=$((_i + 1))
			if [ $_i -ge $_lim ]; then
				cat "$SCR" >&2
				fail "scrollback: window ${_st:-none} (before ${_prev}) shows '$(echo $_got)', SQL says '$(echo $_want)'"
			fi
			sleep 0.1
		done
		note "scrollback: window $_st = SQL ($(echo $_got))"
		_prev=$_st _n=$((_n - 1))
	done
	scr_keys End
}

# scr_pid: the pid of cdctop under the session's shell.
scr_pid() {
	ps -o pid= --ppid "$(scr_tmux display-message -p '#{pane_pid}')" | tr -d ' ' | head -n 1
}

# ms_now: milliseconds of the wall clock.
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# The exit hang check. The design bounds a quit to about a second (a `make bench` figure, not
# a test's): a test only catches a hang, so the limit is 5 s (3x and more over the ~1.0-1.6 s
# a busy 2-core machine measures), 15 s under sanitizers (they slow every thread's shutdown).
case "${BUILD_DIR:-}" in
*asan* | *tsan*) EXIT_MS=${EXIT_MS:-15000} ;;
*) EXIT_MS=${EXIT_MS:-5000} ;;
esac

# scr_exit_mark: the moment a quit is asked for (call right before the key or the signal).
scr_exit_mark() { SCR_T0=$(date +%s%N); }

# scr_exit_wait STATUS_ERE WHAT: waits for "EXITED <status>" (bounded well past EXIT_MS), then
# checks the time from scr_exit_mark to the moment the pane's shell saw cdctop end (measured in
# the pane, so tmux's send-keys and the capture polls are not counted) against EXIT_MS. Sets
# EXIT_DT (ms).
scr_exit_wait() {
	scr_wait $((EXIT_MS / 1000 * 3 + 10)) "EXITED $1\$" "$2"
	[ -s "$T/ui.exit_ns" ] || fail "$2: the pane's shell wrote no exit time"
	EXIT_DT=$((($(cat "$T/ui.exit_ns") - SCR_T0) / 1000000))
	note "$2: cdctop ended $EXIT_DT ms after the request (hang limit $EXIT_MS ms)"
	[ "$EXIT_DT" -le "$EXIT_MS" ] || fail "$2: cdctop took $EXIT_DT ms to exit (hang limit $EXIT_MS ms)"
}

# scr_stty_same WHAT: after cdctop exited, runs `stty -a` at the pane's prompt and compares it
# with the state saved before cdctop started (same size, modes and control characters).
scr_stty_same() {
	scr_wait 10 'cdct-prompt\$' "$1: the shell prompt"
	rm -f "$T/stty.after"
	scr_keys "stty -a >$T/stty.after; echo stty-done-\$((6*7))" Enter
	scr_wait 10 'stty-done-42' "$1: the stty probe"
	wait_for 5 '[ -s "$T/stty.after" ]' || fail "$1: no stty -a output"
	[ -s "$T/stty.before" ] || fail "$1: no stty -a from before the start"
	cmp -s "$T/stty.before" "$T/stty.after" ||
		fail "$1: the terminal was not restored: $(diff "$T/stty.before" "$T/stty.after" | tr '\n' ' ')"
}
