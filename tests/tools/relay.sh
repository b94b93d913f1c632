# tests/tools/relay.sh - helpers shared by tests/t_relay*.sh, sourced after tests/lib.sh: read
# a topic back with a real consumer (tools/topic_ids, a librdkafka consumer that decodes every
# envelope with env_decode), dump the change table in the same column order, read the relay's
# saved progress, and run a mock cluster whose stdin takes fault commands (down/up/rtt).

TOOLS=${BUILD_DIR:-$(dirname "$CDCTOP")}/tools
TOPIC=cdc.sakila.customer
[ -x "$TOOLS/topic_ids" ] || fail "$TOOLS/topic_ids is not built (make all)"
command -v kcat >/dev/null || fail "kcat is not installed (make deps)"

# topic_dump BOOT [TOPIC]: one line per message on the topic, tab-separated: partition offset
# log_id ts_us customer_id store_id address_id active create_date first last email key.
topic_dump() {
	"$TOOLS/topic_ids" -b "$1" -t "${2:-$TOPIC}" -T 60 ||
		fail "topic_ids could not read ${2:-$TOPIC} at $1 to its end"
}

# topic_ids_of FILE: the sorted log_ids of a topic_dump (duplicates kept).
topic_ids_of() {
	cut -f3 "$1" | sort -n
}

# sql_ids ['where']: the sorted log_ids of users_change_events.
sql_ids() {
	sql "SELECT log_id FROM users_change_events ${1:-} ORDER BY log_id"
}

# sql_rows ['where']: change rows in topic_dump's columns 3..12 (log_id .. email), UTC.
sql_rows() {
	sql "SET time_zone = '+00:00';
	     SELECT log_id, TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', event_timestamp),
	            customer_id, store_id, address_id, active,
	            DATE_FORMAT(create_date, '%Y-%m-%d %H:%i:%s'), first_name, last_name,
	            COALESCE(email, '')
	     FROM users_change_events ${1:-} ORDER BY log_id"
}

# progress [TOPIC]: latest_cdc_timestamp.last_log_id of the topic (0 if no row yet).
progress() {
	_p=$(sql "SELECT last_log_id FROM latest_cdc_timestamp WHERE topic = '${1:-$TOPIC}'")
	echo "${_p:-0}"
}

# max_id: the highest log_id in the change table (0 if empty).
max_id() {
	sql "SELECT COALESCE(MAX(log_id), 0) FROM users_change_events"
}

# check_ids_on_topic IDS_FILE TOPIC_DUMP WHAT: every id of IDS_FILE is on the topic.
check_ids_on_topic() {
	topic_ids_of "$2" | sort -u >"$T/.on_topic"
	sort -u "$1" | join -v1 - "$T/.on_topic" >"$T/.missing" || true
	[ -s "$T/.missing" ] || return 0
	# the mock keeps ~5 MiB per partition: a partition not starting at offset 0 lost messages
	_ret=$(awk -F'\t' '!($1 in lo) || $2 < lo[$1] { lo[$1] = $2 } END { for (p in lo) if (lo[p] > 0) printf " %s@%s", p, lo[p] }' "$2")
	[ -z "$_ret" ] || note "retention: partitions start past offset 0:$_ret"
	fail "$3: $(wc -l <"$T/.missing" | tr -d ' ') id(s) not on the topic, first: $(sort -n "$T/.missing" | head -n 5 | tr '\n' ' ')"
}

# check_progress_safe BOOT WHAT: every change row with log_id <= the saved progress is on the
# topic (progress never passed an unacknowledged id).
check_progress_safe() {
	_p=$(progress)
	topic_dump "$1" >"$T/.ps_topic"
	sql_ids "WHERE log_id <= $_p" >"$T/.ps_ids"
	check_ids_on_topic "$T/.ps_ids" "$T/.ps_topic" "$2 (progress $_p)"
	echo "$_p"
}

