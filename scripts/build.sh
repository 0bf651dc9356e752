#!/usr/bin/env bash
# Installs what is missing, configures and builds one build tree.
#   scripts/build.sh [release|sanitize|debug] [ninja targets...]
# release -> build/, sanitize (ASan + UBSan) -> build-sanitize/, debug -> build-debug/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-release}
shift || true

case "$mode" in
  release) dir="$root/build"; type=Release ;;
  sanitize) dir="$root/build-sanitize"; type=Sanitize ;;
  debug) dir="$root/build-debug"; type=Debug ;;
  *) echo "build.sh: unknown mode '$mode' (release, sanitize, debug)" >&2; exit 2 ;;
esac

bash "$root/scripts/setup.sh"
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" >/dev/null
fi
cmake --build "$dir" -j"$(nproc)" ${@:+--target "$@"}
