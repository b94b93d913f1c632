#!/bin/sh
# The monitor's fallbacks: with LANG=C (not UTF-8) every box, bar and sparkline is ASCII (not
# one byte above 127 on the screen), the panes still meet at the last column and the bars
# still equal SQL; the normal screen has colours (the control), NO_COLOR=1 and TERM=vt100 (no
# colours in its terminfo) have none, vt100 draws ASCII boxes too, and each quits with the
# terminal as it was (stty -a).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db

# ascii_screen WHAT: the last capture holds only printable ASCII (and newlines).
ascii_screen() {
	! LC_ALL=C grep -n '[^ -~]' "$SCR" >"$T/nonascii" ||
		fail "$1: non-ASCII on the screen: $(head -n 3 "$T/nonascii")"
}

note "LANG=C: ASCII"
SCR_LANG=C scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up with LANG=C"
scr_keys i
scr_wait 10 'customers +20 ' "the batch"
scr_bars_equal 15 3600
scr_wait 10 '^\| *0\+[-+.]+\|$' "the chart's ASCII axis"
ascii_screen "LANG=C"
grep -q '^+ capture -' "$SCR" || fail "LANG=C: no ASCII box around the capture pane: $(sed -n 3p "$SCR")"
grep -Eq '^\| # store 1 [0-9]' "$SCR" || fail "LANG=C: no ASCII swatch for store 1: $(grep 'store 1' "$SCR" | head -n 1)"
grep -Eq '^\| *[0-9,]*[+|] .*#' "$SCR" || fail "LANG=C: no ASCII bar (#) on the chart: $(grep -E '^\| *[0-9,]*[+|] ' "$SCR" | head -n 3)"
scr_borders 120 "LANG=C"
c=$(scr_colours)
[ "$c" -gt 0 ] || fail "LANG=C under TERM=$(scr_tmux display-message -p '#{client_termname}'): no colours at all (the control for the monochrome checks)"
note "LANG=C: ASCII only, bars $(scr_bars | tr '\n' ' '), $c colour attributes"
scr_keys q
scr_wait 10 'EXITED 0' "exit (LANG=C)"
scr_stty_same "LANG=C"
scr_tmux kill-server

note "NO_COLOR=1: monochrome"
SCR_ENV='NO_COLOR=1' scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up with NO_COLOR=1"
scr_bars_equal 15 3600
scr_wait 10 '┌ capture ' "Unicode boxes (LANG is still UTF-8)"
assert_eq "$(scr_colours)" 0 "colour attributes with NO_COLOR=1"
# without colour each store has its own fill: the legend's swatches and the bars
grep -q '█ store 1 ' "$SCR" && grep -q '▓ store 2 ' "$SCR" ||
	fail "NO_COLOR=1: stores 1 and 2 without their own fills: $(grep -o '. store [12] [0-9,]* of' "$SCR" | tr '\n' ' ')"
grep -Eq '^│ *[0-9,]*[│┤] .*▓' "$SCR" || fail "NO_COLOR=1: no bar of store 2's fill (▓) on the chart"
scr_keys q
scr_wait 10 'EXITED 0' "exit (NO_COLOR=1)"
scr_stty_same "NO_COLOR=1"
scr_tmux kill-server

note "TERM=vt100: ASCII, monochrome"
SCR_ENV='TERM=vt100' scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up with TERM=vt100"
scr_bars_equal 15 3600
ascii_screen "TERM=vt100"
grep -q '^+ capture -' "$SCR" || fail "TERM=vt100: no ASCII box around the capture pane: $(sed -n 3p "$SCR")"
scr_borders 120 "TERM=vt100"
assert_eq "$(scr_colours)" 0 "colour attributes with TERM=vt100"
scr_keys q
scr_wait 10 'EXITED 0' "exit (TERM=vt100)"
scr_stty_same "TERM=vt100"
scr_cap >/dev/null
! grep -q 'registrations per store' "$SCR" || fail "TERM=vt100: the monitor's screen stayed after exit"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
note "ok"
