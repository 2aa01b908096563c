/**
 * The query worker's cache of recent raw readings (src/query/recent-cache.ts) must never change an
 * answer. A file is written by the sink's own write path round after round (late readings, several
 * messages of a device at one ts with equal and different values, a device without a name, metric
 * names a JSON path label cannot hold, readings with their own ts, messages without the metric),
 * raw rows are purged by age and by the budget in between, and after every round a cached reader
 * and an uncached one answer many random ranges: their readings must be the same bytes, and so must
 * whole query_range answers.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleApiJson } from '../../src/query/api.js';
import type { Points, SeriesId } from '../../src/query/data.js';
import { SqliteReader } from '../../src/query/sqlite-reader.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import { tmpDir } from '../helpers/tmp.js';
import { message, readingsDecode } from './sink-fixture.js';
import { seededRandom } from '../helpers/chaos.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 5, 1);
const DEVICES = ['d0', 'd1', 'd2', 'd3', 'nodevice'];
const METRICS = ['temp', 'hum', 'we"ird', 'back\\slash', 'é', 'a.b'];

const decode = readingsDecode;

/** The same "random" sequence every run, so a failure reproduces. */
const rng = (seed: number): (() => number) => seededRandom(seed).next;

let dir: string;
let cleanup: () => void;
let path: string;
let store: SinkStore;
let clock: number;
const readers: SqliteReader[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-qcache-'));
  path = join(dir, 'c.db');
  store = SinkStore.open(
    { path, synchronous: 'OFF', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
    decode,
  );
  clock = T0;
});
afterEach(() => {
  for (const r of readers.splice(0)) r.close();
  store.close();
  cleanup();
});

function open(maxBytes?: number): SqliteReader {
  const r = new SqliteReader(path, maxBytes === undefined ? {} : { cache: { maxBytes, now: () => clock } });
  readers.push(r);
  return r;
}

/** One round of messages around the clock: mostly in order, some late, some at one ts. */
function writeRound(rand: () => number, n: number): void {
  const msgs: ReturnType<typeof message>[] = [];
  for (let i = 0; i < n; i++) {
    const dev = DEVICES[Math.floor(rand() * DEVICES.length)] as string;
    const topic = dev === 'nodevice' ? 'nodevice' : `x/${dev}`;
    const u = rand();
    // 75% now-ish, 12% late by up to 40 min, 5% ahead by up to 5 min, 8% on a whole minute
    // (several messages of a device at one ts).
    const ts =
      u < 0.75
        ? clock - Math.floor(rand() * 10_000)
        : u < 0.92
          ? clock - Math.floor(rand() * 40 * MIN)
          : u < 0.92
            ? clock + Math.floor(rand() * 5 * MIN)
            : Math.floor(clock / MIN) * MIN;
    const r: [string, number, number?][] = [];
    for (const m of METRICS) {
      if (rand() < 0.5) continue;
      // Few distinct values: equal-ts messages often agree, sometimes not. Some -0 and integers.
      const v = u >= 0.92 ? Math.floor(rand() * 2) : rand() < 0.05 ? -0 : Math.round(rand() * 1000) / 10;
      r.push([m, v]);
    }
    if (rand() < 0.05) r.push(['temp2', rand(), ts - Math.floor(rand() * 20 * MIN)]);
    msgs.push(message(topic, { id: String(rand()), ts, r }));
  }
  store.writeBatch(packBatch(msgs).packed);
}

function series(): SeriesId[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT DISTINCT device, metric FROM readings').all() as {
      device: string | null;
      metric: string;
    }[];
    return [
      ...rows.map((r) => ({ device: r.device ?? '', metric: r.metric })),
      { device: 'd9', metric: 'temp' },
      { device: 'd0', metric: 'nothing' },
    ];
  } finally {
    db.close();
  }
}

/** The readings as bytes: 0 and -0 differ, as they would in an answer's arithmetic. */
function bytes(p: Points): string {
  return `${Buffer.from(new Float64Array(p.ts).buffer).toString('hex')}/${Buffer.from(new Float64Array(p.values).buffer).toString('hex')}`;
}

