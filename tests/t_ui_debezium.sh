#!/bin/sh
# t_ui_debezium.sh - the monitor on a topic cdctop does not write (--format debezium,
# --group-by, --table with -b): the Debezium fixtures (tests/fixtures/debezium, as t_debezium.sh
# produces them: snapshot rows, creates, an update, a delete, its tombstone, another table's
# row, a heartbeat, then re-deliveries on partition 1) in a standalone kafka-mock, the monitor
# in tmux. The screen must show exactly what the fixtures give: registrations per group value
# in the open window ("store_id 1", "active true"), updates, deletes and skipped messages in
# the histogram's footer, re-deliveries as duplicates; the capture pane says capture is not
# cdctop's; i and I answer on the status line that injection needs cdctop's own pipeline; no
# MariaDB is started (none runs under this test's dirs, no private server dir is made); q exits
# 0 with the terminal given back. Without -b it refuses with one line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"

command -v kcat >/dev/null || fail "kcat is not installed (make deps)"

expect_error "give its cluster with -b HOST:PORT" "$CDCTOP" --format debezium -t dbz.off
expect_error "give its cluster with -b HOST:PORT" "$CDCTOP" --group-by active
note "no -b: one line"

t_mock 1
note "mock at $BOOT"

dbz_send dbz.off 0 off snap1 snap2 snap3 create4 create5 create6 update4 delete5 tomb5 address606 heartbeat
dbz_send dbz.off 1 off snap1 create4 update4 delete5

# a missing topic: one line naming it, exit 1, and it is not created
scr_start 120 40 -b "$BOOT" -t dbz.nosuch --format debezium
scr_wait 30 'EXITED 1' "the exit on a missing topic"
grep -q "^cdctop: kafka: topic 'dbz.nosuch' does not exist at $BOOT: name the connector's topic with -t (one cdctop does not write is never created)\$" "$T/ui.err" ||
	fail "a missing topic: stderr: $(cat "$T/ui.err")"
assert_eq "$(wc -l <"$T/ui.err" | tr -d ' ')" 1 "a missing topic: lines on stderr"
# (all topics: the mock creates one that kcat -L -t names)
! timeout 30 kcat -b "$BOOT" -L 2>&1 | grep -q 'topic "dbz.nosuch"' ||
	fail "the missing topic was created"
scr_tmux kill-server
note "a missing topic: one line, exit 1, not created"

# no_mariadbd WHAT: no MariaDB server runs with this test's dirs, and no private server's
# data dir was made under its HOME (the monitor's default state dir).
no_mariadbd() {
	! ps -eo args | grep -F "$T" | grep -q '[m]ariadbd' || fail "$1: a mariadbd runs under $T"
	! find "$HOME" -name 'mysqld.sock' -o -name 'ibdata1' | grep -q . ||
		fail "$1: a private server's files under $HOME: $(find "$HOME" | head -n 5)"
}

# bar LABEL: the open window's count for LABEL in the chart's legend ("store_id 1 3 of 3").
bar() { grep -Eo -m1 -- "$1 [0-9,]+ of " "$SCR" | tr -d ',' | awk '{ print $(NF - 1) }'; }
# entries ERE: how many legend entries match ("LABEL N of M").
entries() { grep -Eo -- "$1 [0-9,]+ of " "$SCR" | wc -l | tr -d ' '; }

# The fixtures, by store_id: snapshot rows 1 (store 1), 2 (store 2), 3 (store 1), creates 4
# (store 2), 5 (store 1), 6 (store 2): 3 and 3 in the hour 10:00-11:00 of 2025-12-01; one
# update and one delete; the tombstone, the heartbeat and (with --table customer) the address
# row skipped; 4 re-deliveries.
scr_start 120 40 -b "$BOOT" -t dbz.off --format debezium --table customer -w 1h
scr_wait 30 'rejected 0 +duplicates 4 +updates 1 +deletes 1 +skipped 3' "the footer's counts"
scr_wait 10 'store_id 2 ' "the second bar"
scr_cap >/dev/null
# the capture pane's text, its rows joined (it wraps at the pane's width)
cap_text=$(sed -n '/┌ capture /,/└/s/^│ \([^│]*\)│.*/\1/p' "$SCR" | tr -s ' \n' '  ' | sed 's/ *$//')
case "$cap_text" in
"capture: Debezium topic dbz.off, not written by cdctop no relay or injection here: the keys i I < > [ ] need cdctop's own pipeline") ;;
*) cat "$SCR"; fail "the capture pane: '$cap_text'" ;;
esac
for want in 'late 0 +rejected 0' \
	'registrations per value' 'window 10:00:00.11:00:00' 'capture: debezium' \
	"kafka: ${BOOT%%,*}" 'check  none'; do
	grep -Eq -- "$want" "$SCR" || { cat "$SCR"; fail "no /$want/ on the screen"; }
