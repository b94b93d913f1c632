# t_binlog_capture.sh - the binlog capture module (src/binlog.c) against a private MariaDB with
# the row binlog on, through tests/tools/binlog_dump: (a) 1,000 injected customers with the
# trigger dropped, each read once with fields equal to SQL, and resuming at a commit or a
# transaction start re-reads exactly what follows; (b) a transaction that commits last shows up
# last (commit order), nothing lost; (c) CHAR/ENUM/SET tables in the same binlog are skipped
# without breaking the stream; (d) a purged position or a position inside an event gives the
# clear error; (f) it never blocks forever (idle, killed stream, frozen server); (e)
# preconditions: binlog_format, row image, privileges, positional mapping without FULL
# metadata, and a server started without binlog.
. "$(dirname "$0")/lib.sh"
DUMP="${BUILD_DIR:-$(dirname "$CDCTOP")}/tools/binlog_dump"
[ -x "$DUMP" ] || fail "$DUMP is not built (make all)"

# dump ARGS...: binlog_dump against this test's server, bounded.
dump() { timeout 120 "$DUMP" -S "$SOCK" "$@"; }
# fields FILE: a dump without positions and event time, "id store first last email address".
fields() { grep -v '^commit ' "$1" | sed 's/^[^ ]* //; s/ [^ ]*$//' | sort -n -k1,1; }
# sqlrows 'WHERE ...': the same fields from SQL.
sqlrows() {
	sql "SELECT CONCAT_WS(' ', customer_id, store_id, first_name, last_name, email, address_id)
	     FROM customer $1 ORDER BY customer_id" | sort -n -k1,1
}
# inj ARGS...: cdctop inject naming the server (-S), so that it does not re-create the trigger
# the way it does for its private server (--datadir runs init first).
inj() { "$CDCTOP" inject -S "$SOCK" -u root "$@" </dev/null; }
maxid() { sql "SELECT COALESCE(MAX(customer_id), 0) FROM customer"; }

t_db
dump --check >/dev/null || fail "blc_check fails on the private server: $("$DUMP" -S "$SOCK" --check 2>&1)"
sql "DROP TRIGGER customer_after_insert_cdc"

# --- (a) 1,000 customers, each once, fields equal, resume semantics ---------------------------
P0=$(dump --server-pos)
note "start position $P0"
inj -n 100 --batches 10 >/dev/null || fail "inject"
dump --from "$P0" -n 1000 --idle 20 --commits --stats >"$T/a.out" 2>"$T/a.err" ||
	fail "dump of 1,000: $(cat "$T/a.err")"
note "$(cat "$T/a.err")"
grep -v '^commit ' "$T/a.out" >"$T/a.rows"
assert_eq "$(wc -l <"$T/a.rows")" 1000 "rows dumped"
assert_eq "$(awk '{print $2}' "$T/a.rows" | sort -n | uniq -d | wc -l)" 0 "customer ids seen twice"
fields "$T/a.out" >"$T/a.got"
sqlrows "" >"$T/a.want"
assert_eq "$(wc -l <"$T/a.want")" 1000 "customers in SQL"
cmp -s "$T/a.got" "$T/a.want" || fail "dumped fields differ from SQL: $(diff "$T/a.got" "$T/a.want" | head -5)"
# event time = the INSERT's start second = create_date (NOW() in a UTC session)
awk '{print $2, $NF}' "$T/a.rows" | sort -n >"$T/a.ev"
sql "SET time_zone = '+00:00'; SELECT customer_id, UNIX_TIMESTAMP(create_date) * 1000000 FROM customer
     ORDER BY customer_id" | tr '\t' ' ' >"$T/a.evwant"
cmp -s "$T/a.ev" "$T/a.evwant" || fail "event_us differs from create_date: $(diff "$T/a.ev" "$T/a.evwant" | head -3)"
# one transaction per batch: 10 commit lines, 10 resume positions, in stream order
assert_eq "$(grep -c '^commit ' "$T/a.out")" 10 "commit lines (one per batch)"
assert_eq "$(awk '{print $1}' "$T/a.rows" | uniq | wc -l)" 10 "distinct resume positions"
# resume at the 5th commit: exactly the last 500 rows, same lines
C5=$(grep '^commit ' "$T/a.out" | sed -n 5p | cut -d' ' -f2)
dump --from "$C5" --idle 2 >"$T/a5.out" 2>"$T/a5.err" || fail "dump from $C5: $(cat "$T/a5.err")"
sed -n '501,1000p' "$T/a.rows" >"$T/a5.want"
cmp -s "$T/a5.out" "$T/a5.want" || fail "resume at commit $C5 is not rows 501..1000"
# resume at the transaction start of row 250: that whole transaction again (rows 201..1000)
R250=$(sed -n 250p "$T/a.rows" | cut -d' ' -f1)
dump --from "$R250" --idle 2 >"$T/a250.out" 2>"$T/a250.err" || fail "dump from $R250: $(cat "$T/a250.err")"
sed -n '201,1000p' "$T/a.rows" >"$T/a250.want"
cmp -s "$T/a250.out" "$T/a250.want" || fail "resume at $R250 (row 250's transaction) is not rows 201..1000"
assert_eq "$(sql "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'sakila'")" 0 \
	"triggers left after inject (the trigger must stay dropped)"
