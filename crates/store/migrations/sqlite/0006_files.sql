-- Files posted into rooms (docs/protocol.md, "File transfer over HTTPS"). The bytes live in
-- the file store, encrypted, under <room GUID>/<name>; these rows say what exists. A row is
-- 'uploading' from the first RequestUniqueFilenameWithExtension until the last chunk, then
-- 'complete'; only complete files can be linked from messages and downloaded.
CREATE TABLE files (
    id            INTEGER PRIMARY KEY,
    room_id       INTEGER NOT NULL REFERENCES rooms(id),
    name          TEXT    NOT NULL,                  -- repository name <GUID>.<ext>, the server's
    original_name TEXT    NOT NULL,                  -- as the uploader's client named it
    uploader_id   INTEGER NOT NULL REFERENCES principals(id),
    size          INTEGER NOT NULL DEFAULT 0,        -- complete: bytes; uploading: declared length
    state         TEXT    NOT NULL CHECK (state IN ('uploading', 'complete')),
    created_at    INTEGER NOT NULL,                  -- unix nanoseconds
    completed_at  INTEGER
);
CREATE UNIQUE INDEX files_by_name ON files (room_id, name);
CREATE INDEX files_uploading ON files (state) WHERE state = 'uploading';

-- File-transfer tokens (cmd:getfutok / cmd:getfdtok). Stored so that they survive a restart.
-- An upload token gets its file when it reserves the name, and is spent when the upload
-- completes; a download token names its file from the start and reads it until it expires.
CREATE TABLE file_tokens (
    token             TEXT    PRIMARY KEY,           -- GUID, lower-case
    principal_id      INTEGER NOT NULL REFERENCES principals(id),
    room_id           INTEGER NOT NULL REFERENCES rooms(id),
    direction         TEXT    NOT NULL CHECK (direction IN ('upload', 'download')),
    file_url          TEXT    NOT NULL,              -- ftdb@fileUrl as the client asked
    file_id           INTEGER REFERENCES files(id),
    issued_at         INTEGER NOT NULL,              -- unix nanoseconds
    expires_at        INTEGER NOT NULL,              -- unix nanoseconds
    spent             INTEGER NOT NULL DEFAULT 0,
    download_recorded INTEGER NOT NULL DEFAULT 0     -- the FILEDOWNLOAD compliance row is written
);
CREATE INDEX file_tokens_by_principal ON file_tokens (principal_id, expires_at);
CREATE INDEX file_tokens_by_expiry ON file_tokens (expires_at);
CREATE INDEX file_tokens_by_file ON file_tokens (file_id) WHERE file_id IS NOT NULL;

-- The files a message links (ma-filelink:), written with the message. A link is what lets
-- room members other than the uploader download a file. Purging messages drops their links.
CREATE TABLE message_files (
    room_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id),
    PRIMARY KEY (room_id, seq, file_id),
    FOREIGN KEY (room_id, seq) REFERENCES messages(room_id, seq) ON DELETE CASCADE
);
CREATE INDEX message_files_by_file ON message_files (file_id);
