#!/usr/bin/env bash
# portwatch in one command (make demo): a generated host history, a real
# capture ingested by collect, the first model trained and calibrated, an
# injected anomaly (nc listening on 0.0.0.0:4444), an hourly detect run that
# flags and explains it, the stored anomalies, and var/demo.png.
#
# The history comes from internal/eval/scenario through internal/eval/cmd/history (a small
# go run program); its last hour is written but left "running", as if collect
# had not finished it, and step 3 releases it.
set -euo pipefail
cd "$(dirname "$0")/.."

PCAP=${PCAP:-../shared/pcaps/scans/evilfingers_nmap_tcp_syn_scan.pcap}
DB=var/demo.db
MODEL=var/portae.onnx

if [[ ! -x bin/detect || ! -x bin/collect ]]; then
  go build -tags "$(cat scripts/build-tags)" -o bin/ ./cmd/...
fi
mkdir -p var
rm -f "$DB" "$DB"-wal "$DB"-shm "$DB".lock "$DB".*.lock "$MODEL" "$MODEL".prev var/demo.png

step() { printf '\n== %s\n' "$*"; }

step "1. history: 6 hours of minute rounds of a generated host; the last hour held back"
go run ./internal/eval/cmd/history -db "$DB" -rounds 360 -hold 60 -listener 331-337

step "2. first detect run: no model yet, so it trains portae v2 on the 300 complete rounds and calibrates the threshold"
bin/detect -d "$DB"

step "3. the next hour completes; in it, nc listened on 0.0.0.0:4444 for 6 minutes"
sqlite3 "$DB" "UPDATE rounds SET status = 'complete' WHERE status = 'running'"

step "4. a real capture ingested: collect --pcap $(basename "$PCAP")"
bin/collect -d "$DB" --pcap "$PCAP"
echo "what the capture holds, busiest destination ports first (detect leaves capture rounds alone: no socket table to judge):"
sqlite3 -header -column "$DB" "SELECT * FROM packet_ports WHERE round_id IN (SELECT id FROM rounds WHERE source LIKE 'pcap:%') ORDER BY syns DESC LIMIT 5"

step "5. the hourly detect run: scores the new rounds, stores anomalies, refits on the normal ones"
bin/detect -d "$DB"

step "6. the anomalies table"
sqlite3 -box "$DB" "SELECT round_id, round_start, round(score, 1) AS score, round(threshold, 1) AS threshold,
  substr(detail, 1, 90) AS detail FROM anomalies ORDER BY round_id"

step "7. the history scored again (read only), drawn into var/demo.png"
bin/detect -d "$DB" --from 2026-11-12T00:00:00Z --to 2026-11-13T00:00:00Z --plot var/demo.png
ls -l var/demo.png
