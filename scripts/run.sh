#!/usr/bin/env bash
# nicemu's main job on its built-in default: `nicemu run` with no scenario file — the devmem
# flagship: two hosts on a 200 Gbit/s link, host b's upper RX queues bound to a dma-buf in device
# memory, 8 bulk TCP flows steered there, every byte validated through the dma-buf mapping
# (configs/scenarios/default.yaml holds the same text). Extra arguments go to `nicemu run`,
# e.g. `bash scripts/run.sh --json out.json` or `bash scripts/run.sh configs/scenarios/four-hosts-switch.yaml`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh" release nicemu >/dev/null
exec "$root/build/apps/nicemu/nicemu" run "$@"
