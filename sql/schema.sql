-- portwatch database, schema version 11 (PRAGMA user_version; pkg/store migrates older files).
-- Times are TEXT, RFC 3339 in UTC with fractional seconds, so they sort as text.
-- This is the contract users query with sqlite3; add columns and tables, never rename.

-- One collection round: live (port scans + capture) or a slice of a capture file.
CREATE TABLE rounds (
    id              INTEGER PRIMARY KEY,
    start_time      TEXT    NOT NULL,
    end_time        TEXT,
    status          TEXT    NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'complete', 'interrupted')),
    source          TEXT    NOT NULL,            -- 'live' or 'pcap:<file name>'
    scans           INTEGER NOT NULL DEFAULT 0,  -- occupancy scans taken in the round
    frames          INTEGER NOT NULL DEFAULT 0,  -- frames read from the interface or file
    frames_malformed INTEGER NOT NULL DEFAULT 0, -- frames only partly decoded (stored with the layers that did)
    frames_skipped  INTEGER NOT NULL DEFAULT 0,  -- frame records that could not be read at all (not stored)
    frames_dropped  INTEGER NOT NULL DEFAULT 0   -- frames the kernel dropped (live capture)
, frames_bad_time INTEGER NOT NULL DEFAULT 0, local_from TEXT, local_addrs TEXT);
-- frames_bad_time (v3): file frames whose time is outside 1990-01-01 .. now + 1 day (not stored).
-- local_from, local_addrs (v4), for rounds with a capture: where the local side of the traffic summary came
-- from (interfaces | flag | inferred) and the local addresses or prefixes used, comma-separated ('' when none).
CREATE INDEX rounds_start_time ON rounds (start_time);
CREATE INDEX rounds_status ON rounds (status);

-- Every port number, id = value, so rounds_ports and packets can join on it. The CHECK makes value
-- unique as the rowid is (v11): a UNIQUE index beside it was half the cost of a new file's seeding.
-- section ports
CREATE TABLE ports (
    id    INTEGER PRIMARY KEY,
    value INTEGER NOT NULL CHECK (value = id AND value BETWEEN 0 AND 65535)
);
-- end ports

-- A local port in use during a round, once per (round, port, protocol, family, address, state,
-- network namespace): the same port in the host and in a container is two rows (v4).
CREATE TABLE rounds_ports (
    id        INTEGER PRIMARY KEY,
    round_id  INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    port_id   INTEGER NOT NULL REFERENCES ports (id),
    timestamp TEXT    NOT NULL,                  -- first scan of the round that saw it
    protocol  TEXT    NOT NULL CHECK (protocol IN ('tcp', 'udp')),
    family    INTEGER NOT NULL CHECK (family IN (4, 6)),
    address   TEXT    NOT NULL,                  -- local address: 0.0.0.0, 127.0.0.1, ::, ...
    state     TEXT    NOT NULL,                  -- as ss names it: listen, established, time-wait, unconn, ...
    pid       INTEGER,                           -- owning process where the system tells it
    process   TEXT,
    netns      INTEGER NOT NULL DEFAULT 0,       -- network namespace inode, as lsns shows it; 0 where not told
                                                 -- (rows stored before v4, a --proc-root copy, the bind scan)
    netns_host INTEGER NOT NULL DEFAULT 1 CHECK (netns_host IN (0, 1)),  -- 1: the host's own namespace
                                                 -- (collect's own where not told)
    netns_name TEXT,                             -- ip netns name or container (docker:0123456789ab), NULL if none
    UNIQUE (round_id, port_id, protocol, family, address, state, netns)
);
CREATE INDEX rounds_ports_port ON rounds_ports (port_id);

-- One row per captured frame that decoded, in capture order (id grows with frame).
CREATE TABLE packets (
    id         INTEGER PRIMARY KEY,
    round_id   INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    frame      INTEGER NOT NULL,                 -- 1-based frame number in the file or capture
    timestamp  TEXT    NOT NULL,
    protocols  TEXT    NOT NULL,                 -- decoded layers outermost first: eth:ipv4:udp:dns
    qry_name   TEXT,                             -- first DNS question's name
    resp_name  TEXT,                             -- DNS answer records' names, comma-separated, in order
    port_id    INTEGER NOT NULL DEFAULT 0 REFERENCES ports (id),  -- source port, 0 where none
    dest_port  INTEGER NOT NULL DEFAULT 0,       -- destination port, 0 where none
    src_ip     TEXT,
    dst_ip     TEXT,
    length     INTEGER NOT NULL,                 -- length on the wire
    tcp_flags  INTEGER,                          -- TCP flag bits (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128 NS=256)
    payload    BLOB                              -- first N transport payload bytes, NULL unless asked for
);
-- One index serves per-round reads, cleanup's deletes and per-round port counts (a round's rows
-- are few and near each other by id). On round_id alone (v10) every new entry goes at the
-- end of the index: (round_id, dest_port) searched for its place and split pages mid-round,
-- a tenth of ingest's CPU time.
CREATE INDEX packets_round ON packets (round_id);

