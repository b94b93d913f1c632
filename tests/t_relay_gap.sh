#!/bin/sh
# t_relay_gap.sh - the gap rule of the capture. (1) A transaction that holds its rows open
# (BEGIN; address + customer; SELECT SLEEP(1); COMMIT) while later rows commit: the relay waits
# at the gap (--gap-wait, default 2 s) and its row is still relayed, nothing skipped. (2) A
# rolled-back transaction's id is skipped after the wait, not forever: `relay --once` ends,
# progress moves past it, the log says skipped. (3) With --gap-wait 200ms a transaction that
# sleeps 2 s before COMMIT is skipped first, then relayed late (re-checked): its id reaches
# the topic. The topic is read back with a real consumer (tools/topic_ids).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

t_db
t_mock 3

# txn_bg NAME 'SQL after the inserts': one registration (address + customer, first_name NAME)
# in a transaction that then runs the given SQL, from a mariadb client in the background.
txn_bg() {
	bg mariadb --no-defaults -S "$SOCK" -uroot -N -B sakila -e "BEGIN;
	  INSERT INTO address (address, district, city_id, phone)
	    VALUES ('1 Gap Road', 'Gap', (SELECT MIN(city_id) FROM city), '555-0100');
	  INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date)
	    VALUES (1, '$1', 'Gap', '$1@example.org', LAST_INSERT_ID(), 1, NOW());
	  $2" >"$T/txn.$1.out" 2>&1
	TXN=$!
}

# sleeping: 1 when a client sits in SELECT SLEEP (its inserts are done, ids taken).
sleeping() {
	sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'"
}

# id_of NAME: the log_id of the change row of customer NAME ('' if not visible).
id_of() {
	sql "SELECT log_id FROM users_change_events WHERE first_name = '$1'"
}

# on_topic ID: the id is on the topic.
on_topic() {
	"$TOOLS/topic_ids" -b "$BOOT" -t "$TOPIC" -T 30 | cut -f3 | grep -qx "$1"
}

skipped() {
	sql "SELECT skipped FROM latest_cdc_timestamp WHERE topic = '$TOPIC'"
}

inject() {
	"$CDCTOP" inject --datadir "$DBDIR" -n "$1" --batches 1 >/dev/null || fail "inject"
}

# --- (0) the very first id held open while later ones commit: the gap rule applies before
# the first row too (log_id 1 in flight, 2.. visible)
txn_bg First "SELECT SLEEP(1); COMMIT;"
wait_for 10 '[ "$(sleeping)" = 1 ]' || fail "the first transaction never reached its SLEEP"
inject 5
timeout 60 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay0.log" ||
	fail "relay --once failed: $(tail -n 5 "$T/relay0.log")"
wait "$TXN" || fail "the first transaction failed: $(cat "$T/txn.First.out")"
FIRST=$(id_of First)
assert_eq "$FIRST" 1 "log_id of the first registration"
on_topic "$FIRST" || fail "the first row (log_id 1, held open) is not on the topic: $(cat "$T/relay0.log")"
assert_eq "$(skipped)" 0 "skipped counter after the first-id gap"
note "(0) log_id 1 held open 1 s before any row was relayed: waited for and relayed"

# --- (1) a transaction held open for 1 s while later rows commit: waited for, relayed
inject 20
bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay1.log"
RP=$!
wait_for 30 '[ "$(progress)" = "$(max_id)" ]' || fail "relay did not catch up: $(cat "$T/relay1.log")"
before=$(max_id)
txn_bg Held "SELECT SLEEP(1); COMMIT;"
wait_for 10 '[ "$(sleeping)" = 1 ]' || fail "the held transaction never reached its SLEEP: $(cat "$T/txn.Held.out")"
inject 20 # commits while Held is open: ids above Held's
assert_eq "$(sql "SELECT MIN(log_id) FROM users_change_events WHERE log_id > $before")" "$((before + 2))" \
	"first visible id after the held one (the gap is at $((before + 1)))"
wait_for 10 "! kill -0 $TXN" || fail "the held transaction did not finish"
wait "$TXN" || fail "the held transaction failed: $(cat "$T/txn.Held.out")"
HELD=$(id_of Held)
assert_eq "$HELD" "$((before + 1))" "log_id of the held transaction's row"
wait_for 30 '[ "$(progress)" = "$(max_id)" ]' || fail "relay stuck at $(progress) of $(max_id): $(tail -n 5 "$T/relay1.log")"
on_topic "$HELD" || fail "the held row $HELD is not on the topic"
log_has "$T/relay1.log" "waiting for gap at log_id $HELD" "gap wait"
! grep -q "skipped" "$T/relay1.log" || fail "the held row was skipped: $(grep skipped "$T/relay1.log")"
assert_eq "$(skipped)" 0 "skipped counter"
kill -TERM "$RP"
wait_for 20 "! kill -0 $RP" || fail "relay did not stop on SIGTERM"
note "(1) held 1 s at log_id $HELD: waited for and relayed, nothing skipped"

