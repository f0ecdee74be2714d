#!/usr/bin/env bash
# make install: copy the binaries into PREFIX/bin and give collect CAP_NET_RAW,
# so live capture works without running anything as root.
#
# NAMESPACES=1 also gives collect CAP_SYS_ADMIN, CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH (to scan containers' network namespaces) and makes it
# mode 0750 owned by root:GROUP (NAMESPACES_GROUP, default root): file
# capabilities apply to whoever may run the binary, and those three must not
# go to every local user.
set -euo pipefail
prefix=${1:-/usr/local}
cd "$(dirname "$0")/.."
install -d "$prefix/bin"
for b in collect detect cleanup; do
  install -m 0755 "bin/$b" "$prefix/bin/$b"
done
caps=cap_net_raw
if [[ ${NAMESPACES:-0} == 1 ]]; then
  caps=cap_net_raw,cap_sys_admin,cap_sys_ptrace,cap_dac_read_search
  chown "root:${NAMESPACES_GROUP:-root}" "$prefix/bin/collect"
  chmod 0750 "$prefix/bin/collect"
fi
if ! command -v setcap >/dev/null; then
  echo "installed into $prefix/bin; setcap not found (Debian: apt-get install libcap2-bin), so collect has no capabilities: run it with -p only after 'setcap $caps+ep $prefix/bin/collect'" >&2
  exit 1
fi
if ! setcap "$caps+ep" "$prefix/bin/collect"; then
  echo "installed into $prefix/bin, but setcap failed: run 'sudo setcap $caps+ep $prefix/bin/collect'" >&2
  exit 1
fi
echo "installed into $prefix/bin; collect has $(getcap "$prefix/bin/collect")"
