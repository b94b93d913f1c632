#!/bin/sh
# t_debezium.sh - `cdctop watch` on topics written the way the Debezium MySQL connector writes
# them (tests/fixtures/debezium: key and value files, schemas off in off/, on in on/): a
# snapshot (op r, snapshot "true"/true/"last", source.ts_ms 0, one shared position), creates
# (one with a transaction block, two rows of one binlog event, one with a GTID on the
# schemas-on topic), an update, a delete, its tombstone, a row of another table and a
# heartbeat, produced with kcat into the mock on partition 0, then re-deliveries of four of
# them on partition 1 (and on the schemas-on topic a schemas-off copy of one: the shape is
# judged per message). `watch --json --once` must give exactly the counts these messages
# define: registrations per (10 s window, store), updates and deletes apart, re-deliveries
# counted once as duplicates, tombstones and heartbeats skipped, not rejected; --table,
# --group-by (an integer, a boolean, a ZonedTimestamp string, a Timestamp in epoch ms; 70
# distinct emails: 63 apart and 7 as "other") and --format change them as documented; 200
# distinct values with skewed counts give the top 63 by count and "other" exactly (computed
# here from the messages), and 1100 fill the value table (said in the summary). No MySQL
# involved.
. "$(dirname "$0")/lib.sh"

command -v kcat >/dev/null || fail "kcat is not installed (make deps)"
FIX="$(cd "$(dirname "$0")" && pwd)/fixtures/debezium"

expect_error "--format: 'avro' is not a format" "$CDCTOP" watch --format avro --once
expect_error "--group-by and --table apply to Debezium" \
	"$CDCTOP" watch --format cdctop --group-by address_id --once
note "bad input: one line each"

t_mock 1
note "mock at $BOOT"


ALL="snap1 snap2 snap3 create4 create5 create6 update4 delete5 tomb5 address606 heartbeat"
AGAIN="snap1 create4 update4 delete5"
dbz_send dbz.off 0 off $ALL
dbz_send dbz.off 1 off $AGAIN
dbz_send dbz.on 0 on $ALL
dbz_send dbz.on 1 on $AGAIN
dbz_send dbz.on 2 off create6 # the same change as on/create6, in the other shape

# watch_once TOPIC ARGS...: `watch --json --once -w 10s` into $T/w.json.
watch_once() {
	_t=$1
	shift
	timeout 60 "$CDCTOP" watch --json --once -b "$BOOT" -t "$_t" -w 10s "$@" >"$T/w.json" \
		2>"$T/w.err" || fail "watch -t $_t $* exited non-zero: $(cat "$T/w.err")"
}

# windows COLUMN: the window lines as "value<TAB>start<TAB>count<TAB>final", sorted, the
# value as the JSON line has it (a number, true, or a quoted string).
windows() {
	sed -n 's/^{"window_start":"\([^"]*\)","window_end":"[^"]*","'"$1"'":\([0-9a-z]*\|"[^"]*"\),"count":\([0-9]*\),"final":\([a-z]*\)}$/\2\t\1\t\3\t\4/p' \
		"$T/w.json" | sort
}

W0=2025-12-01T10:00:00Z
W1=2025-12-01T10:00:10Z
TAB=$(printf '\t')
# by store: snapshot rows 1 (store 1), 2 (store 2), 3 (store 1) at 10:00:01-03; creates 4
# (store 2) at 10:00:12, 5 (store 1) and 6 (store 2) at 10:00:15
BY_STORE="1${TAB}$W0${TAB}2${TAB}false
1${TAB}$W1${TAB}1${TAB}false
2${TAB}$W0${TAB}1${TAB}false
2${TAB}$W1${TAB}2${TAB}false"

