-- The compliance exporter (docs/protocol.md, "Compliance export"). An identity column never
-- gives an id twice, so the outbox needs no rebuild here (SQLite's needed AUTOINCREMENT);
-- its writers take the outbox's advisory lock, so that ids commit in order and the export
-- cursor never passes a row still to commit.

-- Pruning exported rows removes a part with a join of the same session's principal and room.
CREATE INDEX compliance_outbox_sessions ON compliance_outbox (room_id, principal_id, kind, id)
    WHERE kind IN ('join', 'part');

-- The export cursor: every outbox row with an id up to `exported_id` is durable in the
-- archive. One row; moved only after the output files are renamed and their directory synced.
CREATE TABLE compliance_export (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    exported_id BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL                      -- unix nanoseconds
);
INSERT INTO compliance_export (id, exported_id, updated_at) VALUES (1, 0, 0);
