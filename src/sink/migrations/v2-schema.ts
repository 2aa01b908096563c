/**
 * Schema 2: readings live with their message; what queries need over time is kept incrementally.
 *
 * Tables
 *   messages      (schema 1) + `readings TEXT`: the message's readings as one flat JSON object,
 *                 metric → number (`{"temp":21.5,"hum":40}`), NULL when it has none. Written by the
 *                 same INSERT as the message: a reading costs a few bytes of that row, no row or index
 *                 entry of its own. Keys are unique within the object.
 *   readings_at   readings whose timestamp differs from their message's (Sparkplug is_historical,
 *                 batched uploads): (message_id, device, metric, ts, value). Rare; indexed for the
 *                 same range query as messages (device, metric, ts). A reading is in exactly one of
 *                 messages.readings or readings_at.
 *   series        (schema 1) dictionary: (device, metric) → small integer id, for latest and rollups.
 *                 Rows are never updated or deleted while a latest/rollup row refers to them.
 *   latest        one row per series: the reading with the greatest ts seen so far (ties: the later
 *                 stored message), with the message it came from. device and metric are copied from
 *                 series so that it reads without a join.
 *   rollup_5m,    one row per (bucket, series): count, sum, min, max, first/first_ts, last/last_ts of the
 *   rollup_1h     readings whose own ts falls in [bucket, bucket + 5 min | 1 h). Clustered on
 *                 (bucket, series_id) so that a commit's upserts land on the few pages at the right edge
 *                 (the current buckets), not on one page per series; the (series_id, bucket) index serves
 *                 one series over time and changes only when a new bucket starts.
 *
 * Views (the user-facing names)
 *   readings      (ts, device, metric, value): messages.readings expanded with json_each, plus readings_at.
 *                 Same columns and meaning as schema 1; value is REAL.
 *   readings_5m,  (ts = bucket start, device, metric, count, sum, min, max, avg, first, first_ts, last,
 *   readings_1h   last_ts).
 *
 * Invariants (the write path and the migration keep them; retention and queries may rely on them)
 *   - latest and rollups are written in the same transaction as the messages they count, from the
 *     messages that transaction actually inserted: a redelivery (identity already stored) and a
 *     rolled-back message count nothing. So for every series, sum(rollup_5m.count) = sum(rollup_1h.count)
 *     = readings ever stored for it, and that stays true when raw rows are deleted: rollups never read
 *     messages, and deleting messages never touches them.
 *   - Buckets are floor(ts / size) * size of the reading's own ts (ms), whatever the arrival order: a
 *     late reading lands in its bucket and merges with what is there (count/sum add, min/max combine,
 *     first/last by timestamp, ties keep the earlier-stored first and the later-stored last).
 *   - latest never moves back in time: an older reading arriving late leaves it alone.
 *   - Deleting a message must delete its readings_at rows (readings_at_message serves that).
 *   - identity (schema 1) keeps its meaning: odd = ts from the payload (its indexes: schema 4).
 */
export const V2_SCHEMA = `
ALTER TABLE messages ADD COLUMN readings TEXT;  -- JSON object metric → number, NULL when none

CREATE TABLE readings_at (
  id         INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL,
  device     TEXT,
  metric     TEXT    NOT NULL,
  ts         INTEGER NOT NULL,            -- ms since epoch, the reading's own
  value      REAL    NOT NULL
);
CREATE UNIQUE INDEX readings_at_message ON readings_at(message_id, metric, ts);
CREATE INDEX readings_at_device_metric_ts ON readings_at(device, metric, ts);

CREATE TABLE latest (
  series_id  INTEGER PRIMARY KEY,         -- series.id
  device     TEXT,
  metric     TEXT    NOT NULL,
  ts         INTEGER NOT NULL,
  value      REAL    NOT NULL,
  message_id INTEGER NOT NULL             -- messages.id it came from (may be deleted by retention since)
);

CREATE TABLE rollup_5m (
  bucket    INTEGER NOT NULL,             -- ms since epoch, multiple of 300000
  series_id INTEGER NOT NULL,
  count     INTEGER NOT NULL,
  sum       REAL    NOT NULL,
  min       REAL    NOT NULL,
  max       REAL    NOT NULL,
  first     REAL    NOT NULL,
  first_ts  INTEGER NOT NULL,
  last      REAL    NOT NULL,
  last_ts   INTEGER NOT NULL,
  PRIMARY KEY (bucket, series_id)
) WITHOUT ROWID;
CREATE INDEX rollup_5m_series ON rollup_5m(series_id, bucket);

CREATE TABLE rollup_1h (
  bucket    INTEGER NOT NULL,             -- ms since epoch, multiple of 3600000
  series_id INTEGER NOT NULL,
  count     INTEGER NOT NULL,
  sum       REAL    NOT NULL,
  min       REAL    NOT NULL,
  max       REAL    NOT NULL,
  first     REAL    NOT NULL,
  first_ts  INTEGER NOT NULL,
  last      REAL    NOT NULL,
  last_ts   INTEGER NOT NULL,
  PRIMARY KEY (bucket, series_id)
) WITHOUT ROWID;
CREATE INDEX rollup_1h_series ON rollup_1h(series_id, bucket);

CREATE VIEW readings_5m (ts, device, metric, count, sum, min, max, avg, first, first_ts, last, last_ts) AS
  SELECT r.bucket, s.device, s.metric, r.count, r.sum, r.min, r.max, r.sum / r.count,
         r.first, r.first_ts, r.last, r.last_ts
    FROM rollup_5m r JOIN series s ON s.id = r.series_id;

CREATE VIEW readings_1h (ts, device, metric, count, sum, min, max, avg, first, first_ts, last, last_ts) AS
  SELECT r.bucket, s.device, s.metric, r.count, r.sum, r.min, r.max, r.sum / r.count,
         r.first, r.first_ts, r.last, r.last_ts
    FROM rollup_1h r JOIN series s ON s.id = r.series_id;

-- Progress of the data move from schema 1 (see v2.ts); dropped when it completes.
CREATE TABLE mqlite_migration (
  version INTEGER PRIMARY KEY,
  cursor  INTEGER NOT NULL,               -- messages with id <= cursor are moved
  last_id INTEGER NOT NULL                -- max(messages.id) when the move started
);
`;

/** The schema-2 readings view; created when the data move completes (it replaces schema 1's). */
export const V2_READINGS_VIEW = `
DROP VIEW IF EXISTS readings;
CREATE VIEW readings (ts, device, metric, value) AS
  SELECT m.ts, m.device, j.key, CAST(j.value AS REAL)
    FROM messages m, json_each(m.readings) j
  UNION ALL
  SELECT a.ts, a.device, a.metric, a.value
    FROM readings_at a;
`;

/** The end of the move from schema 1: what only the migration needed goes. */
export const V2_FINISH = `
DROP TABLE samples;
DROP TABLE mqlite_migration;
`;
