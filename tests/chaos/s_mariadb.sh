#!/bin/sh
# s_mariadb.sh - the private MariaDB stopped and restarted mid-stream, cleanly (`cdctop server
# stop`, then start) and by `kill -9` of mariadbd (crash recovery on start), in turn (twice
# each; short: once), each
# at a seeded random moment while 2 writers inject and one relay (not --once) runs. The relay
# must live through both outages and reconnect by itself (writers die with the server and are
# started again); then the exact reconciliation.
. "$(dirname "$0")/lib.sh"

t_db
t_mock 3
ch_writers 2 50 5
ch_relay_bg "$T/relay.log"
wait_for 30 '[ "$(progress)" -gt 0 ]' || fail "the relay relayed nothing: $(cat "$T/relay.log")"

# outage HOW: takes the server down (clean or kill9) at a random moment, keeps it down for a
# random 1-3 s, starts it again, restarts the writers, and waits for the same relay to move.
outage() {
	ch_rand 500 2000
	ch_sleep_ms $R
	at=$R
	if [ "$1" = clean ]; then
		"$CDCTOP" server stop --datadir "$DBDIR" >/dev/null || fail "server stop"
	else
		pid=$(cat "$DBDIR/mysqld.pid")
		kill -KILL "$pid" || fail "kill -9 of mariadbd $pid"
		wait_for 10 "[ ! -d /proc/$pid ]" || fail "mariadbd $pid did not die"
	fi
	ch_rand 1000 3000
	ch_sleep_ms $R
	kill -0 "$RELAY" 2>/dev/null || fail "the relay exited while MySQL was down ($1): $(tail -n 5 "$T/relay.log")"
	for p in $WRITERS; do wait_for 30 "! kill -0 $p" || fail "writer $p outlived the server"; done
	WRITERS=""
	"$CDCTOP" server start --datadir "$DBDIR" >/dev/null || fail "server start after $1"
	p1=$(progress)
	ch_writers 2 50 5
	wait_for 60 '[ "$(progress)" -gt "$p1" ]' ||
		fail "the relay did not reconnect within 60 s after $1: $(tail -n 5 "$T/relay.log")"
	note "$1: down after $at ms for $R ms; the relay reconnected, progress $p1 -> $(progress)"
}

ROUNDS=$(scale 2 1)
i=1
while [ $i -le $ROUNDS ]; do
	outage clean
	outage kill9
	i=$((i + 1))
done
fig kills "$ROUNDS"
fig mariadb_kills "$ROUNDS"
fig mariadb_stops "$ROUNDS"
[ "$(grep -c 'mysql reconnected' "$T/relay.log")" -ge $((2 * ROUNDS)) ] ||
	fail "the relay's log does not say it reconnected $((2 * ROUNDS)) times: $(grep -i mysql "$T/relay.log" | tail -n 6)"

ch_writers_stop
wait_for 60 caught_up || fail "the relay did not catch up: progress $(progress) of $(max_id): $(tail -n 5 "$T/relay.log")"
ch_stop "$RELAY" relay
ch_reconcile "after $ROUNDS clean stop(s) and $ROUNDS kill -9 of MariaDB"
ch_done "MariaDB stopped cleanly and killed -9 mid-stream ($ROUNDS time(s) each), one relay reconnected every time: $CH_ROWS rows reconciled, lost 0, double-counted 0"
