#!/bin/sh
# t_checkpoint.sh - the monitor's window state outlives it (issue 11, items 1 and 6). Three
# batches, the check line "mysql 60  counted 60  ✓", quit: the state dir (--datadir) holds the
# checkpoint windows-<topic>-<hash>.ckpt. A restart says "restored from the checkpoint: 60
# events" and agrees with MySQL at once, with no late events; so does a restart after the
# monitor was killed with SIGKILL (the checkpoint of the last second, 80 events). A damaged
# checkpoint - truncated to half, one byte flipped in the middle, one byte flipped 8 bytes
# before the end - is never restored: each gives a status line naming the file and the damage,
# and a rebuild from MySQL's change log; then the check line agrees with SQL, the bars equal
# SQL, and a new batch is counted too (a corrupted dedup set would swallow it): never a wrong
# count. Another topic (-t) keeps its own checkpoint file and leaves this one alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"

case "${BUILD_DIR:-}" in
*asan* | *tsan*) SLOW=4 ;;
*) SLOW=1 ;;
esac
TOPIC=cdc.sakila.customer

# ckpt_files [TOPIC]: the checkpoint files of a topic in the state dir.
ckpt_files() {
	ls "$DBDIR"/windows-"${1:-$TOPIC}"-*.ckpt 2>/dev/null || true
}

# check_ok N WHAT: the check line agrees, with mysql N; no mismatch shows meanwhile.
check_ok() {
	_lim=$((30 * SLOW * 10)) _i=0
	while :; do
		scr_cap >/dev/null
		grep -Eq "check  mysql [0-9,]+  counted [0-9,]+  ✗" "$SCR" &&
			fail "$2: the check line shows a mismatch: $(grep 'check  ' "$SCR")"
		grep -q "check  mysql $1  counted $1  ✓" "$SCR" && return 0
		_i=$((_i + 1))
		if [ $_i -ge $_lim ]; then
			cat "$SCR" >&2
			fail "$2: the check line did not show 'mysql $1  counted $1  ✓' within $((30 * SLOW)) s"
		fi
		sleep 0.1
	done
}

# start_mon WHAT [ARGS]: starts the monitor on the private server, waits for its screen.
start_mon() {
	_what=$1
	shift
	scr_start 120 40 --datadir "$DBDIR" -w 1h "$@"
	scr_wait $((30 * SLOW)) 'kafka: mock 127\.0\.0\.1' "$_what: start-up"
}

# quit_mon WHAT: q, exit 0, nothing on stderr.
quit_mon() {
	scr_keys q
	scr_wait $((30 * SLOW)) 'EXITED [0-9]+$' "$1: exit"
	grep -q 'EXITED 0$' "$SCR" || fail "$1: $(grep EXITED "$SCR"): $(cat "$T/ui.err")"
	[ ! -s "$T/ui.err" ] || fail "$1: stderr: $(cat "$T/ui.err")"
}

# status_seen SECONDS ERE WHAT [BAD_ERE]: the status line (the screen's second-to-last line)
# shows ERE at some capture within the time, and never BAD_ERE meanwhile; every status line seen
# is kept in $T/status.seen.
status_seen() {
	_end=$(($(ms_now) + $1 * 1000))
	: >"$T/status.seen"
	while :; do
		scr_cap >/dev/null
		grep -v '^$' "$SCR" | tail -n 2 | head -n 1 >>"$T/status.seen"
		if [ -n "${4:-}" ] && grep -Eq -- "$4" "$T/status.seen"; then
			cat "$SCR" >&2
			fail "$3: the status line showed '$(grep -Em1 -- "$4" "$T/status.seen" | sed 's/^ *//')'"
		fi
		grep -Eq -- "$2" "$T/status.seen" && return 0
		if [ "$(ms_now)" -ge "$_end" ]; then
			cat "$SCR" >&2
			fail "$3: the status line never showed /$2/ within $1 s; it showed: $(sort -u "$T/status.seen" | tr '\n' '|')"
		fi
		sleep 0.1
	done
}

