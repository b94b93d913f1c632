#!/bin/sh
# t_relay_lost_topic.sh - the topic lost what the relay sent: relay to mock cluster A, stop A,
# start a fresh mock B; `relay --once -b B` says it re-sends, and B then holds every log_id
# within the horizon (default 1 h; 50 change rows dated 2 h ago, before the others, are left
# out), plus the rows written meanwhile; a second run re-sends nothing. Read back with a real
# consumer (tools/topic_ids).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

t_db

# mock NAME: starts a standalone mock cluster; sets BOOT and MOCK_PID.
mock() {
	MOUT="$T/mock.$1.out"
	bg "$CDCTOP" kafka-mock --brokers 3 >"$MOUT" 2>"$T/mock.$1.err"
	MOCK_PID=$!
	wait_for 20 '[ -s "$MOUT" ]' || fail "kafka-mock $1 printed no address: $(cat "$T/mock.$1.err")"
	BOOT=$(head -n 1 "$MOUT")
}

relay_once() { # LOGNAME
	timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/$1.log" ||
		fail "relay --once ($1) exited non-zero: $(tail -n 5 "$T/$1.log")"
}

# 50 change rows older than the horizon, then 500 registrations now
sql "INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
       first_name, last_name, email, address_id, active, create_date)
     SELECT 'INSERT', NOW(6) - INTERVAL 2 HOUR, 60000 + seq, 1, 'Old', 'Row', NULL, 1, 1,
       NOW() - INTERVAL 2 HOUR FROM seq_1_to_50"
"$CDCTOP" inject --datadir "$DBDIR" -n 100 --batches 5 >/dev/null || fail "inject"

mock A
A_PID=$MOCK_PID
relay_once relayA
topic_dump "$BOOT" >"$T/topicA"
sql_ids >"$T/idsA"
topic_ids_of "$T/topicA" >"$T/tidsA"
assert_eq "$(wc -l <"$T/idsA" | tr -d ' ')" 550 "change rows"
cmp -s "$T/idsA" "$T/tidsA" || fail "A does not hold exactly the 550 ids: $(diff "$T/idsA" "$T/tidsA" | head -n 5)"
note "A ($BOOT): $(wc -l <"$T/topicA" | tr -d ' ') messages"

kill -TERM "$A_PID"
wait_for 10 "! kill -0 $A_PID" || fail "mock A did not stop"
"$CDCTOP" inject --datadir "$DBDIR" -n 100 --batches 1 >/dev/null || fail "inject"

mock B
relay_once relayB
log_has "$T/relayB.log" "re-sending" "relay to an empty B"
note "B ($BOOT): $(grep -o 'topic .* re-sending.*' "$T/relayB.log" | head -n 1)"
topic_dump "$BOOT" >"$T/topicB"
sql_ids "WHERE event_timestamp >= NOW(6) - INTERVAL 1 HOUR" >"$T/idsB"
assert_eq "$(wc -l <"$T/idsB" | tr -d ' ')" 600 "change rows within the horizon"
check_ids_on_topic "$T/idsB" "$T/topicB" "B after the re-send"
sql_ids "WHERE event_timestamp < NOW(6) - INTERVAL 1 HOUR" >"$T/oldB"
topic_ids_of "$T/topicB" | sort -u >"$T/tidsB"
assert_eq "$(sort -u "$T/oldB" | join - "$T/tidsB" | wc -l | tr -d ' ')" 0 "rows older than the horizon re-sent to B"
assert_eq "$(progress)" "$(max_id)" "progress after the re-send"
n=$(wc -l <"$T/topicB" | tr -d ' ')
note "B holds all 600 ids within the horizon ($n messages), none of the 50 older ones"

# the topic now holds what was sent: no second re-send
relay_once relayB2
! grep -q "re-sending" "$T/relayB2.log" || fail "a second run re-sent again: $(grep re-sending "$T/relayB2.log")"
topic_dump "$BOOT" >"$T/topicB2"
assert_eq "$(wc -l <"$T/topicB2" | tr -d ' ')" "$n" "messages on B after a second run"
