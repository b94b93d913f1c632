#!/usr/bin/python3
# bench/baseline_relay.py - the baseline cdctop's relay is measured against: a relay in the
# original notebook's style, with Debian's python3-pymysql and python3-kafka (run it with
# /usr/bin/python3; `make deps` installs both). It reads the last relayed timestamp, selects
# every change row newer than it (a timestamp compare, as the original did), sends the rows
# one by one with kafka-python (one send() per row, the same Debezium-style JSON envelope and
# key as cdctop), flushes, and writes the newest timestamp back to latest_cdc_timestamp.
# Kept generous, like the original (no delivery check): one SELECT, kafka-python's defaults and
# its own batching, a single flush and UPDATE at the end.
# --acked waits for each row's acknowledgement (acks=all, send().get()) and saves the timestamp
# after each row: what a row-by-row relay that checks deliveries costs in this style.
#
# usage: baseline_relay.py [--acked] SOCKET BOOTSTRAP TOPIC PROGRESS_ROW
#   PROGRESS_ROW names its latest_cdc_timestamp row (the topic column), which must exist.
# Prints one line: "baseline: N rows in S s" (the relay loop, after both connections are up).
import datetime
import json
import sys
import time

import pymysql
from kafka import KafkaProducer


def main():
    args = sys.argv[1:]
    acked = args[:1] == ["--acked"]
    if acked:
        args = args[1:]
    sock, boot, topic, row = args[:4]
    db = pymysql.connect(unix_socket=sock, user="root", database="sakila", autocommit=True)
    if acked:
        producer = KafkaProducer(bootstrap_servers=boot.split(","), acks="all")
    else:
        producer = KafkaProducer(bootstrap_servers=boot.split(","))
    cur = db.cursor(pymysql.cursors.DictCursor)
    cur.execute("SET time_zone = '+00:00'")

    t0 = time.monotonic()
    cur.execute("SELECT last_event_timestamp FROM latest_cdc_timestamp WHERE topic = %s", (row,))
    last = cur.fetchone()["last_event_timestamp"]
    cur.execute(
        "SELECT * FROM users_change_events WHERE event_timestamp > %s ORDER BY event_timestamp",
        (last,),
    )
    rows = cur.fetchall()
    newest = last
    for r in rows:
        ts = r["event_timestamp"].replace(tzinfo=datetime.timezone.utc)  # UTC session
        ts_us = int(ts.timestamp()) * 1000000 + ts.microsecond
        envelope = {
            "before": None,
            "after": {
                "customer_id": r["customer_id"],
                "store_id": r["store_id"],
                "first_name": r["first_name"],
                "last_name": r["last_name"],
                "email": r["email"],
                "address_id": r["address_id"],
                "active": r["active"],
                "create_date": str(r["create_date"]),
            },
            "source": {
                "version": "baseline",
                "connector": "notebook",
                "name": "notebook",
                "db": "sakila",
                "table": "customer",
                "log_id": r["log_id"],
                "ts_ms": ts_us // 1000,
                "ts_us": ts_us,
            },
            "op": "c",
            "ts_ms": int(time.time() * 1000),
        }
        future = producer.send(
            topic,
            key=str(r["customer_id"]).encode(),
            value=json.dumps(envelope).encode(),
        )
        newest = r["event_timestamp"]
        if acked:
            future.get(timeout=30)
            cur.execute(
                "UPDATE latest_cdc_timestamp SET last_event_timestamp = %s WHERE topic = %s",
                (newest, row),
            )
    producer.flush()
    cur.execute(
        "UPDATE latest_cdc_timestamp SET last_event_timestamp = %s WHERE topic = %s",
        (newest, row),
    )
    dt = time.monotonic() - t0
    producer.close()
    db.close()
    print("baseline: %d rows in %.3f s" % (len(rows), dt))


if __name__ == "__main__":
    main()
