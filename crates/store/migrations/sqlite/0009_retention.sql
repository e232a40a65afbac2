-- History retention per category, and legal holds (docs/configuration.md, "Retention and
-- legal hold"). A category's rooms keep their messages retention_days days (NULL: forever);
-- the server purges older ones in small batches.
ALTER TABLE categories ADD COLUMN retention_days INTEGER CHECK (retention_days > 0);

-- Purging walks a room's messages oldest first.
CREATE INDEX messages_by_age ON messages (room_id, posted_at);

-- A legal hold on a room or on a user suspends every purge of what it covers: a held room
-- loses nothing, a held user's messages stay in every room. A released hold keeps its row,
-- so that who held what, when and why stays on record.
CREATE TABLE legal_holds (
    id           INTEGER PRIMARY KEY,
    room_id      INTEGER REFERENCES rooms(id),
    principal_id INTEGER REFERENCES principals(id),
    reason       TEXT    NOT NULL,
    placed_by    TEXT    NOT NULL,                   -- the operating-system account
    placed_at    INTEGER NOT NULL,                   -- unix nanoseconds
    released_by  TEXT,
    released_at  INTEGER,
    CHECK ((room_id IS NULL) <> (principal_id IS NULL))
);
CREATE UNIQUE INDEX legal_holds_on_room ON legal_holds (room_id)
    WHERE room_id IS NOT NULL AND released_at IS NULL;
CREATE UNIQUE INDEX legal_holds_on_user ON legal_holds (principal_id)
    WHERE principal_id IS NOT NULL AND released_at IS NULL;

-- A purge is recorded for compliance like any event: the outbox admits the kind 'purge'
-- (the original's event code 11, chat purge). SQLite changes a CHECK only by rebuilding the
-- table; nothing references the outbox. Its ids stay as they are and, the table being
-- AUTOINCREMENT (0008), so does the highest id ever given: rows the exporter pruned must not
-- have their ids handed out again.
CREATE TABLE compliance_outbox_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind IN ('chat', 'join', 'part', 'backchat', 'fileupload', 'filedownload', 'purge')),
    room_id      INTEGER NOT NULL REFERENCES rooms(id),
    principal_id INTEGER NOT NULL REFERENCES principals(id),
    message_seq  INTEGER,                            -- chat: the message; purge: the last one purged
    content      TEXT    NOT NULL DEFAULT '',        -- chat text, history query, file name, what was purged
    at           INTEGER NOT NULL                    -- unix nanoseconds
);
INSERT INTO compliance_outbox_new (id, kind, room_id, principal_id, message_seq, content, at)
    SELECT id, kind, room_id, principal_id, message_seq, content, at FROM compliance_outbox;
DELETE FROM sqlite_sequence WHERE name = 'compliance_outbox_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'compliance_outbox_new', seq FROM sqlite_sequence WHERE name = 'compliance_outbox';
DROP TABLE compliance_outbox;
ALTER TABLE compliance_outbox_new RENAME TO compliance_outbox;
CREATE INDEX compliance_outbox_sessions ON compliance_outbox (room_id, principal_id, kind, id)
    WHERE kind IN ('join', 'part');