for shape in off on; do
	dups=4 consumed=15
	[ $shape = on ] && dups=5 consumed=16
	watch_once dbz.$shape
	assert_eq "$(windows store_id)" "$BY_STORE" "$shape: registrations per (window, store)"
	summary=$(tail -n 1 "$T/w.json")
	case "$summary" in
	'{"consumed":'$consumed',"counted":6,"duplicates":'$dups',"late":0,"expired":0,"rejected":1,"rejects":["p0@9: after.store_id is missing (choose the column with --group-by)"],"lost":0,"lost_detail":"","updates":1,"deletes":1,"skipped":2,"values":2,"values_max":1024,"untracked":0,"wait_switches":'*'}') ;;
	*) fail "$shape: summary: $summary" ;;
	esac
	note "$shape: 6 registrations, 1 update, 1 delete, $dups re-deliveries counted once"

	# --table customer: the address row is skipped, not rejected
	watch_once dbz.$shape --table customer
	assert_eq "$(windows store_id)" "$BY_STORE" "$shape --table customer: windows"
	grep -q '"counted":6,"duplicates":'$dups',"late":0,"expired":0,"rejected":0,"rejects":\[\],"lost":0,"lost_detail":"","updates":1,"deletes":1,"skipped":3,"values":2,"values_max":1024,"untracked":0,"wait_switches":[0-9]*}$' "$T/w.json" ||
		fail "$shape --table customer: summary: $(tail -n 1 "$T/w.json")"

	# --group-by address_id: one registration per address, the JSON names the column
	watch_once dbz.$shape --table customer --group-by address_id --format debezium
	assert_eq "$(windows address_id)" "10${TAB}$W1${TAB}1${TAB}false
5${TAB}$W0${TAB}1${TAB}false
6${TAB}$W0${TAB}1${TAB}false
7${TAB}$W0${TAB}1${TAB}false
8${TAB}$W1${TAB}1${TAB}false
9${TAB}$W1${TAB}1${TAB}false" "$shape --group-by address_id: windows"
	grep -q '"counted":6,"duplicates":'$dups',.*"rejected":0,.*"updates":1,"deletes":1,"skipped":3,"values":6,"values_max":1024,"untracked":0,"wait_switches":[0-9]*}$' "$T/w.json" ||
		fail "$shape --group-by address_id: summary: $(tail -n 1 "$T/w.json")"
	note "$shape: --table and --group-by give the counts they must"
done

# any scalar column: a boolean, a ZonedTimestamp (ISO string), a Timestamp (epoch ms), as the
# connector encodes them; the JSON names the value the same way
for col in 'active true' 'last_update "2006-02-15T04:57:20Z"' 'create_date 1139997360000'; do
	c=${col%% *} v=${col#* }
	watch_once dbz.on --table customer --group-by "$c"
	assert_eq "$(windows "$c")" "$v${TAB}$W0${TAB}3${TAB}false
$v${TAB}$W1${TAB}3${TAB}false" "--group-by $c: windows"
done
note "--group-by a boolean, a ZonedTimestamp, a Timestamp: 3 + 3"

# more distinct values than a view shows: the top 63 by count (all 1 here: the first seen, as
# strings are numbered in that order) counted apart, the rest as "other".
# 70 creates with their own email and binlog position (one line each for kcat -l), 10:00:12.
i=0
while [ $i -lt 70 ]; do
	tr -d '\n' <"$FIX/off/create4.value.json" |
		sed "s/BARBARA.JONES@sakilacustomer.org/u$i@example.org/; s/\"pos\": 1002/\"pos\": $((10000 + i * 100))/"
	echo
	i=$((i + 1))
done >"$T/many"
timeout 30 kcat -b "$BOOT" -t dbz.many -p 0 -P -l "$T/many" || fail "kcat -P (70 emails)"
watch_once dbz.many --group-by email
assert_eq "$(windows email | wc -l | tr -d ' ')" 64 "(window, value) lines: 63 emails and other"
assert_eq "$(windows email | grep -c "^\"u[0-9]*@example.org\"${TAB}$W1${TAB}1${TAB}false$")" 63 "emails counted apart"
assert_eq "$(windows email | grep "^\"other\"")" "\"other\"${TAB}$W1${TAB}7${TAB}false" "the rest as other"
grep -q '"consumed":70,"counted":70,"duplicates":0,"late":0,"expired":0,"rejected":0,' "$T/w.json" ||
	fail "70 emails: summary: $(tail -n 1 "$T/w.json")"
note "70 distinct emails: 63 apart, 7 as other"

