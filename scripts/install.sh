#!/usr/bin/env bash
# make install: copy the binaries into PREFIX/bin and give collect CAP_NET_RAW for live capture,
# and CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH to scan every network namespace
# (containers) and find their sockets' owners, without running anything as root.
set -euo pipefail
prefix=${1:-/usr/local}
cd "$(dirname "$0")/.."
install -d "$prefix/bin"
for b in collect detect cleanup; do
  install -m 0755 "bin/$b" "$prefix/bin/$b"
done
if command -v setcap >/dev/null; then
  if setcap cap_net_raw,cap_sys_admin,cap_sys_ptrace,cap_dac_read_search+ep "$prefix/bin/collect"; then
    echo "installed into $prefix/bin; collect has CAP_NET_RAW (capture) and CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (namespaces): $(getcap "$prefix/bin/collect")"
  else
    echo "installed into $prefix/bin, but setcap failed: run 'sudo setcap cap_net_raw,cap_sys_admin,cap_sys_ptrace,cap_dac_read_search+ep $prefix/bin/collect' for live capture and every network namespace" >&2
    exit 1
  fi
else
  echo "installed into $prefix/bin; setcap not found (Debian: apt-get install libcap2-bin), so collect has no CAP_NET_RAW: run it with -p only after 'setcap cap_net_raw+ep $prefix/bin/collect'" >&2
  exit 1
fi
