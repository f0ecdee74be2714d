#!/usr/bin/env bash
# Detection quality: portwatch against the baselines on a generated, labelled
# host timeline (3 training days, 4 test days, 20 events per kind), then the
# features loader's speed on a database of 3 days of minute rounds.
# Rerun: bash scripts/bench/quality.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
go run ./internal/eval/cmd/quality -seed 1 -train-days 3 -test-days 4 -events 20
echo
go test -run '^$' -bench 'BenchmarkLoadFill' -benchmem -benchtime 20x ./pkg/features/
