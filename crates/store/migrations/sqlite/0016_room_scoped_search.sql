-- Room-scoped words: the full-text index holds each word of a message prefixed with its
-- room (`9zdeploy` for `deploy` in room 9; history::scoped_word), so a search in a room
-- reads only that room's postings of its words. With the room as a column of its own
-- (0004), every search also intersected the room's postings, one per message of the room:
-- two words in a room of a million messages decoded ~100,000 of them to find 25.
--
-- The store writes a message's words beside the message (history::scoped_words), since
-- FTS5's tokenizer cannot add the room; the index keeps no copy of the text (contentless)
-- and forgets a message by its rowid. The words already indexed are carried over from the
-- old index itself (fts5vocab lists every token of every message, in order), so nothing
-- is tokenized twice.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
CREATE VIRTUAL TABLE messages_fts_tokens USING fts5vocab(messages_fts, instance);
CREATE VIRTUAL TABLE messages_words USING fts5(words, content='', contentless_delete=1);
INSERT INTO messages_words (rowid, words)
    SELECT t.doc, group_concat(m.room_id || 'z' || t.term, ' ' ORDER BY t.offset)
    FROM messages_fts_tokens t JOIN messages m ON m.id = t.doc
    WHERE t.col = 'content'
    GROUP BY t.doc;
DROP TABLE messages_fts_tokens;
DROP TABLE messages_fts;
ALTER TABLE messages_words RENAME TO messages_fts;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
END;
