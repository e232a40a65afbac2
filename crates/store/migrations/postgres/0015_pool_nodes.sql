-- The servers of a pool sharing this store (docs/operations.md, "Pool nodes"). Each running
-- server keeps one row: what it serves, its load, and a heartbeat it moves every second or
-- so. A row whose heartbeat stopped is a dead node; one live node removes it, closing the
-- joins its sessions left open. A server removes its own row when it stops cleanly.
CREATE TABLE nodes (
    id            TEXT COLLATE "C" PRIMARY KEY,      -- a UUID made at each start
    channel_uri   TEXT COLLATE "C" NOT NULL,         -- what cmd:requri hands out for it
    sip_address   TEXT COLLATE "C" NOT NULL DEFAULT '', -- host:port of its SIP listeners
    https_address TEXT COLLATE "C" NOT NULL DEFAULT '',
    started_at    BIGINT NOT NULL,                   -- unix milliseconds
    heartbeat_at  BIGINT NOT NULL,                   -- unix milliseconds
    connections   BIGINT NOT NULL DEFAULT 0,         -- open SIP connections
    joined        BIGINT NOT NULL DEFAULT 0,         -- chat sessions in rooms, once per room
    cpu_permille  BIGINT NOT NULL DEFAULT 0,         -- CPU over the last heartbeat, 1000 = one core
    queued_bytes  BIGINT NOT NULL DEFAULT 0          -- bytes waiting in its connections' writers
);

-- Work of which a pool runs one copy at a time (the compliance exporter, the cleaner of
-- expired uploads): the holder renews its lease before it expires; once expired, anyone
-- may take it.
CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT COLLATE "C" NOT NULL,            -- a node id, or a command's own name
    expires_at BIGINT NOT NULL                       -- unix milliseconds
);

-- The node whose chat session a join or part row is of: a dead node's open joins are
-- closed without touching those of the live ones. NULL for rows written before, and for
-- other kinds.
ALTER TABLE compliance_outbox ADD COLUMN node TEXT COLLATE "C";
