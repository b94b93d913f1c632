#!/bin/sh
# t_binlog_relay.sh - `cdctop relay --capture=binlog` end to end against a private MariaDB with
# the row binlog on and the capture trigger dropped, to a standalone mock cluster, read back
# with a real consumer (tools/topic_ids): (a) 1,000 injected customers on the topic exactly
# once, every field equal to the customer table, event time = UNIX_TIMESTAMP(create_date),
# no change rows (no trigger); (b) a transaction that stays open (holding a lock) while later
# ones commit: the later ones are relayed at once with --gap-wait 30s (no gap wait in binlog
# mode), the slow one when it commits, nothing lost or doubled; (c) a table with CHAR, ENUM,
# SET and BINARY columns written in between (and in the same transactions) is skipped without
# breaking the stream; (c2) a lost topic (a fresh mock cluster) is refilled from the customer
# table, each customer once; (d) a purged saved position: one clear error line naming the file;
# (e) binlog_format=STATEMENT and a server without binlog: one precondition error line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/relay.sh"

# inj ARGS...: cdctop inject naming the server (-S: no init, so the dropped trigger stays
# dropped), quiet.
inj() { "$CDCTOP" inject -S "$SOCK" -u root "$@" </dev/null >/dev/null || fail "inject $*"; }

# relay_once LOG [ARGS...]: drains the binlog to the topic (--datadir: init without trigger).
relay_once() {
	_l=$1
	shift
	timeout 120 "$CDCTOP" relay --once --capture=binlog -b "$BOOT" --datadir "$DBDIR" "$@" \
		</dev/null 2>"$T/$_l.log" || fail "relay --once ($_l) exited non-zero: $(tail -n 5 "$T/$_l.log")"
}

# relay_error 'regex' CMD...: the command fails within 60 s (no signal, no hang); it may log
# timestamped state lines first, but prints exactly one other line, the error, and that line
# is the last one on stderr and matches regex (the convention of t_relay.sh for relay errors).
relay_error() {
	_re=$1
	shift
	set +e
	timeout 60 "$@" </dev/null >"$T/re.out" 2>"$T/re.err"
	_rc=$?
	set -e
	[ $_rc -ne 0 ] || fail "'$*' exited 0, expected an error: $(cat "$T/re.err")"
	[ $_rc -ne 124 ] || fail "'$*' hung (killed after 60 s): $(cat "$T/re.err")"
	[ $_rc -lt 128 ] || fail "'$*' died of signal $((_rc - 128)): $(cat "$T/re.err")"
	grep -v '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] cdctop: ' "$T/re.err" >"$T/re.msg" || true
	assert_eq "$(grep -c . "$T/re.msg" || true)" 1 "error lines (not log lines) of '$*' (stderr: $(cat "$T/re.err"))"
	assert_eq "$(tail -n 1 "$T/re.err")" "$(cat "$T/re.msg")" "the last line on stderr of '$*'"
	grep -Eq -- "$_re" "$T/re.msg" || fail "'$*' said '$(cat "$T/re.msg")', expected /$_re/"
}

# cust_rows: customers in topic_dump's columns 3..13 (log_id ts_us customer_id
# store_id address_id active create_date first last email key) as the binlog relay must send
# them: log_id = key = customer_id, ts_us = UNIX_TIMESTAMP(create_date) (UTC), sorted by id.
cust_rows() {
	sql "SET time_zone = '+00:00';
	     SELECT customer_id, CAST(UNIX_TIMESTAMP(create_date) AS SIGNED) * 1000000, customer_id,
	            store_id, address_id, active, DATE_FORMAT(create_date, '%Y-%m-%d %H:%i:%s'),
	            first_name, last_name, COALESCE(email, ''), customer_id
	     FROM customer ORDER BY customer_id"
}

