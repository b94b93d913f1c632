#!/bin/sh
# t_init.sh - `cdctop init`: on an empty server it creates sakila (6 tables, 2 stores, cities),
# the CDC tables and the capture trigger; run again it changes nothing (checksums of the
# information_schema objects and of every table's contents); on a database holding the real
# sakila layout (tests/fixtures/real-sakila.sql) it adds only the CDC objects and keeps every row,
# and inject then works there, also in MySQL 8's flavour with address.location GEOMETRY NOT NULL.
. "$(dirname "$0")/lib.sh"
C=$CDCTOP
FIX="$(cd "$(dirname "$0")" && pwd)/fixtures"

SQLDIR="$(cd "$(dirname "$0")/.." && pwd)/sql"

# tables_in FILE...: the tables those sql/ files create, sorted, comma-separated
tables_in() { sed -n 's/^CREATE TABLE IF NOT EXISTS `*\([A-Za-z0-9_]*\).*/\1/p' "$@" | sort | paste -sd, -; }
# sorted_list A,B C,D: the union of comma-separated lists, sorted, comma-separated
sorted_list() { echo "$*" | tr ', ' '\n\n' | grep . | sort -u | paste -sd, -; }

# The sakila subset is the 6 tables of sql/10-sakila.sql; the CDC tables are what the other sql/
# files create (users_change_events and latest_cdc_timestamp at least: relay progress tables of
# other capture modes may join them).
SAKILA_TABLES=address,city,country,customer,staff,store
assert_eq "$(tables_in "$SQLDIR/10-sakila.sql")" "$SAKILA_TABLES" "tables of sql/10-sakila.sql"
cdc_files=""
for f in "$SQLDIR"/*.sql; do [ "${f##*/}" = 10-sakila.sql ] || cdc_files="$cdc_files $f"; done
CDC_TABLES=$(tables_in $cdc_files)
case ",$CDC_TABLES," in *,latest_cdc_timestamp,*users_change_events,*) ;;
*) fail "sql/ does not create users_change_events and latest_cdc_timestamp: $CDC_TABLES" ;;
esac
ALL_TABLES=$(sorted_list "$SAKILA_TABLES" "$CDC_TABLES")

# mysql_in DB < file: runs a file of SQL on the test's server
mysql_in() { mariadb --no-defaults -S "$SOCK" -uroot "$1"; }

# schema_sum DB: one digest of DB's objects as information_schema describes them (tables,
# columns, indexes, foreign keys, triggers, views, routines), AUTO_INCREMENT counters included.
schema_sum() {
	sql "SET SESSION group_concat_max_len = 1 << 24;
	SELECT MD5(CONCAT_WS('#',
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION,
	   IFNULL(AUTO_INCREMENT, '-'), CREATE_OPTIONS, TABLE_COMMENT) ORDER BY TABLE_NAME SEPARATOR '|')
	  FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$1'),
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE,
	   IS_NULLABLE, IFNULL(COLUMN_DEFAULT, 'NULL'), COLUMN_KEY, EXTRA, IFNULL(COLLATION_NAME, '-'))
	   ORDER BY TABLE_NAME, ORDINAL_POSITION SEPARATOR '|')
	  FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '$1'),
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE,
	   INDEX_TYPE) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX SEPARATOR '|')
	  FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '$1'),
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME,
	   UPDATE_RULE, DELETE_RULE) ORDER BY CONSTRAINT_NAME SEPARATOR '|')
	  FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '$1'),
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING,
	   EVENT_MANIPULATION, ACTION_ORDER, ACTION_STATEMENT, CREATED) ORDER BY TRIGGER_NAME SEPARATOR '|')
	  FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '$1'),
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', TABLE_NAME, VIEW_DEFINITION) ORDER BY TABLE_NAME SEPARATOR '|')
	  FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '$1'),
	 (SELECT GROUP_CONCAT(CONCAT_WS(':', ROUTINE_NAME, ROUTINE_DEFINITION) ORDER BY ROUTINE_NAME SEPARATOR '|')
	  FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '$1'), 'end'))" "$1"
}

# base_tables DB: the base tables, comma-separated, sorted
base_tables() {
	sql "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES
	     WHERE TABLE_SCHEMA = '$1' AND TABLE_TYPE = 'BASE TABLE'" "$1"
}

# data_sum DB [table...]: "table checksum" lines (CHECKSUM TABLE ... EXTENDED reads every row)
data_sum() {
	_db=$1
	shift
	[ $# -gt 0 ] || set -- $(sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE
		TABLE_SCHEMA = '$_db' AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME" "$_db")
	for _t in "$@"; do sql "CHECKSUM TABLE \`$_t\` EXTENDED" "$_db"; done
}

# ddl DB table...: SHOW CREATE TABLE without the AUTO_INCREMENT counter
ddl() {
	_db=$1
	shift
	for _t in "$@"; do
		sql "SHOW CREATE TABLE \`$_t\`" "$_db" | sed 's/ AUTO_INCREMENT=[0-9]*//'
	done
}

# triggers DB: name:timing:event:table, sorted
triggers() {
	sql "SELECT GROUP_CONCAT(CONCAT_WS(':', TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION,
	     EVENT_OBJECT_TABLE) ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS
	     WHERE TRIGGER_SCHEMA = '$1'" "$1"
}

