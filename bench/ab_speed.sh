#!/bin/bash
# A/B speed of nicemu binaries on the default scenario: N rounds, the binaries alternating run by
# run (so a noisy machine slows them alike), then each binary's runs sorted and their median, and
# for every binary after the first the median of its per-round ratio to the first (pairs run
# back to back, so a machine whose speed drifts over minutes still compares them fairly).
# With PROBE set to bench/machine_probe's path, each round starts with the probe and its line is
# printed; at the end the rounds are split by the core-to-core round trip (below 150 ns: the two
# vCPUs share a cache; from 150 ns on: they do not) and each part gets its own medians.
# usage: [PROBE=build/bench/machine_probe] bench/ab_speed.sh N BINARY... [-- extra `nicemu run` arguments]
set -euo pipefail
n=$1; shift
bins=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  bins+=("$1"); shift
done
probe=${PROBE:-}
rows=()  # per round: "<round trip or -> <figure of each binary>..."
for r in $(seq "$n"); do
  rt=-
  if [ -n "$probe" ]; then
    line=$("$probe")
    rt=$(echo "$line" | sed -n 's/.*round trip \([0-9]*\) ns.*/\1/p')
    echo "round $r: $line"
  fi
  row="$rt"
  for b in "${bins[@]}"; do
    v=$("$b" run --quiet "${extra[@]}" | sed -n 's/.*, \([0-9.]*\) Gbit simulated payload per wall s/\1/p')
    row+=" $v"
  done
  rows+=("$row")
done

# summary LABEL FILTER: medians over the rounds whose round trip passes FILTER (an awk condition
# on rt; "1" takes every round).
summary() {
  printf '%s\n' "${rows[@]}" | awk -v label="$1" -v nb="${#bins[@]}" -v names="${bins[*]}" '
    function median(a, k,   i, j, t) {
      for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return a[int((k + 1) / 2)]
    }
    { rt = $1 } ('"$2"') {
      m++
      for (b = 1; b <= nb; b++) { v[b, m] = $(b + 1); if (b > 1) q[b, m] = $(b + 1) / $2 }
    }
    END {
      if (m == 0) { if (label != "") print label ": no rounds"; exit }
      split(names, nm, " ")
      if (label != "") print label ": " m " rounds"
      for (b = 1; b <= nb; b++) {
        list = ""
        for (i = 1; i <= m; i++) { x[i] = v[b, i] + 0 }
        med = median(x, m)
        for (i = 1; i <= m; i++) list = list " " x[i]
        line = nm[b] ":" list " median " med " Gbit/s"
        if (b > 1) {
          for (i = 1; i <= m; i++) y[i] = q[b, i]
          line = line sprintf(", median ratio to the first %.4f", median(y, m))
        }
        print line
      }
    }'
}
summary "" 1
if [ -n "$probe" ]; then
  summary "round trip below 150 ns" '$1 < 150'
  summary "round trip 150 ns or more" '$1 >= 150'
fi
