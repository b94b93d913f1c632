#!/bin/sh
# Runs every test, each in its own process: the unit binaries (<build>/tests/test_*, one per
# tests/unit/*.c) and the shell tests (tests/t_*.sh, given CDCTOP=<binary>), for each build dir
# in $BUILDS (default "build"). TESTS='t_relay* test_*' runs only the tests matching one of the
# space-separated patterns ("!p" excludes the names matching p; only exclusions: all but
# those); a tsan build runs TSAN_TESTS instead when that is set (for that build only). Prints
# one line per test and, last, "N passed, N failed, N skipped". A test that exits 77 is
# skipped (it says why); a unit test that is not built, a build without
# cdctop, and a pattern that matches no test at all are failures. Exit status 0 only when
# nothing failed.
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
skip=0
failed=""
skipped=""
used=""   # the patterns that matched at least one test
wanted="" # the patterns some build asked for

run_one() { # build name cmd...
	b=$1 name=$2
	shift 2
	log="$OUT/$b.$name.log"
	t0=$(date +%s)
	timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1
	rc=$?
	dt=$(($(date +%s) - t0))
	if [ $rc = 0 ]; then
		pass=$((pass + 1))
		printf 'ok    %-11s %-32s %3ss\n' "$b" "$name" "$dt"
	elif [ $rc = 77 ]; then
		skip=$((skip + 1))
		skipped="$skipped $b/$name"
		printf 'SKIP  %-11s %-32s %3ss (%s)\n' "$b" "$name" "$dt" \
			"$(grep -i 'skip' "$log" | tail -n 1 | cut -c1-100)"
	else
		fail=$((fail + 1))
		failed="$failed $b/$name"
		[ $rc = 124 ] && echo "run.sh: killed after ${TIMEOUT} s" >>"$log"
		printf 'FAIL  %-11s %-32s %3ss (exit %s, log %s)\n' "$b" "$name" "$dt" "$rc" "$log"
		tail -n 15 "$log" | sed 's/^/      | /'
	fi
}

# matches NAME: NAME matches one of $PATS (all when empty) and none of its "!pattern"
# exclusions; records the patterns that matched.
matches() {
	[ -z "$PATS" ] && return 0
	set -f # the patterns are for case, not for the file system
	_hit=1
	for pat in $PATS; do
		case "$pat" in !*) ;; *) _hit=0 ;; esac
	done
	for pat in $PATS; do
		case "$pat" in
		!*) case "$1" in ${pat#!})
			case " $used " in *" $pat "*) ;; *) used="$used $pat" ;; esac
			set +f
			return 1
			;;
		    esac ;;
		*) case "$1" in $pat)
			_hit=1
			case " $used " in *" $pat "*) ;; *) used="$used $pat" ;; esac
			;;
		   esac ;;
		esac
	done
	set +f
	[ $_hit = 1 ]
}

for b in $BUILDS; do
	PATS=$TESTS
	case "$b" in *tsan*) [ -n "${TSAN_TESTS:-}" ] && PATS=$TSAN_TESTS ;; esac
	if [ ! -x "$b/cdctop" ]; then
		echo "FAIL  $b: $b/cdctop is not built (make all)"
		fail=$((fail + 1))
		failed="$failed $b"
		continue
	fi
	set -f
	for pat in $PATS; do
		case " $wanted " in *" $pat "*) ;; *) wanted="$wanted $pat" ;; esac
	done
	set +f
	case "$b" in
	*asan*) export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0" ;;
	*tsan*) export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$(pwd)/tests/tsan/tsan.supp" ;;
	esac
	for src in tests/unit/test_*.c; do
		[ -f "$src" ] || continue
		n=$(basename "$src" .c)
		matches "$n" || continue
		if [ -x "$b/tests/$n" ]; then
			run_one "$b" "$n" "$b/tests/$n"
		else
			fail=$((fail + 1))
			failed="$failed $b/$n"
			printf 'FAIL  %-11s %-32s (not built: make BUILD=%s all)\n' "$b" "$n" "$b"
		fi
	done
	for t in tests/t_*.sh; do
		[ -f "$t" ] || continue
		n=$(basename "$t" .sh)
		matches "$n" && CDCTOP="$(pwd)/$b/cdctop" BUILD_DIR="$(pwd)/$b" run_one "$b" "$n" sh "$t"
	done
done
# every pattern asked for must have matched some test (a typo must not pass as "0 failed")
set -f
for pat in $wanted; do
	case " $used " in *" $pat "*) ;; *)
		fail=$((fail + 1))
		failed="$failed pattern:$pat"
		echo "FAIL  pattern '$pat' matches no test"
		;;
	esac
done
set +f
[ -n "$skipped" ] && echo "skipped:$skipped"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