-- Anomalous rounds found by detect. round_start keeps an anomaly readable after cleanup drops its round.
CREATE TABLE anomalies (
    id          INTEGER PRIMARY KEY,
    round_id    INTEGER REFERENCES rounds (id) ON DELETE SET NULL,
    round_start TEXT,
    detected_at TEXT    NOT NULL,
    score       REAL    NOT NULL,
    threshold   REAL    NOT NULL,
    model       TEXT    NOT NULL,                -- model file and version that scored it
    detail      TEXT    NOT NULL                 -- JSON: {"ports":[{"port":4444,"protocol":"tcp","state":"listen","error":0.97}]}
);
CREATE UNIQUE INDEX anomalies_round ON anomalies (round_id) WHERE round_id IS NOT NULL;
CREATE INDEX anomalies_detected_at ON anomalies (detected_at);

-- Which detect run scored which rounds, with the score it gave.
CREATE TABLE batches (
    id        INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    alg       TEXT NOT NULL
);
CREATE TABLE batches_rounds (
    batch_id INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    score    REAL,
    PRIMARY KEY (batch_id, round_id)
);
CREATE INDEX batches_rounds_round ON batches_rounds (round_id);

-- section v5
-- The traffic summary of a round with a capture (v5): what detection and cleanup rely on, so packet rows
-- can go sooner (cleanup --keep-packets). Directions are seen from the local side (rounds.local_from).
CREATE TABLE traffic_rounds (
    round_id          INTEGER PRIMARY KEY REFERENCES rounds (id) ON DELETE CASCADE,
    packets           INTEGER NOT NULL,        -- frames of the round
    ip_packets        INTEGER NOT NULL,        -- frames with an IP layer
    overflow          INTEGER NOT NULL,        -- packets and DNS queries past the per-round key bounds: in totals only
    sources           INTEGER NOT NULL,        -- distinct remote addresses that sent to local ones
    icmp_unreachable  INTEGER NOT NULL,        -- ICMP/ICMPv6 destination unreachable messages
    dns_queries       INTEGER NOT NULL,        -- unicast DNS (port 53) queries
    dns_responses     INTEGER NOT NULL,
    dns_names         INTEGER NOT NULL,        -- distinct query names
    dns_max_label     INTEGER NOT NULL,        -- longest label of a query name
    dns_mean_label    REAL    NOT NULL,        -- mean label length over the queries' labels
    dns_entropy       REAL    NOT NULL,        -- mean Shannon entropy of query names, bits per character
    dns_max_entropy   REAL    NOT NULL,
    dns_txt_null_share REAL   NOT NULL,        -- queries of type TXT or NULL / queries
    dns_nxdomain_share REAL   NOT NULL,        -- NXDOMAIN responses / responses
    note              TEXT                     -- why figures are zero or partial ('no IP traffic', 'one direction only: ...')
, syn_sources INTEGER NOT NULL DEFAULT 0, reflect_port INTEGER NOT NULL DEFAULT 0, reflect_sources INTEGER NOT NULL DEFAULT 0,
  reflect_packets INTEGER NOT NULL DEFAULT 0, spread_source TEXT NOT NULL DEFAULT '', spread_port INTEGER NOT NULL DEFAULT 0,
  spread_hosts INTEGER NOT NULL DEFAULT 0, dns_nx_depth INTEGER NOT NULL DEFAULT 0, dns_nx_name TEXT NOT NULL DEFAULT '',
  backdoor_host TEXT NOT NULL DEFAULT '', backdoor_port INTEGER NOT NULL DEFAULT 0, backdoor_peers INTEGER NOT NULL DEFAULT 0);
