/**
 * Schema 3 → 4 (migrations/v4-one-message-index.ts): one index on messages instead of two, and odd
 * identities cut to 47 bits. What a user would check after the upgrade: nothing stored before is
 * lost or changed, a message committed but not acknowledged by the old version and redelivered to
 * the new one is still recognised, distinct messages are still all stored, and device range reads
 * still use the index.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identityKey } from '../../src/sink/identity-hash.js';
import { SCHEMA_VERSION } from '../../src/sink/migrations/index.js';
import { V1 } from '../../src/sink/migrations/v1.js';
import { V2_FINISH, V2_READINGS_VIEW, V2_SCHEMA } from '../../src/sink/migrations/v2-schema.js';
import { V3_RETENTION } from '../../src/sink/migrations/v3-retention.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { DecodeFn } from '../../src/sink/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { message } from './sink-fixture.js';

/** Tasmota-like: whole-second `Time` shared by several messages; identity = topic + payload bytes. */
const decode: DecodeFn = (topic, payload) => {
  const text = Buffer.from(payload).toString();
  const j = JSON.parse(text) as { ts: number; v: number };
  const device = topic.startsWith('nodev/') ? null : (topic.split('/')[1] ?? null);
  return {
    ok: true,
    device,
    text,
    ts: j.ts,
    tsFromPayload: true,
    identity: text,
    readings: [{ metric: 'v', value: j.v }],
  };
};

/** The key schema 3 stored: all 64 bits, lowest bit set. */
function v3Key(topic: string, body: object): bigint {
  return BigInt.asIntN(64, identityKey(`p:${topic}\0${JSON.stringify(body)}`, false) | 1n);
}

let dir: string;
let cleanup: () => void;
let path: string;

beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-v4-'));
  path = join(dir, 'v3.db');
});
afterEach(() => cleanup());

const T = 1_764_000_000_000; // whole second
const old = [
  { topic: 'tele/plug-1/SENSOR', body: { ts: T, v: 1 } },
  { topic: 'tele/plug-1/SENSOR', body: { ts: T, v: 2 } }, // same second, another message
  { topic: 'tele/plug-2/SENSOR', body: { ts: T, v: 1 } },
  { topic: 'nodev/x', body: { ts: T, v: 7 } },
];

/** A schema-3 file as the previous release wrote it. */
function writeV3(): void {
  const db = new Database(path);
  db.exec(V1);
  db.exec(V2_SCHEMA);
  db.exec(V2_READINGS_VIEW);
  db.exec(V2_FINISH);
  db.exec(V3_RETENTION);
  db.pragma('user_version = 3');
  const ins = db.prepare(
    `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, identity, readings)
     VALUES (?, ?, ?, 1, 0, 0, ?, ?, ?, ?)`,
  );
  for (const m of old) {
    const text = JSON.stringify(m.body);
    const device = m.topic.startsWith('nodev/') ? null : (m.topic.split('/')[1] ?? null);
    ins.run(m.topic, device, text, T + 5, m.body.ts, v3Key(m.topic, m.body), JSON.stringify({ v: m.body.v }));
  }
  db.close();
}

function rows(sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

describe('schema 3 → 4', () => {
  it('keeps every row, recognises redeliveries of rows stored before, stores new distinct messages', () => {
    writeV3();
    const before = rows('SELECT id, topic, payload, ts FROM messages ORDER BY id');
    const store = SinkStore.open(
      { path, synchronous: 'NORMAL', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
      decode,
    );
    try {
      expect(rows('PRAGMA user_version')).toEqual([{ user_version: SCHEMA_VERSION }]);
      expect(rows('SELECT id, topic, payload, ts FROM messages ORDER BY id')).toEqual(before);
      // The old version crashed before its PUBACKs went out: the broker sends all four again, with
      // one new message of the same second.
      const again = [...old, { topic: 'tele/plug-1/SENSOR', body: { ts: T, v: 3 } }];
      const r = store.writeBatch(packBatch(again.map((m) => message(m.topic, m.body))).packed);
      expect(r.duplicates).toBe(4);
      expect(r.stored).toBe(1);
      expect(rows("SELECT payload FROM messages WHERE device = 'plug-1' ORDER BY id")).toEqual([
        { payload: '{"ts":1764000000000,"v":1}' },
        { payload: '{"ts":1764000000000,"v":2}' },
        { payload: '{"ts":1764000000000,"v":3}' },
      ]);
      // And once more after the upgrade: redeliveries of new rows are recognised too.
      const r2 = store.writeBatch(packBatch(again.map((m) => message(m.topic, m.body))).packed);
      expect(r2).toMatchObject({ stored: 0, duplicates: 5 });
    } finally {
      store.close();
    }
    const plan = rows(
      "EXPLAIN QUERY PLAN SELECT ts FROM messages WHERE device = 'plug-1' AND ts > 0 AND ts < 9e15",
    ) as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(
      /USING (COVERING )?INDEX messages_device_ts \(device=\? AND ts>\? AND ts<\?\)/,
    );
    // One index serves the device range and redelivery; the device-less one holds only its rows.
    expect(
      rows("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' ORDER BY name"),
    ).toEqual([
      { name: 'messages_device_ts' },
      { name: 'messages_identity' },
      { name: 'messages_identity_ts' },
    ]);
  });
});