assert_eq "$(sql "SELECT COUNT(*) FROM users_change_events")" 0 "change rows written with the trigger dropped"
note "(a) ok: 1,000 rows once, fields and event times equal SQL, resume at commit and at trx start"

# --- (b) out-of-order commit: the slow transaction is read where it committed ----------------
P1=$(dump --server-pos)
before=$(maxid)
bg mariadb --no-defaults -S "$SOCK" -uroot sakila -e "BEGIN;
  INSERT INTO address (address, district, city_id, phone) VALUES ('1 Slow Street', 'Slow', 1, '555');
  INSERT INTO customer (store_id, first_name, last_name, email, address_id, create_date)
    VALUES (1, 'Slow', 'Committer', 'slow@example.com', LAST_INSERT_ID(), NOW());
  SELECT SLEEP(2) INTO @x; COMMIT;"
SLOW_PID=$!
wait_for 10 '[ "$(sql "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_rows_modified >= 2")" -ge 1 ]' ||
	fail "the slow transaction did not start"
inj -n 20 --batches 3 >/dev/null || fail "inject during the slow transaction"
wait "$SLOW_PID" || fail "the slow transaction failed"
slow_id=$(sql "SELECT customer_id FROM customer WHERE email = 'slow@example.com'")
[ "$slow_id" -eq $((before + 1)) ] || fail "slow customer id $slow_id, expected $((before + 1)) (allocated first)"
dump --from "$P1" -n 61 --idle 20 >"$T/b.out" 2>"$T/b.err" || fail "dump (b): $(cat "$T/b.err")"
assert_eq "$(tail -n 1 "$T/b.out" | awk '{print $2}')" "$slow_id" "the last row read (committed last)"
assert_eq "$(head -n 60 "$T/b.out" | awk -v s="$slow_id" '$2 <= s' | wc -l)" 0 "rows before the slow one with smaller ids"
fields "$T/b.out" >"$T/b.got"
sqlrows "WHERE customer_id > $before" >"$T/b.want"
cmp -s "$T/b.got" "$T/b.want" || fail "(b) rows differ from SQL: $(diff "$T/b.got" "$T/b.want" | head -5)"
note "(b) ok: 60 later commits first, then the slow one (id $slow_id), none lost"

# --- (c) CHAR / ENUM / SET tables interleaved with customers ----------------------------------
sql "CREATE TABLE kinds (id INT AUTO_INCREMENT PRIMARY KEY, code CHAR(8) NOT NULL,
     kind ENUM('a','b','c') NOT NULL, tags SET('x','y'), bin BINARY(4)) ENGINE=InnoDB"
P2=$(dump --server-pos)
before=$(maxid)
bg sh -c "i=0; while [ \$i -lt 200 ]; do
	mariadb --no-defaults -S '$SOCK' -uroot sakila -e \"INSERT INTO kinds (code, kind, tags, bin)
	  VALUES ('k\$i', 'b', 'x,y', 'ab'), ('m\$i', 'c', NULL, NULL)\" || exit 1; i=\$((i + 1)); done"
KINDS_PID=$!
inj -n 50 --batches 4 >/dev/null || fail "inject (c)"
i=0
while [ $i -lt 20 ]; do # mixed transactions: CHAR/ENUM rows around a customer, same trx
	sql "BEGIN; INSERT INTO kinds (code, kind) VALUES ('pre$i', 'a');
	     INSERT INTO customer (store_id, first_name, last_name, email, address_id, create_date)
	       VALUES (2, 'Mixed', 'Row$i', 'mixed$i@example.com', 1, NOW());
	     INSERT INTO kinds (code, kind, tags) VALUES ('post$i', 'c', 'y'); COMMIT;"
	i=$((i + 1))
done
wait "$KINDS_PID" || fail "the CHAR/ENUM writer failed"
sql "UPDATE kinds SET kind = 'a'; DELETE FROM kinds WHERE id % 2 = 0;
     UPDATE customer SET active = 0 WHERE customer_id = $before"
