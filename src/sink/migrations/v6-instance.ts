/**
 * Schema 6, owned by forwarding (issue 16): facts about this database file that must outlive the
 * process and its config. `instance_id` names this file as a source in a central store: the
 * forwarder's idempotency key there is (instance_id, messages.id), so it must be generated once,
 * when the file is made or first migrated, and never change (a new id would re-send everything as
 * new rows). A copy of the file carries the same id: give the copy its own with
 * `forward.postgres.source` before it forwards.
 */
export const V6_INSTANCE = `
CREATE TABLE mqlite_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO mqlite_meta (key, value) VALUES ('instance_id', lower(hex(randomblob(8))));
`;
