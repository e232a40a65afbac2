-- Accounts can be disabled (sign-in refused, everything else kept) and removed. A removed
-- account stays as a tombstone (removed_at set) so that its messages and compliance rows keep
-- their author; its secrets, roles, scope entries, invitations and preferences are deleted,
-- and its address is given to a new account only when the administrator asks for that.
ALTER TABLE principals ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE principals ADD COLUMN removed_at INTEGER;

-- Changes that a running server must apply to live sessions, written in the same transaction
-- as the change itself: the admin commands run as separate processes, so this table is how
-- the server hears of them (it polls for rows after the last one it applied). AUTOINCREMENT:
-- a seq is never reused, even after old rows are deleted.
--   rights:   re-check room access of principal_id (NULL: everyone) in room_id, or in the rooms
--             of category_id, or (both NULL) in every room
--   sign_out: end every session of account (password, mechanisms, disabled, removed)
--   unlock:   forget the failed sign-ins of account
CREATE TABLE access_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL CHECK (kind IN ('rights', 'sign_out', 'unlock')),
    principal_id INTEGER,
    room_id      INTEGER,
    category_id  INTEGER,
    account      TEXT,
    reason       TEXT    NOT NULL DEFAULT '',
    at           INTEGER NOT NULL                    -- unix seconds
);
