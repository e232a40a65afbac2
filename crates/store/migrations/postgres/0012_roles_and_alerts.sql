-- Presenters are members (see the SQLite migration): each presenter becomes a member of the
-- room as well.
INSERT INTO room_roles (room_id, principal_id, role)
    SELECT room_id, principal_id, 'member' FROM room_roles WHERE role = 'presenter'
    ON CONFLICT DO NOTHING;

-- A message may be an alert (high importance), as the original's tblChat isAlert.
ALTER TABLE messages ADD COLUMN alert BOOLEAN NOT NULL DEFAULT FALSE;
