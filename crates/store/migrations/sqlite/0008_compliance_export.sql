-- The compliance exporter (docs/protocol.md, "Compliance export").
--
-- The outbox is rebuilt with AUTOINCREMENT: the exporter deletes rows once they are durable
-- in the archive, and a plain rowid table hands the id of a deleted last row to the next
-- insert, which would then sit at or below the export cursor and never be exported. With
-- AUTOINCREMENT an id is never given twice.
CREATE TABLE compliance_outbox_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind IN ('chat', 'join', 'part', 'backchat', 'fileupload', 'filedownload')),
    room_id      INTEGER NOT NULL REFERENCES rooms(id),
    principal_id INTEGER NOT NULL REFERENCES principals(id),
    message_seq  INTEGER,                            -- for chat
    content      TEXT    NOT NULL DEFAULT '',        -- chat text, history query, file name
    at           INTEGER NOT NULL                    -- unix nanoseconds
);
INSERT INTO compliance_outbox_new (id, kind, room_id, principal_id, message_seq, content, at)
    SELECT id, kind, room_id, principal_id, message_seq, content, at FROM compliance_outbox;
DROP TABLE compliance_outbox;
ALTER TABLE compliance_outbox_new RENAME TO compliance_outbox;

-- Pruning exported rows removes a part with a join of the same session's principal and
-- room (see SqliteStore::prune_exported): this finds that join without a scan.
CREATE INDEX compliance_outbox_sessions ON compliance_outbox (room_id, principal_id, kind, id)
    WHERE kind IN ('join', 'part');

-- The export cursor: every outbox row with an id up to `exported_id` is durable in the
-- archive. One row; moved only after the output files are renamed and their directory synced.
CREATE TABLE compliance_export (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    exported_id INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL                     -- unix nanoseconds
);
INSERT INTO compliance_export (id, exported_id, updated_at) VALUES (1, 0, 0);
