#!/usr/bin/env bash
# Detection quality: portwatch against the baselines and the ablations (its
# statistics on per-cell and per-minute-of-hour frequency tables instead of
# the model's output) on generated, labelled host timelines: the mixed host
# (3 training days, 4 test days, 20 events per kind), then the server,
# busy-server and workstation hosts with their recurring jobs and the
# off-phase kinds (3 training days, 2 test days, 5 events per kind) on seeds
# 2 and 3, which nothing was tuned on; the same hosts trained on ten days,
# so that their weekly jobs were seen once; then the features' fill speed.
# Rerun: bash scripts/bench/quality.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o bin/quality ./internal/eval/cmd/quality
bin/quality -seed 1 -train-days 3 -test-days 4 -events 20
for seed in 2 3; do
  bin/quality -profile server,busy-server,workstation -seed "$seed" -train-days 3 -test-days 2 -events 5
done
# Ten training days: the weekly jobs (the base host's Sunday run, the rhythm's
# weekly report) seen once before the test days, as a host that has run
# detect for a week has them. Seed 5 was not tuned on.
bin/quality -profile server,busy-server,workstation -seed 5 -train-days 10 -test-days 2 -events 5 -only portwatch
echo
go test -run '^$' -bench 'BenchmarkLoadFill' -benchmem -benchtime 20x ./pkg/features/
