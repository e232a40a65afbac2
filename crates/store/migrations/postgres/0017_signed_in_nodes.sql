-- The signed-in table of a pool: a row is known by its node and that node's connection
-- number; a node empties only its own rows (see the SQLite migration of the same number).
ALTER TABLE signed_in ADD COLUMN node TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE signed_in DROP CONSTRAINT signed_in_pkey, ADD PRIMARY KEY (node, connection);
