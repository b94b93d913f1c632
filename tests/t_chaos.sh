#!/bin/sh
# t_chaos.sh - the chaos suite (tests/chaos/run.sh) at CHAOS_SCALE=short inside make check:
# every scenario (relay, consumer, broker, MariaDB and monitor faults, slow and rolled-back
# transactions, bursts, window boundaries) with fewer kills and rows, seed 42; at most ~3
# minutes. `make chaos` runs the full scale.
set -eu
: "${CDCTOP:?CDCTOP must name the cdctop binary}"
CHAOS_SCALE=short CHAOS_SEED=${CHAOS_SEED:-42} sh "$(dirname "$0")/chaos/run.sh"