function compare(
  cached: SqliteReader,
  plain: SqliteReader,
  rand: () => number,
  ranges: number,
  labelsOnly: boolean,
): number {
  const all = series().filter((s) => !labelsOnly || !/["\\]/.test(s.metric));
  let points = 0;
  for (let k = 0; k < ranges; k++) {
    // Dashboards' ranges ending now, and any range at all.
    const span = [5, 16, 61, 360][Math.floor(rand() * 4)] as number;
    const after = rand() < 0.6 ? clock - span * MIN : clock - Math.floor(rand() * 8 * 60 * MIN);
    const until = rand() < 0.6 ? clock : after + Math.floor(rand() * 120 * MIN);
    cached.snapshot(() =>
      plain.snapshot(() => {
        for (const s of all) {
          const want = plain.points(s, after, until);
          points += want.ts.length;
          expect(bytes(cached.points(s, after, until)), `${s.device}/${s.metric} (${after}, ${until}]`).toBe(
            bytes(want),
          );
        }
      }),
    );
  }
  return points;
}

function queryRange(r: SqliteReader, query: string, minutes: number): string {
  const end = clock / 1000;
  return r.snapshot(() =>
    handleApiJson(
      {
        route: 'query_range',
        params: { query: [query], start: [String(end - minutes * 60)], end: [String(end)], step: ['15'] },
        now: clock,
      },
      r,
      { timeoutMs: 60_000, maxSamples: 50_000_000 },
    ),
  );
}

describe('the recent-readings cache', () => {
  for (const [name, maxBytes, labels] of [
    ['within its budget', 32 * 1024 ** 2, false],
    ['over its budget (the span shrinks, the cache gives up and comes back)', 40_000, false],
    // Every name held fits a JSON path label: new messages are read with ->>, not json_each.
    ['asked only for names a JSON path label holds', 32 * 1024 ** 2, true],
  ] as const) {
    it(`answers exactly as SQL, ${name}, while writes and purges go on`, () => {
      const rand = rng(maxBytes + (labels ? 1 : 0));
      const cached = open(maxBytes);
      const plain = open();
      let compared = 0;
      // A short range first: the longer ones then widen what the cache covers.
      cached.points({ device: 'd0', metric: 'temp' }, clock - 5 * MIN, clock);
      for (let round = 0; round < 40; round++) {
        writeRound(rand, 20 + Math.floor(rand() * 60));
        store.flushPending();
        if (round % 7 === 6) {
          // Retention by age: sometimes inside what the cache holds.
          const beforeTs = clock - Math.floor(rand() * 60 * MIN);
          store.maintain({ kind: 'raw-older', beforeTs, maxRows: 200 });
        }
        if (round % 11 === 10) store.maintain({ kind: 'raw-oldest', maxRows: 150 });
        compared += compare(cached, plain, rand, 6, labels);
        for (const q of [
          'avg by (device) (avg_over_time(temp[1m]))',
          'hum',
          'sum(count_over_time(temp[1m]))',
        ]) {
          expect(queryRange(cached, q, 15)).toBe(queryRange(plain, q, 15));
        }
        clock += Math.floor(rand() * 3 * MIN);
      }
      // Not vacuous: the cache answered, partly answered, fell back, and purges reached it.
      const st = cached.cacheStats();
      expect(st).toBeDefined();
      expect(compared).toBeGreaterThan(10_000);
      expect(st?.hits).toBeGreaterThan(100);
      expect(st?.partial).toBeGreaterThan(10);
      expect(st?.misses).toBeGreaterThan(10);
      if (maxBytes > 1e6) expect(st?.bytes).toBeGreaterThan(0);
    });
  }

  it('notices a purge: rows deleted are never served', () => {
    const rand = rng(7);
    const cached = open(32 * 1024 ** 2);
    const plain = open();
    for (let i = 0; i < 5; i++) writeRound(rand, 100);
    store.flushPending();
    const s = { device: 'd1', metric: 'temp' };
    const before = cached.points(s, clock - 60 * MIN, clock + 10 * MIN);
    expect(before.ts.length).toBeGreaterThan(10);
    // The budget's purge: the oldest rows by id, whatever their ts (here: the recent ones).
    store.maintain({ kind: 'raw-oldest', maxRows: 300 });
    const after = cached.points(s, clock - 60 * MIN, clock + 10 * MIN);
    expect(after.ts.length).toBeLessThan(before.ts.length);
    expect(bytes(after)).toBe(bytes(plain.points(s, clock - 60 * MIN, clock + 10 * MIN)));
  });

  it('is off at 0 bytes', () => {
    expect(open(0).cacheStats()).toBeUndefined();
  });
});
