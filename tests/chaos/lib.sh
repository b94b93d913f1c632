# tests/chaos/lib.sh - shared by the chaos scenarios (tests/chaos/s_*.sh), sourced first by
# each: pulls in tests/lib.sh (temp dir, private MariaDB, cleanup, wait_for) and
# tests/tools/relay.sh (topic_dump, mock_fifo), and adds the seeded random moments, the
# concurrent writers, and ch_reconcile, the one exact reconciliation every scenario ends with.
# A scenario's last stdout line is "=> <figures>"; its figures for the suite's total go to
# $CHAOS_FIGS as "key=value" lines. Exit 77 means skipped (the reason on the last "=> " line).
CH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$CH_DIR/../lib.sh"
. "$CH_DIR/../tools/relay.sh"

CHAOS_SEED=${CHAOS_SEED:-42}
CHAOS_SCALE=${CHAOS_SCALE:-full}
CHAOS_FIGS=${CHAOS_FIGS:-$T/figs}
case "$CHAOS_SCALE" in
full | short) ;;
*) fail "CHAOS_SCALE must be full or short, not '$CHAOS_SCALE'" ;;
esac

# scale FULL SHORT: the number for this run's scale.
scale() { if [ "$CHAOS_SCALE" = full ]; then echo "$1"; else echo "$2"; fi; }

# The scenario's own random stream: a Park-Miller generator seeded from CHAOS_SEED and the
# scenario's name, so each scenario's moments repeat run after run and do not depend on the
# others. ch_rand LO HI sets R to a number in [LO, HI] (in this shell, not a subshell).
_s=$(printf '%s' "$(basename "$0")" | cksum | cut -d' ' -f1)
CH_RNG=$(((CHAOS_SEED * 7919 + _s) % 2147483646 + 1))
ch_rand() {
	CH_RNG=$((CH_RNG * 48271 % 2147483647))
	R=$(($1 + CH_RNG % ($2 - $1 + 1)))
}

# ch_sleep_ms MS: sleeps that many milliseconds (the timing of a fault, never an assertion).
ch_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# fig KEY N: adds N to the suite-wide figure KEY (kills, rows, lost, double, ...).
fig() { echo "$1=$2" >>"$CHAOS_FIGS"; }

