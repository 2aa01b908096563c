/**
 * Pure: the SQL the PostgreSQL destination runs, for a schema name already validated as a plain
 * identifier (config/forward-schema.ts).
 *
 * Tables (created on first use, under an advisory lock so that N instances starting together do
 * not race on CREATE … IF NOT EXISTS):
 *   messages        one row per forwarded message; key (id, source): the source instance's local
 *                   messages.id, then the instance. With TimescaleDB a hypertable on ts, whose
 *                   unique indexes must include the time column, so the key is (id, source, ts)
 *                   there: ts of a stored message never changes, so a re-send still collides with
 *                   its first copy.
 *   readings_at     readings timestamped apart from their message (Sparkplug historical, batches).
 *   forward_cursor  per source: the last local id delivered; written in the same transaction as
 *                   the rows it covers, so it is exact after any crash on either side.
 *   readings        view: every reading (messages.readings expanded, plus readings_at).
 *
 * messages.readings is json: the server checks the text and stores it as sent, where jsonb parsed
 * it into its binary tree on every insert, the largest single cost of a forwarded row after the
 * (device, ts) index (bench/forward-pg-rows.ts: ~2.4 of ~9 µs a row). Schemas made before are
 * jsonb and stay so: the destination reads the column's type (READINGS_TYPE) and encodes for it,
 * and the view expands either.
 */

export interface Names {
  readonly schema: string;
}

const ms = (col: string): string => `timestamptz 'epoch' + ${col} * interval '1 millisecond'`;

export function lockKey(n: Names): string {
  return `mqlite.forward.${n.schema}`;
}

/** $1 = the messages table ('schema.messages'): json or jsonb (or whatever it was altered to). */
export const READINGS_TYPE = `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
  WHERE attrelid = $1::regclass AND attname = 'readings' AND NOT attisdropped`;

/** messages.readings as this version makes it (json) or an earlier one did (jsonb). */
export type ReadingsType = 'json' | 'jsonb';

/** The type READINGS_TYPE found; anything but json is treated as jsonb, as before. */
export function readingsType(found: string | undefined): ReadingsType {
  return found === 'json' ? 'json' : 'jsonb';
}

/** The readings view, for the type messages.readings has (json has no cast to double precision). */
export function readingsView(n: Names, type: ReadingsType): string {
  const s = n.schema;
  const [each, typeOf, value] =
    type === 'json'
      ? ['json_each', 'json_typeof', '(r.value::text)::double precision']
      : ['jsonb_each', 'jsonb_typeof', '(r.value)::double precision'];
  return `CREATE OR REPLACE VIEW ${s}.readings (source, ts, device, metric, value) AS
      SELECT m.source, m.ts, m.device, r.key, ${value}
        FROM ${s}.messages m, ${each}(m.readings) r
       WHERE ${typeOf}(r.value) = 'number'
      UNION ALL
      SELECT source, ts, device, metric, value FROM ${s}.readings_at`;
}

export const HAS_TIMESCALE = "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'";

/** $1 = 'schema.messages': whether the table is there already. */
export const MESSAGES_MADE = 'SELECT to_regclass($1) IS NOT NULL AS made';

/**
 * The DDL of a first use. The (device, ts) index is made with the table only: it serves reads,
 * not delivery (the primary key is what makes re-sends no-ops), and costs about as much server CPU
 * per row as the rest of the insert (bench/forward-pg-rows.ts), so a user who drops it keeps it
 * dropped.
 */
