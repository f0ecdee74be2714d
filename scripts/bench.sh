#!/usr/bin/env bash
# Runs every side-by-side comparison in scripts/bench/, in name order.
# Each prints its own ratio lines; see README "Speed".
set -euo pipefail
cd "$(dirname "$0")/.."
for b in scripts/bench/*.sh; do
  echo "== $b"
  bash "$b"
done
