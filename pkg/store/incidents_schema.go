package store

// incidentsV6 is migration 5 -> 6: the incidents and accepted tables, as
// sql/schema.sql has them.
const incidentsV6 = `CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    key            TEXT    NOT NULL,            -- tcp/4 0.0.0.0 port 4444 process=nc netns=host
    kind           TEXT    NOT NULL,            -- new_listener, listener_gone, rebound_wildcard, port_exhaustion, unusual_hour, ...
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
`
