#!/bin/bash
# A/B speed of nicemu binaries on the default scenario: N rounds, the binaries alternating run by
# run (so a noisy machine slows them alike), then each binary's runs sorted and their median.
# usage: bench/ab_speed.sh N BINARY... [-- extra `nicemu run` arguments]
set -euo pipefail
n=$1; shift
bins=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  bins+=("$1"); shift
done
declare -A runs
for _ in $(seq "$n"); do
  for b in "${bins[@]}"; do
    v=$("$b" run --quiet "${extra[@]}" | sed -n 's/.*, \([0-9.]*\) Gbit simulated payload per wall s/\1/p')
    runs[$b]="${runs[$b]:-} $v"
  done
done
for b in "${bins[@]}"; do
  sorted=$(echo ${runs[$b]} | tr ' ' '\n' | sort -n)
  median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$b: $(echo $sorted | tr '\n' ' ') median $median Gbit/s"
done
