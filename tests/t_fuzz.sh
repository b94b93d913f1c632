#!/bin/sh
# Short fuzzing runs of every libFuzzer target (make fuzz runs them longer): the envelope
# decoder, the duration parser, the properties and option-file parsers must not crash.
set -eu
cd "$(dirname "$0")/.."
[ -x build-fuzz/fuzz_envelope ] || { echo "build-fuzz is not built (make fuzz-build)"; exit 1; }
sh tests/fuzz/run.sh "${FUZZ_SECONDS:-8}"
