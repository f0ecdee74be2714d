#!/usr/bin/env bash
# detect's speed on this machine, against the issue's targets:
#   - an hourly cron run (60 new minute rounds: score, store, refit, save) < 10 s and < 500 MB RSS;
#   - the first training on 3 days of minute rounds (4320) < 3 minutes.
# Both are the real binary on a real database of generated rounds (pkg/scenario),
# timed with /usr/bin/time. Rerun: bash scripts/bench/detect.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -tags "$(cat scripts/build-tags)" -o bin/ ./cmd/detect
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db=$dir/bench.db

go run ./internal/eval/cmd/history -db "$db" -rounds $((4320 + 60)) -hold 60

# measure NAME TARGET_S TARGET_MB CMD...: runs CMD, prints seconds and peak RSS against the targets.
measure() {
  local name=$1 target_s=$2 target_mb=$3
  shift 3
  /usr/bin/time -f '%e %M' -o "$dir/time" "$@" >"$dir/out" 2>"$dir/err" || {
    cat "$dir/err" >&2
    return 1
  }
  read -r secs kb <"$dir/time"
  awk -v n="$name" -v s="$secs" -v kb="$kb" -v ts="$target_s" -v tm="$target_mb" 'BEGIN {
    mb = kb / 1024
    printf "detect: %s %.1f s (target < %d s: %s), peak RSS %.0f MB (target < %d MB: %s)\n",
      n, s, ts, (s < ts ? "met" : "MISSED"), mb, tm, (mb < tm ? "met" : "MISSED") }'
}

measure "first training on 4320 rounds" 180 500 bin/detect -d "$db"
grep '^trained' "$dir/out" || true
sqlite3 "$db" "UPDATE rounds SET status = 'complete' WHERE status = 'running'"
measure "hourly run of 60 rounds (score + refit)" 10 500 bin/detect -d "$db"
tail -n 1 "$dir/out"
