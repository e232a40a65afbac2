-- Category names are unique, without regard to case: the admin commands and the
-- room-management application find a category by its name, and with two of one name they
-- silently picked one. Duplicates made before this migration keep their oldest holder's name;
-- each later one gets its id appended, "Eng (7)", and can be renamed with
-- `parlance category rename`.
UPDATE categories SET name = name || ' (' || id || ')'
WHERE EXISTS (
    SELECT 1 FROM categories older
    WHERE older.name = categories.name COLLATE NOCASE AND older.id < categories.id
);
CREATE UNIQUE INDEX categories_by_name ON categories (name COLLATE NOCASE);

-- When an account last signed in (unix seconds): written when a new connection of the
-- account is seen signed in, and only when it moves the time by more than a minute, so that
-- clients reconnecting in a loop do not keep the store's single writer busy.
ALTER TABLE principals ADD COLUMN last_sign_in_at INTEGER;

-- The connections signed in to the running server, for `parlance session list` (a separate
-- process). The server keeps this table in step with its connections in batches, only when
-- they changed, and empties it when it starts: rows of a server that stopped are not
-- sessions any more. One row per connection, so it is bounded by the connection limit.
CREATE TABLE signed_in (
    connection  INTEGER PRIMARY KEY,                 -- the server's connection number
    account     TEXT    NOT NULL,                    -- sip:alice@example.com
    transport   TEXT    NOT NULL CHECK (transport IN ('tcp', 'tls')),
    remote      TEXT    NOT NULL,                    -- the client's address and port
    since       INTEGER NOT NULL                     -- unix seconds
);

-- The access change feed admits 'invite': principal_id was invited to room_id, and a running
-- server pushes the invitation to the principal's sessions (docs/protocol.md, "ntc:inv"); and
-- 'room_changed': an admin command changed the settings of room_id, and the server tells the
-- sessions in it (ntc:chanupd). SQLite changes a CHECK only by rebuilding the table, as
-- 0009 did for the outbox: the rows keep their seq, and the highest seq ever given is
-- carried over, so that a seq is never handed out twice.
CREATE TABLE access_changes_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind IN ('rights', 'sign_out', 'unlock', 'invite', 'room_changed')),
    principal_id INTEGER,
    room_id      INTEGER,
    category_id  INTEGER,
    account      TEXT,
    reason       TEXT    NOT NULL DEFAULT '',
    at           INTEGER NOT NULL                    -- unix seconds
);
INSERT INTO access_changes_new (seq, kind, principal_id, room_id, category_id, account, reason, at)
    SELECT seq, kind, principal_id, room_id, category_id, account, reason, at FROM access_changes;
DELETE FROM sqlite_sequence WHERE name = 'access_changes_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'access_changes_new', seq FROM sqlite_sequence WHERE name = 'access_changes';
DROP TABLE access_changes;
ALTER TABLE access_changes_new RENAME TO access_changes;
