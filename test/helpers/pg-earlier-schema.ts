/**
 * The PostgreSQL schema exactly as the release before the (id, source) key made it
 * (src/forward/pg-schema.ts at bc68a9f, without TimescaleDB): readings json, primary key
 * (source, id), the (device, ts) index, readings_at, forward_cursor and the json readings view.
 * A frozen copy on purpose: a central database that already holds forwarded rows keeps this
 * schema, and the current forwarder must write into it as it is.
 */
import type pg from 'pg';

export function earlierReleaseSchema(s: string): string[] {
  return [
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
      PRIMARY KEY (source, id)
    )`,
    `CREATE INDEX IF NOT EXISTS messages_device_ts ON ${s}.messages (device, ts)`,
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
    `CREATE OR REPLACE VIEW ${s}.readings (source, ts, device, metric, value) AS
      SELECT m.source, m.ts, m.device, r.key, (r.value::text)::double precision
        FROM ${s}.messages m, json_each(m.readings) r
       WHERE json_typeof(r.value) = 'number'
      UNION ALL
      SELECT source, ts, device, metric, value FROM ${s}.readings_at`,
  ];
}

/** Makes the earlier release's schema `s` through `client`. */
export async function makeEarlierReleaseSchema(client: pg.Client, s: string): Promise<void> {
  for (const stmt of earlierReleaseSchema(s)) await client.query(stmt);
}

/** The definition of `schema.messages`' primary key index, as pg_get_indexdef writes it. */
export async function primaryKeyDef(client: pg.Client, schema: string): Promise<string | undefined> {
  const r = await client.query<{ def: string }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
      WHERE i.indrelid = $1::regclass AND i.indisprimary`,
    [`${schema}.messages`],
  );
  return r.rows[0]?.def;
}
