#!/bin/sh
# The fault keys, each pressed during continuous injection, then injection stopped: every phase
# ends with the check line agreeing with SQL's count of change rows and the histogram's bars
# equal to SQL's per-store counts, plus what the fault itself shows:
#   k  the in-process mock's brokers down: the backlog grows (> 0) and the glance line says
#      "brokers down"; k again: it drains to 0;
#   g  the next batch is held open (gap wait + 2 s): the capture pane shows a gap wait; in a
#      second run with --lateness 1s, held past the lateness, its 20 rows are counted as late
#      (late 20; the check line, which counts late rows too, agrees);
#   b  the next batch is rolled back: skipped ids show (skipped = MAX(log_id) - COUNT(*) = 20)
#      and the check line still agrees (nothing counted for them);
#   x  the relay crashes as kill -9 would: the topic holds more messages than there are change
#      rows (the high watermarks' sum grew past the rows) while the counts stay equal;
#   d  the last acknowledged messages are delivered again: "duplicates ignored" rises.
# Then the help overlay fits 80x24 in at most 17 lines (2 of its 19 left for the scrollback
# keys) and shows each new key's line in full;
# a monitor on a real cluster (-b, a standalone kafka-mock; in an ASCII locale, where the
# glance line's arrows are ->) says that k needs the in-process mock; on a foreign (Debezium) topic every fault key says it needs cdctop's own pipeline and
# the help lists neither them nor the inject keys.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
case "${BUILD_DIR:-}" in
*asan* | *tsan*) SLOW=4 ;;
*) SLOW=1 ;;
esac
t_db
rows() { sql 'SELECT COUNT(*) FROM users_change_events'; }
# high: the sum of the partitions' high watermarks, from the kafka pane's "all" row.
high() { sed -En 's/.*│ all +[0-9,]+ +([0-9,]+) .*/\1/p' "$SCR" | tr -d ',' | head -n 1; }
shown() { scr_num "$1"; }
# acked: the glance line's relay figure, the messages Kafka acknowledged from the relay.
acked() { grep -Eo '→ relay [0-9,]+' "$SCR" | tr -d ',' | grep -Eo '[0-9]+' | head -n 1; }

# settled WHAT: injection off (if on), then the check line agrees with SQL's rows (read again each
# poll: a held batch may still commit) with nothing in the backlog, and (unless NOBARS: late
# rows are not in the bars) the bars equal SQL.
settled() { # WHAT [NOBARS]
	scr_cap >/dev/null
	grep -q 'auto off' "$SCR" || scr_keys I
	scr_wait 5 'auto off' "$1: continuous injection off"
	_lim=$((30 * SLOW * 10)) _i=0
	while :; do
		scr_cap >/dev/null
		grep -Eq "check  mysql [0-9,]+  counted [0-9,]+  ✗" "$SCR" &&
			fail "$1: the check line shows a mismatch: $(grep 'check  ' "$SCR")"
		_n=$(rows)
		_c=$(thousands "$_n")
		grep -q "check  mysql $_c  counted $_c  ✓" "$SCR" && grep -Eq 'backlog +0 ' "$SCR" &&
			[ "$_n" = "$(rows)" ] && break
		_i=$((_i + 1))
		if [ $_i -ge $_lim ]; then
			cat "$SCR" >&2
			fail "$1: the check line did not agree with SQL's $_n rows within $((30 * SLOW)) s"
		fi
		sleep 0.1
	done
	[ -n "${2:-}" ] || scr_bars_equal $((15 * SLOW)) 3600
	note "$1: settled at $_n rows: $(grep -o 'check  .*✓' "$SCR")"
}

scr_start 120 40 --datadir "$DBDIR" -w 1h --gap-wait 1s --seed 15
scr_wait $((30 * SLOW)) 'kafka: mock 127\.0\.0\.1' "start-up"
scr_wait 10 'no registrations' "the empty histogram"
scr_wait 10 ' inject 0 → mysql 0 → change log 0 → relay 0 → kafka 0 → consumer 0 → windows 0' \
	"the glance line at rest"

