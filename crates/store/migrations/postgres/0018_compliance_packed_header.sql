-- The SQLite migration of this number gives the outbox a packed header per row for the
-- exporter's page reads; PostgreSQL's reader takes rows as they are, so its schema keeps
-- them as they are.
COMMENT ON TABLE compliance_outbox IS 'Compliance events, each written with the change it records; the exporter reads them in id order';
