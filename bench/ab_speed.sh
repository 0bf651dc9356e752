#!/bin/bash
# A/B speed of nicemu binaries on the default scenario: N rounds, the binaries alternating run by
# run (so a noisy machine slows them alike), then each binary's runs sorted and their median, and
# for every binary after the first the median of its per-round ratio to the first (pairs run
# back to back, so a machine whose speed drifts over minutes still compares them fairly).
# usage: bench/ab_speed.sh N BINARY... [-- extra `nicemu run` arguments]
set -euo pipefail
n=$1; shift
bins=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  bins+=("$1"); shift
done
declare -A runs
ratios=()
for _ in $(seq "$n"); do
  first=""
  for i in "${!bins[@]}"; do
    b=${bins[$i]}
    v=$("$b" run --quiet "${extra[@]}" | sed -n 's/.*, \([0-9.]*\) Gbit simulated payload per wall s/\1/p')
    runs[$b]="${runs[$b]:-} $v"
    if [ "$i" = 0 ]; then first=$v; else ratios[$i]="${ratios[$i]:-} $(awk -v a="$first" -v b="$v" 'BEGIN { printf "%.4f", b / a }')"; fi
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in "${!bins[@]}"; do
  b=${bins[$i]}
  sorted=$(echo ${runs[$b]} | tr ' ' '\n' | sort -n | tr '\n' ' ')
  line="$b: $sorted median $(echo ${runs[$b]} | median) Gbit/s"
  if [ "$i" != 0 ]; then line+=", median ratio to the first $(echo ${ratios[$i]} | median)"; fi
  echo "$line"
done
