-- Presenters are members (docs/protocol.md, "Lync fidelity: roles"): the original refuses a
-- presenter who is not a member (the SDK's PresenterNotInMemList), and from this version on
-- every path refuses one. Presenters given the role before that keep everything they could
-- do, since any role let them join: each becomes a member of the room as well.
INSERT OR IGNORE INTO room_roles (room_id, principal_id, role)
    SELECT room_id, principal_id, 'member' FROM room_roles WHERE role = 'presenter';

-- A message may be an alert (high importance), as the original's tblChat isAlert.
ALTER TABLE messages ADD COLUMN alert INTEGER NOT NULL DEFAULT 0;
