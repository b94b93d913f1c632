#!/bin/sh
# t_idle_final.sh - time moves while the source is idle (issue 11, item 3). One batch, then
# nothing: the windows holding it turn final once MySQL's clock passes their end plus the
# lateness (within a few seconds, never before), with no further event to move the watermark.
# Headless: a streaming `watch --json -w 10s --lateness 2s` prints "final":true for every
# (window, store) of the batch, with SQL's count, and never changes it afterwards. The data
# topic carries only change envelopes (every message has "op" and "after"); the clock travels
# in __cdctop-heartbeat.<topic> (source cdctop, MySQL's ts_us, the data offsets). On screen:
# after one `i`, the batch's window(s), picked on the chart by scrollback, are final with SQL's
# counts, the live pane title's open window moves past them, and the check line says
# "mysql N  counted N  ✓" with N = SQL's COUNT(*); once a counted change row is deleted behind
# cdctop's back, it says "✗ +1".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"

case "${BUILD_DIR:-}" in
*asan* | *tsan*) SLOW=4 ;;
*) SLOW=1 ;;
esac
TOPIC=cdc.sakila.customer
HB=__cdctop-heartbeat.$TOPIC
W=10 LATE=2

# truth_windows: "window_start_epoch store count" per (10 s window, store), sorted.
truth_windows() {
	sql "SELECT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp) / $W) * $W AS SIGNED), store_id, COUNT(*)
	     FROM users_change_events GROUP BY 1, 2 ORDER BY 1, 2" | tr '\t' ' '
}

# watch_final FILE TRUTH: every (window, store) of TRUTH has a "final":true line in FILE with
# TRUTH's count, and no line for it after that one. Prints what is missing (exit 1) or nothing.
watch_final() {
	python3 - "$1" "$2" <<'PYEOF'
import calendar, json, sys, time
out, truth = sys.argv[1], sys.argv[2]
want = {}
for l in open(truth):
    s, st, n = l.split()
    want[(int(s), int(st))] = int(n)
seen = {}   # key -> list of (count, final)
for l in open(out):
    l = l.strip()
    if not l.startswith('{"window_start"'):
        continue
    try:
        o = json.loads(l)
    except ValueError:
        continue  # a line still being written
    s = calendar.timegm(time.strptime(o["window_start"], "%Y-%m-%dT%H:%M:%SZ"))
    seen.setdefault((s, o["store_id"]), []).append((o["count"], o["final"]))
bad = []
for k, n in sorted(want.items()):
    v = seen.get(k, [])
    fin = [i for i, (c, f) in enumerate(v) if f]
    if not fin:
        bad.append("%s store %d: not final (lines %s)" % (k[0], k[1], v))
    elif v[fin[0]][0] != n:
        bad.append("%s store %d: final with %d, SQL says %d" % (k[0], k[1], v[fin[0]][0], n))
    elif fin[0] != len(v) - 1:
        bad.append("%s store %d: changed after final: %s" % (k[0], k[1], v))
if bad:
    print("; ".join(bad))
    sys.exit(1)
PYEOF
}

t_db
t_mock 3
bg "$CDCTOP" relay -b "$BOOT" --datadir "$DBDIR" 2>"$T/relay.log"
RP=$!
wait_for $((30 * SLOW)) 'grep -q "relay: caught up" "$T/relay.log"' ||
	fail "the relay never caught up: $(tail -n 5 "$T/relay.log")"
bg "$CDCTOP" watch -b "$BOOT" --json -w ${W}s --lateness ${LATE}s >"$T/watch.json" 2>"$T/watch.err"
WP=$!

"$CDCTOP" inject --datadir "$DBDIR" -n 20 --seed 11 >/dev/null || fail "inject"
N=$(sql 'SELECT COUNT(*) FROM users_change_events')
assert_eq "$N" 20 "change rows after one batch"
truth_windows >"$T/truth1"
END1=$(($(tail -n 1 "$T/truth1" | cut -d' ' -f1) + W))
note "one batch: $(wc -l <"$T/truth1" | tr -d ' ') (window, store) counts, last window ends at $END1"

