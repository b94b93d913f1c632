#!/bin/sh
# tests/chaos/run.sh - the chaos suite (`make chaos`; shortened inside `make check` through
# tests/t_chaos.sh): crashes, outages and load against a real private MariaDB and the mock
# Kafka cluster, each scenario (tests/chaos/s_*.sh) in its own process with its own server,
# cluster and temp dir, each ending with the exact reconciliation of tests/chaos/lib.sh.
# Prints "ok   <scenario>: <figures>", "FAIL <scenario>: <why>" or "SKIP <scenario>: <why>"
# per scenario, "N passed, N failed", then the suite's figures (kills survived, rows checked,
# lost, double-counted). Exit 0 only when every scenario passed; 77 when nothing failed but
# some scenario was skipped; 1 otherwise.
# Environment: CDCTOP (default build/cdctop), BUILD_DIR (for tools/topic_ids; default the
# binary's dir), CHAOS_SEED (default 42: the random kill moments and inject --seed),
# CHAOS_SCALE=full|short (default full), CHAOS_ONLY='pattern' (scenario names to run),
# CHAOS_TIMEOUT (seconds per scenario; default 900 full, 300 short), KEEP=1 keeps a failed
# scenario's temp dir, CHAOS_XFAIL (scenarios that reproduce a known, reported bug: their
# failure prints "XFAIL" and does not fail the suite, their figures stay out of the totals;
# passing prints "XPASS" and fails the suite until the name is removed from the list).
# Each scenario's log ends up in tests/out/chaos.<build>.<scenario>.log.
set -u
cd "$(dirname "$0")/../.." || exit 1
CDCTOP=${CDCTOP:-$(pwd)/build/cdctop}
BUILD_DIR=${BUILD_DIR:-$(dirname "$CDCTOP")}
CHAOS_SEED=${CHAOS_SEED:-42}
CHAOS_SCALE=${CHAOS_SCALE:-full}
CHAOS_ONLY=${CHAOS_ONLY:-}
case "$CHAOS_SCALE" in
full) LIMIT=${CHAOS_TIMEOUT:-900} ;;
short) LIMIT=${CHAOS_TIMEOUT:-300} ;;
*)
	echo "chaos: CHAOS_SCALE must be full or short, not '$CHAOS_SCALE'" >&2
	exit 2
	;;
esac
[ -x "$CDCTOP" ] || {
	echo "chaos: $CDCTOP is not built (make all)" >&2
	exit 2
}
export CDCTOP BUILD_DIR CHAOS_SEED CHAOS_SCALE
OUT=${TEST_OUT:-tests/out}
WORK=$(mktemp -d /tmp/cdct-chaos.XXXXXX) # logs and figures while running (tests/out may be
FIGS="$WORK/figs"                          # emptied by a concurrent tests/run.sh)
: >"$FIGS"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

SCENARIOS="relay_kill watch_kill brokers mariadb slow_txn burst ui gap_restart monitor"
CHAOS_XFAIL=${CHAOS_XFAIL-} # none known today
echo "chaos: seed $CHAOS_SEED, scale $CHAOS_SCALE, $CDCTOP"
pass=0 fail=0 skip=0 xfail=0
t_all=$(date +%s)
for s in $SCENARIOS; do
	if [ -n "$CHAOS_ONLY" ]; then
		case "$s" in $CHAOS_ONLY) ;; *) continue ;; esac
	fi
	log="$WORK/$s.log"
	keep="$OUT/chaos.$(basename "$BUILD_DIR").$s.log"
	t0=$(date +%s)
	CHAOS_FIGS="$FIGS.$s" timeout -k 10 "$LIMIT" sh "tests/chaos/s_$s.sh" >"$log" 2>&1
	rc=$?
	mkdir -p "$OUT" && cp "$log" "$keep"
	dt=$(($(date +%s) - t0))
	what=$(sed -n 's/^=> //p' "$log" | tail -n 1)
	xf=0
	case " $CHAOS_XFAIL " in *" $s "*) xf=1 ;; esac
	why=$(sed -n 's/^FAIL: //p' "$log" | tail -n 1)
	[ $rc = 124 ] && why="timed out after ${LIMIT}s; last: $(tail -n 1 "$log")"
	[ -n "$why" ] || why="exit $rc: $(tail -n 1 "$log")"
	if [ $xf = 1 ] && [ $rc != 0 ] && [ $rc != 77 ]; then
		xfail=$((xfail + 1))
		printf 'XFAIL %s: %s (known bug, see tests/chaos/s_%s.sh; %ss)\n' "$s" "$why" "$s" "$dt"
		rm -f "$FIGS.$s"
		continue
	fi
	if [ $xf = 1 ] && [ $rc = 0 ]; then
		fail=$((fail + 1))
		printf 'XPASS %s: %s - the bug is fixed: remove %s from CHAOS_XFAIL in tests/chaos/run.sh\n' "$s" "$what" "$s"
	elif [ $rc = 0 ]; then
		pass=$((pass + 1))
		printf 'ok   %s: %s (%ss)\n' "$s" "$what" "$dt"
	elif [ $rc = 77 ]; then
		skip=$((skip + 1))
		printf 'SKIP %s: %s\n' "$s" "$what"
	else
		fail=$((fail + 1))
		printf 'FAIL %s: %s (%ss, log %s)\n' "$s" "$why" "$dt" "$keep"
	fi
	[ -f "$FIGS.$s" ] && cat "$FIGS.$s" >>"$FIGS" && rm -f "$FIGS.$s"
done
extra=""
[ $skip -gt 0 ] && extra="$extra, $skip skipped"
[ $xfail -gt 0 ] && extra="$extra, $xfail known bug(s) reproduced (XFAIL)"
echo "$pass passed, $fail failed$extra"
awk -F= -v secs=$(($(date +%s) - t_all)) '
	{ v[$1] += $2 }
	END {
		printf "figures: kills survived %d (relay kill -9 %d, watch kill -9 %d, mariadbd kill -9 %d, monitor SIGKILL %d); ",
			v["kills"], v["relay_kills"], v["watch_kills"], v["mariadb_kills"], v["ui_kills"]
		printf "also %d clean MariaDB stop(s), %d outage(s) of all brokers, %d monitor SIGTERM(s); ",
			v["mariadb_stops"], v["outages"], v["ui_terms"]
		printf "rows checked %d (%d re-sent copies ignored); lost %d, double-counted %d; %ds\n",
			v["rows"], v["resent"], v["lost"], v["double"], secs
	}' "$FIGS" </dev/null
[ $fail = 0 ] || exit 1
[ $skip = 0 ] || exit 77 # a skipped scenario is not a pass (t_chaos reports it as a skip)
exit 0
