#!/usr/bin/env bash
# Prints what the latest collect round stored: the round, its ports, and a
# summary of its packets. Usage: scripts/show.sh [DB] (default var/ports.db).
set -euo pipefail
db=${1:-var/ports.db}
[ -f "$db" ] || { echo "show: no database $db; run collect -d $db first" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "show: sqlite3 not installed (apt-get install sqlite3)" >&2; exit 1; }
q() { sqlite3 -readonly -header -column "$db" "$@"; }
round=$(sqlite3 -readonly "$db" "SELECT max(id) FROM rounds")
[ -n "$round" ] || { echo "show: $db holds no rounds yet"; exit 0; }

echo "== round $round"
q "SELECT id, start_time, end_time, status, source, scans, frames, frames_malformed AS malformed,
          frames_skipped AS skipped, frames_dropped AS dropped
   FROM rounds WHERE id = $round"
echo
echo "== ports in use ($(sqlite3 -readonly "$db" "SELECT count(*) FROM rounds_ports WHERE round_id = $round") rows)"
q "SELECT protocol AS proto, family, address, port_id AS port, state, coalesce(pid, '-') AS pid,
          coalesce(process, '-') AS process
   FROM rounds_ports WHERE round_id = $round ORDER BY protocol, port_id, address, state"
echo
echo "== packets by protocols"
q "SELECT protocols, count(*) AS packets FROM packets WHERE round_id = $round
   GROUP BY protocols ORDER BY packets DESC, protocols LIMIT 10"
echo
echo "== busiest destination ports"
q "SELECT dest_port, count(*) AS packets, count(DISTINCT src_ip) AS sources FROM packets
   WHERE round_id = $round AND dest_port <> 0 GROUP BY dest_port ORDER BY packets DESC, dest_port LIMIT 10"