# check_topic WHAT: every customer is on the topic exactly once, every field equal to SQL.
check_topic() {
	topic_dump "$BOOT" >"$T/topic"
	topic_ids_of "$T/topic" >"$T/tids"
	sql "SELECT customer_id FROM customer ORDER BY customer_id" >"$T/cids"
	_d=$(uniq -d "$T/tids" | wc -l | tr -d ' ')
	[ "$_d" = 0 ] || fail "$1: $_d customer id(s) on the topic more than once, first: $(uniq -d "$T/tids" | head -n 5 | tr '\n' ' ')"
	cmp -s "$T/tids" "$T/cids" ||
		fail "$1: topic ids differ from the customer table (< sql, > topic): $(diff "$T/cids" "$T/tids" | head -n 6 | tr '\n' ' ')"
	cut -f3-13 "$T/topic" | sort -n >"$T/trows"
	cust_rows >"$T/crows"
	cmp -s "$T/trows" "$T/crows" ||
		fail "$1: envelopes differ from the customer table (< sql, > topic): $(diff "$T/crows" "$T/trows" | head -n 6)"
}

# saved: the topic's binlog progress row, "file<TAB>pos<TAB>last_customer_id<TAB>relayed".
saved() { sql "SELECT file, pos, last_customer_id, relayed FROM latest_cdc_binlog WHERE topic = '$TOPIC'"; }
ntrig() { sql "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'sakila'"; }

t_db
sql "DROP TRIGGER customer_after_insert_cdc"
t_mock 3
note "mock at $BOOT"

# --- (a) 1,000 customers, each once, fields equal -------------------------------------------------
# The first binlog relay of a topic starts at the server's current position (there is no saved
# one yet): run it once before writing, so that what follows is captured.
relay_once anchor
log_has "$T/anchor.log" "reading the binlog from the current position" "first binlog relay"
[ -n "$(saved | cut -f1)" ] || fail "no binlog position saved by the first relay: $(cat "$T/anchor.log")"
assert_eq "$(ntrig)" 0 "triggers after relay --capture=binlog --datadir (init must not re-create it)"
note "anchored at $(saved | cut -f1,2 | tr '\t' ':')"

inj -n 100 --batches 10
assert_eq "$(sql 'SELECT COUNT(*) FROM customer')" 1000 "customers after inject"
relay_once a
check_topic "(a)"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1000 "messages on the topic"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 0 "change rows (the trigger is dropped)"
assert_eq "$(ntrig)" 0 "triggers after (a)"
assert_eq "$(saved | cut -f3,4)" "$(sql 'SELECT MAX(customer_id) FROM customer')	1000" \
	"saved last_customer_id and relayed"
# a second run resumes at the saved position: nothing new, nothing sent again
relay_once a2
topic_dump "$BOOT" >"$T/topic"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1000 "messages after a second relay --once"
kcat_check binlog
note "(a) ok: 1,000 customers once, fields and event times equal SQL, no change rows, resume sends nothing again"

# --- (b) out-of-order commit: a transaction open while later ones commit --------------------------
# The slow transaction allocates the next customer id, then waits for a lock the test holds
# (deterministic: it commits only when the test lets it), while 60 later customers commit.
bg mariadb --no-defaults -S "$SOCK" -uroot -N -B -n -e "SELECT CONNECTION_ID(); SELECT GET_LOCK('t_binlog_hold', 0); SELECT SLEEP(600)" \
	>"$T/holder.out" 2>/dev/null
HOLDER_PID=$!
wait_for 10 '[ "$(sed -n 2p "$T/holder.out")" = 1 ]' || fail "the lock holder did not take the lock: $(cat "$T/holder.out")"
HOLDER_CONN=$(sed -n 1p "$T/holder.out")
before=$(sql "SELECT MAX(customer_id) FROM customer")
bg mariadb --no-defaults -S "$SOCK" -uroot sakila -e "SET time_zone = '+00:00'; BEGIN;
  INSERT INTO address (address, district, city_id, phone) VALUES ('1 Slow Street', 'Slow', 1, '555');
  INSERT INTO customer (store_id, first_name, last_name, email, address_id, create_date)
    VALUES (1, 'Slow', 'Committer', 'slow@example.com', LAST_INSERT_ID(), NOW());
  SELECT GET_LOCK('t_binlog_hold', 60) INTO @x; COMMIT;"
