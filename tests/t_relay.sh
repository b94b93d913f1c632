#!/bin/sh
# t_relay.sh - `cdctop relay --once` against a private MariaDB and a standalone mock cluster,
# read back with two real consumers (tools/topic_ids, a librdkafka consumer decoding with
# env_decode, and kcat -C -J parsed by Python's json, every after field against SQL): 1000
# injected registrations give exactly their 1000 log_ids on
# the topic, each envelope's fields equal its change row and its customer row, key = customer
# id, progress = max(log_id); rows sharing one event_timestamp (one statement, and a second
# batch with the very same timestamp after a relay) are all relayed once; a bad -X property and
# an unreachable -b give one clear error line and a non-zero exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

t_db
t_mock 3
note "mock at $BOOT"

# later: a failed check that does not stop the ones after it (all reported at the end)
LATER=""
later() {
	echo "FAIL (reported at the end): $*" >&2
	LATER="$LATER
  - $*"
}

# relay_once LOGNAME: drains the backlog to the mock; fails on a non-zero exit.
relay_once() {
	timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$T/$1.log" ||
		fail "relay --once exited non-zero: $(tail -n 5 "$T/$1.log")"
}

"$CDCTOP" inject --datadir "$DBDIR" -n 100 --batches 10 --seed 42 >/dev/null || fail "inject"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 1000 "change rows after inject"
relay_once relay1
topic_dump "$BOOT" >"$T/topic1"

# exactly the 1000 log_ids, each once
topic_ids_of "$T/topic1" >"$T/tids1"
sql_ids >"$T/sids1"
assert_eq "$(wc -l <"$T/tids1" | tr -d ' ')" 1000 "messages on the topic"
assert_eq "$(uniq -d "$T/tids1" | wc -l | tr -d ' ')" 0 "log_ids on the topic more than once"
cmp -s "$T/tids1" "$T/sids1" || fail "topic log_ids differ from the table: $(diff "$T/sids1" "$T/tids1" | head -n 5)"
note "1000 log_ids, each once"

# every field equals its change row (log_id, ts_us, after.*)
cut -f3-12 "$T/topic1" | sort -n >"$T/trows1"
sql_rows >"$T/srows1"
cmp -s "$T/trows1" "$T/srows1" ||
	fail "envelopes differ from their change rows: $(diff "$T/srows1" "$T/trows1" | head -n 6)"
# ... and its customer row (the trigger copied NEW.*), and the key is the customer id
sql "SET time_zone = '+00:00';
     SELECT e.log_id, c.customer_id, c.store_id, c.address_id, c.active,
            DATE_FORMAT(c.create_date, '%Y-%m-%d %H:%i:%s'), c.first_name, c.last_name,
            COALESCE(c.email, '')
     FROM users_change_events e JOIN customer c USING (customer_id) ORDER BY e.log_id" >"$T/crows1"
cut -f3,5-12 "$T/topic1" | sort -n >"$T/tcust1"
cmp -s "$T/tcust1" "$T/crows1" ||
	fail "envelopes differ from their customer rows: $(diff "$T/crows1" "$T/tcust1" | head -n 6)"
assert_eq "$(awk -F'\t' '$13 != $5' "$T/topic1" | wc -l | tr -d ' ')" 0 "messages whose key is not the customer id"
note "each envelope equals its change row and customer row; key = customer_id"

assert_eq "$(progress)" "$(max_id)" "latest_cdc_timestamp.last_log_id after relay --once"
assert_eq "$(sql "SELECT relayed FROM latest_cdc_timestamp WHERE topic = '$TOPIC'")" 1000 "relayed counter"

# kcat -C -J reads the same messages, parsed by Python's json (not cdctop's decoder): every
# after field equals SQL's customer row, log_id, ts_us and key, each registration once
kcat_check trigger
note "kcat -C -J: the same 1000 log_ids, Debezium fields present"

# Rows sharing one event_timestamp: 300 change rows written by one statement with one
# timestamp; relay; then 300 more with the very same timestamp (a relay comparing timestamps
# loses these with '>' or doubles the first 300 with '>=').
TS=$(sql "SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')")
same_ts_rows() { # FIRST_CUSTOMER_ID
	sql "INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
	       first_name, last_name, email, address_id, active, create_date)
	     SELECT 'INSERT', '$TS', $1 + seq, 1 + seq % 2, CONCAT('Same', seq), 'Stamp',
	       CONCAT('same', seq, '@example.org'), 1, 1, '2024-01-02 03:04:05' FROM seq_1_to_300"
}
same_ts_rows 50000
relay_once relay2
same_ts_rows 50300
# and real customers: one INSERT ... SELECT of 200 customers (the trigger fires per row)
sql "INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date)
     SELECT 1 + seq % 2, CONCAT('Bulk', seq), 'Insert', CONCAT('bulk', seq, '@example.org'),
            (SELECT MIN(address_id) FROM address), 1, NOW() FROM seq_1_to_200"
assert_eq "$(sql "SELECT COUNT(*) FROM users_change_events WHERE event_timestamp = '$TS'")" 600 \
	"change rows with the shared timestamp"
