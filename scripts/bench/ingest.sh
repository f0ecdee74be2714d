#!/usr/bin/env bash
# pcap -> SQLite ingest: `collect --pcap` into a new database against tshark
# extracting the same fields from the same file, side by side in one run.
# Prints each side's best wall time of $RUNS, the ratio (goal >= 20), the
# same for CPU time, and
# collect's peak RSS for the file once and for it and a time-shifted copy
# (editcap -t: other bytes, so not skipped as ingested; flat: it streams).
set -euo pipefail
cd "$(dirname "$0")/../.."
PCAP=${PCAP:-../shared/pcaps/benchmark/mixed_real_traffic_merged.pcap}
RUNS=${RUNS:-3}
command -v tshark >/dev/null && command -v editcap >/dev/null || { echo "ingest: tshark or editcap not installed (apt-get install tshark)" >&2; exit 1; }
[ -f "$PCAP" ] || { echo "ingest: capture $PCAP not found; set PCAP=FILE" >&2; exit 1; }
go build -tags "$(cat scripts/build-tags)" -o bin/ ./cmd/collect

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_timed NAME CMD... : one run's wall seconds, peak RSS (KiB) and CPU
# seconds (user + system) into $tmp/NAME
run_timed() {
	local name=$1; shift
	/usr/bin/time -f "%e %M %U %S" -o "$tmp/$name" "$@" >/dev/null 2>"$tmp/$name.err" ||
		{ echo "ingest: $name failed:" >&2; cat "$tmp/$name.err" >&2; exit 1; }
}

# min A B: the smaller, A when B is empty
min() { echo "$1 $2" | awk '{print ($2 == "" || $1 < $2) ? $1 : $2}'; }
# cpu NAME: the CPU seconds of $tmp/NAME
cpu() { awk '{print $3 + $4}' "$tmp/$1"; }

best_tshark= best_collect= cpu_tshark= cpu_collect=
for _ in $(seq "$RUNS"); do
	run_timed tshark tshark -r "$PCAP" -T fields -e frame.time_epoch -e frame.protocols \
		-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e dns.qry.name -e dns.resp.name
	rm -f "$tmp"/ports.db*
	run_timed collect bin/collect -d "$tmp/ports.db" -r 60 --pcap "$PCAP"
	t=$(cut -d' ' -f1 "$tmp/tshark"); c=$(cut -d' ' -f1 "$tmp/collect")
	best_tshark=$(min "$t" "$best_tshark") best_collect=$(min "$c" "$best_collect")
	cpu_tshark=$(min "$(cpu tshark)" "$cpu_tshark") cpu_collect=$(min "$(cpu collect)" "$cpu_collect")
done
frames=$(sqlite3 "$tmp/ports.db" "SELECT count(*) FROM packets")
rss_once=$(cut -d' ' -f2 "$tmp/collect")
rm -f "$tmp"/ports.db*
# The same file twice would be one capture, ingested once: the second is a copy a day later.
editcap -t 86400 "$PCAP" "$tmp/later.pcap" 2>/dev/null
run_timed collect2 bin/collect -d "$tmp/ports.db" -r 60 --pcap "$PCAP" "$tmp/later.pcap"
rss_twice=$(cut -d' ' -f2 "$tmp/collect2")

echo "ingest: $PCAP, $frames frames, best of $RUNS"
echo "ingest: tshark -T fields ${best_tshark}s, collect --pcap ${best_collect}s"
awk -v t="$best_tshark" -v c="$best_collect" 'BEGIN {printf "ingest ratio (tshark / collect, goal >= 20): %.1f\n", t / c}'
# CPU time is less at the mercy of other processes on a shared machine.
echo "ingest: CPU (user + system, best of $RUNS): tshark ${cpu_tshark}s, collect ${cpu_collect}s"
awk -v t="$cpu_tshark" -v c="$cpu_collect" 'BEGIN {printf "ingest CPU ratio (tshark / collect): %.1f\n", t / c}'
awk -v a="$rss_once" -v b="$rss_twice" 'BEGIN {printf "ingest peak RSS: file once %d MiB, twice %d MiB, ratio %.2f (flat: ~1)\n", a / 1024, b / 1024, b / a}'
