-- The room-management web application (docs/protocol.md, "Room-management web application:
-- the core side").
--
-- Administrators see and manage every category and room there; the flag is set with
-- `parlance user admin NAME on|off`.
ALTER TABLE principals ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;

-- A room's own file-posting setting: NULL inherits the category's; 0 turns it off; 1 keeps it
-- on, which the category must allow (a category that forbids file posting forbids it in every
-- room, whatever the room says).
ALTER TABLE rooms ADD COLUMN file_post INTEGER;

-- Who changed what in a room or a category, written in the same transaction as the change:
-- a change without its record, or a record without its change, cannot happen.
--   action: room.create, room.edit, room.people, category.edit, category.people
--   detail: what changed, as text: `field: old → new`, people added and removed
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,                    -- unix nanoseconds
    actor_id    INTEGER NOT NULL REFERENCES principals(id),
    room_id     INTEGER REFERENCES rooms(id),
    category_id INTEGER REFERENCES categories(id),
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_room ON audit_log (room_id, id) WHERE room_id IS NOT NULL;
CREATE INDEX audit_log_by_category ON audit_log (category_id, id) WHERE category_id IS NOT NULL;