# damaged_restart WHAT N: a restart on a damaged checkpoint (N change rows in MySQL) never
# restores it, names the damage (one line naming the file: the path may be shortened) and
# rebuilds from MySQL; the counts equal SQL, never a wrong count on the way; then a batch
# injected after the rebuild is counted as well (N + 20).
damaged_restart() {
	start_mon "$1"
	: >"$T/status.all"
	status_seen $((30 * SLOW)) "windows: rebuilt from MySQL's change log: $2 rows" "$1: the rebuild" \
		'restored from the checkpoint'
	cat "$T/status.seen" >>"$T/status.all"
	note "$1: $(grep -m1 'rebuilt from' "$T/status.all" | sed 's/^ *//')"
	if ! grep -Eq "checkpoint [^ ]*windows-$TOPIC-[0-9a-f]+\.ckpt is damaged \(" "$T/status.all"; then
		status_seen $((5 * SLOW)) "checkpoint [^ ]*windows-$TOPIC-[0-9a-f]+\.ckpt is damaged \(" \
			"$1: the damage" 'restored from the checkpoint'
		cat "$T/status.seen" >>"$T/status.all"
	fi
	note "$1: $(grep -m1 'is damaged' "$T/status.all" | sed 's/^ *//')"
	check_ok "$2" "$1"
	scr_bars_equal $((15 * SLOW)) 3600
	scr_keys i
	scr_wait $((15 * SLOW)) "customers +$(($2 + 20)) " "$1: customers after a batch"
	assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" $(($2 + 20)) "$1: change rows in MySQL"
	check_ok $(($2 + 20)) "$1, a batch later"
	scr_bars_equal $((15 * SLOW)) 3600
	grep -q 'late 0 ' "$SCR" || fail "$1: late events: $(grep 'late ' "$SCR")"
	quit_mon "$1"
}

