-- Views for the sqlite3 console. Recreated by every binary on open, so they track the code.
DROP VIEW IF EXISTS latest_listeners;
CREATE VIEW latest_listeners AS
SELECT rp.protocol, rp.family, rp.address, rp.port_id AS port, rp.state, rp.pid, rp.process
FROM rounds_ports rp
WHERE rp.round_id = (SELECT max(id) FROM rounds WHERE status = 'complete' AND source = 'live')
  AND rp.state IN ('listen', 'unconn')
ORDER BY rp.protocol, rp.port_id;
