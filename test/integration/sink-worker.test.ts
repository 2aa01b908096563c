/**
 * The production worker entry (dist/worker.js): decode/ composed with the sink store in the
 * thread, DecodeSettings passed through as opaque data.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqliteSink } from '../../src/sink/sqlite-sink.js';
import { tmpDir } from '../helpers/tmp.js';
import { assertBuilt, DIST, message, sinkSettings } from './sink-fixture.js';

const WORKER = new URL('worker.js', DIST);
const NOW = 1_700_000_000_000;
const decode = {
  template: '+/{device}/#',
  formats: [{ filter: '#', format: 'json', tsField: 'ts', tsUnit: 'auto', idField: 'id' }],
  maxPayloadBytes: 256 * 1024,
  maxJsonDepth: 32,
  maxReadingsPerMessage: 1000,
  maxFutureMs: 5 * 60_000,
  maxPastMs: 365 * 24 * 3600_000,
  outOfRange: 'clamp',
};

let dir: string;
let cleanup: () => void;
let dbPath: string;
const sinks: SqliteSink[] = [];

beforeAll(() => {
  assertBuilt();
  if (!existsSync(WORKER)) throw new Error('dist/worker.js is missing: run `npm run build` first');
});
beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-sink-worker-'));
  dbPath = join(dir, 'test.db');
});
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.stop();
  cleanup();
});

describe('dist/worker.js (real decoder)', () => {
  it('decodes and stores readings, dedupes a redelivered id, dead-letters bad JSON', async () => {
    const sink = new SqliteSink(sinkSettings(dbPath, { decode }), WORKER);
    sinks.push(sink);
    await sink.start();
    const good = { ts: NOW / 1000, id: 'a-1', temp: 21.5 };
    const r1 = await sink.write([
      message('tele/dev1/state', good, { receivedAt: NOW }),
      message('tele/dev1/state', '{"temp": ', { receivedAt: NOW }),
    ]);
    expect(r1).toMatchObject({ stored: 1, duplicates: 0, deadLetters: { invalid_json: 1 } });
    expect([...r1.payloadTs]).toEqual([NOW]);
    const r2 = await sink.write([message('tele/dev1/state', good, { receivedAt: NOW + 5, dup: true })]);
    expect(r2).toMatchObject({ stored: 0, duplicates: 1, readings: 0 });
    // No payload ts: ts is the receive time, which differs on redelivery; the id alone must match.
    const noTs = { id: 'b-1', temp: 22 };
    const r3 = await sink.write([message('tele/dev1/state', noTs, { receivedAt: NOW + 10 })]);
    const r4 = await sink.write([message('tele/dev1/state', noTs, { receivedAt: NOW + 20, dup: true })]);
    expect([r3.stored, r4.stored, r4.duplicates]).toEqual([1, 0, 1]);

    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT device, value, ts FROM readings WHERE metric = 'temp'").all()).toEqual([
        { device: 'dev1', value: 21.5, ts: NOW },
        { device: 'dev1', value: 22, ts: NOW + 10 },
      ]);
      // Odd: indexed behind the payload ts; even: the receive-time one, indexed on its own.
      expect(db.prepare('SELECT identity & 1 AS odd FROM messages ORDER BY id').all()).toEqual([
        { odd: 1 },
        { odd: 0 },
      ]);
    } finally {
      db.close();
    }
  });

  it('bad decode settings fail start() as MQLITE_SINK_WORKER_FAILED, not as a database problem', async () => {
    const sink = new SqliteSink(sinkSettings(dbPath, { decode: { ...decode, maxJsonDepth: 0 } }), WORKER);
    sinks.push(sink);
    await expect(sink.start()).rejects.toMatchObject({
      code: 'MQLITE_SINK_WORKER_FAILED',
      message: expect.stringContaining('maxJsonDepth'),
    });
  });
});
