#!/bin/sh
# bench/run.sh - runs every benchmark, each in its own process: the scripts bench/*.sh
# (given CDCTOP=<binary>) and the binaries $BUILD/bench/* built from bench/*.c (but
# bench_commit, which bench_watch.sh runs against its own server and mock). Each prints one
# line per figure: "<name> <value> <unit> (details)". BUILD picks the build dir (default build),
# BENCH='pattern' runs only matching names, BENCH_TIMEOUT bounds each one (default 600 s).
# Exit status 0 only when every benchmark ran to the end (figures below target do not fail).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BENCH=${BENCH:-}
TIMEOUT=${BENCH_TIMEOUT:-600}
case "$BUILD" in /*) ;; *) BUILD="$(pwd)/$BUILD" ;; esac
CDCTOP=${CDCTOP:-$BUILD/cdctop}
export CDCTOP BUILD_DIR="$BUILD"
if [ ! -x "$CDCTOP" ]; then
	echo "bench: $CDCTOP is not built (make all)" >&2
	exit 1
fi

failed=""
run_one() { # name cmd...
	n=$1
	shift
	if [ -n "$BENCH" ]; then
		case "$n" in $BENCH) ;; *) return 0 ;; esac
	fi
	timeout -k 10 "$TIMEOUT" "$@"
	rc=$?
	if [ $rc != 0 ]; then
		echo "$n: FAILED (exit $rc)"
		failed="$failed $n"
	fi
}

echo "# cdctop bench $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $CDCTOP"
for b in bench/*.sh; do
	[ -f "$b" ] && [ "$b" != bench/run.sh ] && [ "$b" != bench/lib.sh ] || continue
	run_one "$(basename "$b" .sh)" sh "$b"
done
for b in "$BUILD"/bench/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	[ "$(basename "$b")" != bench_commit ] || continue # bench_watch.sh runs it
	run_one "$(basename "$b")" "$b"
done
if [ -n "$failed" ]; then
	echo "bench: failed:$failed"
	exit 1
fi