# until_ms MS 'condition': polls the condition until it holds or MS of wall time passed (a
# python check each round takes time of its own on a busy machine: wait_for counts rounds).
until_ms() {
	_end=$(($(ms_now) + $1))
	while ! eval "$2" >/dev/null 2>&1; do
		[ "$(ms_now)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

# watch_ready: the cheap test first (as many final lines as counts wanted), then the full one.
watch_ready() {
	[ "$(grep -c '"final":true' "$T/watch.json")" -ge "$(wc -l <"$T/truth1")" ] &&
		watch_final "$T/watch.json" "$T/truth1"
}

# wait for the final lines; the watermark is MySQL's clock minus the lateness, so they may
# not come before END1 + LATE, and should come about a second after it (limit: 40 s)
until_ms $((40000 * SLOW)) watch_ready || {
	kill -0 "$WP" || note "watch exited: $(cat "$T/watch.err")"
	fail "watch --json never made the batch's windows final ($((40 * SLOW)) s): $(watch_final "$T/watch.json" "$T/truth1")"
}
seen_ms=$(ms_now)
due_ms=$(((END1 + LATE) * 1000))
[ "$seen_ms" -ge "$due_ms" ] ||
	fail "final $((due_ms - seen_ms)) ms before the window's end plus the lateness: the watermark ran ahead of MySQL's clock"
late_ms=$((seen_ms - due_ms))
note "watch: final $late_ms ms after the window's end + ${LATE}s, counts equal SQL"
[ "$late_ms" -le $((3000 * SLOW)) ] ||
	fail "the windows turned final $late_ms ms after their end + lateness (limit $((3000 * SLOW)) ms)"
kill -0 "$WP" || fail "watch exited: $(cat "$T/watch.err")"
[ ! -s "$T/watch.err" ] || fail "watch wrote to stderr: $(cat "$T/watch.err")"

# the data topic: change envelopes only; the heartbeats in their own topic
kcat -b "$BOOT" -C -t "$TOPIC" -e -q -f '%s\n' >"$T/data.txt" 2>"$T/kcat.err" ||
	fail "kcat $TOPIC: $(cat "$T/kcat.err")"
kcat -b "$BOOT" -C -t "$HB" -e -q -f '%s\n' >"$T/hb.txt" 2>"$T/kcat.err" ||
	fail "kcat $HB: $(cat "$T/kcat.err")"
python3 - "$T/data.txt" "$T/hb.txt" "$N" "$TOPIC" "$(ms_now)" <<'PYEOF' || fail "topics (above)"
import json, sys
data, hb, n, topic, now_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
bad = []
lines = [l for l in open(data).read().split("\n") if l]
for i, l in enumerate(lines):
    try:
        o = json.loads(l)
    except ValueError:
        bad.append("data message %d is not JSON: %r" % (i, l[:80]))
        continue
    if not isinstance(o, dict) or "op" not in o or "after" not in o:
        bad.append("data message %d is not a change envelope: %r" % (i, l[:120]))
if len(lines) != n:
    bad.append("%d data messages, expected %d" % (len(lines), n))
hbs = [l for l in open(hb).read().split("\n") if l]
if not hbs:
    bad.append("no heartbeat on the heartbeat topic")
last = None
for i, l in enumerate(hbs):
    try:
        o = json.loads(l)
    except ValueError:
        bad.append("heartbeat %d is not JSON: %r" % (i, l[:80]))
        continue
    if o.get("source") != "cdctop" or o.get("db") != "sakila" or o.get("topic") != topic or \
       not isinstance(o.get("ts_us"), int) or not isinstance(o.get("offsets"), list):
        bad.append("heartbeat %d: %r" % (i, l[:160]))
        continue
    if last and o["ts_us"] < last["ts_us"]:
        bad.append("heartbeat %d goes back in time: %d < %d" % (i, o["ts_us"], last["ts_us"]))
    last = o
if last:
    if sum(last["offsets"]) != n:
        bad.append("the last heartbeat's offsets %r do not cover the %d data messages" % (last["offsets"], n))
    if abs(last["ts_us"] // 1000 - now_ms) > 5000:
        bad.append("the last heartbeat's clock is %d ms from now" % (last["ts_us"] // 1000 - now_ms))
if bad:
    sys.stderr.write("\n".join(bad[:8]) + "\n")
    sys.exit(1)
print("# data topic: %d change envelopes, nothing else; %s: %d heartbeats, last %r" % (len(lines), "heartbeat topic", len(hbs), last))
PYEOF

# the screen: the monitor takes the lock of this database and topic, so the relay goes first
kill -TERM "$RP"
wait_for $((15 * SLOW)) '! kill -0 $RP' || fail "the relay did not stop on SIGTERM"
scr_start 120 40 --datadir "$DBDIR" -w ${W}s --lateness ${LATE}s
scr_wait $((30 * SLOW)) 'kafka: mock 127\.0\.0\.1' "start-up"
scr_wait $((30 * SLOW)) "check  mysql $N  counted $N  ✓" "the check line before the batch"
scr_keys i
scr_wait $((15 * SLOW)) "customers +$((N + 20)) " "customers after i"
N2=$(sql 'SELECT COUNT(*) FROM users_change_events')
assert_eq "$N2" $((N + 20)) "change rows after i"
truth_windows >"$T/truth_all"
sql "SELECT DISTINCT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp) / $W) * $W AS SIGNED)
     FROM users_change_events WHERE log_id > (SELECT MIN(log_id) + $N - 1 FROM users_change_events)" >"$T/batch2"
[ -s "$T/batch2" ] || fail "no window for the second batch"

# sel_final: every window of the second batch, picked on the chart by scrollback, is final
# with SQL's counts per store; End goes back to live follow, whose open window (the pane
# title) starts after them. Prints what differs (exit 1).
sel_final() {
	for s in $(cat "$T/batch2"); do
		scr_select 10 "$s"
		_got=$(scr_bars | awk '$2 != 0') _want=$(sql_window "$s" $W)
		if ! grep -Eq 'window [0-9:]+–[0-9:]+ \(final\)' "$SCR" || [ "$_got" != "$_want" ]; then
			echo "window $s: $(grep -o 'window [0-9:]*–[0-9:]* ([a-z]*)' "$SCR" | head -n 1), counts '$(echo $_got)', SQL says '$(echo $_want)' final"
			scr_keys End
			return 1
		fi
	done
	scr_keys End
	_max=$(sort -n "$T/batch2" | tail -n 1)
	wait_for 5 'scr_cap; [ "$(scr_shown_start)" -gt "$_max" ] && grep -Eq "window [0-9:]+–[0-9:]+ \(open\)" "$SCR"' || {
		echo "after End the title shows $(grep -o 'window [0-9:]*–[0-9:]* ([a-z]*)' "$SCR" | head -n 1), not an open window after $_max"
		return 1
	}
}
t0=$(ms_now)
lim=$(((W + LATE + 30) * SLOW))
until_ms $((lim * 1000)) 'scr_cap >/dev/null; sel_final >"$T/strip.why"' || {
	cat "$SCR" >&2
	fail "the second batch's window(s) did not turn final on screen within $lim s: $(cat "$T/strip.why")"
}
note "screen: the batch's window(s) $(tr '\n' ' ' <"$T/batch2")final with SQL's counts after $(($(ms_now) - t0)) ms; title: $(grep -o 'window [0-9:]*–[0-9:]* ([a-z]*)' "$SCR" | head -n 1)"
scr_wait $((15 * SLOW)) "check  mysql $N2  counted $N2  ✓" "the check line"
sed -n '/registrations per store/,/late [0-9]/p' "$SCR"
grep -q 'late 0 ' "$SCR" || fail "late events on screen: $(grep 'late ' "$SCR")"
# the check line can disagree: the newest change row, already counted, deleted behind cdctop's
# back shows as a mismatch of +1 (nothing is on its way), never as ✓
sql "DELETE FROM users_change_events
     WHERE log_id = (SELECT m FROM (SELECT MAX(log_id) AS m FROM users_change_events) AS x)"
scr_wait $((15 * SLOW)) "check  mysql $((N2 - 1))  counted $N2  ✗ \+1" "the check line after a counted row was deleted"
note "check line: $(grep -o 'check  .*✗ +1' "$SCR")"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
scr_keys q
scr_wait $((30 * SLOW)) 'EXITED 0$' "exit"
note "ok"
