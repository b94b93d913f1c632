#!/bin/sh
# The monitor's other keys do what the help says, each checked by its effect: `]` `[` change
# the batch size (`i` then writes exactly that many customers, by SQL); `<` `>` change the
# continuous-injection rate (at 1/s with batches of 1, `I` writes a few customers in 4 s,
# not the default 20/s); `p` freezes the display while the pipeline keeps relaying (SQL
# progress moves, the screen's figures do not) and `p` again shows the new figures; Ctrl-L
# repaints a screen that something else scribbled on; `h` and F1 open the help overlay; F10
# quits with exit 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
. "$(dirname "$0")/tools/relay.sh"
t_db
customers() { sql 'SELECT COUNT(*) FROM customer'; }

scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait 30 'kafka: mock 127\.0\.0\.1' "start-up"
scr_wait 10 '\[ \] batch 20 ' "the batch size in the key hints"

note "] [: batch size"
scr_keys ']'
scr_wait 5 '\[ \] batch 50 ' "batch 50 after ]"
scr_keys i
scr_wait 10 'customers +50 ' "the batch of 50"
assert_eq "$(customers)" 50 "customers after i with batch 50"
scr_keys '[' '[' '['
scr_wait 5 '\[ \] batch 5 ' "batch 5 after [ three times (20 10 5)"
scr_keys i
scr_wait 10 'customers +55 ' "the batch of 5"
assert_eq "$(customers)" 55 "customers after i with batch 5"

note "< >: rate"
scr_keys '>'
scr_wait 5 '< > rate 50/s ' "rate 50/s after >"
scr_keys '<' '<' '<' '<'
scr_wait 5 '< > rate 2/s ' "rate 2/s after < four times (20 10 5 2)"
scr_keys '<' '[' '['
scr_wait 5 '< > rate 1/s ' "rate 1/s"
scr_wait 5 '\[ \] batch 1 ' "batch 1"
c0=$(customers)
scr_keys I
scr_wait 5 'auto 1/s' "continuous injection on at 1/s"
sleep 4 # the measured interval of a rate check (not a wait for a condition)
scr_keys I
scr_wait 5 'auto off' "continuous injection off"
wait_for 5 '[ "$(customers)" = "$(sleep 0.5; customers)" ]' || fail "injection did not stop"
n=$(($(customers) - c0))
note "I at 1/s with batches of 1 for ~4 s: $n customers"
[ "$n" -ge 1 ] && [ "$n" -le 8 ] || fail "continuous injection at 1/s wrote $n customers in ~4 s (expected about 4; 20/s would be ~80)"

note "p: the display freezes, the pipeline does not"
scr_wait 15 "customers +$(customers) " "the customer count before the pause"
scr_bars_equal 15 3600
scr_keys p
scr_wait 5 ' PAUSED' "the PAUSED mark"
shown=$(customers)
scr_keys i
wait_for 15 '[ "$(progress)" = "$(sql "SELECT MAX(log_id) FROM users_change_events")" ] &&
	[ "$(customers)" -gt "$shown" ]' || fail "the pipeline did not write and relay a batch while paused"
sleep 2 # a frozen display is the absence of change: give a running one time to show it
scr_cap >/dev/null
grep -Eq "customers +$shown " "$SCR" || fail "the paused display changed: $(grep -E 'customers' "$SCR")"
scr_keys p
scr_wait_gone 5 ' PAUSED' "the PAUSED mark after p again"
scr_wait 10 "customers +$(customers) " "the new count after resuming"
scr_bars_equal 15 3600

note "Ctrl-L: repaint"
tty=$(scr_tmux display-message -p '#{pane_tty}')
# written straight to the terminal, behind curses' back, into a histogram row that stays blank
printf '\033[30;20HSCRIBBLED-BY-THE-TEST' >"$tty"
scr_wait 5 'SCRIBBLED-BY-THE-TEST' "the scribble"
sleep 2 # without Ctrl-L the scribble stays (the control for the check below)
scr_cap >/dev/null
grep -q 'SCRIBBLED-BY-THE-TEST' "$SCR" || fail "the scribble went away by itself: the Ctrl-L check would prove nothing"
scr_keys C-l
scr_wait_gone 5 'SCRIBBLED-BY-THE-TEST' "the scribble after Ctrl-L"
scr_wait 5 '┌ registrations per store' "the panes after Ctrl-L"

note "h, F1: help"
c1=$(customers)
for k in h F1; do
	scr_keys "$k"
	scr_wait 5 'help · any key closes' "the help overlay after $k"
	scr_keys x
	scr_wait_gone 5 'any key closes' "the help overlay after $k and x"
done

note "F10: quit"
scr_exit_mark
scr_keys F10
scr_exit_wait 0 "F10"
scr_stty_same "F10"
assert_eq "$(customers)" "$c1" "customers after the help keys and F10"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
note "ok"
