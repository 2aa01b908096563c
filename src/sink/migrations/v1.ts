/**
 * Schema 1 (released): readings as one `samples` row each. Kept verbatim so that a fresh database
 * and a migrated one reach the current schema by the same steps. Never edit.
 */
export const V1 = `
CREATE TABLE messages (
  id          INTEGER PRIMARY KEY,
  topic       TEXT    NOT NULL,
  device      TEXT,
  payload,                                -- TEXT when valid UTF-8, else BLOB
  qos         INTEGER NOT NULL,
  retain      INTEGER NOT NULL,
  dup         INTEGER NOT NULL,
  received_at INTEGER NOT NULL,           -- ms since epoch, at receipt
  ts          INTEGER NOT NULL,           -- ms since epoch, from the payload or the receipt
  identity    INTEGER                     -- 63-bit hash of the decoder identity, odd when ts is from the payload
);
-- Redeliveries carry the same identity: the unique indexes turn them into no-ops. A hash is random,
-- so an index on it alone takes each insert to a random leaf: once it outgrows the batch, every
-- commit rewrites ~one index page per message (measured: 31.6 -> 17.5 µs/msg at 300k rows, and it
-- grows with the file). When ts comes from the payload a redelivery carries the same ts, so those
-- identities (odd) are indexed behind ts and append at the right edge. Only identities whose ts is the
-- receive time (even; an idField without a payload timestamp) need the random-order index.
CREATE UNIQUE INDEX messages_identity_ts ON messages(ts, identity) WHERE identity & 1 = 1;
CREATE UNIQUE INDEX messages_identity ON messages(identity) WHERE identity & 1 = 0;
CREATE INDEX messages_device_ts ON messages(device, ts);

CREATE TABLE series (
  id     INTEGER PRIMARY KEY,
  device TEXT,
  metric TEXT NOT NULL,
  UNIQUE (device, metric)
);

-- Clustered on the message: a batch's samples append at the right edge of the tree, as its messages
-- do, instead of dirtying one leaf page per series per commit (a batch from 100 devices x 4 metrics
-- touched ~400 leaves: measured 11.5 -> 7.3 µs per message, raw better-sqlite3, FULL, batches of 5000).
-- A device+metric time range is read through messages(device, ts), then one primary-key lookup per
-- message (3000 points: ~1 ms).
CREATE TABLE samples (
  message_id INTEGER NOT NULL,
  series_id  INTEGER NOT NULL,
  value      REAL    NOT NULL,
  PRIMARY KEY (message_id, series_id)
) WITHOUT ROWID;

-- ts and device come from messages, so a filter on them uses messages(device, ts).
CREATE VIEW readings (ts, device, metric, value) AS
  SELECT m.ts, m.device, r.metric, s.value
    FROM samples s
    JOIN messages m ON m.id = s.message_id
    JOIN series r ON r.id = s.series_id;

CREATE TABLE dead_letters (
  id            INTEGER PRIMARY KEY,
  topic         TEXT    NOT NULL,
  payload       BLOB,                     -- truncated to deadLetterPayloadBytes
  payload_bytes INTEGER NOT NULL,         -- full length as received
  reason        TEXT    NOT NULL,
  detail        TEXT,
  qos           INTEGER NOT NULL,
  received_at   INTEGER NOT NULL
);
`;
