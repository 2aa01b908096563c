/** The sink against a real temp SQLite file, through the real worker thread (stub decoder). */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { identityKey } from '../../src/sink/identity-hash.js';
import { SCHEMA_VERSION } from '../../src/sink/migrations/index.js';
import { SqliteSink } from '../../src/sink/sqlite-sink.js';
import { tmpDir } from '../helpers/tmp.js';
import { assertBuilt, message, sinkSettings, writeStubWorker } from './sink-fixture.js';

let dir: string;
let cleanup: () => void;
let workerUrl: URL;
let dbPath: string;
const sinks: SqliteSink[] = [];

function newSink(extra: Parameters<typeof sinkSettings>[1] = {}): SqliteSink {
  const sink = new SqliteSink(sinkSettings(dbPath, extra), workerUrl);
  sinks.push(sink);
  return sink;
}

/** A read-only look at the file from the test, as a user's query would. */
function query<T>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

beforeAll(() => assertBuilt());
beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-sink-'));
  workerUrl = writeStubWorker(dir);
  dbPath = join(dir, 'nested', 'folders', 'test.db');
});
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.stop();
  cleanup();
});

describe('SqliteSink storing', () => {
  it('stores messages, readings and dead letters in one batch, creating the folders', async () => {
    const sink = newSink({ deadLetterPayloadBytes: 4 });
    await sink.start();
    const result = await sink.write([
      message(
        'tele/dev1/state',
        {
          ts: 1_700_000_000_500,
          r: [
            ['temp', 21.5],
            ['hum', 40],
          ],
        },
        { qos: 1 },
      ),
      message('tele/dev2/state', Buffer.from([0xff, 0xfe, 0x00]), { qos: 0, retain: true }),
      message('tele/dev3/state', 'not json at all', { qos: 2, dup: true, receivedAt: 42 }),
      message('tele/dev1/state', { r: [['temp', 22]] }, { receivedAt: 1_700_000_001_000 }),
    ]);
    expect(result).toMatchObject({ stored: 3, duplicates: 0, readings: 3, deadLetters: { invalid_json: 1 } });
    // Only payload timestamps: the others have none for mqlite_payload_ts_to_commit_seconds to observe.
    expect([...result.payloadTs]).toEqual([1_700_000_000_500, Number.NaN, Number.NaN]);
    expect(result.commitSeconds).toBeGreaterThanOrEqual(0);

    const rows = query<Record<string, unknown>>(
      'SELECT topic, device, typeof(payload) AS kind, qos, retain, dup, ts, identity FROM messages ORDER BY id',
    );
    expect(rows).toEqual([
      {
        topic: 'tele/dev1/state',
        device: 'dev1',
        kind: 'text',
        qos: 1,
        retain: 0,
        dup: 0,
        ts: 1_700_000_000_500,
        identity: null,
      },
      {
        topic: 'tele/dev2/state',
        device: 'dev2',
        kind: 'blob',
        qos: 0,
        retain: 1,
        dup: 0,
        ts: expect.any(Number),
        identity: null,
      },
      {
        topic: 'tele/dev1/state',
        device: 'dev1',
        kind: 'text',
        qos: 1,
        retain: 0,
        dup: 0,
        ts: 1_700_000_001_000,
        identity: null,
      },
    ]);
    expect(query('SELECT device, metric, value, ts FROM readings ORDER BY ts, metric')).toEqual([
      { device: 'dev1', metric: 'hum', value: 40, ts: 1_700_000_000_500 },
      { device: 'dev1', metric: 'temp', value: 21.5, ts: 1_700_000_000_500 },
      { device: 'dev1', metric: 'temp', value: 22, ts: 1_700_000_001_000 },
    ]);
    expect(query('SELECT count(*) AS n FROM series')).toEqual([{ n: 2 }]);
    const dead = query<{ payload: Buffer }>(
      'SELECT topic, payload, payload_bytes, reason, qos, received_at FROM dead_letters',
    );
    expect(dead).toEqual([
      {
        topic: 'tele/dev3/state',
        payload: Buffer.from('not '),
        payload_bytes: 15,
        reason: 'invalid_json',
        qos: 2,
        received_at: 42,
      },
    ]);
    expect(sink.fileSizes().dbBytes).toBeGreaterThan(0);
  });

  it('stores a redelivered identity once: no second row, no second samples, counted as duplicate', async () => {
    const sink = newSink();
    await sink.start();
    const payload = { id: 'm-1', r: [['temp', 1]] };
    const first = await sink.write([
      message('t/devA/x', payload),
      message('t/devA/x', payload, { dup: true }),
    ]);
    expect(first).toMatchObject({ stored: 1, duplicates: 1, readings: 1 });
    expect(first.payloadTs).toHaveLength(1);
    const again = await sink.write([
      message('t/devA/x', payload, { dup: true }),
      message('t/devB/x', payload),
    ]);
    // devB has the same message id but another device: another identity.
    expect(again).toMatchObject({ stored: 1, duplicates: 1, readings: 1 });
    expect(query('SELECT device FROM messages ORDER BY id')).toEqual([
      { device: 'devA' },
      { device: 'devB' },
    ]);
    expect(query('SELECT count(*) AS n FROM readings')).toEqual([{ n: 2 }]);
    // Rollups and latest count stored messages only: the redeliveries added nothing.
    expect(query('SELECT sum(count) AS n FROM rollup_5m')).toEqual([{ n: 2 }]);
    expect(query('SELECT sum(count) AS n FROM rollup_1h')).toEqual([{ n: 2 }]);
    expect(query('SELECT device, metric, value FROM latest ORDER BY device')).toEqual([
      { device: 'devA', metric: 'temp', value: 1 },
      { device: 'devB', metric: 'temp', value: 1 },
    ]);

    const db = new Database(dbPath, { readonly: true });
    try {
      const stmt = db.prepare('SELECT identity FROM messages WHERE device = ?').safeIntegers(true);
      // The store keys a message by its topic and the decoder's identity (identity-hash.ts).
      const expected = identityKey('p:t/devA/x\0id:devA\0m-1', false);
      expect(stmt.get('devA')).toEqual({ identity: expected });
    } finally {
      db.close();
    }
  });

  it('redoes a batch with a row error message by message: good rows commit, the bad one is dead-lettered', async () => {
    const sink = newSink();
    await sink.start();
    const result = await sink.write([
      message('t/d1/x', { r: [['a', 1]] }),
      // The same metric twice in one message: its readings object cannot hold both.
      message('t/d2/x', {
        ts: 5,
        r: [
          ['a', 1],
          ['a', 2],
        ],
      }),
      message('t/d3/x', { r: [['new_metric', 3]] }),
      // NaN has no JSON form.
      message('t/d4/x', { r: [['b', null]] }),
      message('t/d5/x', { throw: true }),
    ]);
    expect(result).toMatchObject({
      stored: 2,
      readings: 2,
      deadLetters: { insert_failed: 2, decoder_error: 1 },
    });
    expect(query('SELECT device FROM messages ORDER BY id')).toEqual([{ device: 'd1' }, { device: 'd3' }]);
    expect(query('SELECT device, metric, value FROM readings ORDER BY device')).toEqual([
      { device: 'd1', metric: 'a', value: 1 },
      { device: 'd3', metric: 'new_metric', value: 3 },
    ]);
    const dead = query<{ topic: string; reason: string; detail: string }>(
      'SELECT topic, reason, detail FROM dead_letters ORDER BY id',
    );
    expect(dead.map((d) => [d.topic, d.reason])).toEqual([
      ['t/d2/x', 'insert_failed'],
      ['t/d4/x', 'insert_failed'],
      ['t/d5/x', 'decoder_error'],
    ]);
    expect(dead[0]?.detail).toBe('MQLITE_READING_INVALID: metric a appears twice in one message');
    expect(dead[1]?.detail).toBe('MQLITE_READING_INVALID: reading b is not a finite number: NaN');
    expect(dead[2]?.detail).toBe('stub decoder bug');

    // Series cached during the rolled-back first attempt must not leak: later batches still resolve.
    await sink.write([message('t/d3/x', { r: [['new_metric', 4]] })]);
    expect(query("SELECT count(*) AS n FROM readings WHERE metric = 'new_metric'")).toEqual([{ n: 2 }]);
  });

  it('stores a device-less series once (NULLs are distinct in UNIQUE, so lookups use IS)', async () => {
    const sink = newSink();
    await sink.start();
    await sink.write([message('flat', { r: [['v', 1]] })]);
    await sink.stop();
    const again = newSink();
    await again.start();
    await again.write([message('flat', { r: [['v', 2]] })]);
    expect(query('SELECT device, metric FROM series')).toEqual([{ device: null, metric: 'v' }]);
    expect(query('SELECT count(*) AS n FROM readings')).toEqual([{ n: 2 }]);
  });
});

