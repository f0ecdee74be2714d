#!/usr/bin/env bash
# Bytes portwatch stores per minute round, measured on this host as the
# growth of the database's used pages, (page_count - freelist_count) *
# page_size, divided by the rounds that made it; "filled" is the part of
# those pages that holds data (dbstat: page size less unused bytes).
#
#   scans only:   ROUNDS live rounds of ROUND_SECONDS with a port scan every
#                 SCAN_INTERVAL and no capture, after a first round (the new
#                 database's ports table is not a round's cost): once on the
#                 host as it is, once more with LISTEN loopback listeners
#                 (python3) added, as a server has. rounds_ports keeps a
#                 socket once per round however many scans see it, so a 55 s
#                 cron round costs about what a 2 s one does. Page growth
#                 counts whole pages (4 KiB / ROUNDS steps); "filled" is finer.
#   with packets: each capture in PCAPS ingested in rounds of 60 s of capture
#                 time into a database that already exists, per round and
#                 per packet. (The benchmark capture's timestamps go back and
#                 forth, which cuts it into many short rounds: read its per
#                 packet figure.) Then the traffic summary's share of that
#                 (traffic_* tables, dbstat), and what a round costs once
#                 `cleanup --keep-packets` has deleted its packet rows.
#
# One line per case. Usage: scripts/footprint.sh (ROUNDS=20 ROUND_SECONDS=2
# SCAN_INTERVAL=500ms LISTEN=40 PCAPS="a.pcap b.pcap" to change what it runs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-20}
LISTEN=${LISTEN:-40}
ROUND_SECONDS=${ROUND_SECONDS:-2}
SCAN_INTERVAL=${SCAN_INTERVAL:-500ms}
PCAPS=${PCAPS:-../shared/pcaps/attacks/slips_cc_periodic.pcap ../shared/pcaps/benchmark/mixed_real_traffic_merged.pcap}
SEED_PCAP=../shared/pcaps/scans/esnet_nmap_80_vanilla.pcap
command -v sqlite3 >/dev/null || { echo "footprint: sqlite3 not installed (apt-get install sqlite3)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$(cat scripts/build-tags)" -o "$tmp/" ./cmd/collect ./cmd/cleanup
collect() { "$tmp/collect" "$@" 2>"$tmp/err" || { echo "footprint: collect $* failed:" >&2; cat "$tmp/err" >&2; exit 1; }; }

# summary DB: bytes of the traffic summary tables' pages, then bytes filled.
summary() {
	sqlite3 -separator ' ' "$1" "SELECT coalesce(sum(pgsize), 0), coalesce(sum(pgsize - unused), 0) FROM dbstat
		WHERE name IN ('traffic_rounds', 'traffic_ports', 'traffic_sources', 'traffic_dns')"
}

# used DB: bytes in used pages, then bytes filled with data, space-separated.
used() {
	sqlite3 "$1" "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count),
		(SELECT page_size FROM pragma_page_size), (SELECT sum(pgsize - unused) FROM dbstat)" |
		awk -F'|' '{print $1 * $2, $3}'
}

# report CASE ROUNDS BEFORE AFTER COUNT UNIT: one line, bytes per round
# and per UNIT (COUNT of them stored in the ROUNDS).
report() {
	awk -v c="$1" -v n="$2" -v b="$3" -v a="$4" -v k="$5" -v u="$6" 'BEGIN {
		split(b, x, " "); split(a, y, " ")
		printf "footprint %s: %.0f bytes/round (%.0f filled)", c, (y[1] - x[1]) / n, (y[2] - x[2]) / n
		if (k > 0) printf ", %.1f bytes/%s (%.1f filled)", (y[1] - x[1]) / k, u, (y[2] - x[2]) / k
		printf "\n"
	}'
}

# scans_only LABEL: the scans-only case on a new database.
scans_only() {
	local db=$tmp/live-$RANDOM.db first before ports
	collect -d "$db" -r "$ROUND_SECONDS" --scan-interval "$SCAN_INTERVAL"
	first=$(sqlite3 "$db" "SELECT max(id) FROM rounds")
	before=$(used "$db")
	for _ in $(seq "$ROUNDS"); do
		collect -d "$db" -r "$ROUND_SECONDS" --scan-interval "$SCAN_INTERVAL"
	done
	ports=$(sqlite3 "$db" "SELECT count(*) FROM rounds_ports WHERE round_id > $first")
	report "scans only, $1 ($ROUNDS live rounds of ${ROUND_SECONDS}s, a scan every $SCAN_INTERVAL, $((ports / ROUNDS)) sockets a round)" \
		"$ROUNDS" "$before" "$(used "$db")" "$ports" "socket"
}

scans_only "this host as it is"
if [ "$LISTEN" -gt 0 ]; then
	# A server's worth of sockets, on loopback only: TCP listeners and a UDP
	# socket for every fourth, held open while the rounds scan them.
	python3 -c '
import socket, sys, time
held = []
for i in range(int(sys.argv[1])):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(); held.append(t)
    if i % 4 == 0:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); held.append(u)
print("ready", flush=True)
time.sleep(3600)' "$LISTEN" >"$tmp/listen" &
	listener=$!
	trap 'kill $listener 2>/dev/null || true; rm -rf "$tmp"' EXIT
	for _ in $(seq 100); do grep -q ready "$tmp/listen" && break; sleep 0.1; done
	scans_only "with $LISTEN loopback listeners added"
	kill "$listener"
	wait "$listener" 2>/dev/null || true
	trap 'rm -rf "$tmp"' EXIT
fi

for pcap in $PCAPS; do
	db=$tmp/$(basename "$pcap").db
	collect -d "$db" -r 60 --pcap "$SEED_PCAP"
	before=$(used "$db") sum_before=$(summary "$db")
	collect -d "$db" -r 60 --pcap "$pcap"
	read -r rounds packets < <(sqlite3 -separator ' ' "$db" \
		"SELECT count(*), (SELECT count(*) FROM packets JOIN rounds r ON r.id = round_id WHERE r.source = 'pcap:$(basename "$pcap")')
		FROM rounds WHERE source = 'pcap:$(basename "$pcap")'")
	report "with packets ($(basename "$pcap"): $rounds rounds of 60 s capture time, $packets packets)" \
		"$rounds" "$before" "$(used "$db")" "$packets" "packet"
	report "traffic summary of those rounds" "$rounds" "$sum_before" "$(summary "$db")" 0 ""
	# The captures' rounds are years old: --keep-packets 1d takes all their packet rows.
	"$tmp/cleanup" -d "$db" --keep 36500d --keep-packets 1d >/dev/null 2>"$tmp/err" ||
		{ echo "footprint: cleanup failed:" >&2; cat "$tmp/err" >&2; exit 1; }
	report "the same rounds after cleanup --keep-packets (rounds and summaries only)" "$rounds" "$before" "$(used "$db")" 0 ""
done
