-- Presenters are members (docs/protocol.md, "Lync fidelity: roles"): the original refuses a
-- presenter who is not a member (the SDK's PresenterNotInMemList), and from this version on
-- every path refuses one. Presenters given the role before that keep everything they could
-- do, since any role let them join: each becomes a member of the room as well.
INSERT OR IGNORE INTO room_roles (room_id, principal_id, role)
    SELECT room_id, principal_id, 'member' FROM room_roles WHERE role = 'presenter';

-- The access change feed gains a kind: 'settings', a room's properties changed by a process
-- other than the server (the admin commands), so that the server tells the sessions in the
-- room (ntc:chanupd). A CHECK cannot be altered in SQLite: the table is made again, its rows
-- and its AUTOINCREMENT counter carried over (a seq is never reused, even one whose row was
-- deleted).
CREATE TABLE access_changes_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind IN ('rights', 'sign_out', 'unlock', 'settings')),
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
UPDATE sqlite_sequence SET name = 'access_changes_new' WHERE name = 'access_changes';
DROP TABLE access_changes;
ALTER TABLE access_changes_new RENAME TO access_changes;

-- A message may be an alert (high importance), as the original's tblChat isAlert.
ALTER TABLE messages ADD COLUMN alert INTEGER NOT NULL DEFAULT 0;
