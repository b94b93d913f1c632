#!/bin/sh
# s_ui.sh - the full monitor (`cdctop --datadir D -b BOOT` under tmux, -b at a standalone
# kafka-mock so the topic outlives the monitor) killed mid-inject: continuous injection on
# (`I`), rows growing, then SIGTERM: exit 0 and the terminal restored (the pane's shell
# prompt comes back and `stty -a` there equals `stty -a` before the start); then with SIGKILL
# (3 times; short: once). Either way a `relay --once` afterwards and the exact reconciliation. Skipped (exit
# 77, which t_chaos reports as a skip) only when tmux is missing.
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || ch_skip "tmux is not installed"
. "$CH_DIR/../screen.sh"

t_db
mock_fifo 3

# run_ui SIGNAL: starts the monitor, turns continuous injection on, waits until rows are being
# written and relayed, kills it with SIGNAL mid-inject.
run_ui() {
	scr_start 120 40 --datadir "$DBDIR" -b "$BOOT"
	scr_wait 30 '┌ capture ' "the monitor ($1 run)"
	n0=$(max_id)
	scr_keys I
	ch_rand 1 5 # batches of 20 this run writes at least before the kill
	want=$((n0 + R * 20))
	wait_for 30 '[ "$(max_id)" -ge "$want" ]' || fail "$1 run: continuous injection wrote $(($(max_id) - n0)) rows in 30 s"
	wait_for 30 '[ "$(progress)" -gt "$n0" ]' || fail "$1 run: the monitor's relay relayed nothing"
	pid=$(scr_pid)
	[ -n "$pid" ] || fail "no cdctop process under the tmux pane"
	ch_rand 0 700
	ch_sleep_ms $R
	kill -"$1" "$pid" || fail "the monitor had exited before $1"
	before=$(max_id)
}

run_ui TERM
scr_wait 10 'EXITED 0' "exit status 0 after SIGTERM"
scr_wait 5 'cdct-prompt\$' "the shell prompt after SIGTERM"
scr_stty_same "SIGTERM mid-inject" # stty -a equal to the one saved before the start
note "SIGTERM mid-inject at $before rows: exit 0, the prompt back, stty -a as before the start"
ch_relay_once "$T/relay.term.log"
ch_reconcile "after the monitor's SIGTERM"
scr_tmux kill-server

KILLS=$(scale 3 1)
i=1
while [ $i -le $KILLS ]; do
	run_ui KILL
	wait_for 10 "[ ! -d /proc/$pid ]" || fail "the monitor $pid outlived SIGKILL"
	# the screen is not restored after SIGKILL: the status line may wrap, so join wrapped lines
	wait_for 10 'scr_tmux capture-pane -p -J | grep -q "EXITED 137"' ||
		fail "no exit status 137 after SIGKILL: $(scr_tmux capture-pane -p -J | tail -n 4)"
	note "SIGKILL $i mid-inject at $before rows"
	ch_relay_once "$T/relay.kill.$i.log"
	ch_reconcile "after the monitor's SIGKILL $i"
	scr_tmux kill-server
	i=$((i + 1))
done
fig kills "$KILLS"
fig ui_kills "$KILLS"
fig ui_terms 1
ch_done "monitor killed mid-inject with SIGTERM (terminal restored: stty -a as before) and $KILLS SIGKILL(s); relay --once after each; $CH_ROWS rows reconciled, lost 0, double-counted 0"
