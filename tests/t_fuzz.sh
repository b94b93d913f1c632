#!/bin/sh
# Short fuzzing runs of every libFuzzer target (make fuzz runs them longer): the envelope and
# Debezium decoders, the duration parser, the properties and option-file parsers must not
# crash. Every
# tests/fuzz/fuzz_*.c must have its binary in build-fuzz/ (make fuzz-build; FUZZ_DIR names
# another dir), and each must report its "ok" line.
set -u
cd "$(dirname "$0")/.."
D=${FUZZ_DIR:-build-fuzz}
n=0
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	t=$D/$(basename "$src" .c)
	[ -x "$t" ] || { echo "FAIL: $t is not built (make fuzz-build)"; exit 1; }
	n=$((n + 1))
done
[ "$n" -ge 1 ] || { echo "FAIL: no fuzz target in tests/fuzz/"; exit 1; }
log=$(mktemp /tmp/t_fuzz.XXXXXX)
FUZZ_DIR=$D sh tests/fuzz/run.sh "${FUZZ_SECONDS:-8}" >"$log" 2>&1
rc=$?
cat "$log"
ok=$(grep -c '^ok ' "$log")
rm -f "$log"
[ "$rc" = 0 ] || { echo "FAIL: tests/fuzz/run.sh exited $rc"; exit 1; }
[ "$ok" = "$n" ] || { echo "FAIL: $ok of $n fuzz targets ran"; exit 1; }
