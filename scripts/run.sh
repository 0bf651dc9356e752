#!/usr/bin/env bash
# nicemu's main job on its built-in default. Until the full-system runner exists (issue 4),
# that is the benchmarks: the page pool's three paths, the event queue, TCP alone, and two whole
# stacks (issue 3's benchmark).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh" release page_pool_bench event_queue_bench tcp_bench stack_bench >/dev/null
echo "== page pool (cycles and ns per element, median of 5 x 10M) =="
"$root/build/bench/page_pool_bench"
echo "== event queue (median of 5) =="
"$root/build/bench/event_queue_bench"
echo "== TCP alone, two endpoints in memory, 512 MiB bulk (median of 3) =="
"$root/build/bench/tcp_bench" --bytes 536870912 --repeats 3
echo "== two whole stacks (TCP/IPv4/Ethernet) over a veth-like link, 1 GiB bulk, every byte checked (median of 3) =="
"$root/build/bench/stack_bench" --bytes 1073741824 --runs 3
