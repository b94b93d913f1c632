#!/bin/sh
# Runs every libFuzzer target in build-fuzz/ for SECONDS each (default 60): first over its
# regression inputs (tests/fuzz/regress/<target>/, crashes found earlier), then fuzzing from
# its seed corpus (tests/fuzz/corpus/<target>/). A crash fails the run and leaves the input
# in build-fuzz/crash-<target>-*: copy it into regress/ once fixed.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
rc=0
for bin in build-fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	n=$(basename "$bin")
	mkdir -p "build-fuzz/corpus-$n"
	[ -d "tests/fuzz/corpus/$n" ] && cp -n tests/fuzz/corpus/$n/* "build-fuzz/corpus-$n/" 2>/dev/null || true
	if [ -d "tests/fuzz/regress/$n" ]; then
		"$bin" tests/fuzz/regress/$n/* >/dev/null 2>&1 || { echo "FAIL $n: a regression input crashes"; rc=1; continue; }
	fi
	if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
		-artifact_prefix="build-fuzz/crash-$n-" "build-fuzz/corpus-$n" >"build-fuzz/$n.log" 2>&1; then
		echo "ok   $n: $(grep -o 'Done [0-9]* runs' "build-fuzz/$n.log" | tail -n 1 | grep -o '[0-9]*' || echo '?') runs in ${secs}s"
	else
		echo "FAIL $n: see build-fuzz/$n.log"; tail -n 20 "build-fuzz/$n.log"
		rc=1
	fi
done
exit $rc