SLOW_PID=$!
wait_for 10 '[ "$(sql "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_rows_modified >= 2")" -ge 1 ]' ||
	fail "the slow transaction did not start"
inj -n 20 --batches 3
# The 60 later customers are relayed at once; a trigger relay would hold at the slow id for the
# gap wait (30 s here) before skipping it.
t0=$(date +%s)
relay_once b1 --gap-wait 30s
took=$(($(date +%s) - t0))
[ "$took" -lt 15 ] || fail "relay --once with a transaction open took $took s (a gap wait?)"
assert_eq "$(sql "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_rows_modified >= 2")" 1 \
	"the slow transaction still open after the relay"
topic_dump "$BOOT" >"$T/topic"
topic_ids_of "$T/topic" >"$T/tids"
sql "SELECT customer_id FROM customer WHERE customer_id > $before + 1 ORDER BY customer_id" >"$T/later"
assert_eq "$(wc -l <"$T/later" | tr -d ' ')" 60 "later customers committed"
check_ids_on_topic "$T/later" "$T/topic" "(b) the later commits while the slow transaction is open"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1060 "messages with the slow transaction open"
grep -q "^$((before + 1))\$" "$T/tids" && fail "(b) the uncommitted customer $((before + 1)) is on the topic"
# let it commit (killing the holder releases the lock), then relay again
sql "KILL $HOLDER_CONN"
wait "$SLOW_PID" || fail "the slow transaction failed"
wait "$HOLDER_PID" 2>/dev/null || true
slow_id=$(sql "SELECT customer_id FROM customer WHERE email = 'slow@example.com'")
assert_eq "$slow_id" $((before + 1)) "the slow customer's id (allocated before the later ones)"
relay_once b2 --gap-wait 30s
check_topic "(b)"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1061 "messages after the slow commit"
note "(b) ok: 60 later commits relayed in ${took} s with the slow transaction open, then id $slow_id; none lost or doubled"

# --- (c) a table with CHAR / ENUM / SET / BINARY columns in the same binlog ------------------------
sql "CREATE TABLE kinds (id INT AUTO_INCREMENT PRIMARY KEY, code CHAR(8) NOT NULL,
     kind ENUM('a','b','c') NOT NULL, tags SET('x','y'), bin BINARY(4)) ENGINE=InnoDB"
bg sh -c "i=0; while [ \$i -lt 100 ]; do
	mariadb --no-defaults -S '$SOCK' -uroot sakila -e \"INSERT INTO kinds (code, kind, tags, bin)
	  VALUES ('k\$i', 'b', 'x,y', 'ab'), ('m\$i', 'c', NULL, NULL)\" || exit 1; i=\$((i + 1)); done"
KINDS_PID=$!
inj -n 50 --batches 4
i=0
while [ $i -lt 20 ]; do # CHAR/ENUM rows around a customer in one transaction
	sql "SET time_zone = '+00:00'; BEGIN; INSERT INTO kinds (code, kind) VALUES ('pre$i', 'a');
	     INSERT INTO customer (store_id, first_name, last_name, email, address_id, create_date)
	       VALUES (2, 'Mixed', 'Row$i', 'mixed$i@example.com', 1, NOW());
	     INSERT INTO kinds (code, kind, tags) VALUES ('post$i', 'c', 'y'); COMMIT;"
	i=$((i + 1))
done
wait "$KINDS_PID" || fail "the CHAR/ENUM writer failed"
sql "UPDATE kinds SET kind = 'a', code = 'upd'; DELETE FROM kinds WHERE id % 2 = 0"
inj -n 10 --batches 1
relay_once c
check_topic "(c)"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1291 "messages after (c)"
kcat_check binlog
note "(c) ok: 230 customers among CHAR/ENUM/SET/BINARY inserts, updates and deletes, all once"

# --- (c2) a lost topic (a fresh mock cluster) is refilled from the customer table -----------------
t_mock 3
relay_once c2
log_has "$T/c2.log" "re-sending the customers of the horizon" "relay on a fresh cluster"
check_topic "(c2)"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1291 "messages on the fresh cluster"
kcat_check binlog
note "(c2) ok: a fresh cluster at $BOOT got every customer of the horizon once"

