-- Views for the sqlite3 console. Every binary recreates them when it opens the
-- database, so they always match the code that wrote the data.

-- What listened (TCP) or was bound (UDP) in the latest complete live round, with the owner and the
-- network namespace: its inode (0 where not told), and container 'host' for the host's own, else its
-- ip netns or container name (NULL when unknown).
DROP VIEW IF EXISTS latest_listeners;
CREATE VIEW latest_listeners AS
SELECT rp.protocol, rp.family, rp.address, rp.port_id AS port, rp.state, rp.pid, rp.process,
       rp.netns, CASE WHEN rp.netns_host THEN 'host' ELSE rp.netns_name END AS container
FROM rounds_ports rp
WHERE rp.round_id = (SELECT max(id) FROM rounds WHERE status = 'complete' AND source = 'live')
  AND rp.state IN ('listen', 'unconn')
ORDER BY rp.protocol, rp.port_id, rp.address, rp.netns;

-- One line per round: how many ports in each kind of use (tcp_listen counts every namespace's listeners,
-- tcp_listen_container those outside the host's), packets, and the detect verdict.
DROP VIEW IF EXISTS round_summary;
CREATE VIEW round_summary AS
SELECT r.id AS round_id, r.start_time, r.end_time, r.status, r.source,
       coalesce(o.listen, 0) AS tcp_listen,
       coalesce(o.conn, 0) AS tcp_conn,
       coalesce(o.udp, 0) AS udp,
       coalesce(o.listen_container, 0) AS tcp_listen_container,
       r.frames, r.frames_malformed, r.frames_skipped, r.frames_dropped,
       (SELECT max(br.score) FROM batches_rounds br WHERE br.round_id = r.id) AS score,
       (SELECT a.id FROM anomalies a WHERE a.round_id = r.id) AS anomaly_id
FROM rounds r
LEFT JOIN (
    SELECT round_id,
           sum(protocol = 'tcp' AND state = 'listen') AS listen,
           sum(protocol = 'tcp' AND state <> 'listen') AS conn,
           sum(protocol = 'udp') AS udp,
           sum(protocol = 'tcp' AND state = 'listen' AND NOT netns_host) AS listen_container
    FROM rounds_ports GROUP BY round_id
) o ON o.round_id = r.id
ORDER BY r.id;

-- Anomalies with the ports that contributed most, one line per port.
DROP VIEW IF EXISTS anomaly_ports;
CREATE VIEW anomaly_ports AS
SELECT a.id AS anomaly_id, a.round_id, coalesce(r.start_time, a.round_start) AS round_start,
       a.detected_at, round(a.score, 4) AS score, round(a.threshold, 4) AS threshold,
       json_extract(p.value, '$.port') AS port,
       json_extract(p.value, '$.protocol') AS protocol,
       json_extract(p.value, '$.state') AS state,
       json_extract(p.value, '$.channel') AS channel,
       json_extract(p.value, '$.address') AS address,
       json_extract(p.value, '$.process') AS process,
       json_extract(p.value, '$.container') AS container,
       round(json_extract(p.value, '$.error'), 4) AS error
FROM anomalies a
LEFT JOIN rounds r ON r.id = a.round_id
JOIN json_each(a.detail, '$.ports') p
ORDER BY a.detected_at, a.id, p.key;

-- When each local port use was first and last seen, over the rounds kept, per network namespace.
DROP VIEW IF EXISTS port_history;
CREATE VIEW port_history AS
SELECT rp.protocol, rp.port_id AS port, rp.state, rp.address,
       min(rp.timestamp) AS first_seen, max(rp.timestamp) AS last_seen,
       count(DISTINCT rp.round_id) AS rounds,
       max(rp.process) AS process,
       rp.netns, CASE WHEN max(rp.netns_host) THEN 'host' ELSE max(rp.netns_name) END AS container
FROM rounds_ports rp
GROUP BY rp.protocol, rp.port_id, rp.state, rp.address, rp.netns
ORDER BY rp.protocol, rp.port_id, rp.netns;

-- Packets per destination port and round, with SYNs (no ACK) counted apart: scans show here.
DROP VIEW IF EXISTS packet_ports;
CREATE VIEW packet_ports AS
SELECT round_id, dest_port,
       count(*) AS packets,
       sum(tcp_flags IS NOT NULL AND (tcp_flags & 18) = 2) AS syns,
       count(DISTINCT src_ip) AS sources
FROM packets
WHERE dest_port <> 0
GROUP BY round_id, dest_port
ORDER BY round_id, packets DESC;

-- Per round and source address: how many local ports it sent SYNs (without ACK) to. A port scan is one
-- source with hundreds of ports.
DROP VIEW IF EXISTS scan_sources;
CREATE VIEW scan_sources AS
SELECT round_id, src_ip,
       count(DISTINCT dest_port) AS ports,
       count(*) AS syns,
       min(timestamp) AS first_seen, max(timestamp) AS last_seen
FROM packets
WHERE tcp_flags IS NOT NULL AND (tcp_flags & 18) = 2
GROUP BY round_id, src_ip
ORDER BY round_id, ports DESC;

-- One line per round with a capture: its traffic summary (traffic_rounds) with the inbound totals and
-- where the local side came from. Rounds without a capture have no line: their traffic is unknown.
DROP VIEW IF EXISTS traffic_summary;
CREATE VIEW traffic_summary AS
SELECT r.id AS round_id, r.start_time, r.source, r.local_from, r.local_addrs,
       t.packets, t.ip_packets, t.sources,
       coalesce(p.ports_in, 0) AS ports_in, coalesce(p.syns_in, 0) AS syns_in, coalesce(p.rsts_out, 0) AS rsts_out,
       t.icmp_unreachable, t.dns_queries, t.dns_names, t.dns_max_label,
       round(t.dns_entropy, 2) AS dns_entropy, round(t.dns_txt_null_share, 3) AS dns_txt_null_share,
       round(t.dns_nxdomain_share, 3) AS dns_nxdomain_share, t.syn_sources, t.reflect_port, t.reflect_sources,
       t.reflect_packets, t.spread_source, t.spread_port, t.spread_hosts, t.dns_nx_depth, t.dns_nx_name,
       t.backdoor_host, t.backdoor_port, t.backdoor_peers, t.overflow, t.note
FROM traffic_rounds t
JOIN rounds r ON r.id = t.round_id
LEFT JOIN (
    SELECT round_id,
           sum(direction = 'in') AS ports_in,
           sum(CASE direction WHEN 'in' THEN syns ELSE 0 END) AS syns_in,
           sum(CASE direction WHEN 'out' THEN rsts ELSE 0 END) AS rsts_out
    FROM traffic_ports GROUP BY round_id
) p ON p.round_id = t.round_id
ORDER BY r.id;

-- Sources by fan-out: a port scan is one source and hundreds of local ports (probed: with SYN, FIN, NULL or
-- XMAS segments), a sweep many hosts, password guessing many attempts on one local port.
DROP VIEW IF EXISTS traffic_scanners;
CREATE VIEW traffic_scanners AS
SELECT s.round_id, r.start_time, s.address, s.local, s.local_ports, s.local_hosts, s.probed_ports, s.probed_hosts,
       s.attempts, s.attempt_host, s.attempt_port, s.syns, s.packets
FROM traffic_sources s
JOIN rounds r ON r.id = s.round_id
ORDER BY s.round_id, s.local_ports DESC, s.local_hosts DESC;

-- Local ports by inbound peers: a flood is one port, many peers and SYNs.
DROP VIEW IF EXISTS traffic_inbound;
CREATE VIEW traffic_inbound AS
SELECT p.round_id, r.start_time, p.port, p.protocol, p.packets, p.syns, p.rsts, p.peers
FROM traffic_ports p
JOIN rounds r ON r.id = p.round_id
WHERE p.direction = 'in'
ORDER BY p.round_id, p.peers DESC, p.packets DESC;

-- Registered domains by distinct names: a DNS tunnel is one domain with hundreds of long names.
DROP VIEW IF EXISTS traffic_domains;
CREATE VIEW traffic_domains AS
SELECT d.round_id, r.start_time, d.domain, d.queries, d.names, d.max_label
FROM traffic_dns d
JOIN rounds r ON r.id = d.round_id
ORDER BY d.round_id, d.names DESC, d.queries DESC;

-- Open incidents, newest last, and accepted causes with who and why (detect incidents, detect accepted).
DROP VIEW IF EXISTS open_incidents;
CREATE VIEW open_incidents AS
SELECT id, kind, key, rounds, first_round_id, last_round_id, round(score, 2) AS score, opened_at, updated_at
FROM incidents WHERE state = 'open' ORDER BY id;
