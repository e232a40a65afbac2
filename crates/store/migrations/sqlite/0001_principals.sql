-- Principals are everyone a role can be given to: users now, groups later (kind).
CREATE TABLE principals (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('user')),
    uri          TEXT    NOT NULL UNIQUE,   -- sip:alice@example.com, lower-case
    display_name TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL           -- unix seconds
);

-- Web login: an argon2 PHC string. Never password-equivalent.
CREATE TABLE password_hashes (
    principal_id INTEGER PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
    phc          TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Digest HA1 values are password-equivalent: stored only sealed with the server key,
-- one row per (algorithm, username form) the account can authenticate with.
CREATE TABLE digest_secrets (
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    algorithm    TEXT    NOT NULL,          -- MD5 | SHA-256
    username     TEXT    NOT NULL,          -- as the client sends it: alice or alice@example.com
    realm        TEXT    NOT NULL,
    sealed_ha1   BLOB    NOT NULL,
    PRIMARY KEY (principal_id, algorithm, username)
);