# --- (d) a purged saved position: one clear error naming the file ----------------------------------
OLDFILE=$(saved | cut -f1)
OLDPOS=$(saved | cut -f2)
sql "FLUSH BINARY LOGS"
sql "FLUSH BINARY LOGS"
NEWEST=$(sql "SHOW MASTER STATUS" | cut -f1)
# the server keeps a file until its binlog checkpoint is written (asynchronous): retry
wait_for 30 "sql \"PURGE BINARY LOGS TO '$NEWEST'\" && ! sql 'SHOW BINARY LOGS' | grep -q '^$OLDFILE'" ||
	fail "PURGE BINARY LOGS did not remove $OLDFILE: $(sql 'SHOW BINARY LOGS' | tr '\n' ' ')"
inj -n 5 --batches 1
relay_error "^cdctop: binlog file '$OLDFILE' is gone from the server .*purged.*resnapshot" \
	"$CDCTOP" relay --once --capture=binlog -b "$BOOT" --datadir "$DBDIR"
note "purged: $(cat "$T/re.msg")"
assert_eq "$(saved | cut -f1,2)" "$OLDFILE	$OLDPOS" "saved position after the purged-position error (unchanged)"
topic_dump "$BOOT" >"$T/topic"
assert_eq "$(wc -l <"$T/topic" | tr -d ' ')" 1291 "messages after the purged-position error (nothing sent)"
# the way out: forget the saved position; the next relay starts at the current one
sql "DELETE FROM latest_cdc_binlog WHERE topic = '$TOPIC'"
relay_once d1
inj -n 7 --batches 1
relay_once d2
topic_dump "$BOOT" >"$T/topic"
sql "SELECT customer_id FROM customer ORDER BY customer_id DESC LIMIT 7" | sort -n >"$T/last7"
check_ids_on_topic "$T/last7" "$T/topic" "(d) after forgetting the purged position"
note "(d) ok: purged position is one clear line; after DELETE of the progress row the relay goes on"

# --- (e) preconditions ------------------------------------------------------------------------------
sql "SET GLOBAL binlog_format = 'STATEMENT'"
relay_error "^cdctop: binlog_format is STATEMENT, binlog capture needs ROW: SET GLOBAL binlog_format=ROW" \
	"$CDCTOP" relay --once --capture=binlog -b "$BOOT" -S "$SOCK" -u root
note "STATEMENT: $(cat "$T/re.msg")"
sql "SET GLOBAL binlog_format = 'ROW'"

# a server without binlog: the same data dir, restarted by hand with --skip-log-bin
"$CDCTOP" server stop --datadir "$DBDIR" >/dev/null || fail "server stop"
NB="$T/nb"
mkdir -p "$NB"
NBSOCK="$NB/s.sock"
set -- --no-defaults
[ "$(id -u)" = 0 ] && set -- "$@" --user=root
bg /usr/sbin/mariadbd "$@" --datadir="$DBDIR/data" --socket="$NBSOCK" --pid-file="$NB/pid" \
	--log-error="$NB/err" --skip-networking --skip-log-bin --innodb-log-file-size=8M \
	--innodb-use-native-aio=0 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
	>"$NB/out" 2>&1
NB_PID=$!
wait_for 60 'mariadb --no-defaults -S "$NBSOCK" -uroot -e "SELECT 1"' ||
	fail "mariadbd --skip-log-bin did not answer: $(tail -n 5 "$NB/err")"
relay_error "^cdctop: binary logging is off on the server \(log_bin=0\): restart it with --log-bin" \
	"$CDCTOP" relay --once --capture=binlog -b "$BOOT" -S "$NBSOCK" -u root
note "no binlog: $(cat "$T/re.msg")"
mariadb --no-defaults -S "$NBSOCK" -uroot -e "SHUTDOWN" || true
wait_for 30 "! kill -0 $NB_PID" || fail "mariadbd --skip-log-bin did not stop"
note "(e) ok: binlog_format=STATEMENT and a server without binlog are one precondition line each"
echo "t_binlog_relay: ok"