relay_once relay3
topic_dump "$BOOT" >"$T/topic2"
topic_ids_of "$T/topic2" >"$T/tids2"
sql_ids >"$T/sids2"
assert_eq "$(wc -l <"$T/sids2" | tr -d ' ')" 1800 "change rows"
assert_eq "$(uniq -d "$T/tids2" | wc -l | tr -d ' ')" 0 "log_ids on the topic more than once"
cmp -s "$T/tids2" "$T/sids2" || fail "topic log_ids differ from the table: $(diff "$T/sids2" "$T/tids2" | head -n 5)"
cut -f3-12 "$T/topic2" | sort -n >"$T/trows2"
sql_rows >"$T/srows2"
cmp -s "$T/trows2" "$T/srows2" ||
	fail "envelopes differ from their change rows: $(diff "$T/srows2" "$T/trows2" | head -n 6)"
assert_eq "$(progress)" "$(max_id)" "progress after the shared-timestamp rows"
kcat_check trigger

# The producer is idempotent with acks=all, as librdkafka itself reports it (debug=conf,eos):
# its configuration, and a producer id acquired from the cluster for the messages it sends.
"$CDCTOP" inject --datadir "$DBDIR" -n 5 --seed 43 >/dev/null || fail "inject (producer check)"
timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" -X debug=conf,eos 2>"$T/dbg.log" ||
	fail "relay --once -X debug=conf,eos: $(tail -n 5 "$T/dbg.log")"
grep -q 'rdkafka#producer-.* CONF: .* enable.idempotence = true$' "$T/dbg.log" ||
	fail "librdkafka does not report enable.idempotence = true for the relay's producer: $(grep -i idempot "$T/dbg.log" | head -n 3)"
grep -q 'rdkafka#producer-.* CONF: .* request.required.acks = -1$' "$T/dbg.log" ||
	fail "librdkafka does not report acks=all (request.required.acks = -1): $(grep -i 'acks' "$T/dbg.log" | head -n 3)"
! grep -q 'rdkafka#producer-.* CONF: .* request.required.acks = [^-]' "$T/dbg.log" ||
	fail "a producer topic config with acks other than all: $(grep 'request.required.acks' "$T/dbg.log" | head -n 3)"
grep -q 'rdkafka#producer-.* GETPID: .*Acquired PID{Id:[0-9]' "$T/dbg.log" ||
	fail "the idempotent producer acquired no producer id: $(grep -E 'IDEMP|PID' "$T/dbg.log" | head -n 3)"
assert_eq "$(progress)" "$(max_id)" "progress after the debug run"
note "producer: $(grep -o 'enable.idempotence = true' "$T/dbg.log" | head -n 1), $(grep -o 'request.required.acks = -1' "$T/dbg.log" | head -n 1), $(grep -o 'Acquired PID{[^}]*}' "$T/dbg.log" | head -n 1)"
note "600 rows sharing one timestamp (two statements, a relay between) and 200 from one INSERT ... SELECT: all relayed once"

# latest_cdc_timestamp.last_event_timestamp is the event time of last_log_id, to the microsecond
sql "SET time_zone = '+00:00';
     SELECT p.last_event_timestamp, e.event_timestamp FROM latest_cdc_timestamp p
     JOIN users_change_events e ON e.log_id = p.last_log_id WHERE p.topic = '$TOPIC'" >"$T/lets"
[ "$(cut -f1 "$T/lets")" = "$(cut -f2 "$T/lets")" ] ||
	later "last_event_timestamp $(cut -f1 "$T/lets") is not the event time of last_log_id, $(cut -f2 "$T/lets")"

# Errors: one clear line, non-zero exit.
expect_error 'acks' "$CDCTOP" relay --once -b "$BOOT" -X acks=banana --datadir "$DBDIR"
note "bad -X: $(cat "$T/ee.err")"

# Unreachable -b: the relay may log its state lines (timestamped) first; the error itself is
# one line, not a log line, and the last thing printed.
PORT=$(free_port)
set +e
timeout 60 "$CDCTOP" relay --once -b "127.0.0.1:$PORT" --datadir "$DBDIR" >"$T/un.out" 2>"$T/un.err"
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -lt 124 ] || fail "relay --once -b 127.0.0.1:$PORT: exit $rc, expected an error exit"
grep -v '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] ' "$T/un.err" >"$T/un.msg" || true
assert_eq "$(grep -c . "$T/un.msg" || true)" 1 "error lines (not log lines) for an unreachable -b: $(cat "$T/un.err")"
grep -q "127.0.0.1:$PORT" "$T/un.msg" || fail "the error does not name 127.0.0.1:$PORT: $(cat "$T/un.msg")"
note "unreachable -b: $(cat "$T/un.msg")"
[ "$(tail -n 1 "$T/un.err")" = "$(cat "$T/un.msg")" ] ||
	later "unreachable -b: the error is not the last line of stderr, $(($(wc -l <"$T/un.err") - $(grep -n -F -x -f "$T/un.msg" "$T/un.err" | head -n 1 | cut -d: -f1))) line(s) follow it: $(cat "$T/un.err")"
assert_eq "$(progress)" "$(max_id)" "progress after the failed runs"

# A NULL column (sakila's customer.email is nullable) must travel as JSON null, not "".
sql "INSERT INTO customer (store_id, first_name, last_name, email, address_id, active, create_date)
     VALUES (1, 'No', 'Email', NULL, (SELECT MIN(address_id) FROM address), 1, NOW())"
relay_once relaynull
(kcat_check trigger) || later "a customer with a NULL email: see the kcat -J vs SQL line above"

[ -z "$LATER" ] || fail "$LATER"