inj -n 10 --batches 1 >/dev/null || fail "inject (c) after"
want=$(sql "SELECT COUNT(*) FROM customer WHERE customer_id > $before")
assert_eq "$want" 230 "customers written in (c)"
dump --from "$P2" -n 230 --idle 20 --stats >"$T/c.out" 2>"$T/c.err" || fail "dump (c): $(cat "$T/c.err")"
note "$(cat "$T/c.err")"
fields "$T/c.out" >"$T/c.got"
sqlrows "WHERE customer_id > $before" >"$T/c.want"
cmp -s "$T/c.got" "$T/c.want" || fail "(c) rows differ from SQL: $(diff "$T/c.got" "$T/c.want" | head -5)"
grep -q 'other_rows [1-9]' "$T/c.err" || fail "(c) no other tables' rows events were skipped: $(cat "$T/c.err")"
# a CHAR column in customer itself cannot be decoded (Connector/C 3.3): an error, not a skip
P5=$(dump --server-pos)
sql "ALTER TABLE customer ADD COLUMN note CHAR(4) NULL;
     INSERT INTO customer (store_id, first_name, last_name, email, address_id, create_date, note)
       VALUES (1, 'Char', 'Column', 'char@example.com', 1, NOW(), 'ab')"
expect_error "^binlog: column sakila\.customer\.note is CHAR, ENUM or SET, which libmariadb 3\.3 cannot decode" \
	"$DUMP" -S "$SOCK" --from "$P5"
sql "DELETE FROM customer WHERE email = 'char@example.com'; ALTER TABLE customer DROP COLUMN note"
note "(c) ok: 230 customers among CHAR/ENUM/SET/BINARY rows, updates and deletes; CHAR in customer is an error"

# --- (d) purged position ------------------------------------------------------------------------
OLD=$(dump --server-pos)
OLDFILE=${OLD%:*}
sql "FLUSH BINARY LOGS"
sql "FLUSH BINARY LOGS"
NEWEST=$(sql "SHOW MASTER STATUS" | cut -f1)
# the server keeps a file until its binlog checkpoint is written (asynchronous): retry
wait_for 30 "sql \"PURGE BINARY LOGS TO '$NEWEST'\" && ! sql 'SHOW BINARY LOGS' | grep -q '^$OLDFILE'" ||
	fail "PURGE BINARY LOGS did not remove $OLDFILE: $(sql 'SHOW BINARY LOGS' | tr '\n' ' ')"
expect_error "binlog file '$OLDFILE' is gone from the server .*purged.*resnapshot: relay from the current position" \
	"$DUMP" -S "$SOCK" --from "$OLD"
note "purged: $(cat "$T/ee.err")"
# a user that cannot list the binlogs gets the server's refusal, mapped to the same advice
sql "CREATE USER 'slaveonly'@'localhost' IDENTIFIED BY 'pw1'; GRANT REPLICATION SLAVE ON *.* TO 'slaveonly'@'localhost'"
expect_error "binlog file '$OLDFILE' is gone from the server.*purged.*resnapshot" \
	"$DUMP" -S "$SOCK" -u slaveonly -p pw1 --from "$OLD"
note "purged (dump error): $(cat "$T/ee.err")"
expect_error "past the end of the file.*resnapshot" "$DUMP" -S "$SOCK" --from "$NEWEST:99999999"
expect_error "^the server cannot send the binlog from $NEWEST:5 \\(open at a position cdctop saved" \
	"$DUMP" -S "$SOCK" --from "$NEWEST:5"
expect_error "bad binlog position" "$DUMP" -S "$SOCK" --from "nocolon"
# the current position still streams after the purge
P3=$(dump --server-pos)
inj -n 5 --batches 1 >/dev/null || fail "inject (d)"
dump --from "$P3" -n 5 --idle 20 >/dev/null 2>"$T/d.err" || fail "dump after purge: $(cat "$T/d.err")"
note "(d) ok: purged file and bad positions give one clear line"

# --- (f) never blocks: idle returns, a killed stream and a frozen server are errors -------------
t0=$(date +%s%N)
dump --idle 1 >/dev/null 2>"$T/f.err" || fail "idle dump: $(cat "$T/f.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
note "an idle dump with --idle 1 ended after $ms ms"
[ "$ms" -lt 6000 ] || fail "an idle dump with --idle 1 took $ms ms (hang check: 6 s)"
# the dump thread to kill is this dump's: an earlier dump's thread can outlive its client by a
# heartbeat, and connection ids only grow, so it is the one above this connection's id
BASE_ID=$(sql "SELECT CONNECTION_ID()")
DUMP_ID_SQL="SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND ID > $BASE_ID"
bg "$DUMP" -S "$SOCK" --idle 60 >/dev/null 2>"$T/f1.err"
F1=$!
wait_for 10 '[ -n "$(sql "$DUMP_ID_SQL")" ]' || fail "no Binlog Dump thread on the server"
sql "KILL $(sql "$DUMP_ID_SQL")"
wait_for 10 "! kill -0 $F1" || fail "the dump did not notice its killed stream within 10 s"
grep -q "^binlog connection to .* lost at mysql-bin\.[0-9]*:[0-9]* (.*): reopen at the saved position$" "$T/f1.err" ||
	fail "killed stream: $(cat "$T/f1.err")"