# 200 distinct address_id values with skewed counts (dbz_skewed: neither first seen nor the
# value is the ranking), event times rising over 10:00:00-19 (two 10 s windows), each with its
# own binlog position; the first 150 re-delivered on partition 1. Expected, computed here from the messages: the 63 values with the most
# registrations (ties: the lower value) per window, and "other" = the rest of each window.
dbz_skewed "$T/top"
N=$(wc -l <"$T/top" | tr -d ' ')
timeout 30 kcat -b "$BOOT" -t dbz.top -p 0 -P -l "$T/top" || fail "kcat -P (200 values)"
head -n 150 "$T/top" >"$T/top.again"
timeout 30 kcat -b "$BOOT" -t dbz.top -p 1 -P -l "$T/top.again" || fail "kcat -P (re-deliveries)"
# want: "value<TAB>window start<TAB>count<TAB>false" lines, as windows() prints them
sed 's/.*"address_id": \([0-9]*\),.*"ts_ms": \(17645832[0-9]*\)000, *"snapshot".*/\1 \2/' "$T/top" |
	awk -v rank="$T/top.rank" '{ w = ($2 - 1764583200) < 10 ? "'$W0'" : "'$W1'"; c[$1 " " w]++ }
	END {
		for (k = 0; k < 63 && (getline line <rank) > 0; k++) { split(line, f, " "); top[f[2]] = 1 }
		for (k in c) {
			split(k, f, " ")
			if (f[1] in top) print f[1] "\t" f[2] "\t" c[k] "\tfalse"
			else o[f[2]] += c[k]
		}
		for (w in o) print "\"other\"\t" w "\t" o[w] "\tfalse"
	}' | sort >"$T/top.want"
assert_eq "$(cut -f1 "$T/top.want" | sort -u | wc -l | tr -d ' ')" 64 "(expected: 63 values and other)"
watch_once dbz.top --group-by address_id
assert_eq "$(windows address_id)" "$(cat "$T/top.want")" "200 values: the top 63 and other per window"
grep -q '^{"consumed":'$((N + 150))',"counted":'$N',"duplicates":150,"late":0,"expired":0,"rejected":0,.*"values":200,"values_max":1024,"untracked":0,"wait_switches":[0-9]*}$' "$T/w.json" ||
	fail "200 values: summary: $(tail -n 1 "$T/w.json")"
note "200 values ($N registrations, 150 re-delivered): the top 63 by count and other, exact"

# more values than the store tracks (1024 with the 1 h horizon: 1023 and the "other" slot):
# 1100 emails, one each: the first 63 apart, other 1037, 77 counted untracked
awk -v tmpl="$(tr -d '\n' <"$FIX/off/create4.value.json")" 'BEGIN {
	for (k = 0; k < 1100; k++) {
		m = tmpl
		sub(/BARBARA.JONES@sakilacustomer.org/, "t" k "@example.org", m)
		sub(/"pos": 1002/, "\"pos\": " (100000 + k * 100), m)
		print m
	}
}' >"$T/full"
timeout 30 kcat -b "$BOOT" -t dbz.full -p 0 -P -l "$T/full" || fail "kcat -P (1100 emails)"
watch_once dbz.full --group-by email
assert_eq "$(windows email | grep -v '^"other"' | cut -f1 | tr -d '"t' | sed 's/@example.org//' | sort -n | tr '\n' ' ')" \
	"$(seq 0 62 | tr '\n' ' ')" "1100 values: the first 63 apart"
assert_eq "$(windows email | grep '^"other"')" "\"other\"${TAB}$W1${TAB}1037${TAB}false" "1100 values: other"
grep -q '"counted":1100,.*"values":1024,"values_max":1024,"untracked":77,"wait_switches":[0-9]*}$' "$T/w.json" ||
	fail "1100 values: summary: $(tail -n 1 "$T/w.json")"
note "1100 values: 63 apart, other 1037, the table full (77 untracked) said in the summary"

# --lateness 0s: the watermark is the newest registration (10:00:15), so the first window
# is final; the snapshot rows (source.ts_ms 0) were timed by the payload's ts_ms.
watch_once dbz.off --lateness 0s
assert_eq "$(windows store_id | cut -f2,4 | sort -u)" "$W0${TAB}true
$W1${TAB}false" "--lateness 0s: final flags"
grep -q '"counted":6,"duplicates":4,"late":0,' "$T/w.json" ||
	fail "--lateness 0s: summary: $(tail -n 1 "$T/w.json")"

# --format cdctop: none of it is cdctop's envelope, every message is rejected
watch_once dbz.off --format cdctop
grep -q '^{"consumed":15,"counted":0,"duplicates":0,"late":0,"expired":0,"rejected":15,"rejects":\["p0@0: op is not \\"c\\" (not an insert)","p0@1: ' "$T/w.json" ||
	fail "--format cdctop: summary: $(tail -n 1 "$T/w.json")"
note "--format cdctop rejects all 15"