note "k: the mock's brokers down, then up"
scr_keys I
scr_wait 10 'customers +[1-9]' "injection running"
scr_keys k
scr_wait $((5 * SLOW)) 'k: all 3 mock brokers down' "k's answer"
scr_wait $((10 * SLOW)) 'backlog +[1-9][0-9,]* ' "a backlog while the brokers are down"
scr_wait 5 'relay [0-9,]+ brokers down → kafka' "the glance line's brokers down"
scr_keys k
scr_wait $((5 * SLOW)) 'k: the 3 mock brokers are up again' "k's second answer"
settled k

note "g: the next batch held open past the gap wait"
scr_keys I
scr_wait 10 'auto 20/s' "injection on"
scr_keys g
scr_wait $((10 * SLOW)) 'g: holding a batch of 20 open for 3s' "g's answer"
scr_wait $((5 * SLOW)) 'gap wait +#[0-9]+ ' "the gap wait in the capture pane"
scr_wait $((10 * SLOW)) 'g: committed the held batch of 20' "the held batch committed"
settled g

note "b: the next batch rolled back"
scr_keys I
scr_wait 10 'auto 20/s' "injection on"
scr_keys b
scr_wait $((10 * SLOW)) 'b: rolled back a batch of 20' "b's answer"
# the ids show as a gap once a later batch commits above them, skipped after the gap wait
scr_wait $((10 * SLOW)) 'skipped 20 ' "the 20 rolled-back ids skipped"
settled b
gap=$(sql 'SELECT MAX(log_id) - COUNT(*) FROM users_change_events')
assert_eq "$gap" 20 "ids taken and never committed"

note "x: the relay crashes (kill -9) and restarts"
scr_cap >/dev/null
d0=$(($(high) - $(rows)))
dup0=$(shown 'duplicates ignored')
scr_keys I
scr_wait 10 'auto 20/s' "injection on"
scr_keys x
scr_wait $((5 * SLOW)) 'x: relay (crashed|restarted)' "x's answer"
settled x
d1=$(($(high) - $(rows)))
dup1=$(shown 'duplicates ignored')
note "x: topic minus rows $d0 -> $d1, duplicates ignored $dup0 -> $dup1"
[ "$d1" -gt "$d0" ] || fail "x: no message reached the topic twice (high watermarks minus rows $d0 -> $d1)"
[ "$dup1" -gt "$dup0" ] || fail "x: the consumer ignored no duplicate ($dup0 -> $dup1)"

note "d: the last acknowledged messages delivered again"
# x's restart emptied the relay's ring of acknowledged messages, and x may have left fewer
# than 20 in it since (only the rows after saved progress went again): d is pressed once a
# batch injected now is acknowledged too, so the ring holds at least the 20 d answers for.
scr_cap >/dev/null
r0=$(acked)
scr_keys I
scr_wait 10 'auto 20/s' "injection on"
_i=0
while scr_cap >/dev/null && [ "$(acked)" -lt $((r0 + 20)) ]; do
	_i=$((_i + 1))
	[ $_i -lt $((10 * SLOW * 10)) ] || fail "d: the relay acknowledged no batch within $((10 * SLOW)) s of injection on (relay $r0 -> $(acked))"
	sleep 0.1
done
scr_keys d
scr_wait $((5 * SLOW)) 'd: produced the last 20 acknowledged messages again' "d's answer"
settled d
dup2=$(shown 'duplicates ignored')
note "d: duplicates ignored $dup1 -> $dup2"
[ "$dup2" -ge $((dup1 + 20)) ] || fail "d: duplicates ignored rose from $dup1 to $dup2, not by 20"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"

