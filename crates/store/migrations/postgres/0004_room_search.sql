-- Full-text search over messages (SQLite's FTS5 table). A search names its rooms; the GIN
-- index finds the messages holding every word, the room condition is tested on what it found.
CREATE INDEX messages_search ON messages USING GIN (search);
