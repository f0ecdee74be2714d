#!/usr/bin/env bash
# Port occupancy scan: pkg/portscan against the old tool's bind-every-port loop, side by side.
# Prints `portscan: <method> scan <ms> ms vs bind loop <ms> ms = <ratio>x (target >= 100x: ...)`.
# The bind loop is scripts/bench/bindscan.py (median of 3 runs); the scans are Go benchmarks of
# ProcScanner.Scan on this host's /proc: over netlink sock_diag, and from the /proc/net files.
# Then the scan of every network namespace for 1, 10 and 50 namespaces, and `collect --list` against
# `ss -tulpna` as whole processes (hyperfine when installed, else a loop of 20 runs each).
set -euo pipefail
cd "$(dirname "$0")/../.."

bind_ms=$(for _ in 1 2 3; do python3 scripts/bench/bindscan.py; done |
  awk '{print $(NF-1)}' | sort -n | sed -n 2p)

go test -run '^$' -bench 'BenchmarkProcScan' -benchtime=200x ./pkg/portscan/ |
  awk -v bind="$bind_ms" '
    /^BenchmarkProcScan\// {
      split($1, name, "[/-]")
      method = (name[2] == "files") ? "/proc files" : name[2]
      ms = $3 / 1e6
      ratio = bind / ms
      printf "portscan: %s scan %.2f ms vs bind loop %.0f ms = %.0fx (target >= 100x: %s)\n",
        method, ms, bind, ratio, (ratio >= 100 ? "met" : "MISSED")
      found++
    }
    END { if (!found) { print "portscan: no benchmark output"; exit 1 } }'

# Every network namespace: a full scan (find + scan) of the host's and N namespaces made by the
# benchmark, against the 1-namespace scan; the target is about N times its cost, not more.
go test -run '^$' -bench 'BenchmarkNetnsScan' -benchtime=10x ./pkg/portscan/ |
  awk '
    /^BenchmarkNetnsScan\// {
      split($1, name, "[=-]"); n = name[2]; ms = $3 / 1e6
      if (n == 1) one = ms
      printf "portscan: %d namespaces scan %.1f ms = %.1f x the 1-namespace scan (%.1f ms per namespace)\n", n, ms, ms / one, ms / (n + 1)
      found++
    }
    END { if (!found) { print "portscan: no namespace benchmark output (needs CAP_SYS_ADMIN)"; exit 1 } }'

# One namespace's `collect --list` as a whole process against `ss -tulpna` (target within 2x).
go build -o /tmp/portwatch-bench-collect ./cmd/collect
if command -v hyperfine >/dev/null; then
  hyperfine -N -w 3 'ss -tulpna' '/tmp/portwatch-bench-collect --list'
else
  per_run() { # mean ms of 20 runs of "$@"
    local t0 t1; t0=$(date +%s%N)
    for _ in $(seq 20); do "$@" >/dev/null; done
    t1=$(date +%s%N); echo $(( (t1 - t0) / 20000000 ))
  }
  ss_ms=$(per_run ss -tulpna)
  list_ms=$(per_run /tmp/portwatch-bench-collect --list)
  awk -v a="$list_ms" -v b="$ss_ms" 'BEGIN { r = a / (b > 0 ? b : 1)
    printf "portscan: collect --list %d ms vs ss -tulpna %d ms = %.2fx (target <= 2x: %s)\n", a, b, r, (r <= 2 ? "met" : "MISSED") }'
fi
rm -f /tmp/portwatch-bench-collect