note "killed: $(cat "$T/f1.err")"
SRV_PID=$(cat "$DBDIR/mysqld.pid")
BASE_ID=$(sql "SELECT CONNECTION_ID()")
DUMP_ID_SQL="SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' AND ID > $BASE_ID"
bg "$DUMP" -S "$SOCK" --idle 60 >/dev/null 2>"$T/f2.err"
F2=$!
# streaming before the freeze (was: sleep 1): this dump's Binlog Dump thread is on the server
wait_for 10 '[ -n "$(sql "$DUMP_ID_SQL")" ]' || fail "no Binlog Dump thread for the second dump"
kill -STOP "$SRV_PID"
t0=$(date +%s)
wait_for 40 "! kill -0 $F2" || { kill -CONT "$SRV_PID"; fail "the dump hung on a frozen server (40 s; it notices after ~10 s)"; }
kill -CONT "$SRV_PID"
note "frozen server noticed after $(($(date +%s) - t0)) s: $(cat "$T/f2.err")"
grep -q "lost at .*reopen at the saved position" "$T/f2.err" || fail "frozen server: $(cat "$T/f2.err")"

# --- (e) preconditions ----------------------------------------------------------------------------
sql "SET GLOBAL binlog_format = 'MIXED'"
expect_error "^binlog_format is MIXED, binlog capture needs ROW: SET GLOBAL binlog_format=ROW" "$DUMP" -S "$SOCK" --check
sql "SET GLOBAL binlog_format = 'ROW'"
sql "SET GLOBAL binlog_row_image = 'MINIMAL'"
expect_error "^binlog_row_image is MINIMAL, binlog capture needs FULL: SET GLOBAL binlog_row_image=FULL" "$DUMP" -S "$SOCK" --check
sql "SET GLOBAL binlog_row_image = 'FULL'"
sql "CREATE USER 'plain'@'localhost' IDENTIFIED BY 'pw2'; GRANT SELECT ON sakila.* TO 'plain'@'localhost'"
expect_error "^user 'plain'@'localhost' lacks REPLICATION SLAVE and REPLICATION CLIENT: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON \*\.\* TO 'plain'@'localhost'$" \
	"$DUMP" -S "$SOCK" -u plain -p pw2 --check
sql "GRANT REPLICATION SLAVE ON *.* TO 'plain'@'localhost'"
expect_error "^user 'plain'@'localhost' lacks REPLICATION CLIENT: GRANT REPLICATION CLIENT ON \*\.\* TO 'plain'@'localhost'$" \
	"$DUMP" -S "$SOCK" -u plain -p pw2 --check
sql "GRANT REPLICATION CLIENT ON *.* TO 'plain'@'localhost'"
assert_eq "$(dump -u plain -p pw2 --check)" ok "check with both privileges"
# without FULL row metadata: columns mapped by information_schema position
sql "SET GLOBAL binlog_row_metadata = 'MINIMAL'"
assert_eq "$(dump --check)" ok "check without FULL row metadata"
P4=$(dump -u plain -p pw2 --server-pos)
before=$(maxid)
inj -n 25 --batches 2 >/dev/null || fail "inject (e)"
dump -u plain -p pw2 --from "$P4" -n 50 --idle 20 --stats >"$T/e.out" 2>"$T/e.err" ||
	fail "dump without FULL metadata: $(cat "$T/e.err")"
grep -q 'by_position 1' "$T/e.err" || fail "columns were not mapped by position: $(cat "$T/e.err")"
fields "$T/e.out" >"$T/e.got"
sqlrows "WHERE customer_id > $before" >"$T/e.want"
cmp -s "$T/e.got" "$T/e.want" || fail "(e) positional rows differ from SQL: $(diff "$T/e.got" "$T/e.want" | head -5)"
sql "SET GLOBAL binlog_row_metadata = 'FULL'"

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
expect_error "^binary logging is off on the server \(log_bin=0\): restart it with --log-bin" "$DUMP" -S "$NBSOCK" --check
expect_error "binary logging is off on the server" "$DUMP" -S "$NBSOCK"
mariadb --no-defaults -S "$NBSOCK" -uroot -e "SHUTDOWN" || true
wait_for 30 "! kill -0 $NB_PID" || fail "mariadbd --skip-log-bin did not stop"
note "(e) ok: binlog_format, row image, privileges, positional mapping, no binlog"
echo "t_binlog_capture: ok"
