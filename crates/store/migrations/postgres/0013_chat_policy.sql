-- Whether a user may use persistent chat (see the SQLite migration). On unless an
-- administrator turns it off (`parlance user chat <user> off`).
ALTER TABLE principals ADD COLUMN persistent_chat BOOLEAN NOT NULL DEFAULT TRUE;