# mock_fifo [BROKERS [PARTITIONS]]: starts `cdctop kafka-mock` reading fault commands from a fifo held open
# on fd 3; sets BOOT and MOCK_PID. mock_cmd 'down all' sends one and waits for its "ok".
mock_fifo() {
	rm -f "$T/mock.in"
	mkfifo "$T/mock.in"
	exec 3<>"$T/mock.in" # read-write: opening never blocks, and the mock sees no EOF
	# not through bg: an async command's stdin is /dev/null unless redirected on the command
	"$CDCTOP" kafka-mock --brokers "${1:-3}" --partitions "${2:-3}" <"$T/mock.in" >"$T/mock.out" 2>"$T/mock.err" &
	MOCK_PID=$!
	BG_PIDS="$BG_PIDS $MOCK_PID"
	wait_for 20 '[ -s "$T/mock.out" ]' || fail "kafka-mock printed no address: $(cat "$T/mock.err")"
	BOOT=$(head -n 1 "$T/mock.out")
}

mock_cmd() {
	_n=$(wc -l <"$T/mock.out")
	echo "$1" >&3
	wait_for 30 '[ "$(wc -l <"$T/mock.out")" -gt "$_n" ]' || fail "kafka-mock did not answer '$1' within 30 s"
	_r=$(sed -n "$((_n + 1))p" "$T/mock.out")
	[ "$_r" = ok ] || fail "kafka-mock '$1': $_r"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo 1
}

# log_has FILE 'regex' WHAT: the log says it.
log_has() {
	grep -Eq -- "$2" "$1" || fail "$3: no /$2/ in the log: $(tail -n 20 "$1")"
}

# kcat_check MODE [BOOT] [TOPIC] [--dups-ok]: reads the whole topic with kcat -C -J and checks it
# with tools/envelope_check.py (Python's json, not cdctop's decoder) against SQL: every message
# an envelope whose `after` fields each equal the customer column of that name (for a change
# row without a customer row: the change row's), source.log_id/ts_us and the key equal to
# SQL's, every expected registration once. MODE trigger: the registrations are the change rows
# (log_id, event_timestamp); binlog: the customers (log_id = customer_id, ts = create_date).
kcat_check() {
	_mode=$1 _b=${2:-$BOOT} _t=${3:-$TOPIC} _dups=${4:-}
	timeout 60 kcat -b "$_b" -t "$_t" -C -J -e -q -o beginning >"$T/kcat.json" 2>"$T/kcat.err" ||
		fail "kcat -C -J of $_t: $(cat "$T/kcat.err")"
	_cust="JSON_OBJECT('customer_id', c.customer_id, 'store_id', c.store_id,
	          'first_name', c.first_name, 'last_name', c.last_name, 'email', c.email,
	          'address_id', c.address_id, 'active', c.active, 'create_date', c.create_date,
	          'last_update', c.last_update)"
	if [ "$_mode" = trigger ]; then
		_q="SELECT JSON_OBJECT('log_id', e.log_id,
		          'ts_us', TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', e.event_timestamp),
		          'row', IF(c.customer_id IS NULL,
		             JSON_OBJECT('customer_id', e.customer_id, 'store_id', e.store_id,
		               'first_name', e.first_name, 'last_name', e.last_name, 'email', e.email,
		               'address_id', e.address_id, 'active', e.active,
		               'create_date', e.create_date), $_cust))
		    FROM users_change_events e LEFT JOIN customer c USING (customer_id)"
	else
		_q="SELECT JSON_OBJECT('log_id', c.customer_id,
		          'ts_us', CAST(UNIX_TIMESTAMP(c.create_date) AS SIGNED) * 1000000, 'row', $_cust)
		    FROM customer c"
	fi
	mariadb --no-defaults -S "$SOCK" -uroot -N -B -r sakila \
		-e "SET time_zone = '+00:00'; $_q" >"$T/sql.json" || fail "kcat_check: the SQL side failed"
	python3 "$(dirname "$0")/tools/envelope_check.py" $_dups "$_mode" "$T/kcat.json" "$T/sql.json" \
		>"$T/envcheck.out" 2>&1 || fail "kcat -J vs SQL: $(cat "$T/envcheck.out")"
	note "$(cat "$T/envcheck.out")"
}
