-- Categories form one tree under a root; rooms live in categories (never in the root).
CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    guid        TEXT    NOT NULL UNIQUE,
    parent_id   INTEGER REFERENCES categories(id),   -- NULL only for the root
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    file_post   INTEGER NOT NULL DEFAULT 1,          -- rooms inherit these three
    invitations INTEGER NOT NULL DEFAULT 1,
    logged      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX categories_one_root ON categories ((parent_id IS NULL)) WHERE parent_id IS NULL;

-- Who may create rooms in a category (the Creator role).
CREATE TABLE category_creators (
    category_id  INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    PRIMARY KEY (category_id, principal_id)
);

-- Category scope: allow and deny lists. An empty allow list means everyone.
CREATE TABLE category_scope (
    category_id  INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    allow        INTEGER NOT NULL,                   -- 1 allowed, 0 denied
    PRIMARY KEY (category_id, principal_id)
);

CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY,
    guid        TEXT    NOT NULL UNIQUE,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT    NOT NULL DEFAULT '',
    topic       TEXT    NOT NULL DEFAULT '',
    privacy     TEXT    NOT NULL CHECK (privacy IN ('open', 'closed', 'secret')),
    behavior    TEXT    NOT NULL CHECK (behavior IN ('normal', 'auditorium')),
    invitations INTEGER NOT NULL DEFAULT 1,          -- 1 inherit the category's, 0 off
    disabled    INTEGER NOT NULL DEFAULT 0,
    next_seq    INTEGER NOT NULL DEFAULT 1,          -- the next message's sequence number
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE room_roles (
    room_id      INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('member', 'manager', 'presenter')),
    PRIMARY KEY (room_id, principal_id, role)
);
CREATE INDEX room_roles_by_principal ON room_roles (principal_id);

-- Chat history. seq is per room, dense, in commit order.
CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    room_id   INTEGER NOT NULL REFERENCES rooms(id),
    seq       INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES principals(id),
    posted_at INTEGER NOT NULL,                      -- unix nanoseconds, server time
    content   TEXT    NOT NULL,
    UNIQUE (room_id, seq)
);

CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

-- The compliance outbox: written in the same transaction as the action it records.
CREATE TABLE compliance_outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('chat', 'join', 'part', 'backchat', 'fileupload', 'filedownload')),
    room_id      INTEGER NOT NULL REFERENCES rooms(id),
    principal_id INTEGER NOT NULL REFERENCES principals(id),
    message_seq  INTEGER,                            -- for chat
    content      TEXT    NOT NULL DEFAULT '',        -- chat text, history query, file name
    at           INTEGER NOT NULL                    -- unix nanoseconds
);

-- Invitations: sequential ids per principal.
CREATE TABLE invitations (
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    invite_id    INTEGER NOT NULL,
    room_id      INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (principal_id, invite_id),
    UNIQUE (principal_id, room_id)
);

-- Versioned preference blobs (cmd:getpref / cmd:setpref).
CREATE TABLE preferences (
    principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    content      TEXT    NOT NULL,
    PRIMARY KEY (principal_id, label)
);