done
! grep -Eq 'customers|change rows|backlog|mysql:' "$SCR" || { cat "$SCR"; fail "MySQL figures on a foreign topic's screen"; }
assert_eq "$(bar 'store_id 1')" 3 "store_id 1's bar"
assert_eq "$(bar 'store_id 2')" 3 "store_id 2's bar"
assert_eq "$(entries 'store_id [0-9]+')" 2 "legend entries: two values"
! grep -Eq '(other|store_id [03-9]) [0-9,]+ of ' "$SCR" || { cat "$SCR"; fail "an entry of a value no fixture has"; }
note "by store_id: 3 and 3, updates 1, deletes 1, skipped 3, duplicates 4"
no_mariadbd "--format debezium"

scr_keys i
scr_wait 5 "^ inject: needs cdctop's own pipeline" "the answer to i"
scr_keys I
scr_wait 5 "^ inject: needs cdctop's own pipeline" "the answer to I"
note "i and I: $(grep -E "^ inject:" "$SCR" | cut -c1-100)"

scr_exit_mark
scr_keys q
scr_exit_wait 0 "q"
scr_stty_same "q"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"

# --group-by a boolean on the schemas-on topic, at 80x24 (the footer's counts all fit): six
# registrations, all "active true"; without --table the address row has no such column
# (rejected), and two skipped (tombstone, heartbeat)
dbz_send dbz.on 0 on snap1 snap2 snap3 create4 create5 create6 update4 delete5 tomb5 address606 heartbeat
scr_start 80 24 -b "$BOOT" -t dbz.on --group-by active -w 1h
scr_wait 30 'rejected 1 +duplicates 0 +updates 1 +deletes 1 +skipped 2' "the footer (group-by active)"
scr_wait 10 'active true ' "the bar"
scr_cap >/dev/null
assert_eq "$(bar 'active true')" 6 "active true's bar"
assert_eq "$(entries 'active [a-z]+')" 1 "legend entries: one value"
no_mariadbd "--group-by active"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q (group-by active)"
scr_stty_same "q (group-by active)"
note "--group-by active: 6 as active true"

# 200 distinct values with skewed counts (dbz_skewed), at 120x90 so that the legend holds all 64
# stores: they are the 63 values with the most registrations, each its count, and "other" the rest,
# its label naming how many values it holds; computed here from the messages
dbz_skewed "$T/top"
timeout 30 kcat -b "$BOOT" -t dbz.top -p 0 -P -l "$T/top" || fail "kcat -P (200 values)"
N=$(wc -l <"$T/top" | tr -d ' ')
scr_start 120 90 -b "$BOOT" -t dbz.top --group-by address_id -w 1h
# every message read, as the status line counts them (a slow start, as under TSan, shows the
# legend while the topic is still being read, and a partial read can give other the same sum)
scr_wait 60 "watching dbz\\.top: $(echo "$N" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta') messages read" \
	"all $N messages read"
rest=$(head -n 63 "$T/top.rank" | awk -v n="$N" '{ s += $1 } END { print n - s }' |
	sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
scr_wait 10 "other \\(137 values\\) $rest of " "the chart caught up: other holds $rest"
scr_wait 10 'rejected 0 +duplicates 0 +updates 0 +deletes 0 +skipped 0' "the footer (200 values)"
scr_cap >/dev/null
assert_eq "$(entries 'address_id [0-9]+')" 63 "legend entries: 63 values"
bad="" top=0
while read -r cnt v; do
	got=$(bar "address_id $v")
	[ "$got" = "$cnt" ] || bad="$bad $v:$got!=$cnt"
	top=$((top + cnt))
done <<EOT
$(head -n 63 "$T/top.rank")
EOT
[ -z "$bad" ] || { cat "$SCR"; fail "top values' bars (value:shown!=want):$bad"; }
assert_eq "$(bar 'other \(137 values\)')" $((N - top)) "the other bar"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q (200 values)"
note "200 values: the top 63 by count, each its count, other $((N - top)) of 137 values"
