#!/usr/bin/env bash
# ONNX engine vs onnxruntime-node, side by side in one run, on the same
# portae v1 file (T=10 rounds, C=3 channels) and the same sparse input
# (batch 60, ~40 occupied ports per round and channel):
#   inference single-threaded (GOMAXPROCS=1 / intra+inter-op threads 1) and
#   with defaults on both sides; then one Go training step (BCE + Adam) at
#   batch 8 (detect's micro-batch) and 16, with the peak RSS (VmHWM) of
#   each timed loop.
# The same single-threaded comparison follows on the 4-channel model detect
# builds (tcp_listen_wildcard added).
# Usage: bash scripts/bench/onnx.sh [RUNS]   (RUNS timed runs each, default 5)
#   PROFILE=1 also prints the pprof top of the Go single-threaded inference.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
if ! command -v node >/dev/null || [[ ! -d scripts/ort/node_modules/onnxruntime-node ]]; then
  echo "onnx bench: needs node and scripts/ort/node_modules (bash scripts/deps.sh)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -tags "$(cat scripts/build-tags)" -o "$tmp/detect" ./cmd/detect
go test -c -o "$tmp/engine.test" ./pkg/engine
"$tmp/detect" model new --out "$tmp/portae.onnx" --channels tcp_listen,udp_bound,tcp_conn >/dev/null
node scripts/ort/sample.js "$tmp/in.pb" --batch 60 --window 10 --channels 3 --occupied 40
"$tmp/detect" model new --out "$tmp/portae4.onnx" --channels tcp_listen,udp_bound,tcp_conn,tcp_listen_wildcard >/dev/null

# go_bench NAME [GOMAXPROCS [MODEL INPUT [PROFILE]]] -> "<ms per op> <peak RSS
# MB>", one process each (GOMEMLIMIT, when set, passes through)
go_bench() {
  env ${2:+GOMAXPROCS=$2} PORTWATCH_BENCH_MODEL="${3:-$tmp/portae.onnx}" PORTWATCH_BENCH_INPUT="${4:-$tmp/in.pb}" \
    "$tmp/engine.test" -test.run '^$' -test.bench "^$1\$" -test.benchtime "${runs}x" ${5:+-test.cpuprofile "$5"} |
    awk '/^Benchmark/ && /MB-peak-RSS/ { printf "%.1f %.0f\n", $3 / 1e6, $5 }'
}
# ort_ms THREADS [MODEL INPUT] -> mean ms per run (THREADS 0: onnxruntime's defaults)
ort_ms() {
  node scripts/ort/run.js "${2:-$tmp/portae.onnx}" --input occupancy="${3:-$tmp/in.pb}" --threads "$1" --repeat "$runs" |
    sed -n 's/^ort_ms mean=\([0-9.]*\).*/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

read -r go1 rss1 < <(go_bench BenchmarkPortaeRun 1 "" "" "${PROFILE:+$tmp/cpu.prof}")
ort1=$(ort_ms 1)
read -r god rssd < <(go_bench BenchmarkPortaeRun)
ortd=$(ort_ms 0)
read -r step8 rss8 < <(go_bench 'BenchmarkPortaeTrainStep/batch=8')
read -r step16 rss16 < <(go_bench 'BenchmarkPortaeTrainStep/batch=16')
# The Go GC lets the heap grow to twice the live data by default; a memory
# limit, as a cron job would set, shows the RSS the engine really needs.
read -r lstep8 lrss8 < <(GOMEMLIMIT=256MiB go_bench 'BenchmarkPortaeTrainStep/batch=8')
read -r lstep16 lrss16 < <(GOMEMLIMIT=256MiB go_bench 'BenchmarkPortaeTrainStep/batch=16')

# The 4-channel model and its input, after the 3-channel input is gone.
rm -f "$tmp/in.pb"
node scripts/ort/sample.js "$tmp/in4.pb" --batch 60 --window 10 --channels 4 --occupied 40
read -r go4 rss4 < <(go_bench BenchmarkPortaeRun 1 "$tmp/portae4.onnx" "$tmp/in4.pb")
ort4=$(ort_ms 1 "$tmp/portae4.onnx" "$tmp/in4.pb")

echo "portae v1 inference, batch 60 (T=10, C=3, 65536 ports), mean of $runs runs, $(nproc) CPUs"
echo "single-threaded: go ${go1} ms, onnxruntime-node ${ort1} ms, ratio $(ratio "$go1" "$ort1") (target <= 1)"
echo "default threads: go ${god} ms, onnxruntime-node ${ortd} ms, ratio $(ratio "$god" "$ortd") (target <= 1)"
echo "single-threaded, C=4: go ${go4} ms, onnxruntime-node ${ort4} ms, ratio $(ratio "$go4" "$ort4") (target <= 1)"
echo "go inference peak RSS while running: ${rss1} MB (the batch-60 input alone is 472 MB)"
echo "training step (BCE + Adam), batch 8: ${step8} ms, peak RSS ${rss8} MB (target < 300 MB)"
echo "training step (BCE + Adam), batch 16: ${step16} ms, peak RSS ${rss16} MB (target < 300 MB)"
echo "with GOMEMLIMIT=256MiB: batch 8 ${lstep8} ms, ${lrss8} MB; batch 16 ${lstep16} ms, ${lrss16} MB"
if [[ -n ${PROFILE:-} ]]; then
  echo "pprof top, go single-threaded inference (C=3):"
  go tool pprof -top -nodecount=25 "$tmp/engine.test" "$tmp/cpu.prof" 2>/dev/null | sed -n '/flat%/,$p'
fi
