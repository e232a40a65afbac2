-- Category names are unique, without regard to (ASCII) case, as SQLite's NOCASE; older
-- duplicates get their id appended (see the SQLite migration).
UPDATE categories SET name = name || ' (' || id || ')'
WHERE EXISTS (
    SELECT 1 FROM categories older
    WHERE lower(older.name) = lower(categories.name) AND older.id < categories.id
);
CREATE UNIQUE INDEX categories_by_name ON categories (lower(name));

-- When an account last signed in (unix seconds), moved by more than a minute at a time.
ALTER TABLE principals ADD COLUMN last_sign_in_at BIGINT;

-- The connections signed in to the running server, for `parlance session list`.
CREATE TABLE signed_in (
    connection  BIGINT PRIMARY KEY,                  -- the server's connection number
    account     TEXT COLLATE "C" NOT NULL,           -- sip:alice@example.com
    transport   TEXT COLLATE "C" NOT NULL CHECK (transport IN ('tcp', 'tls')),
    remote      TEXT COLLATE "C" NOT NULL,           -- the client's address and port
    since       BIGINT NOT NULL                      -- unix seconds
);

-- The access change feed admits 'invite' and 'room_changed'.
ALTER TABLE access_changes
    DROP CONSTRAINT access_changes_kind_check,
    ADD CONSTRAINT access_changes_kind_check
        CHECK (kind IN ('rights', 'sign_out', 'unlock', 'invite', 'room_changed'));
