#!/bin/sh
# t_relay_lock.sh - one relay per database and topic (issue 11, item 4). A background
# `cdctop relay` that is relaying holds the lock: a `relay --once` on the same database and
# topic is refused with one line naming the holder (a live MySQL connection, user@host) and
# what to do, exit 1, and relays nothing; a relay on another topic (-t) works. kill -9 of the
# holder releases the lock (its connection dies with it): a new `relay --once` succeeds within
# a bounded few tries and its progress reaches the rows written meanwhile. Then two monitors
# on one state dir: the second prints the same one line on stderr and exits 1 while the first
# keeps running (it still injects and quits with 0), and a headless relay is refused while the
# monitor holds the lock, though the monitor's Kafka is another (in-process) cluster: the lock
# is on the database and topic, not on the cluster.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"
. "$(dirname "$0")/screen.sh"

case "${BUILD_DIR:-}" in
*asan* | *tsan*) SLOW=4 ;;
*) SLOW=1 ;;
esac

# the refusal: one line naming the holder's connection and user@host, the database, the topic
# and the two ways out
REFUSED="^cdctop: another cdctop relay \(MySQL connection [0-9]+, [^ ,()]+@[^ ,()]+\) is relaying sakila to topic $TOPIC: stop it first, or use another topic with -t$"

# holder_of FILE: the MySQL connection id named in a refusal.
holder_of() {
	sed -n 's/.*(MySQL connection \([0-9][0-9]*\),.*/\1/p' "$1" | head -n 1
}

# conn_alive ID: the connection is in MySQL's process list.
conn_alive() {
	[ "$(sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = $1")" = 1 ]
}

# refused_rc CMD...: the exit status of a command expected to be refused (bounded).
refused_rc() {
	set +e
	timeout 30 "$@" >/dev/null 2>"$T/rc.err"
	_st=$?
	set -e
	echo "$_st"
}

t_db
t_mock 3
note "mock at $BOOT"

bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay1.log"
R1=$!
"$CDCTOP" inject --datadir "$DBDIR" -n 20 --seed 3 >/dev/null || fail "inject 1"
wait_for $((30 * SLOW)) '[ "$(progress)" -ge "$(max_id)" ] && [ "$(max_id)" -gt 0 ]' ||
	fail "the background relay did not relay the first batch (progress $(progress) of $(max_id)): $(tail -n 5 "$T/relay1.log")"
kill -0 "$R1" || fail "the background relay exited: $(tail -n 5 "$T/relay1.log")"
note "background relay $R1 relayed $(max_id) rows"

# a second relay on the same database and topic: refused, one line, exit 1, nothing relayed
"$CDCTOP" inject --datadir "$DBDIR" -n 20 --seed 4 >/dev/null || fail "inject 2"
hw0=$(kcat -b "$BOOT" -C -t "$TOPIC" -e -q -f '%o\n' 2>/dev/null | wc -l | tr -d ' ')
expect_error "$REFUSED" "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR"
H=$(holder_of "$T/ee.err")
[ -n "$H" ] || fail "no connection id in '$(cat "$T/ee.err")'"
conn_alive "$H" || fail "the refusal names MySQL connection $H, which is not connected: $(cat "$T/ee.err")"
note "refused: $(cat "$T/ee.err")"
assert_eq "$(refused_rc "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR")" 1 \
	"exit status of the refused relay --once ($(cat "$T/rc.err"))"
assert_eq "$(refused_rc "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR")" 1 \
	"exit status of a refused second background relay ($(cat "$T/rc.err"))"
grep -Eq "$REFUSED" "$T/rc.err" || fail "a second background relay said: $(cat "$T/rc.err")"
kill -0 "$R1" || fail "the holder exited when a second relay was refused: $(tail -n 5 "$T/relay1.log")"
# the refused relays sent nothing: the topic holds what the holder sent (it relays batch 2
# itself: wait for that, then every log_id is on the topic exactly once)
wait_for $((30 * SLOW)) '[ "$(progress)" -ge "$(max_id)" ]' || fail "the holder did not relay batch 2"
topic_dump "$BOOT" >"$T/topic1"
assert_eq "$(topic_ids_of "$T/topic1" | uniq -d | wc -l | tr -d ' ')" 0 \
	"log_ids on the topic twice after refused relays (topic had $hw0 messages before them)"
sql_ids >"$T/ids1"
check_ids_on_topic "$T/ids1" "$T/topic1" "after the refusals"