note "help at 80x24"
scr_resize 80 24
scr_wait 5 '│ check  mysql' "the 80x24 layout"
scr_keys '?'
scr_wait 5 'help · any key closes' "the help overlay"
scr_wait 5 '│ glance: ' "the help's last line at 80x24"
# help_box: the help overlay's text lines (inside its border), from the last capture.
help_box() {
	python3 - "$SCR" <<'PYEOF'
import sys
rows = open(sys.argv[1], encoding="utf-8").read().split("\n")
top = next(i for i, r in enumerate(rows) if "help · any key closes" in r)
left = rows[top].index("┌")
right = rows[top].rindex("┐")
for r in rows[top + 1:]:
    if r[left] == "└":
        break
    print(r[left + 1:right].rstrip())
PYEOF
}
help_box >"$T/help.txt"
n=$(sed -n '/^ *keys$/,/^ *glance: /p' "$T/help.txt" | wc -l)
note "the help at 80x24: $n lines (19 fit)"
[ "$n" -le 19 ] || fail "the help at 80x24 takes $n lines, more than 19: $(cat "$T/help.txt")"
for k in 'k       mock brokers down / up' 'x       crash the relay (kill -9)' \
	'g       hold next batch open' 'b       roll back the next batch' \
	'd       re-deliver the last 20 acknowledged messages (duplicates)' \
	'i       inject one batch' 'q Q F10 quit, saving progress' \
	"glance:  each hop's count and what waits between (above status)"; do
	grep -qF -- "$k" "$T/help.txt" || fail "the help at 80x24 does not show '$k' in full: $(cat "$T/help.txt")"
done
scr_keys Escape
scr_wait_gone 5 'any key closes' "the help closed"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q"

note "g again with --lateness 1s: the held rows are late"
# single batches, seconds apart (no disorder of their own a slow build could make late): g and
# i hold one, the next i commits above it; by its commit the watermark has passed it
scr_start 120 40 --datadir "$DBDIR" -w 1h --gap-wait 1s --lateness 1s --seed 16
scr_wait $((30 * SLOW)) 'kafka: mock 127\.0\.0\.1' "the second start"
scr_wait $((15 * SLOW)) 'late 0 ' "no late rows before g"
scr_keys g
scr_wait $((10 * SLOW)) 'g: the next batch will be held open for 3s \(press i or I\)' "g's answer with injection off"
scr_keys i
scr_wait 10 'g: holding a batch of 20 open for 3s' "the held batch"
n0=$(rows)
scr_keys i
wait_for 10 '[ "$(rows)" -gt "$n0" ]' || fail "the batch after the held one was not written"
scr_wait $((5 * SLOW)) 'gap wait +#[0-9]+ ' "the gap wait below the later batch"
scr_wait $((10 * SLOW)) 'g: committed the held batch of 20' "the held batch committed"
settled "g, --lateness 1s" nobars
scr_wait 5 'late 20 ' "the held batch's 20 rows counted as late"
scr_keys q
scr_wait 10 'EXITED 0' "exit"

note "k with -b naming a cluster: needs the in-process mock"
t_mock 1
SCR_LANG=C scr_start 120 40 --datadir "$DBDIR" -w 1h -b "$BOOT"
scr_wait $((30 * SLOW)) "kafka: $BOOT" "start-up on -b"
# (in an ASCII locale the glance line's arrows are ->)
scr_wait $((15 * SLOW)) ' inject 0 -> mysql [0-9,]+ -> change log [0-9,]+ -> relay [0-9,]+ -> kafka' \
	"the glance line in ASCII"
scr_keys k
scr_wait $((5 * SLOW)) 'k: needs the in-process mock cluster' "k's answer on a real cluster"
scr_keys q
scr_wait 10 'EXITED 0' "exit"

note "a foreign (Debezium) topic: the fault keys need cdctop's own pipeline, the help leaves them out"
dbz_send dbz.f 0 off snap1 create4
scr_start 80 24 -b "$BOOT" -t dbz.f --format debezium -w 1h
scr_wait $((30 * SLOW)) 'capture: Debezium topic' "start-up on a foreign topic"
for k in k x g b d; do
	scr_keys "$k"
	scr_wait 5 "$k: needs cdctop's own pipeline" "$k on a foreign topic"
done
scr_keys '?'
scr_wait 5 'help · any key closes' "the foreign topic's help"
scr_wait 5 '│ glance: ' "the foreign topic's help, its last line"
help_box >"$T/help.txt"
for k in ' i ' ' I ' ' k ' ' x ' ' g ' ' b ' ' d ' '< >' '[ ]' 'faults'; do
	! grep -qF -- "$k" "$T/help.txt" || fail "the foreign topic's help lists '$k': $(cat "$T/help.txt")"
done
grep -q '+ - = _' "$SCR" || fail "the foreign topic's help lacks the window keys"
scr_keys Escape
scr_keys q
scr_wait 10 'EXITED 0' "exit"
note "ok"