-- Columns added after a table shipped are spelled as ALTER TABLE ADD COLUMN leaves them (pkg/store's migrations),
-- so a migrated file's stored CREATE text is a new file's: here syn_sources .. spread_hosts (v8) and
-- dns_nx_depth .. backdoor_peers (v9), described in the v8 and v9 notes at the end.
-- Per destination port, protocol and direction of a round.
CREATE TABLE traffic_ports (
    round_id  INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    port      INTEGER NOT NULL,                -- destination port
    protocol  TEXT    NOT NULL CHECK (protocol IN ('tcp', 'udp')),
    direction TEXT    NOT NULL CHECK (direction IN ('in', 'out')),  -- in: to a local address; out: from one
    packets   INTEGER NOT NULL,
    syns      INTEGER NOT NULL,                -- SYN without ACK
    rsts      INTEGER NOT NULL,
    peers     INTEGER NOT NULL,                -- distinct remote addresses
    PRIMARY KEY (round_id, port, protocol, direction)
) WITHOUT ROWID;
-- Remote sources that touched 2 or more local ports or hosts in a round (at most 256, widest first).
CREATE TABLE traffic_sources (
    round_id    INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    address     TEXT    NOT NULL,
    local_ports INTEGER NOT NULL,              -- distinct local (address, port) destinations: scan fan-out
    local_hosts INTEGER NOT NULL,              -- distinct local addresses
    packets     INTEGER NOT NULL,
    syns        INTEGER NOT NULL, probed_ports INTEGER NOT NULL DEFAULT 0, probed_hosts INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, attempt_host TEXT NOT NULL DEFAULT '', attempt_port INTEGER NOT NULL DEFAULT 0,
    local INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (round_id, address)
) WITHOUT ROWID;
-- probed_ports, probed_hosts (v7) and attempts .. local (v8): see the notes at the end.
-- DNS query names per registered domain (eTLD+1) of a round.
CREATE TABLE traffic_dns (
    round_id  INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    domain    TEXT    NOT NULL,
    queries   INTEGER NOT NULL,
    names     INTEGER NOT NULL,                -- distinct query names under the domain
    max_label INTEGER NOT NULL,                -- longest label of those names
    PRIMARY KEY (round_id, domain)
) WITHOUT ROWID;

-- Capture files ingested (v4), by content, so a re-ingest resumes instead of storing frames twice.
CREATE TABLE captures (
    id               INTEGER PRIMARY KEY,
    identity         TEXT    NOT NULL UNIQUE,  -- '<size>:<SHA-256 of the first 1 MiB, hex>'
    name             TEXT    NOT NULL,         -- file name when first ingested
    size             INTEGER NOT NULL,
    frames_committed INTEGER NOT NULL DEFAULT 0, -- frames 1..N are stored, committed with this row
    round_id         INTEGER REFERENCES rounds (id) ON DELETE SET NULL, -- the round frames were going into
    round_frame      INTEGER NOT NULL DEFAULT 0, -- that round's first frame
    complete         INTEGER NOT NULL DEFAULT 0, -- 1: ingested to the end; never again
    updated_at       TEXT    NOT NULL
);
-- end v5

-- section v6
-- Incidents (v6): anomalous rounds with one cause, keyed on a stable identity
-- of the listener (never a pid). state is open, closed (the cause gone for
-- detect's --close-after scored rounds) or accepted (detect accept).
CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    key            TEXT    NOT NULL,            -- tcp/4 0.0.0.0 port 4444 process=nc netns=host
    kind           TEXT    NOT NULL,            -- new_listener, listener_gone, rebound_wildcard, port_exhaustion, unusual_hour, unusual_minute, burst, ...
    state          TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'accepted')),
    first_round_id INTEGER NOT NULL,
    last_round_id  INTEGER NOT NULL,
    opened_at      TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    closed_at      TEXT,
    detail         TEXT    NOT NULL,            -- JSON: the key's fields, the ports, the highest score
    rounds         INTEGER NOT NULL DEFAULT 1,  -- anomalous rounds joined
    absent         INTEGER NOT NULL DEFAULT 0,  -- scored rounds since the cause was last seen
    score          REAL    NOT NULL DEFAULT 0,  -- the highest score of its rounds
    refit_pending  INTEGER NOT NULL DEFAULT 0   -- accepted, its rounds not yet refit on
);
CREATE INDEX incidents_state_key ON incidents (state, key);

-- Causes the owner said are fine (detect accept, --allow): no incident opens
-- for a key they match, and their rounds are refit on. Empty fields match any.
CREATE TABLE accepted (
    id          INTEGER PRIMARY KEY,
    protocol    TEXT    NOT NULL,
    port        INTEGER NOT NULL,
    process     TEXT    NOT NULL DEFAULT '',
    address     TEXT    NOT NULL DEFAULT '',
    accepted_by TEXT    NOT NULL,
    accepted_at TEXT    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    incident_id INTEGER,                        -- the incident accepted, NULL for accept --port
    UNIQUE (protocol, port, process, address)
);
-- end v6

-- Probes per source (v7): the local (address, port) destinations, and the local addresses, that got a TCP
-- segment with neither ACK nor RST from the source (SYN, FIN, NULL, XMAS): scan fan-out that a server's
-- replies to a busy client's ephemeral ports never reach. 0 in rounds stored before v7.

-- Figures of floods, reflection and password guessing (v8); 0 in rounds stored before v8.
-- syn_sources: distinct addresses that sent a SYN without ACK to anyone, local or not (spoofed floods aimed
-- past the local side show here). reflect_*: UDP that local addresses got from one service source port (53,
-- 123, 161, 1900, ...; reflect_port, the one with the most sources) of remote addresses they sent nothing to on
-- that port in the round: answers to queries never asked, a reflection attack's traffic.
-- spread_*: the local source that sent TCP probes (no ACK, no RST) to the most remote addresses on one port
-- (spread_port) that sent nothing back in the round, and how many (spread_hosts): a worm or bot scanning outward.
-- attempts: the most SYNs the source sent to one local (attempt_host, attempt_port): repeated connections to
-- one service (password guessing); local: 1 when the source is a local address. Sources are kept for 2+
-- attempts too, not only for fan-out.

-- Exfiltration and remote shells (v9); 0 and '' in rounds stored before v9.
-- dns_nx_depth: the most labels an NXDOMAIN-answered query name has below its registered domain (reverse
-- lookups under .arpa left out), dns_nx_name that name: data sent as labels to a domain that answers nothing.
-- backdoor_*: the address (local, or a remote reverse-shell listener) with the most peers in sessions on one
-- of its backdoor or remote-shell ports (1524, 3127, 4444, 5554, 9996, 27374), the port and how many peers.
