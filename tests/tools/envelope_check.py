#!/usr/bin/env python3
"""tests/tools/envelope_check.py - checks a topic read by kcat against MySQL with a JSON parser
of its own (Python's json), not cdctop's decoder.

usage: envelope_check.py MODE KCAT_JSON SQL_JSON
  MODE       trigger | binlog
  KCAT_JSON  the output of `kcat -C -J -e -o beginning` (one JSON object per message)
  SQL_JSON   one JSON object per line, one per registration expected on the topic, from
             MariaDB's JSON_OBJECT: "log_id", "ts_us" (the event time in microseconds), and
             "row": the customer row, every column by name

Every message must be an envelope: before null, op "c", source.connector/db/table
cdctop/sakila/customer, the key equal to after.customer_id, source.log_id and source.ts_us
equal to the SQL row's; every field of `after` must equal the customer column of the same name
(same JSON type and value), and `after` must hold at least the documented columns. Each
expected log_id must be on the topic exactly once (duplicates are counted and allowed only
with --dups-ok). Prints one summary line; exit 0 when everything holds, 1 with the first
differences otherwise.
"""
import json
import sys

DOC_COLS = ("customer_id", "store_id", "first_name", "last_name", "email", "address_id",
            "active", "create_date")


def main(argv):
    dups_ok = "--dups-ok" in argv
    argv = [a for a in argv if a != "--dups-ok"]
    if len(argv) != 4 or argv[1] not in ("trigger", "binlog"):
        sys.stderr.write(__doc__)
        return 2
    mode, kpath, spath = argv[1], argv[2], argv[3]
    want = {}
    with open(spath, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                want[int(o["log_id"])] = o
    errs, seen, n, fields = [], {}, 0, 0

    def err(msg):
        if len(errs) < 8:
            errs.append(msg)
        else:
            errs.append(None)

    with open(kpath, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            n += 1
            m = json.loads(line)
            where = "p%s@%s" % (m.get("partition"), m.get("offset"))
            try:
                e = json.loads(m["payload"])
            except (TypeError, ValueError) as x:
                err("%s: payload is not JSON: %s" % (where, x))
                continue
            src = e.get("source") or {}
            after = e.get("after")
            if e.get("before", 0) is not None or e.get("op") != "c":
                err("%s: before/op: %r %r" % (where, e.get("before", "<absent>"), e.get("op")))
            for k, v in (("connector", "cdctop"), ("db", "sakila"), ("table", "customer")):
                if src.get(k) != v:
                    err("%s: source.%s is %r, not %r" % (where, k, src.get(k), v))
            if not isinstance(after, dict):
                err("%s: after is %r" % (where, after))
                continue
            lid = src.get("log_id")
            if not isinstance(lid, int) or lid not in want:
                err("%s: source.log_id %r is not an expected registration" % (where, lid))
                continue
            seen[lid] = seen.get(lid, 0) + 1
            w = want[lid]
            if src.get("ts_us") != w["ts_us"]:
                err("%s: log_id %d: source.ts_us %r, SQL %r" % (where, lid, src.get("ts_us"), w["ts_us"]))
            if m.get("key") != str(after.get("customer_id")):
                err("%s: log_id %d: key %r, after.customer_id %r" % (where, lid, m.get("key"), after.get("customer_id")))
            missing = [c for c in DOC_COLS if c not in after]
            if missing:
                err("%s: log_id %d: after lacks %s" % (where, lid, ",".join(missing)))
            row = w["row"]
            for k, v in after.items():
                fields += 1
                if k not in row:
                    err("%s: log_id %d: after.%s is no customer column" % (where, lid, k))
                elif type(v) is not type(row[k]) or v != row[k]:
                    err("%s: log_id %d: after.%s = %r, SQL %r" % (where, lid, k, v, row[k]))
    lost = sorted(set(want) - set(seen))
    dups = sorted(k for k, c in seen.items() if c > 1)
    if lost:
        err("%d registrations not on the topic, first log_ids %s" % (len(lost), lost[:5]))
    if dups and not dups_ok:
        err("%d log_ids on the topic more than once, first %s" % (len(dups), dups[:5]))
    shown = [x for x in errs if x is not None]
    if shown:
        more = len(errs) - len(shown)
        print("envelope_check %s: %s%s" % (mode, "; ".join(shown), " (and more)" if more else ""))
        return 1
    print("envelope_check %s: %d messages, %d registrations, %d after fields equal SQL, %d duplicates"
          % (mode, n, len(want), fields, sum(seen[k] - 1 for k in dups)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
