#!/usr/bin/env bash
# Runs every side-by-side comparison in scripts/bench/, in name order.
# Each prints its own ratio lines; see README "Speed". BENCH_SKIP names
# comparisons to leave out, space-separated (BENCH_SKIP=quality: the
# detection-quality runs take ~25 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
for b in scripts/bench/*.sh; do
  name=$(basename "$b" .sh)
  if [[ " ${BENCH_SKIP:-} " == *" $name "* ]]; then
    echo "== $b skipped (BENCH_SKIP)"
    continue
  fi
  echo "== $b"
  bash "$b"
done
