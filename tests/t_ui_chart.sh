#!/bin/sh
# t_ui_chart.sh - the chart pane tells the truth at every size (issue 15, items 1 and 2). 40
# windows of 10 s hold uneven registrations of stores 1-3 (some windows empty for a store).
# At 80x24, 120x40 and 200x60 the pane has no empty row inside its box, and every bar on the
# chart is as tall as SQL's count for its (window, store) says, within one cell, on the scale
# read off the y-axis (the rightmost group is the window the title names, each group to its
# left one window older; bars in store order). Scrollback: Left steps back a window at a time,
# each with the legend's counts equal to SQL's for the window the title names; while idle the
# live window follows the source clock past the last event, shown empty; PgUp moves a
# page (the windows on screen) back; Home selects the oldest window held, with SQL's counts;
# End returns to live follow (the newest window, open); the mouse wheel steps back and on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/screen.sh"
t_db
W=10 NWIN=40

# count(k, s) = (5k + 7s) mod 11 rows for store s in window k, k = 0..39 ending at the last
# whole 10 s before now; in time (= log_id) order
sql "INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
       first_name, last_name, email, address_id, active, create_date)
     WITH RECURSIVE k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < $NWIN - 1),
          s(s) AS (SELECT 1 UNION ALL SELECT s + 1 FROM s WHERE s < 3),
          n(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM n WHERE n < 10),
          b(b) AS (SELECT FLOOR(UNIX_TIMESTAMP(NOW()) / $W) * $W - $NWIN * $W)
     SELECT 'INSERT', FROM_UNIXTIME(b + k * $W + n % $W) + INTERVAL s * 1000 MICROSECOND,
            1000 + k * 100 + s * 10 + n, s, 'Chart', CONCAT('K', k), NULL, 1, 1, NOW()
       FROM k, s, n, b WHERE n < (5 * k + 7 * s) % 11
      ORDER BY 2"
N=$(sql 'SELECT COUNT(*) FROM users_change_events')
note "$N change rows over $NWIN windows of ${W}s"
sql "SELECT CAST(FLOOR(UNIX_TIMESTAMP(event_timestamp) / $W) * $W AS SIGNED), store_id, COUNT(*)
     FROM users_change_events GROUP BY 1, 2 ORDER BY 1, 2" | tr '\t' ' ' >"$T/truth"

# chart_ok [COLS ROWS]: the last capture (of COLS x ROWS, the pane's bottom on the third row
# from the end, when given) has a chart pane without an empty row, and each bar's height is
# SQL's count (from $T/truth) on the y-axis's scale within one cell. Prints what differs
# (exit 1).
chart_ok() {
	python3 - "$SCR" "$T/truth" "$W" "$(scr_shown_start)" "${1:-0}" "${2:-0}" <<'PYEOF'
import re, sys
def die(msg):
    print(msg)
    sys.exit(1)
scr, truth, size, shown = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cols, rows = int(sys.argv[5]), int(sys.argv[6])
lines = open(scr, encoding="utf-8").read().split("\n")
want = {}
for l in open(truth):
    st, store, n = map(int, l.split())
    want[(st, store)] = n
top = [i for i, l in enumerate(lines) if "registrations per store" in l]
if not top or not shown:
    die("no chart pane with a window in its title")
t = top[0]
b = next(i for i in range(t + 1, len(lines)) if lines[i].startswith("└"))
if cols and (len(lines[t]) != cols or b != rows - 4):  # below: the glance, status and key rows
    die("the screen is not %dx%d yet: the pane is %d columns, its bottom on row %d" % (cols, rows, len(lines[t]), b + 1))
bad = []
for i in range(t + 1, b):
    if not lines[i][1:-1].strip():
        bad.append("row %d of %d inside the pane is empty" % (i - t, b - t - 1))
yt = [i for i in range(t + 1, b) if re.match(r"│ *[0-9,.]+[kM]?┤", lines[i])]
ax = [i for i in range(t + 1, b) if re.match(r"│ *0└", lines[i])]
if not yt or not ax:
    die("no y-axis scale or x axis on the chart: " + "; ".join(bad))
yt, ax = yt[0], ax[0]
lab = re.match(r"│ *([0-9,.]+)([kM]?)┤", lines[yt])
ymax = float(lab.group(1).replace(",", "")) * {"": 1, "k": 1e3, "M": 1e6}[lab.group(2)]
h = ax - yt
axis = lines[ax]
ticks = [i for i, c in enumerate(axis) if c == "┴"]
stores = sorted(int(x) for x in re.findall(r"store (\d+) [0-9,]+ of ", "\n".join(lines[t:b])))
if not ticks or not stores:
    die("no window groups or no legend")
newest = int(shown)
ends = ticks[1:] + [len(axis) - 1]
ngroups, checked = len(ticks), 0
for j, (a, e) in enumerate(zip(ticks, ends)):
    st = newest - (ngroups - 1 - j) * size
    bw = (e - a - 1) // len(stores)
    if bw < 1 or (e - a - 1) % len(stores):
        bad.append("group %d is %d columns for %d stores" % (j, e - a - 1, len(stores)))
        continue
    for i, store in enumerate(stores):
        col = a + 1 + i * bw
        got = sum(1 for r in range(yt, ax) if lines[r][col] != " ")
        n = want.get((st, store), 0)
        exact = n * h / ymax
        if abs(got - exact) > 1 or (n == 0) != (got == 0):
            bad.append("window %d store %d: %d cells, SQL %d = %.1f cells of %d (scale %g)" % (st, store, got, n, exact, h, ymax))
        checked += 1
if ngroups < 3:
    bad.append("only %d windows on the chart" % ngroups)
if bad:
    print("; ".join(bad[:8]))
    sys.exit(1)
print("%d rows, %d windows, %d bars of %d rows (scale %g) equal SQL within a cell" % (b - t - 1, ngroups, checked, h, ymax))
PYEOF
}