# ch_done 'figures': the scenario passed; its one-line summary for the suite. The rows of its
# last reconciliation (which covers all its rows) count as the rows it checked.
ch_done() {
	# a sanitizer report in any process's log (writers and relays included) fails the scenario
	_san=$(grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$T"/*.log "$T"/*.out "$T"/*.err "$T"/*.json 2>/dev/null || true)
	[ -z "$_san" ] || fail "sanitizer report in $(echo $_san): $(grep -h -m1 -E 'Sanitizer|runtime error:' $_san | head -n 1)"
	fig rows "${CH_ROWS:-0}"
	fig resent "${CH_RESENT:-0}"
	echo "=> $1"
}

# ch_skip 'reason': the scenario cannot run here.
ch_skip() {
	echo "=> $1"
	exit 77
}

# ch_writers N RATE [BATCH]: starts N `cdctop inject --rate RATE -n BATCH` processes (RATE
# customers/s each), seeded from CHAOS_SEED; their pids are in WRITERS.
WRITERS=""
CH_WN=0
ch_writers() {
	_k=0
	while [ $_k -lt "$1" ]; do
		CH_WN=$((CH_WN + 1))
		bg "$CDCTOP" inject --datadir "$DBDIR" -n "${3:-5}" --rate "$2" \
			--seed $((CHAOS_SEED * 100 + CH_WN)) >"$T/writer.$CH_WN.out" 2>&1
		WRITERS="$WRITERS $!"
		_k=$((_k + 1))
	done
}

# ch_writers_stop: SIGTERM to every writer (each ends after its current batch), waits for them.
ch_writers_stop() {
	for _p in $WRITERS; do kill -TERM "$_p" 2>/dev/null || true; done
	for _p in $WRITERS; do
		wait_for 30 "! kill -0 $_p" || fail "writer $_p did not stop on SIGTERM"
		wait "$_p" 2>/dev/null || true
	done
	WRITERS=""
}

# ch_relay_bg LOG [ARGS]: a relay (not --once) to $BOOT in the background; pid in RELAY.
ch_relay_bg() {
	_l=$1
	shift
	bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" "$@" 2>"$_l"
	RELAY=$!
}

# ch_relay_once LOG: drains the change table to the topic; must end (bounded) with status 0.
ch_relay_once() {
	timeout 120 "$CDCTOP" relay --once -b "$BOOT" --datadir "$DBDIR" 2>"$1" ||
		fail "relay --once did not end with status 0: $(tail -n 5 "$1")"
}

# ch_stop PID WHAT: SIGTERM, a bounded wait, and exit status 0.
ch_stop() {
	kill -TERM "$1" 2>/dev/null || fail "$2 had already exited"
	wait_for 30 "! kill -0 $1" || fail "$2 did not stop within 30 s of SIGTERM"
	set +e
	wait "$1"
	_rc=$?
	set -e
	[ $_rc = 0 ] || fail "$2 exited with status $_rc after SIGTERM"
}

# caught_up: the relay's saved progress is the newest change row.
caught_up() { [ "$(progress)" = "$(max_id)" ]; }

# truth: the SQL ground truth per 10 s window and store, in windows_of's format (tests/lib.sh):
# SELECT store_id, FLOOR(UNIX_TIMESTAMP(event_timestamp)/10)*10, COUNT(*) ... GROUP BY 1, 2.
truth() {
	sql "SET time_zone = '+00:00';
	     SELECT store_id,
	            DATE_FORMAT(FROM_UNIXTIME(FLOOR(UNIX_TIMESTAMP(event_timestamp) / 10) * 10),
	                        '%Y-%m-%dT%H:%i:%sZ'),
	            COUNT(*)
	     FROM users_change_events GROUP BY 1, 2" | sort
}

# diff_counts WATCH_TSV TRUTH_TSV: "lost double" - the rows the watch counts fall short of
# the truth, and the rows they exceed it by, summed over every (window, store).
diff_counts() {
	awk -F'\t' 'FILENAME == ARGV[1] { w[$1 "\t" $2] = $3; next }
	     { t[$1 "\t" $2] = $3 }
	     END {
		for (k in t) { d = t[k] - w[k]; if (d > 0) lost += d; else double -= d }
		for (k in w) if (!(k in t)) double += w[k]
		print lost + 0, double + 0
	     }' "$1" "$2"
}

# summary_of FILE KEY: a number from watch's closing summary line.
summary_of() {
	grep '^{"consumed":' "$1" | tail -n 1 | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# ch_reconcile WHAT: the exact reconciliation. (1) Every log_id of users_change_events is on
# the topic (read back to its end by tools/topic_ids) and nothing else is; (2) the per-window,
# per-store counts of `cdctop watch --json --once -w 10s` equal the SQL truth, every row
# counted once (counted = rows, no late, expired or rejected event). Adds lost and double to
# the figures; sets CH_ROWS, CH_MSGS and CH_RESENT; fails naming what differs.
ch_reconcile() {
	_w=$1
	topic_dump "$BOOT" >"$T/rc.topic"
	sql_ids >"$T/rc.ids"
	CH_ROWS=$(wc -l <"$T/rc.ids" | tr -d ' ')
	CH_MSGS=$(wc -l <"$T/rc.topic" | tr -d ' ')
	topic_ids_of "$T/rc.topic" | sort -u >"$T/rc.on"
	sort -u "$T/rc.ids" >"$T/rc.ids.s"
	_missing=$(join -v1 "$T/rc.ids.s" "$T/rc.on" | wc -l | tr -d ' ')
	_extra=$(join -v2 "$T/rc.ids.s" "$T/rc.on" | wc -l | tr -d ' ')
	CH_RESENT=$((CH_MSGS - $(wc -l <"$T/rc.on" | tr -d ' ')))

	timeout 60 "$CDCTOP" watch --json --once -b "$BOOT" -w 10s >"$T/rc.json" 2>"$T/rc.err" ||
		fail "$_w: watch --json --once exited non-zero: $(cat "$T/rc.err")"
	windows_of "$T/rc.json" >"$T/rc.w"
	truth >"$T/rc.t"
	set -- $(diff_counts "$T/rc.w" "$T/rc.t")
	_lost=$1 _double=$2
	[ "$_missing" -gt "$_lost" ] && _lost=$_missing
	fig lost "$_lost"
	fig double "$_double"

	[ "$CH_ROWS" -gt 0 ] || fail "$_w: no change rows: the scenario wrote nothing"
	[ "$_missing" = 0 ] || fail "$_w: $_missing of $CH_ROWS log_ids not on the topic, first: $(join -v1 "$T/rc.ids.s" "$T/rc.on" | sort -n | head -n 5 | tr '\n' ' ')"
	[ "$_extra" = 0 ] || fail "$_w: $_extra log_ids on the topic that are not in users_change_events: $(join -v2 "$T/rc.ids.s" "$T/rc.on" | sort -n | head -n 5 | tr '\n' ' ')"
	cmp -s "$T/rc.w" "$T/rc.t" ||
		fail "$_w: watch counts differ from SQL (lost $_lost, double $_double; < sql, > watch): $(diff "$T/rc.t" "$T/rc.w" | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
	for _k in late expired rejected; do
		[ "$(summary_of "$T/rc.json" $_k)" = 0 ] ||
			fail "$_w: watch summary has $_k != 0: $(tail -n 1 "$T/rc.json")"
	done
	[ "$(summary_of "$T/rc.json" counted)" = "$CH_ROWS" ] ||
		fail "$_w: watch counted $(summary_of "$T/rc.json" counted) of $CH_ROWS rows: $(tail -n 1 "$T/rc.json")"
	[ "$(summary_of "$T/rc.json" consumed)" = "$CH_MSGS" ] ||
		fail "$_w: watch consumed $(summary_of "$T/rc.json" consumed) of the $CH_MSGS messages on the topic"
	note "$_w: reconciled $CH_ROWS rows in $(wc -l <"$T/rc.t" | tr -d ' ') (window, store) counts; $CH_MSGS messages ($CH_RESENT re-sent copies ignored); lost 0, double-counted 0"
}
