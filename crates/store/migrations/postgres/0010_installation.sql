-- The installation's identity (docs/operations.md, "The data directory"): the domain it
-- serves and a check value of its server key, both recorded at the first start of a build
-- that knows this table. One row. A start with another domain, or with a server key whose
-- check value differs, is refused (see the SQLite migration).
CREATE TABLE installation (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    domain     TEXT COLLATE "C" NOT NULL,
    key_check  BYTEA  NOT NULL,
    created_at BIGINT NOT NULL                       -- unix seconds
);
