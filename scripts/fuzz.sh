#!/usr/bin/env bash
# Builds and runs the wire fuzzer (libFuzzer, ASan + UBSan) for N seconds from the seed corpus.
#   scripts/fuzz.sh [seconds]        (default 30)
# Uses build-fuzz/ configured with clang++ and -DNICEMU_FUZZ=ON. New inputs the fuzzer finds go
# to build-fuzz/fuzz/corpus-wire/; crashes to build-fuzz/fuzz/crash-* (reproduce with
# build-fuzz/fuzz/fuzz_wire <file>). Exit status is non-zero on any finding.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
dir="$root/build-fuzz"

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2
  exit 2
fi
if [ ! -f "$dir/build.ninja" ]; then
  CXX=clang++ cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNICEMU_FUZZ=ON >/dev/null
fi
cmake --build "$dir" -j"${NICEMU_JOBS:-$(nproc)}" --target fuzz_wire
mkdir -p "$dir/fuzz/corpus-wire"
"$dir/fuzz/fuzz_wire" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$dir/fuzz/" "$dir/fuzz/corpus-wire" "$root/fuzz/corpus/wire"
