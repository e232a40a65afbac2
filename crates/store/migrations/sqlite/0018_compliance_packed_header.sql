-- The exporter reads the outbox a page at a time, each row packed by SQLite into one string
-- (crates/store/src/sqlite/compliance_page.rs). Turning a row's integers into text for that
-- was most of what the read cost; the row's packed header is now made once, when the row is
-- written: `room_id,principal_id,message_seq,at,kind,bytes of content;`. A stored generated
-- column cannot be added to a table, so the table is rebuilt as 0009 rebuilt it, keeping
-- its ids and its highest id ever given. The expression uses no function newer than the
-- SQLite of Debian 12's sqlite3, so that an operator's shell can still read the schema.
CREATE TABLE compliance_outbox_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('chat', 'join', 'part', 'backchat', 'fileupload', 'filedownload', 'purge')),
    room_id       INTEGER NOT NULL REFERENCES rooms(id),
    principal_id  INTEGER NOT NULL REFERENCES principals(id),
    message_seq   INTEGER,                           -- chat: the message; purge: the last one purged
    content       TEXT    NOT NULL DEFAULT '',       -- chat text, history query, file name, what was purged
    at            INTEGER NOT NULL,                  -- unix nanoseconds
    node          TEXT,                              -- join and part: the node of the session (0015)
    packed_header TEXT GENERATED ALWAYS AS (
        room_id || ',' || principal_id || ',' || coalesce(message_seq, '') || ',' || at || ',' ||
        kind || ',' || length(CAST(content AS BLOB)) || ';') STORED
);
INSERT INTO compliance_outbox_new (id, kind, room_id, principal_id, message_seq, content, at, node)
    SELECT id, kind, room_id, principal_id, message_seq, content, at, node FROM compliance_outbox;
DELETE FROM sqlite_sequence WHERE name = 'compliance_outbox_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'compliance_outbox_new', seq FROM sqlite_sequence WHERE name = 'compliance_outbox';
DROP TABLE compliance_outbox;
ALTER TABLE compliance_outbox_new RENAME TO compliance_outbox;
CREATE INDEX compliance_outbox_sessions ON compliance_outbox (room_id, principal_id, kind, id)
    WHERE kind IN ('join', 'part');
