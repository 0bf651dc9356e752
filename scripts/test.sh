#!/usr/bin/env bash
# Builds and runs every test.  scripts/test.sh [release|sanitize] [extra ctest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-release}
shift || true
case "$mode" in
  release) dir="$root/build" ;;
  sanitize) dir="$root/build-sanitize" ;;
  *) echo "test.sh: unknown mode '$mode' (release, sanitize)" >&2; exit 2 ;;
esac
bash "$root/scripts/build.sh" "$mode"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" --timeout 900 "$@"