# until_ms MS 'condition': polls the condition until it holds or MS of wall time passed.
until_ms() {
	_end=$(($(ms_now) + $1))
	while ! eval "$2" >/dev/null 2>&1; do
		[ "$(ms_now)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

# flip_byte FILE POS: XORs the byte at POS (negative: from the end) with 0x5a.
flip_byte() {
	python3 - "$1" "$2" <<'PYEOF'
import sys
p, i = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[i] ^= 0x5a
open(p, "wb").write(b)
PYEOF
}

# The bars show the window of MySQL's clock (it follows the clock while idle), and every batch
# of this test must be in it: a test running across the top of the hour would compare an empty
# new hour with the old one. Close to it, wait (bounded) until the hour is 2 s old.
guard=$((60 * SLOW))
left=$((3600 - $(date -u +%s) % 3600))
if [ "$left" -lt "$guard" ]; then
	note "$left s to the top of the hour: waiting for the new hour's window"
	until_ms $(((left + 10) * 1000)) '[ $(($(date -u +%s) % 3600)) -ge 2 ] && [ $(($(date -u +%s) % 3600)) -lt 600 ]' ||
		fail "the hour did not turn"
fi

t_db
start_mon "first run"
for k in 1 2 3; do
	scr_keys i
	scr_wait $((15 * SLOW)) "customers +$((k * 20)) " "customers after batch $k"
done
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 60 "change rows in MySQL"
check_ok 60 "first run"
scr_bars_equal $((15 * SLOW)) 3600
quit_mon "first run"
CK=$(ckpt_files)
[ -n "$CK" ] || fail "no checkpoint windows-$TOPIC-*.ckpt in $DBDIR: $(ls "$DBDIR")"
assert_eq "$(echo "$CK" | wc -l | tr -d ' ')" 1 "checkpoint files of $TOPIC ($CK)"
[ -s "$CK" ] || fail "the checkpoint $CK is empty"
note "checkpoint: $CK ($(wc -c <"$CK" | tr -d ' ') bytes)"

# restart: restored, and equal at once
start_mon "restart"
status_seen $((30 * SLOW)) 'windows: restored from the checkpoint: 60 events' "restart" 'damaged|rebuilt from'
check_ok 60 "restart"
scr_bars_equal $((15 * SLOW)) 3600
grep -q 'late 0 ' "$SCR" || fail "restart: late events: $(grep 'late ' "$SCR")"
note "restart: restored from the checkpoint: 60 events, check line ok"

# kill -9: no checkpoint at quit, the one of the last second is restored. A batch, the check
# line agreeing, then a checkpoint written after that (it is rewritten at most each second
# while anything moves, the source clock included), then SIGKILL.
scr_keys i
scr_wait $((15 * SLOW)) "customers +80 " "customers before the kill"
check_ok 80 "before the kill"
sum0=$(cksum <"$CK")
until_ms $((10000 * SLOW)) '[ "$(cksum <"$CK")" != "$sum0" ]' ||
	fail "no checkpoint written within $((10 * SLOW)) s after the batch was counted"
MP=$(scr_pid)
[ -n "$MP" ] || fail "no monitor process"
kill -KILL "$MP"
# SIGKILL leaves the screen as it was, so "EXITED 137" may wrap anywhere: the pane's shell
# writes the moment cdctop ended to ui.exit_ns
until_ms $((15000 * SLOW)) '! kill -0 "$MP" && [ -s "$T/ui.exit_ns" ]' ||
	fail "the monitor was still running $((15 * SLOW)) s after SIGKILL"
start_mon "after kill -9"
status_seen $((30 * SLOW)) 'windows: restored from the checkpoint: 80 events' "after kill -9" 'damaged|rebuilt from'
check_ok 80 "after kill -9"
scr_bars_equal $((15 * SLOW)) 3600
grep -q 'late 0 ' "$SCR" || fail "after kill -9: late events: $(grep 'late ' "$SCR")"
quit_mon "after kill -9"
note "kill -9: restored from the checkpoint: 80 events, check line ok"

# a truncated checkpoint
sz=$(wc -c <"$CK" | tr -d ' ')
head -c $((sz / 2)) "$CK" >"$T/half" && cat "$T/half" >"$CK"
assert_eq "$(wc -c <"$CK" | tr -d ' ')" $((sz / 2)) "size of the truncated checkpoint"
damaged_restart "truncated checkpoint" 80

# one byte flipped in a fresh checkpoint (written at the last quit): in the middle, then 8
# bytes before the end (where the seen-id set ends)
n=100
for pos in ${CKPT_FLIPS:-middle -8}; do # CKPT_FLIPS: other places (bytes from the start, or from the end if negative)
	[ -s "$CK" ] || fail "no fresh checkpoint after the rebuild"
	sz=$(wc -c <"$CK" | tr -d ' ')
	[ "$pos" = middle ] && at=$((sz / 2)) || at=$pos
	flip_byte "$CK" "$at"
	assert_eq "$(wc -c <"$CK" | tr -d ' ')" "$sz" "size of the flipped checkpoint"
	damaged_restart "one byte flipped at $at of $sz" $n
	n=$((n + 20))
done

# another topic: its own checkpoint file; this topic's is left as it was
cp "$CK" "$T/ck.before"
start_mon "-t other.topic" -t other.topic
check_ok $n "-t other.topic"
quit_mon "-t other.topic"
CK2=$(ckpt_files other.topic)
[ -n "$CK2" ] || fail "no checkpoint windows-other.topic-*.ckpt in $DBDIR: $(ls "$DBDIR")"
[ "$CK2" != "$CK" ] || fail "-t other.topic wrote the same checkpoint file"
cmp -s "$CK" "$T/ck.before" || fail "-t other.topic changed $CK"
assert_eq "$(ckpt_files | wc -l | tr -d ' ')" 1 "checkpoint files of $TOPIC after -t other.topic"
note "-t other.topic: $CK2"
note "ok"