export function createSchema(n: Names, hypertable: boolean, messagesMade = false): string[] {
  const s = n.schema;
  // id first: the bigint decides nearly every comparison of the key's btree descent, where
  // (source, id) compared the text first (a collatable varlena call, equal for one gateway) and
  // then found id behind a variable-length column (nocache_index_getattr): 3,700–5,700 fewer backend
  // instructions a row, −9 to −12% (BENCHMARKS.md "Primary key (id, source)"). The price: a read
  // by source alone cannot range-scan the key. Schemas made with (source, id) keep it: every
  // insert's ON CONFLICT DO NOTHING names no columns, and an explicit (source, id) target would
  // infer either order (a column set, checked on PostgreSQL 15), so both keys serve delivery alike.
  const key = hypertable ? 'id, source, ts' : 'id, source';
  const ddl = [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.messages (
      source       text        NOT NULL,
      id           bigint      NOT NULL,
      ts           timestamptz NOT NULL,
      received_at  timestamptz NOT NULL,
      topic        text        NOT NULL,
      device       text,
      payload      text,
      payload_raw  bytea,
      qos          smallint    NOT NULL,
      retain       boolean     NOT NULL,
      dup          boolean     NOT NULL,
      readings     json,
      forwarded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (${key})
    )`,
    ...(messagesMade ? [] : [`CREATE INDEX IF NOT EXISTS messages_device_ts ON ${s}.messages (device, ts)`]),
    `CREATE TABLE IF NOT EXISTS ${s}.readings_at (
      source     text             NOT NULL,
      message_id bigint           NOT NULL,
      device     text,
      metric     text             NOT NULL,
      ts         timestamptz      NOT NULL,
      value      double precision NOT NULL,
      PRIMARY KEY (source, message_id, metric, ts)
    )`,
    `CREATE TABLE IF NOT EXISTS ${s}.forward_cursor (
      source     text        PRIMARY KEY,
      after_id   bigint      NOT NULL,
      messages   bigint      NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL
    )`,
  ];
  if (hypertable) {
    ddl.push(
      `SELECT create_hypertable('${s}.messages', 'ts', if_not_exists => TRUE, migrate_data => TRUE)`,
      `SELECT create_hypertable('${s}.readings_at', 'ts', if_not_exists => TRUE, migrate_data => TRUE)`,
    );
  }
  return ddl;
}

/** Session-local staging tables, emptied by every commit or rollback. */
export const STAGE_MESSAGES = `CREATE TEMP TABLE IF NOT EXISTS mqlite_stage_messages (
  id bigint, ts_ms bigint, received_ms bigint, topic text, device text, payload text,
  payload_raw bytea, qos smallint, retain boolean, dup boolean, readings text
) ON COMMIT DELETE ROWS`;

export const STAGE_READINGS = `CREATE TEMP TABLE IF NOT EXISTS mqlite_stage_readings (
  message_id bigint, device text, metric text, ts_ms bigint, value double precision
) ON COMMIT DELETE ROWS`;

export const COPY_MESSAGES = 'COPY mqlite_stage_messages FROM STDIN';
export const COPY_READINGS = 'COPY mqlite_stage_readings FROM STDIN';

export const UNIQUE_VIOLATION = '23505';

const MESSAGE_COLUMNS =
  'source, id, ts, received_at, topic, device, payload, payload_raw, qos, retain, dup, readings';
const READING_COLUMNS = 'source, message_id, device, metric, ts, value';

/**
 * Binary COPY straight into the tables, no staging (pg-copy-binary.ts): a row already there fails
 * the whole COPY (23505) and the batch is retried through the binary staging tables below. The
 * cursor committed with the rows makes that rare: only a commit whose acknowledgement was lost and
 * that finished after the cursor was read back again.
 */
export function copyBinaryMessages(n: Names): string {
  return `COPY ${n.schema}.messages (${MESSAGE_COLUMNS}) FROM STDIN (FORMAT binary)`;
}

export function copyBinaryReadings(n: Names): string {
  return `COPY ${n.schema}.readings_at (${READING_COLUMNS}) FROM STDIN (FORMAT binary)`;
}

/** Staging for the binary rows: the final tables' column types, so the same bytes fit both. */
export function stageBinaryMessages(type: ReadingsType): string {
  return `CREATE TEMP TABLE IF NOT EXISTS mqlite_stage_bin_messages (
  source text, id bigint, ts timestamptz, received_at timestamptz, topic text, device text, payload text,
  payload_raw bytea, qos smallint, retain boolean, dup boolean, readings ${type}
) ON COMMIT DELETE ROWS`;
}

export const STAGE_BINARY_READINGS = `CREATE TEMP TABLE IF NOT EXISTS mqlite_stage_bin_readings (
  source text, message_id bigint, device text, metric text, ts timestamptz, value double precision
) ON COMMIT DELETE ROWS`;

export const COPY_BINARY_STAGE_MESSAGES = 'COPY mqlite_stage_bin_messages FROM STDIN (FORMAT binary)';
export const COPY_BINARY_STAGE_READINGS = 'COPY mqlite_stage_bin_readings FROM STDIN (FORMAT binary)';

/** Re-sent rows collide with their first copy and are skipped. */
export function insertBinaryStagedMessages(n: Names): string {
  return `INSERT INTO ${n.schema}.messages (${MESSAGE_COLUMNS})
    SELECT ${MESSAGE_COLUMNS} FROM mqlite_stage_bin_messages ON CONFLICT DO NOTHING`;
}

export function insertBinaryStagedReadings(n: Names): string {
  return `INSERT INTO ${n.schema}.readings_at (${READING_COLUMNS})
    SELECT ${READING_COLUMNS} FROM mqlite_stage_bin_readings ON CONFLICT DO NOTHING`;
}

/** $1 = source. Re-sent rows collide with their first copy and are skipped. */
export function insertStagedMessages(n: Names, type: ReadingsType): string {
  return `INSERT INTO ${n.schema}.messages (${MESSAGE_COLUMNS})
    SELECT $1, id, ${ms('ts_ms')}, ${ms('received_ms')}, topic, device, payload, payload_raw, qos, retain, dup,
           readings::${type}
      FROM mqlite_stage_messages
    ON CONFLICT DO NOTHING`;
}

export function insertStagedReadings(n: Names): string {
  return `INSERT INTO ${n.schema}.readings_at (source, message_id, device, metric, ts, value)
    SELECT $1, message_id, device, metric, ${ms('ts_ms')}, value FROM mqlite_stage_readings
    ON CONFLICT DO NOTHING`;
}

/** $1 = source, $2.. = one array per column (pg-encode.ts messageArrays). */
export function insertUnnestMessages(n: Names, type: ReadingsType): string {
  return `INSERT INTO ${n.schema}.messages (${MESSAGE_COLUMNS})
    SELECT $1, id, ${ms('ts_ms')}, ${ms('received_ms')}, topic, device, payload, payload_raw, qos, retain, dup,
           readings::${type}
      FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bytea[],
                  $9::smallint[], $10::boolean[], $11::boolean[], $12::text[])
           AS u(id, ts_ms, received_ms, topic, device, payload, payload_raw, qos, retain, dup, readings)
    ON CONFLICT DO NOTHING`;
}

export function insertUnnestReadings(n: Names): string {
  return `INSERT INTO ${n.schema}.readings_at (source, message_id, device, metric, ts, value)
    SELECT $1, message_id, device, metric, ${ms('ts_ms')}, value
      FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::float8[])
           AS u(message_id, device, metric, ts_ms, value)
    ON CONFLICT DO NOTHING`;
}

/** $1 = source, $2 = last id of the batch, $3 = messages it inserted. Never moves back. */
export function advanceCursor(n: Names): string {
  return `INSERT INTO ${n.schema}.forward_cursor AS c (source, after_id, messages, updated_at)
    VALUES ($1, $2, $3, now())
    ON CONFLICT (source) DO UPDATE
      SET after_id = GREATEST(c.after_id, EXCLUDED.after_id), messages = c.messages + EXCLUDED.messages,
          updated_at = now()`;
}

export function readCursor(n: Names): string {
  return `SELECT after_id FROM ${n.schema}.forward_cursor WHERE source = $1`;
}
