-- A message may carry an RTF copy of its text, as the original's tblChat rtf (docs/protocol.md,
-- "Rich text"): kept as the client sent it, NULL when it sent none.
ALTER TABLE messages ADD COLUMN rtf TEXT;
