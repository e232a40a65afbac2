-- Room-scoped words, as on SQLite (its migration of the same number): every lexeme of
-- `search` is prefixed with the message's room (`9zdeploy`; history::scoped_word), so the
-- GIN index's postings of a word in a room are that room's messages only, and a search
-- no longer reads the word's postings in every room to keep those of one. A lexeme that
-- the prefix makes longer than a tsvector holds (2,046 bytes) is left out, as the store
-- leaves it out of new messages.
UPDATE messages SET search = array_to_tsvector(ARRAY(
    SELECT scoped FROM (SELECT room_id || 'z' || lexeme AS scoped FROM unnest(search)) AS words
    WHERE octet_length(scoped) <= 2046
));
