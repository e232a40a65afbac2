-- Room-scoped search: the room is indexed next to the text, so a search intersects both
-- inside the full-text index and reads newest first, instead of walking a room's messages
-- and testing each against the index (slow for rare words in large rooms).
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(content, room_id, content='messages', content_rowid='id');
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content, room_id) VALUES (new.id, new.content, new.room_id);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, room_id) VALUES ('delete', old.id, old.content, old.room_id);
END;
