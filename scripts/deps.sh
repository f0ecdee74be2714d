#!/usr/bin/env bash
# Installs what portwatch needs beyond Go and gcc, only where it is missing:
# libpcap (build and live capture), sqlite3 (console), setcap (make install
# grants collect CAP_NET_RAW), tshark (reference
# decoder for tests and benchmarks), onnxruntime-node (reference runtime).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
dpkg -s libpcap-dev >/dev/null 2>&1 || missing+=(libpcap-dev)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v setcap >/dev/null || missing+=(libcap2-bin)
command -v tshark >/dev/null || missing+=(tshark)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "portwatch needs: ${missing[*]}; run 'sudo make deps' or 'sudo apt-get install -y ${missing[*]}'" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The reference ONNX runtime lives in scripts/ort (package.json pins it).
if [[ ! -d scripts/ort/node_modules/onnxruntime-node ]] && command -v npm >/dev/null; then
  echo "installing onnxruntime-node into scripts/ort" >&2
  (cd scripts/ort && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