"$C" server start --datadir "$DBDIR" >/dev/null || fail "server start"

note "init on an empty server creates sakila, the CDC tables and the trigger"
assert_eq "$(sql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'sakila'" mysql)" \
	0 "sakila before init"
out=$("$C" init --datadir "$DBDIR") || fail "init failed"
for w in 'created database' 'created sakila subset' 'created change tables' 'created capture trigger'; do
	echo "$out" | grep -q "$w" || fail "init output lacks '$w': $out"
done
assert_eq "$(base_tables sakila)" "$ALL_TABLES" "tables"
assert_eq "$(triggers sakila)" customer_after_insert_cdc:AFTER:INSERT:customer "triggers"
assert_eq "$(sql 'SELECT COUNT(*) FROM store')" 2 "stores"
assert_eq "$(sql 'SELECT COUNT(*) FROM store s JOIN staff m ON m.staff_id = s.manager_staff_id
	JOIN address a ON a.address_id = s.address_id JOIN city ON city.city_id = a.city_id
	JOIN country USING (country_id)')" 2 "stores with manager, address, city, country"
n=$(sql 'SELECT COUNT(*) FROM city JOIN country USING (country_id)')
[ "$n" -ge 24 ] || fail "only $n cities with a country, expected a few dozen"
assert_eq "$(sql 'SELECT COUNT(*) FROM customer')" 0 "customers after init"
assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events')" 0 "change rows after init"
assert_eq "$(sql "SELECT city FROM city WHERE city = 'São Paulo'")" "São Paulo" "utf8mb4 round trip"
assert_eq "$(sql "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA
	WHERE SCHEMA_NAME = 'sakila'")" utf8mb4 "database charset"
# ids INT UNSIGNED where sakila has SMALLINT; the change table is VARCHAR, never CHAR/ENUM/SET
assert_eq "$(sql "SELECT GROUP_CONCAT(CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE)
	ORDER BY TABLE_NAME, COLUMN_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sakila'
	AND COLUMN_NAME IN ('customer_id', 'address_id') AND TABLE_NAME IN ('customer', 'address')")" \
	"address.address_id int(10) unsigned,customer.address_id int(10) unsigned,customer.customer_id int(10) unsigned" \
	"id column types"
assert_eq "$(sql "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sakila'
	AND TABLE_NAME = 'users_change_events' AND DATA_TYPE IN ('char', 'enum', 'set')")" 0 \
	"CHAR/ENUM/SET columns in users_change_events"
assert_eq "$(sql "SELECT CONCAT_WS(' ', COLUMN_TYPE, EXTRA) FROM information_schema.COLUMNS
	WHERE TABLE_SCHEMA = 'sakila' AND TABLE_NAME = 'users_change_events' AND COLUMN_NAME = 'log_id'")" \
	"bigint(20) unsigned auto_increment" "log_id column"
assert_eq "$(sql "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sakila'
	AND TABLE_NAME = 'users_change_events' AND COLUMN_NAME = 'event_timestamp'")" "timestamp(6)" \
	"event_timestamp column"
for col in event_type customer_id store_id first_name last_name email address_id; do
	assert_eq "$(sql "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sakila'
		AND TABLE_NAME = 'users_change_events' AND COLUMN_NAME = '$col'")" 1 "column $col"
done

note "init twice is a no-op"
# some rows first, so that the contents checksum has something to guard
"$C" inject --datadir "$DBDIR" -n 5 --seed 7 >/dev/null || fail "inject before the second init"
s1=$(schema_sum sakila)
d1=$(data_sum sakila)
out=$("$C" init --datadir "$DBDIR") || fail "second init failed"
echo "$out" | grep -q 'nothing to do' || fail "second init said: $out"
assert_eq "$(schema_sum sakila)" "$s1" "information_schema digest after the second init"
assert_eq "$(data_sum sakila)" "$d1" "table checksums after the second init"
# a trigger dropped by hand is the only thing missing: init recreates it alone
sql 'DROP TRIGGER customer_after_insert_cdc'
out=$("$C" init --datadir "$DBDIR") || fail "init after dropping the trigger failed"
assert_eq "$(echo "$out" | grep -o 'created [a-z ]*' | tr '\n' ';')" "created capture trigger;" \
	"what init created when only the trigger was missing"
assert_eq "$(data_sum sakila)" "$d1" "table checksums after recreating the trigger"