describe('SqliteSink lifecycle', () => {
  it('migrates once: reopening keeps the data and the schema version, and truncates the WAL on stop', async () => {
    const sink = newSink();
    await sink.start();
    await sink.write([message('t/d/x', { r: [['a', 1]] })]);
    await sink.stop();
    await sink.stop(); // idempotent
    expect(sink.fileSizes().walBytes).toBe(0);

    const reopened = newSink();
    await reopened.start();
    await reopened.write([message('t/d/x', { r: [['a', 2]] })]);
    await reopened.stop();
    expect(query('PRAGMA user_version')).toEqual([{ user_version: SCHEMA_VERSION }]);
    expect(query('SELECT count(*) AS n FROM messages')).toEqual([{ n: 2 }]);
    expect(query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")).toEqual([
      { name: 'dead_letters' },
      { name: 'latest' },
      { name: 'messages' },
      { name: 'mqlite_meta' },
      { name: 'purge_protect' },
      { name: 'readings_at' },
      { name: 'rollup_1h' },
      { name: 'rollup_5m' },
      { name: 'series' },
    ]);
    expect(query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    // Created new: free pages can be given back a step at a time (retention).
    expect(query('PRAGMA auto_vacuum')).toEqual([{ auto_vacuum: 2 }]);
  });

  it('refuses a database from a newer mqlite, naming the path', async () => {
    const sink = newSink();
    await sink.start();
    await sink.stop();
    const db = new Database(dbPath);
    db.pragma('user_version = 99');
    db.close();
    const newer = newSink();
    await expect(newer.start()).rejects.toMatchObject({
      code: 'MQLITE_DB_OPEN_FAILED',
      message: `cannot open database ${dbPath}: database schema version 99 is newer than this mqlite understands (${SCHEMA_VERSION})`,
    });
  });

  it('stays stopped when stop() runs while start() is still opening', async () => {
    const sink = newSink();
    const starting = sink.start();
    const stopping = sink.stop();
    await starting;
    await stopping;
    await expect(sink.write([message('t/d/x', {})])).rejects.toMatchObject({ retryable: false });
    expect(sink.fileSizes().walBytes).toBe(0);
  });

  it('rejects writes after stop, as not retryable', async () => {
    const sink = newSink();
    await sink.start();
    await sink.stop();
    await expect(sink.write([message('t/d/x', {})])).rejects.toMatchObject({ retryable: false });
  });
});
