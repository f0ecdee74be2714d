package sql

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// TestViews builds a real database from the schema and views, fills two rounds
// by hand and checks what each console view derives from them.
func TestViews(t *testing.T) {
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{Schema(), Views(), Views(), `
INSERT INTO ports (id, value) VALUES (22, 22), (53, 53), (4444, 4444), (50000, 50000);
INSERT INTO rounds (id, start_time, end_time, status, source) VALUES
  (1, '2026-11-21T10:00:00.000000Z', '2026-11-21T10:00:55.000000Z', 'complete', 'live'),
  (2, '2026-11-21T10:01:00.000000Z', '2026-11-21T10:01:55.000000Z', 'complete', 'live'),
  (3, '2026-11-21T10:02:00.000000Z', NULL, 'running', 'live');
INSERT INTO rounds_ports (round_id, port_id, timestamp, protocol, family, address, state, pid, process) VALUES
  (1, 22, '2026-11-21T10:00:00.100000Z', 'tcp', 4, '0.0.0.0', 'listen', 100, 'sshd'),
  (2, 22, '2026-11-21T10:01:00.100000Z', 'tcp', 4, '0.0.0.0', 'listen', 100, 'sshd'),
  (2, 50000, '2026-11-21T10:01:00.100000Z', 'tcp', 4, '10.0.0.2', 'established', 200, 'curl'),
  (2, 53, '2026-11-21T10:01:00.100000Z', 'udp', 4, '127.0.0.53', 'unconn', 300, 'resolved'),
  (2, 4444, '2026-11-21T10:01:00.100000Z', 'tcp', 6, '::', 'listen', 400, 'nc'),
  (3, 4444, '2026-11-21T10:02:00.100000Z', 'tcp', 6, '::', 'established', 400, 'nc');
INSERT INTO rounds_ports (round_id, port_id, timestamp, protocol, family, address, state, pid, process, netns, netns_host, netns_name) VALUES
  (1, 22, '2026-11-21T10:00:00.100000Z', 'tcp', 4, '0.0.0.0', 'listen', 900, 'dropbear', 4026532999, 0, 'docker:0123abcd'),
  (2, 22, '2026-11-21T10:01:00.100000Z', 'tcp', 4, '0.0.0.0', 'listen', 900, 'dropbear', 4026532999, 0, 'docker:0123abcd');
UPDATE rounds_ports SET netns = 4026531840 WHERE netns_host;
INSERT INTO packets (round_id, frame, timestamp, protocols, port_id, dest_port, src_ip, length, tcp_flags) VALUES
  (2, 1, '2026-11-21T10:01:01.000000Z', 'eth:ipv4:tcp', 50001, 22, '10.0.0.9', 60, 2),
  (2, 2, '2026-11-21T10:01:01.000000Z', 'eth:ipv4:tcp', 50002, 22, '10.0.0.8', 60, 18),
  (2, 3, '2026-11-21T10:01:01.000000Z', 'eth:ipv4:tcp', 50003, 22, '10.0.0.9', 60, 2);
INSERT INTO batches (id, timestamp, alg) VALUES (1, '2026-11-21T11:00:00.000000Z', 'portae-v1');
INSERT INTO batches_rounds (batch_id, round_id, score) VALUES (1, 1, 0.5), (1, 2, 9.25);
INSERT INTO anomalies (round_id, round_start, detected_at, score, threshold, model, detail) VALUES
  (2, '2026-11-21T10:01:00.000000Z', '2026-11-21T11:00:00.000000Z', 9.25, 3, 'portae.onnx',
   '{"ports":[{"port":4444,"protocol":"tcp","state":"listen","channel":"tcp_listen","address":"::","process":"nc","container":"docker:0123abcd","error":0.97},{"port":53,"protocol":"udp","state":"unconn","error":0.1}]}');
UPDATE rounds SET local_from = 'interfaces', local_addrs = '10.0.0.2' WHERE id = 2;
INSERT INTO traffic_rounds (round_id, packets, ip_packets, overflow, sources, icmp_unreachable, dns_queries, dns_responses,
  dns_names, dns_max_label, dns_mean_label, dns_entropy, dns_max_entropy, dns_txt_null_share, dns_nxdomain_share, note) VALUES
  (2, 3, 3, 0, 2, 1, 2, 1, 2, 60, 20.5, 4.123, 4.5, 0.5, 1, NULL);
INSERT INTO traffic_ports (round_id, port, protocol, direction, packets, syns, rsts, peers) VALUES
  (2, 22, 'tcp', 'in', 3, 2, 0, 2), (2, 80, 'tcp', 'in', 1, 1, 0, 1), (2, 50001, 'tcp', 'out', 2, 0, 2, 1);
INSERT INTO traffic_sources (round_id, address, local_ports, local_hosts, packets, syns) VALUES
  (2, '10.0.0.9', 2, 1, 3, 3);
INSERT INTO traffic_dns (round_id, domain, queries, names, max_label) VALUES
  (2, 'example.com', 1, 1, 7), (2, 'pirate.sea', 1, 1, 60);
`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("exec: %v", err)
		}
	}

	tests := []struct {
		name, query string
		want        [][]any
	}{
		{"latest_listeners is the latest complete live round, each namespace apart", `SELECT protocol, port, process, netns, container FROM latest_listeners`,
			[][]any{{"tcp", int64(22), "sshd", int64(4026531840), "host"}, {"tcp", int64(22), "dropbear", int64(4026532999), "docker:0123abcd"},
				{"tcp", int64(4444), "nc", int64(4026531840), "host"}, {"udp", int64(53), "resolved", int64(4026531840), "host"}}},
		{"round_summary counts and verdicts", `SELECT round_id, tcp_listen, tcp_listen_container, tcp_conn, udp, score, anomaly_id FROM round_summary WHERE round_id <= 2`,
			[][]any{{int64(1), int64(2), int64(1), int64(0), int64(0), 0.5, nil}, {int64(2), int64(3), int64(1), int64(1), int64(1), 9.25, int64(1)}}},
		{"anomaly_ports unpacks the detail JSON in order", `SELECT round_id, port, protocol, channel, container, error FROM anomaly_ports`,
			[][]any{{int64(2), int64(4444), "tcp", "tcp_listen", "docker:0123abcd", 0.97}, {int64(2), int64(53), "udp", nil, nil, 0.1}}},
		{"port_history spans rounds, per namespace", `SELECT first_seen, last_seen, rounds, container FROM port_history WHERE port = 22`,
			[][]any{{"2026-11-21T10:00:00.100000Z", "2026-11-21T10:01:00.100000Z", int64(2), "host"},
				{"2026-11-21T10:00:00.100000Z", "2026-11-21T10:01:00.100000Z", int64(2), "docker:0123abcd"}}},
		{"packet_ports counts SYNs without ACK and sources", `SELECT dest_port, packets, syns, sources FROM packet_ports`,
			[][]any{{int64(22), int64(3), int64(2), int64(2)}}},
		{"scan_sources counts the ports each source sent SYNs to", `SELECT src_ip, ports, syns FROM scan_sources`,
			[][]any{{"10.0.0.9", int64(1), int64(2)}}},
		{"traffic_summary totals a round's inbound ports", `SELECT round_id, local_from, ports_in, syns_in, rsts_out, dns_entropy, note FROM traffic_summary`,
			[][]any{{int64(2), "interfaces", int64(2), int64(3), int64(2), 4.12, nil}}},
		{"traffic_scanners lists sources widest first", `SELECT round_id, address, local_ports FROM traffic_scanners`,
			[][]any{{int64(2), "10.0.0.9", int64(2)}}},
		{"traffic_inbound orders a round's ports by peers", `SELECT port, peers FROM traffic_inbound`,
			[][]any{{int64(22), int64(2)}, {int64(80), int64(1)}}},
		{"traffic_domains orders by names, then queries", `SELECT domain, max_label FROM traffic_domains`,
			[][]any{{"example.com", int64(7)}, {"pirate.sea", int64(60)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queryAll(t, db, tt.query)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows %v, want %d rows %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				for j := range got[i] {
					if got[i][j] != tt.want[i][j] {
						t.Errorf("row %d col %d: got %#v, want %#v", i, j, got[i][j], tt.want[i][j])
					}
				}
			}
		})
	}
}

func queryAll(t *testing.T, db *sql.DB, q string) [][]any {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
