/**
 * The raw readings the query worker reads (SqliteReader.points) over a real file written by the
 * sink's own write path: for every series they must be exactly the rows of the schema's `readings`
 * view (what a user reading the file with SQL sees), whatever characters the metric name holds
 * (a JSON path label cannot hold all of them), for a device without a name (NULL), with readings
 * timestamped apart from their message (readings_at), and with messages lacking the metric. And a
 * job run in snapshot() reads one state of the file while the writer commits.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteReader } from '../../src/query/sqlite-reader.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import { tmpDir } from '../helpers/tmp.js';
import { message, readingsDecode } from './sink-fixture.js';

const T0 = Date.UTC(2026, 0, 1);

const decode = readingsDecode;

const METRICS = [
  'temp',
  'battery.level',
  'ENERGY.Total',
  'we"ird',
  'back\\slash',
  'tab\there',
  'a[0]',
  '$',
  'é',
];

let cleanup: () => void;
let path: string;
let reader: SqliteReader;

function write(msgs: ReturnType<typeof message>[]): void {
  const store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
    decode,
  );
  store.writeBatch(packBatch(msgs).packed);
  store.close();
}

beforeAll(() => {
  const tmp = tmpDir('mqlite-points-');
  cleanup = tmp.cleanup;
  path = join(tmp.dir, 'p.db');
  const msgs: ReturnType<typeof message>[] = [];
  for (let i = 0; i < 40; i++) {
    const ts = T0 + i * 1000;
    // Every metric on even messages, only some on odd ones; integers and fractions; every 7th
    // message also carries a reading of an hour before (readings_at).
    const r: [string, number, number?][] = METRICS.filter((_, k) => i % 2 === 0 || k % 3 === 0).map(
      (m, k) => [m, i % 3 === 0 ? i * 10 + k : i + k / 4],
    );
    if (i % 7 === 0) r.push(['late', -i, ts - 3_600_000]);
    msgs.push(message('x/dev1', { ts, r }));
    msgs.push(message('nodevice', { ts, r: [['temp', i]] }));
  }
  write(msgs);
  reader = new SqliteReader(path);
});
afterAll(() => {
  reader.close();
  cleanup();
});

describe('SqliteReader.points', () => {
  it('reads every series exactly as the readings view holds it', () => {
    const sql = new Database(path, { readonly: true });
    const viewed = sql.prepare<unknown[], { ts: number; value: number }>(
      'SELECT ts, value FROM readings WHERE device IS ? AND metric = ? AND ts > ? AND ts <= ? ORDER BY ts',
    );
    const series = reader.listSeries();
    expect(series.map((s) => `${s.device}/${s.metric}`).sort()).toEqual(
      [...METRICS.map((m) => `dev1/${m}`), 'dev1/late', '/temp'].sort(),
    );
    for (const s of series) {
      for (const [after, until] of [
        [T0 - 4_000_000, T0 + 100_000],
        [T0 + 5_000, T0 + 20_000],
      ] as const) {
        const rows = viewed.all(s.device === '' ? null : s.device, s.metric, after, until);
        const p = reader.points(s, after, until);
        expect({ ts: p.ts, values: p.values }, `${s.device}/${s.metric}`).toEqual({
          ts: rows.map((r) => r.ts),
          values: rows.map((r) => r.value),
        });
      }
    }
    // Not vacuous: the odd messages lack some metrics, and readings_at holds the late ones.
    expect(reader.points({ device: 'dev1', metric: 'back\\slash' }, 0, T0 + 100_000).ts.length).toBe(20);
    expect(reader.points({ device: 'dev1', metric: 'late' }, 0, T0 + 100_000).ts.length).toBe(6);
    expect(reader.points({ device: '', metric: 'temp' }, 0, T0 + 100_000).ts.length).toBe(40);
    sql.close();
  });

  it('reads one state of the file inside snapshot(), the newest after it', () => {
    const s = { device: 'dev1', metric: 'temp' };
    const before = reader.points(s, 0, T0 + 1_000_000).ts.length;
    const during = reader.snapshot(() => {
      const first = reader.points(s, 0, T0 + 1_000_000).ts.length;
      write([message('x/dev1', { ts: T0 + 500_000, r: [['temp', 1]] })]);
      return [first, reader.points(s, 0, T0 + 1_000_000).ts.length];
    });
    expect(during).toEqual([before, before]);
    expect(reader.points(s, 0, T0 + 1_000_000).ts.length).toBe(before + 1);
  });
});