# another topic is another lock: works while the holder runs, and relays every row
timeout $((120 * SLOW)) "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" -t other.topic 2>"$T/other.log" ||
	fail "relay --once -t other.topic while the holder runs: $(tail -n 5 "$T/other.log")"
assert_eq "$(progress other.topic)" "$(max_id)" "progress of other.topic"
kill -0 "$R1" || fail "the holder exited: $(tail -n 5 "$T/relay1.log")"
note "relay --once -t other.topic: relayed $(progress other.topic) rows beside the holder"

# kill -9 of the holder: the lock dies with its connection, a new relay takes over at once
kill -KILL "$R1"
wait "$R1" 2>/dev/null || true
"$CDCTOP" inject --datadir "$DBDIR" -n 20 --seed 5 >/dev/null || fail "inject 3"
want=$(max_id)
t0=$(ms_now)
tries=0
ok=
while [ $(($(ms_now) - t0)) -lt $((10000 * SLOW)) ]; do
	tries=$((tries + 1))
	set +e
	timeout $((120 * SLOW)) "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/take.log"
	st=$?
	set -e
	if [ $st = 0 ]; then
		ok=1
		break
	fi
	# only the lock of the dead holder (not yet noticed by MySQL) is worth another try
	grep -Eq "$REFUSED" "$T/take.log" || fail "relay --once after kill -9 failed (exit $st): $(tail -n 5 "$T/take.log")"
	sleep 0.05
done
dt=$(($(ms_now) - t0))
[ -n "$ok" ] || fail "no relay --once took over within $((10 * SLOW)) s of kill -9 ($tries tries): $(cat "$T/take.log")"
conn_alive "$H" && fail "MySQL connection $H of the killed relay is still connected"
assert_eq "$(progress)" "$want" "progress after the takeover"
topic_dump "$BOOT" >"$T/topic2"
sql_ids >"$T/ids2"
check_ids_on_topic "$T/ids2" "$T/topic2" "after the takeover"
note "kill -9, then relay --once took over after $dt ms ($tries tries); progress $want = max(log_id)"
[ "$dt" -le $((3000 * SLOW)) ] || fail "the takeover took $dt ms (limit $((3000 * SLOW)) ms): not at once"

# two monitors on one state dir: the second is refused with one line and exit 1
scr_start 120 40 --datadir "$DBDIR" -w 1h
MON1=$SCR_SOCK
scr_wait $((30 * SLOW)) 'kafka: mock 127\.0\.0\.1' "the first monitor's start-up"
scr_wait $((30 * SLOW)) "change rows +$want " "the first monitor's change rows"
scr_start 120 40 --datadir "$DBDIR" -w 1h
scr_wait $((30 * SLOW)) 'EXITED [0-9]+$' "the second monitor"
scr_cap >/dev/null
grep -q 'EXITED 1$' "$SCR" || fail "the second monitor: $(grep EXITED "$SCR"), expected EXITED 1; stderr: $(cat "$T/ui.err")"
assert_eq "$(grep -c . "$T/ui.err")" 1 "lines on the second monitor's stderr ($(cat "$T/ui.err"))"
grep -Eq "$REFUSED" "$T/ui.err" || fail "the second monitor said '$(cat "$T/ui.err")', expected /$REFUSED/"
note "second monitor: $(cat "$T/ui.err")"
H2=$(holder_of "$T/ui.err")
conn_alive "$H2" || fail "the second monitor names MySQL connection $H2, which is not connected"
scr_tmux kill-server 2>/dev/null || true
SCR_SOCK=$MON1

# while the monitor holds the lock, a headless relay (on another cluster) is refused too
expect_error "$REFUSED" "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR"
assert_eq "$(holder_of "$T/ee.err")" "$H2" "the holder named to the headless relay"

# the first monitor was not disturbed: it injects, relays and quits cleanly
scr_keys i
scr_wait $((15 * SLOW)) "change rows +$((want + 20)) " "the first monitor's batch"
scr_wait $((15 * SLOW)) 'backlog +0 ' "the first monitor relayed its batch"
scr_keys q
scr_wait $((30 * SLOW)) 'EXITED 0$' "the first monitor's exit"
# its lock went with it: a headless relay works again at once
timeout $((120 * SLOW)) "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/after.log" ||
	fail "relay --once after the monitor quit: $(tail -n 5 "$T/after.log")"
assert_eq "$(progress)" "$(max_id)" "progress after the monitor quit"
note "ok"
