#!/usr/bin/env bash
# Port occupancy scan: pkg/portscan against the old tool's bind-every-port loop, side by side.
# Prints `portscan: <method> scan <ms> ms vs bind loop <ms> ms = <ratio>x (target >= 100x: ...)`.
# The bind loop is scripts/bench/bindscan.py (median of 3 runs); the scans are Go benchmarks of
# ProcScanner.Scan on this host's /proc: over netlink sock_diag, and from the /proc/net files.
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
