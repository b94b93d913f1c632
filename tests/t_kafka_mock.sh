# t_kafka_mock.sh - `cdctop kafka-mock`: line one of stdout is a bootstrap list that kcat (a
# separate process) can use: 3 brokers, the default topic with 3 partitions, a message
# produced and read back; SIGTERM and SIGINT end it with status 0 within a few seconds.
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (make deps)"
TOPIC=cdc.sakila.customer

# stop_mock PID WHAT SIGNAL: sends SIGNAL, expects exit status 0 within 10 s.
stop_mock() {
	kill "-$3" "$1"
	wait_for 10 "! kill -0 $1" || fail "$2 still running 10 s after SIG$3"
	set +e
	wait "$1"
	_rc=$?
	set -e
	assert_eq "$_rc" 0 "$2 exit status after SIG$3"
}

t_mock 3
note "bootstrap: $BOOT"
echo "$BOOT" | grep -Eq '^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$' ||
	fail "bootstrap line '$BOOT' is not three 127.0.0.1:port addresses"
grep -q "3 brokers at $BOOT" "$T/mock.err" || fail "no description on stderr: $(cat "$T/mock.err")"

timeout 20 kcat -b "$BOOT" -L >"$T/meta" || fail "kcat -L failed against $BOOT"
assert_eq "$(grep -c '^  broker [0-9]* at 127\.0\.0\.1:' "$T/meta")" 3 "brokers listed by kcat -L"
grep -q "^ 3 brokers:" "$T/meta" || fail "kcat -L: $(cat "$T/meta")"
grep -q "topic \"$TOPIC\" with 3 partitions:" "$T/meta" ||
	fail "topic $TOPIC with 3 partitions not listed: $(cat "$T/meta")"

printf 'k1:hello from kcat\nk2:{"op":"c"}\n' |
	timeout 20 kcat -b "$BOOT" -t "$TOPIC" -P -K: || fail "kcat -P failed"
timeout 20 kcat -b "$BOOT" -t "$TOPIC" -C -e -q -o beginning -f '%k=%s\n' >"$T/got" ||
	fail "kcat -C failed"
grep -qx 'k1=hello from kcat' "$T/got" || fail "message 1 not read back: $(cat "$T/got")"
grep -qx 'k2={"op":"c"}' "$T/got" || fail "message 2 not read back: $(cat "$T/got")"
assert_eq "$(wc -l <"$T/got" | tr -d ' ')" 2 "messages read back"

stop_mock "$MOCK_PID" "kafka-mock" TERM
assert_eq "$(wc -l <"$T/mock.out" | tr -d ' ')" 1 "lines on kafka-mock's stdout"
note "SIGTERM: exit 0"

# One broker, other partition count, stopped with SIGINT.
bg "$CDCTOP" kafka-mock --brokers 1 --partitions 5 >"$T/m1.out" 2>"$T/m1.err"
M1=$!
wait_for 20 '[ -s "$T/m1.out" ]' || fail "kafka-mock --brokers 1 printed no address: $(cat "$T/m1.err")"
B1=$(head -n 1 "$T/m1.out")
echo "$B1" | grep -Eq '^127\.0\.0\.1:[0-9]+$' || fail "bootstrap line '$B1' is not one address"
timeout 20 kcat -b "$B1" -L >"$T/meta1" || fail "kcat -L failed against $B1"
grep -q "topic \"$TOPIC\" with 5 partitions:" "$T/meta1" || fail "5 partitions: $(cat "$T/meta1")"
stop_mock "$M1" "kafka-mock --brokers 1" INT
note "SIGINT: exit 0"
