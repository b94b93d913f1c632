#!/bin/sh
# Runs every libFuzzer target in build-fuzz/ for SECONDS each (default 60): first over its
# regression inputs (tests/fuzz/regress/<target>/, crashes found earlier), then fuzzing from
# its seed corpus (tests/fuzz/corpus/<target>/). A crash fails the run and leaves the input
# in build-fuzz/crash-<target>-*: copy it into regress/ once fixed.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
D=${FUZZ_DIR:-build-fuzz} # the dir of the fuzz binaries (make fuzz-build)
rc=0
for bin in "$D"/fuzz_*; do
	[ -x "$bin" ] || continue
	n=$(basename "$bin")
	mkdir -p "$D/corpus-$n"
	[ -d "tests/fuzz/corpus/$n" ] && cp -n tests/fuzz/corpus/$n/* "$D/corpus-$n/" 2>/dev/null || true
	if [ -d "tests/fuzz/regress/$n" ]; then
		"$bin" tests/fuzz/regress/$n/* >/dev/null 2>&1 || { echo "FAIL $n: a regression input crashes"; rc=1; continue; }
	fi
	if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
		-artifact_prefix="$D/crash-$n-" "$D/corpus-$n" >"$D/$n.log" 2>&1; then
		echo "ok   $n: $(grep -o 'Done [0-9]* runs' "$D/$n.log" | tail -n 1 | grep -o '[0-9]*' || echo '?') runs in ${secs}s"
	else
		echo "FAIL $n: see $D/$n.log"; tail -n 20 "$D/$n.log"
		rc=1
	fi
done
exit $rc