# real_sakila DB FIXTURE MODE: loads the fixture into DB, runs init on it (MODE private: the
# private server with -D DB; named: -S socket -D DB), checks that it added only the CDC objects
# and kept every row and table definition, then that inject works there.
real_sakila() {
	db=$1 fixture=$2 mode=$3
	sql "CREATE DATABASE $db CHARACTER SET utf8mb4" mysql
	mysql_in "$db" <"$FIX/$fixture" || fail "loading $fixture"
	old_tables="address city country customer staff store"
	assert_eq "$(base_tables "$db")" "$SAKILA_TABLES" "$fixture tables"
	ddl0=$(ddl "$db" $old_tables)
	sum0=$(data_sum "$db" $old_tables)
	view0=$(sql "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '$db'" "$db")
	trig0=$(sql "SELECT CONCAT(ACTION_STATEMENT, CREATED) FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = '$db' AND TRIGGER_NAME = 'customer_create_date'" "$db")
	if [ "$mode" = private ]; then
		set -- --datadir "$DBDIR" -D "$db"
	else
		set -- -S "$SOCK" -D "$db"
	fi
	out=$("$C" init "$@") || fail "init on $fixture failed"
	echo "$out" | grep -q 'created sakila subset' && fail "init re-created sakila over $fixture: $out"
	echo "$out" | grep -q 'created change tables' || fail "init on $fixture said: $out"
	echo "$out" | grep -q 'created capture trigger' || fail "init on $fixture said: $out"
	assert_eq "$(base_tables "$db")" "$ALL_TABLES" "tables after init on $fixture"
	assert_eq "$(triggers "$db")" \
		customer_after_insert_cdc:AFTER:INSERT:customer,customer_create_date:BEFORE:INSERT:customer \
		"triggers after init on $fixture"
	assert_eq "$(ddl "$db" $old_tables)" "$ddl0" "table definitions after init on $fixture"
	assert_eq "$(data_sum "$db" $old_tables)" "$sum0" "table checksums after init on $fixture"
	assert_eq "$(sql "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '$db'" "$db")" \
		"$view0" "customer_list view after init on $fixture"
	assert_eq "$(sql "SELECT CONCAT(ACTION_STATEMENT, CREATED) FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = '$db' AND TRIGGER_NAME = 'customer_create_date'" "$db")" "$trig0" \
		"sakila's own trigger after init on $fixture"
	assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events' "$db")" 0 "change rows after init"
	s=$(schema_sum "$db")
	out=$("$C" init "$@") || fail "second init on $fixture failed"
	echo "$out" | grep -q 'nothing to do' || fail "second init on $fixture said: $out"
	assert_eq "$(schema_sum "$db")" "$s" "information_schema digest after a second init on $fixture"
	assert_eq "$(data_sum "$db" $old_tables)" "$sum0" "checksums after a second init on $fixture"

	cust0=$(sql "SELECT MD5(GROUP_CONCAT(CONCAT_WS(':', customer_id, store_id, first_name,
		last_name, email, address_id, create_date) ORDER BY customer_id)) FROM customer" "$db")
	out=$("$C" inject "$@" -n 20 --seed 11) || fail "inject on $fixture failed"
	echo "$out" | grep -q '^inject: wrote 20 customers' || fail "inject on $fixture said: $out"
	assert_eq "$(sql 'SELECT COUNT(*) FROM customer' "$db")" 23 "customers after inject on $fixture"
	assert_eq "$(sql 'SELECT COUNT(*) FROM address' "$db")" 27 "addresses after inject on $fixture"
	assert_eq "$(sql 'SELECT COUNT(*) FROM store' "$db")" 2 "stores after inject on $fixture"
	assert_eq "$(sql 'SELECT COUNT(*) FROM city' "$db")" 5 "cities after inject on $fixture"
	assert_eq "$(sql "SELECT MD5(GROUP_CONCAT(CONCAT_WS(':', customer_id, store_id, first_name,
		last_name, email, address_id, create_date) ORDER BY customer_id)) FROM customer
		WHERE customer_id <= 3" "$db")" "$cust0" "sakila's own 3 customers after inject on $fixture"
	assert_eq "$(sql 'SELECT COUNT(*) FROM users_change_events e JOIN customer c USING (customer_id)
		WHERE c.store_id = e.store_id AND c.first_name = e.first_name AND c.last_name = e.last_name
		AND c.email <=> e.email AND c.address_id = e.address_id AND c.customer_id > 3' "$db")" 20 \
		"change rows matching the new customers on $fixture"
	# sakila's customer_list view joins customer, address, city, country: the new rows fit it
	assert_eq "$(sql 'SELECT COUNT(*) FROM customer_list' "$db")" 23 "customer_list rows on $fixture"
	assert_eq "$(sql 'SELECT COUNT(*) FROM customer WHERE customer_id > 3 AND store_id NOT IN (1, 2)' "$db")" \
		0 "new customers in stores that do not exist"
}

note "init on the real sakila layout (MariaDB flavour, private server) keeps every row"
real_sakila realsak real-sakila.sql private

note "init on MySQL 8's real sakila (address.location GEOMETRY NOT NULL, named server)"
real_sakila realsak8 real-sakila-mysql8.sql named
assert_eq "$(sql "SELECT COUNT(*) FROM address WHERE address_id > 7 AND ST_GeometryType(location) = 'POINT'
	AND ST_X(location) BETWEEN -180 AND 180 AND ST_Y(location) BETWEEN -90 AND 90" realsak8)" 20 \
	"new addresses with a valid point"

note "t_init passed"
