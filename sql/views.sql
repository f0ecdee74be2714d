-- Views for the sqlite3 console. Every binary recreates them when it opens the
-- database, so they always match the code that wrote the data.

-- What listened (TCP) or was bound (UDP) in the latest complete live round, with the owner.
DROP VIEW IF EXISTS latest_listeners;
CREATE VIEW latest_listeners AS
SELECT rp.protocol, rp.family, rp.address, rp.port_id AS port, rp.state, rp.pid, rp.process
FROM rounds_ports rp
WHERE rp.round_id = (SELECT max(id) FROM rounds WHERE status = 'complete' AND source = 'live')
  AND rp.state IN ('listen', 'unconn')
ORDER BY rp.protocol, rp.port_id, rp.address;

-- One line per round: how many ports in each kind of use, packets, and the detect verdict.
DROP VIEW IF EXISTS round_summary;
CREATE VIEW round_summary AS
SELECT r.id AS round_id, r.start_time, r.end_time, r.status, r.source,
       coalesce(o.listen, 0) AS tcp_listen,
       coalesce(o.conn, 0) AS tcp_conn,
       coalesce(o.udp, 0) AS udp,
       r.frames, r.frames_malformed, r.frames_skipped, r.frames_dropped,
       (SELECT max(br.score) FROM batches_rounds br WHERE br.round_id = r.id) AS score,
       (SELECT a.id FROM anomalies a WHERE a.round_id = r.id) AS anomaly_id
FROM rounds r
LEFT JOIN (
    SELECT round_id,
           sum(protocol = 'tcp' AND state = 'listen') AS listen,
           sum(protocol = 'tcp' AND state <> 'listen') AS conn,
           sum(protocol = 'udp') AS udp
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
       round(json_extract(p.value, '$.error'), 4) AS error
FROM anomalies a
LEFT JOIN rounds r ON r.id = a.round_id
JOIN json_each(a.detail, '$.ports') p
ORDER BY a.detected_at, a.id, p.key;

-- When each local port use was first and last seen, over the rounds kept.
DROP VIEW IF EXISTS port_history;
CREATE VIEW port_history AS
SELECT rp.protocol, rp.port_id AS port, rp.state, rp.address,
       min(rp.timestamp) AS first_seen, max(rp.timestamp) AS last_seen,
       count(DISTINCT rp.round_id) AS rounds,
       max(rp.process) AS process
FROM rounds_ports rp
GROUP BY rp.protocol, rp.port_id, rp.state, rp.address
ORDER BY rp.protocol, rp.port_id;

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

-- Open incidents, newest last, and accepted causes with who and why (detect incidents, detect accepted).
DROP VIEW IF EXISTS open_incidents;
CREATE VIEW open_incidents AS
SELECT id, kind, key, rounds, first_round_id, last_round_id, round(score, 2) AS score, opened_at, updated_at
FROM incidents WHERE state = 'open' ORDER BY id;