# --- (2) a rolled-back transaction: its id is skipped after the gap wait, not forever
before=$(max_id)
txn_bg Rolled "ROLLBACK;"
wait_for 10 "! kill -0 $TXN" || fail "the rolled-back transaction did not finish"
wait "$TXN" || fail "the rolled-back transaction failed: $(cat "$T/txn.Rolled.out")"
inject 20
GAP=$((before + 1))
assert_eq "$(sql "SELECT MIN(log_id) FROM users_change_events WHERE log_id > $before")" "$((GAP + 1))" \
	"first id after the rolled-back one"
t0=$(date +%s)
timeout 60 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay2.log" ||
	fail "relay --once did not end at a rolled-back gap: $(tail -n 5 "$T/relay2.log")"
took=$(($(date +%s) - t0))
assert_eq "$(progress)" "$(max_id)" "progress after relay --once past the rolled-back gap"
log_has "$T/relay2.log" "skipped log_id $GAP\b" "the rolled-back gap"
assert_eq "$(skipped)" 1 "skipped counter after the rolled-back gap"
topic_dump "$BOOT" >"$T/topic2"
sql_ids >"$T/ids2"
check_ids_on_topic "$T/ids2" "$T/topic2" "after the rolled-back gap"
note "(2) rolled back at log_id $GAP: skipped after the wait, relay --once ended in ${took}s: $(grep -o 'gap: skipped.*' "$T/relay2.log" | head -n 1)"

# --- (3) --gap-wait 200ms: a transaction committing after 2 s is skipped, then relayed late
bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" --gap-wait 200ms 2>"$T/relay3.log"
RP=$!
wait_for 30 '[ "$(progress)" = "$(max_id)" ]' || fail "relay did not catch up: $(cat "$T/relay3.log")"
before=$(max_id)
txn_bg Late "SELECT SLEEP(2); COMMIT;"
wait_for 10 '[ "$(sleeping)" = 1 ]' || fail "the late transaction never reached its SLEEP: $(cat "$T/txn.Late.out")"
inject 20
LATE=$((before + 1))
wait_for 10 'grep -q "skipped log_id $LATE\b" "$T/relay3.log"' ||
	fail "with --gap-wait 200ms the open transaction's id $LATE was not skipped: $(tail -n 5 "$T/relay3.log")"
[ "$(sleeping)" = 1 ] || fail "the late transaction committed before the skip: the test proves nothing"
wait_for 30 '[ "$(progress)" = "$(max_id)" ]' || fail "progress did not move past the skipped id: $(progress) of $(max_id)"
wait_for 10 "! kill -0 $TXN" || fail "the late transaction did not finish"
wait "$TXN" || fail "the late transaction failed: $(cat "$T/txn.Late.out")"
assert_eq "$(id_of Late)" "$LATE" "log_id of the late transaction's row"
wait_for 30 "on_topic $LATE" || fail "the late row $LATE never reached the topic: $(tail -n 5 "$T/relay3.log")"
log_has "$T/relay3.log" "committed late and were relayed" "late relay"
kill -TERM "$RP"
wait_for 20 "! kill -0 $RP" || fail "relay did not stop on SIGTERM"
topic_dump "$BOOT" >"$T/topic3"
sql_ids >"$T/ids3"
check_ids_on_topic "$T/ids3" "$T/topic3" "after the late commit"
assert_eq "$(skipped)" 1 "skipped counter (the rolled-back id only; the late one was relayed)"
note "(3) --gap-wait 200ms: log_id $LATE skipped, then relayed late: $(grep -o 'relay: [0-9]* skipped row.*' "$T/relay3.log" | head -n 1)"

# --- (4) a skipped id survives a restart: relay --once skips an open transaction's id and
# exits; the transaction commits afterwards; the next relay finds it (pending_gaps)
before=$(max_id)
txn_bg Restart "SELECT SLEEP(3); COMMIT;"
wait_for 10 '[ "$(sleeping)" = 1 ]' || fail "the restart transaction never reached its SLEEP"
inject 5
RID=$((before + 1))
timeout 60 "$CDCTOP" relay --once --gap-wait 200ms -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay4.log" ||
	fail "relay --once failed: $(tail -n 5 "$T/relay4.log")"
grep -q "skipped log_id $RID\b" "$T/relay4.log" || fail "log_id $RID was not skipped: $(cat "$T/relay4.log")"
[ "$(sleeping)" = 1 ] || fail "the transaction committed before the relay exited: the test proves nothing"
sql "SELECT pending_gaps FROM latest_cdc_timestamp WHERE topic = '$TOPIC'" | grep -q "$RID" ||
	fail "the skipped id $RID is not saved in pending_gaps"
wait "$TXN" || fail "the restart transaction failed: $(cat "$T/txn.Restart.out")"
timeout 60 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay5.log" ||
	fail "second relay --once failed: $(tail -n 5 "$T/relay5.log")"
wait_for 10 "on_topic $RID" || fail "log_id $RID, committed after a restart, never reached the topic: $(cat "$T/relay5.log")"
note "(4) log_id $RID skipped by one run, committed, relayed by the next run"
