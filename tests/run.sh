#!/bin/sh
# Runs every test, each in its own process: the unit binaries (build/tests/test_*) and the
# shell tests (tests/t_*.sh, given CDCTOP=<binary>), for each build dir in $BUILDS (default
# "build"). TESTS='pattern' runs only matching names. Prints one line per test and, last,
# "N passed, N failed". Exit status 0 only when nothing failed. TESTS='t_relay* test_*' runs
# only the tests matching one of the space-separated patterns.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILDS=${BUILDS:-build}
TESTS=${TESTS:-}
TIMEOUT=${TEST_TIMEOUT:-900}
OUT=${TEST_OUT:-tests/out} # a separate TEST_OUT lets two runs share a checkout
rm -rf "$OUT"
mkdir -p "$OUT"
pass=0
fail=0
failed=""

run_one() { # build name cmd...
	b=$1 name=$2
	shift 2
	log="$OUT/$b.$name.log"
	t0=$(date +%s)
	if timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1; then
		pass=$((pass + 1))
		printf 'ok    %-11s %-32s %3ss\n' "$b" "$name" "$(($(date +%s) - t0))"
	else
		rc=$?
		fail=$((fail + 1))
		failed="$failed $b/$name"
		printf 'FAIL  %-11s %-32s %3ss (exit %s, log %s)\n' "$b" "$name" "$(($(date +%s) - t0))" "$rc" "$log"
		tail -n 15 "$log" | sed 's/^/      | /'
	fi
}

matches() { # TESTS (or TSAN_TESTS for a tsan build): space-separated shell patterns
	case "$b" in *tsan*) [ -n "${TSAN_TESTS:-}" ] && TESTS=$TSAN_TESTS ;; esac
	[ -z "$TESTS" ] && return 0
	set -f # the patterns are for case, not for the file system
	for pat in $TESTS; do
		case "$1" in $pat) set +f; return 0 ;; esac
	done
	set +f
	return 1
}

for b in $BUILDS; do
	if [ ! -x "$b/cdctop" ]; then
		echo "FAIL  $b: $b/cdctop is not built (make all)"
		fail=$((fail + 1))
		continue
	fi
	case "$b" in
	*asan*) export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0" ;;
	*tsan*) export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$(pwd)/tests/tsan/tsan.supp" ;;
	esac
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		matches "$n" && run_one "$b" "$n" "$t"
	done
	for t in tests/t_*.sh; do
		[ -f "$t" ] || continue
		n=$(basename "$t" .sh)
		matches "$n" && CDCTOP="$(pwd)/$b/cdctop" BUILD_DIR="$(pwd)/$b" run_one "$b" "$n" sh "$t"
	done
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
