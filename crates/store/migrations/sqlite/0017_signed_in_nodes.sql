-- The signed-in table of a pool: every node numbers its own connections, so a row is known
-- by its node and its connection number. A node that starts or stops empties its own rows
-- (and those of nodes no longer in the registry), never a live node's; a dead node's rows
-- go when it is removed from the registry. Rows written before name no node (''), as do
-- those of a server outside a pool's registry. SQLite changes a primary key only by
-- rebuilding the table.
CREATE TABLE signed_in_new (
    node        TEXT    NOT NULL DEFAULT '',          -- the node holding the connection
    connection  INTEGER NOT NULL,                    -- that node's connection number
    account     TEXT    NOT NULL,                    -- sip:alice@example.com
    transport   TEXT    NOT NULL CHECK (transport IN ('tcp', 'tls')),
    remote      TEXT    NOT NULL,                    -- the client's address and port
    since       INTEGER NOT NULL,                    -- unix seconds
    PRIMARY KEY (node, connection)
);
INSERT INTO signed_in_new (connection, account, transport, remote, since)
    SELECT connection, account, transport, remote, since FROM signed_in;
DROP TABLE signed_in;
ALTER TABLE signed_in_new RENAME TO signed_in;