# chart_at COLS ROWS: resized, the chart passes chart_ok within 15 s.
chart_at() {
	scr_resize "$1" "$2"
	CC=$1 CR=$2
	wait_for 15 'scr_cap >/dev/null; chart_ok $CC $CR >"$T/chart.out"' || {
		cat "$SCR" >&2
		fail "the chart at $1x$2: $(cat "$T/chart.out")"
	}
	note "$1x$2: $(cat "$T/chart.out")"
}

scr_start 80 24 --datadir "$DBDIR" -w ${W}s
scr_wait 30 "check  mysql $N  counted $N  ✓" "every row counted"
# idle: the newest window is the source clock's, after the last event's, shown as an empty group
# (chart_ok checks it against SQL's 0), and it keeps moving with the clock
last=$(tail -n 1 "$T/truth" | cut -d' ' -f1)
scr_cap >/dev/null
live=$(scr_shown_start)
[ "${live:-0}" -gt "$last" ] || fail "idle: the live window ${live:-none} is not after the last event's ($last)"
wait_for 30 'scr_cap >/dev/null; [ "$(scr_shown_start)" -gt "$live" ]' ||
	fail "idle: the live window stayed at $live for 30 s"
note "idle: the live window moved from $live to $(scr_shown_start) (the last event's: $last)"
chart_at 80 24
chart_at 120 40
chart_at 200 60

note "scrollback at 80x24: Left, PgUp, Home, End"
chart_at 80 24
scr_scroll_equal 15 $W 3
scr_wait 5 'window [0-9:]+–[0-9:]+ \(open\)' "live follow after End"
scr_cap >/dev/null
before=$(scr_shown_start)
page=$(grep -E '^│ *0└' "$SCR" | grep -o '┴' | wc -l | tr -d ' ')
scr_keys PageUp
wait_for 5 'scr_cap >/dev/null; [ "$(scr_shown_start)" != "$before" ]' || fail "PgUp did not move the selection"
after=$(scr_shown_start)
assert_eq "$((before - after))" "$((page * W))" "PgUp: seconds moved back (a page of $page windows)"
chart_ok >"$T/chart.out" || fail "the chart after PgUp: $(cat "$T/chart.out")"
oldest=$(head -n 1 "$T/truth" | cut -d' ' -f1)
scr_keys Home
wait_for 5 'scr_cap >/dev/null; [ "$(scr_shown_start)" = "$oldest" ]' ||
	fail "Home: the title shows window $(scr_shown_start), the oldest held is $oldest"
got=$(scr_bars | awk '$2 != 0')
assert_eq "$got" "$(sql_window "$oldest" $W)" "Home: the oldest window's counts"
note "Home: window $oldest = SQL ($(echo $got))"
scr_keys End
scr_wait 5 'window [0-9:]+–[0-9:]+ \(open\)' "live follow after End"
[ "$(scr_shown_start)" -ge "$before" ] || fail "End: the title shows $(scr_shown_start), before the live window $before"

note "the mouse wheel (X10 reports, as a terminal sends them): up a window back, down to live"
scr_keys -H 1b 5b 4d 60 30 30 # wheel up at column 16, row 16
scr_wait 5 'window [0-9:]+–[0-9:]+ \((open|final)\) 1 back' "the wheel up"
got=$(scr_bars | awk '$2 != 0')
assert_eq "$got" "$(sql_window "$(scr_shown_start)" $W)" "the wheel up: the window's counts"
scr_keys -H 1b 5b 4d 61 30 30 # wheel down
scr_wait 5 'window [0-9:]+–[0-9:]+ \(open\) ─' "live follow after the wheel down"
[ ! -s "$T/ui.err" ] || fail "stderr while the monitor ran: $(cat "$T/ui.err")"
scr_exit_mark
scr_keys q
scr_exit_wait 0 "q"
