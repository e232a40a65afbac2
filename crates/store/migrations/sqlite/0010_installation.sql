-- The installation's identity (docs/operations.md, "The data directory"): the domain it
-- serves and a check value of its server key, both recorded at the first start of a build
-- that knows this table. One row. A start with another domain, or with a server key whose
-- check value differs, is refused: the first would answer every user "404 Domain Not
-- Served", the second would fail every sign-in.
CREATE TABLE installation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    domain     TEXT    NOT NULL,
    key_check  BLOB    NOT NULL,
    created_at INTEGER NOT NULL                      -- unix seconds
);
