/**
 * Schema 2's write path against a real SQLite file, in process (SinkStore, no worker): latest and the
 * rollups must equal what a user would compute from the raw readings, whatever the arrival order,
 * redeliveries, split batches, readings with their own timestamp, and deleted raw rows.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { DecodeFn, Reading } from '../../src/sink/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { message } from './sink-fixture.js';

/** JSON payload: {id?, ts, dev, r: [[metric, value, ownTs?]]}; {refuse: true} → a site trigger refuses it. */
const decode: DecodeFn = (topic, payload) => {
  const j = JSON.parse(Buffer.from(payload).toString()) as {
    id?: string;
    ts: number;
    r?: [string, number, number?][];
  };
  const readings: Reading[] = (j.r ?? []).map(([metric, value, ts]) =>
    ts === undefined ? { metric, value } : { metric, value, ts },
  );
  const device = topic.split('/')[1] ?? null;
  const identity = j.id === undefined ? null : `${device}\0${j.id}`;
  return { ok: true, device, text: null, ts: j.ts, tsFromPayload: true, identity, readings };
};

let dir: string;
let cleanup: () => void;
let store: SinkStore;
let path: string;

beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-rollups-'));
  path = join(dir, 'r.db');
  store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
    decode,
  );
});
afterEach(() => {
  store.close();
  cleanup();
});

function write(msgs: { topic: string; body: object }[]) {
  return store.writeBatch(packBatch(msgs.map((m) => message(m.topic, m.body))).packed);
}

function all<T>(sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

interface Row {
  device: string;
  metric: string;
  bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  first: number;
  first_ts: number;
  last: number;
  last_ts: number;
}

/**
 * Rollups recomputed from the raw readings, the way a user would check them: ties on ts resolved by
 * storage order (the message id), first = earliest, last = latest.
 */
function recompute(size: number): Row[] {
  return all<Row>(`
    WITH r AS (
      SELECT m.id, m.device, j.key AS metric, m.ts, j.value FROM messages m, json_each(m.readings) j
      UNION ALL SELECT message_id, device, metric, ts, value FROM readings_at),
    b AS (SELECT *, (ts / ${size}) * ${size} AS bucket FROM r)
    SELECT device, metric, bucket, count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
      (SELECT value FROM b b2 WHERE b2.device = b.device AND b2.metric = b.metric AND b2.bucket = b.bucket
        ORDER BY ts, id LIMIT 1) AS first, min(ts) AS first_ts,
      (SELECT value FROM b b2 WHERE b2.device = b.device AND b2.metric = b.metric AND b2.bucket = b.bucket
        ORDER BY ts DESC, id DESC LIMIT 1) AS last, max(ts) AS last_ts
    FROM b GROUP BY device, metric, bucket ORDER BY device, metric, bucket`);
}

function stored(view: string): Row[] {
  return all<Row>(`SELECT device, metric, ts AS bucket, count, sum, min, max, first, first_ts, last, last_ts
                     FROM ${view} ORDER BY device, metric, ts`);
}

const T0 = Date.UTC(2026, 0, 1);

/**
 * 600 messages of 3 devices x 2 metrics with timestamps over 3 hours, arriving shuffled; deterministic
 * pseudo-random from `seed`. Integer values keep float sums exact whatever the grouping.
 */
function shuffledFleet(seed: number): { topic: string; body: object }[] {
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  return Array.from({ length: 600 }, (_, i) => {
    const dev = `dev${rnd(3)}`;
    return {
      topic: `t/${dev}/x`,
      body: {
        id: `m${i}`,
        ts: T0 + rnd(3 * 3_600_000),
        r: [
          ['temp', rnd(50) - 10],
          ['hum', rnd(100)],
        ],
      },
    };
  });
}

describe('schema 2 write path', () => {
  it('rollups and latest equal the raw readings after shuffled, late and redelivered messages', () => {
    const sent = shuffledFleet(7);
    let duplicates = 0;
    for (let at = 0; at < sent.length; at += 50) {
      const batch = sent.slice(at, at + 50);
      // Every batch also redelivers 5 messages of the previous one.
      const redelivered = at === 0 ? [] : sent.slice(at - 5, at);
      const r = write([...batch, ...redelivered]);
      duplicates += r.duplicates;
      expect(r.stored).toBe(batch.length);
    }
    expect(duplicates).toBe(5 * 11);
    expect(all('SELECT count(*) AS n FROM messages')).toEqual([{ n: 600 }]);

    expect(stored('readings_5m')).toEqual(recompute(300_000));
    expect(stored('readings_1h')).toEqual(recompute(3_600_000));
    expect(all('SELECT sum(count) AS n FROM rollup_5m')).toEqual([{ n: 1200 }]);
    // avg is sum / count.
    expect(all('SELECT count(*) AS n FROM readings_1h WHERE avg != sum * 1.0 / count')).toEqual([{ n: 0 }]);

    const latest = all('SELECT device, metric, ts, value FROM latest ORDER BY device, metric');
    const newest = all(`SELECT device, metric, ts, value FROM (
        SELECT m.device, j.key AS metric, m.ts, j.value AS value,
               row_number() OVER (PARTITION BY m.device, j.key ORDER BY m.ts DESC, m.id DESC) AS k
          FROM messages m, json_each(m.readings) j) WHERE k = 1 ORDER BY device, metric`);
    expect(latest).toEqual(newest);
    expect(latest).toHaveLength(6);
  });

  it('an older reading arriving later never overwrites latest', () => {
    write([{ topic: 't/d/x', body: { ts: T0 + 1000, r: [['temp', 21]] } }]);
    write([{ topic: 't/d/x', body: { ts: T0, r: [['temp', 5]] } }]);
    expect(all('SELECT ts, value FROM latest')).toEqual([{ ts: T0 + 1000, value: 21 }]);
    expect(all('SELECT count, first, last FROM readings_5m')).toEqual([{ count: 2, first: 5, last: 21 }]);
  });

  it('a message refused inside a batch counts in no rollup; its batch-mates do', () => {
    const db = new Database(path);
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.device = 'evil'
             BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    db.close();
    const r = write([
      { topic: 't/good/x', body: { ts: T0, r: [['v', 1]] } },
      { topic: 't/evil/x', body: { ts: T0, r: [['v', 100]] } },
      { topic: 't/good/x', body: { ts: T0 + 1, r: [['v', 2]] } },
    ]);
    expect(r).toMatchObject({ stored: 2, deadLetters: { insert_failed: 1 } });
    expect(all('SELECT device, count, sum FROM readings_5m')).toEqual([{ device: 'good', count: 2, sum: 3 }]);
    expect(all('SELECT device, value FROM latest')).toEqual([{ device: 'good', value: 2 }]);
  });

  it('readings with a timestamp of their own go to readings_at, into the view and their own buckets', () => {
    write([
      {
        topic: 't/pump/x',
        body: {
          ts: T0 + 7_200_000,
          r: [
            ['flow', 3],
            ['flow', 1, T0],
            ['flow', 2, T0 + 60_000],
          ],
        },
      },
    ]);
    expect(all('SELECT ts, value FROM readings ORDER BY ts')).toEqual([
      { ts: T0, value: 1 },
      { ts: T0 + 60_000, value: 2 },
      { ts: T0 + 7_200_000, value: 3 },
    ]);
    expect(all('SELECT ts, count, first, last FROM readings_1h ORDER BY ts')).toEqual([
      { ts: T0, count: 2, first: 1, last: 2 },
      { ts: T0 + 7_200_000, count: 1, first: 3, last: 3 },
    ]);
    expect(all('SELECT ts, value FROM latest')).toEqual([{ ts: T0 + 7_200_000, value: 3 }]);
  });

  it('rollups stay exact when raw rows are deleted, and keep counting afterwards', () => {
    write([
      { topic: 't/d/x', body: { ts: T0, r: [['v', 1]] } },
      { topic: 't/d/x', body: { ts: T0 + 1, r: [['v', 2]] } },
    ]);
    const db = new Database(path);
    db.exec('DELETE FROM messages');
    db.close();
    write([{ topic: 't/d/x', body: { ts: T0 + 2, r: [['v', 3]] } }]);
    expect(all('SELECT count, sum, min, max, first, last FROM readings_5m')).toEqual([
      { count: 3, sum: 6, min: 1, max: 3, first: 1, last: 3 },
    ]);
    expect(all('SELECT count(*) AS n FROM readings')).toEqual([{ n: 1 }]);
  });
});

describe('latest and rollups kept in memory under load (pending-rollups.ts)', () => {
  /** A store that keeps latest/rollups in memory until flushed (as under load). */
  function openCoalescing(at: string): SinkStore {
    return SinkStore.open(
      {
        path: at,
        synchronous: 'NORMAL',
        busyTimeoutMs: 2000,
        deadLetterPayloadBytes: 64,
        rollupFlushMs: 3_600_000,
      },
      decode,
    );
  }

  function writeTo(s: SinkStore, msgs: { topic: string; body: object }[]) {
    return s.writeBatch(packBatch(msgs.map((m) => message(m.topic, m.body))).packed);
  }

  it('are written later but exactly, and a kill -9 before that loses no count and counts nothing twice', () => {
    const sent = shuffledFleet(11); // written in batches of 100: coalesced
    const busy = openCoalescing(join(dir, 'busy.db'));
    try {
      // A site trigger refuses one device: its batch rolls back and is redone message by message
      // (what was added to memory for the rolled-back attempt must not count).
      const admin = new Database(join(dir, 'busy.db'));
      admin.exec(`CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.device = 'evil'
               BEGIN SELECT RAISE(ABORT, 'refused'); END`);
      admin.close();
      for (let at = 0; at < sent.length; at += 100) {
        const batch = sent.slice(at, at + 100);
        if (at === 300) batch.splice(50, 0, { topic: 't/evil/x', body: { ts: T0, r: [['temp', 99]] } });
        writeTo(busy, batch);
      }
      path = join(dir, 'busy.db');
      // Committed messages, rollups not yet written: a reader sees them lag.
      expect(all('SELECT count(*) AS n FROM messages')).toEqual([{ n: 600 }]);
      expect(all('SELECT count(*) AS n FROM rollup_5m')).toEqual([{ n: 0 }]);
      expect(busy.hasPending).toBe(true);

      // kill -9 now: what is on disk is what was committed (the WAL included), nothing of memory.
      const crashed = join(dir, 'crashed.db');
      copyFileSync(join(dir, 'busy.db'), crashed);
      copyFileSync(join(dir, 'busy.db-wal'), `${crashed}-wal`);

      // The flush of the live one writes them exactly.
      busy.flushPending();
      expect(stored('readings_5m')).toEqual(recompute(300_000));
      expect(stored('readings_1h')).toEqual(recompute(3_600_000));

      // The crashed copy, reopened, counts the same from its stored messages.
      path = crashed;
      const restarted = SinkStore.open(
        { path: crashed, synchronous: 'NORMAL', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
        decode,
      );
      try {
        expect(all('SELECT sum(count) AS n FROM rollup_5m')).toEqual([{ n: 1200 }]);
        expect(stored('readings_5m')).toEqual(recompute(300_000));
        expect(stored('readings_1h')).toEqual(recompute(3_600_000));
        // The broker redelivers everything that was not acknowledged: nothing is counted twice.
        for (let at = 0; at < sent.length; at += 100) {
          expect(writeTo(restarted, sent.slice(at, at + 100)).duplicates).toBe(100);
        }
        restarted.flushPending();
        expect(all('SELECT sum(count) AS n FROM rollup_1h')).toEqual([{ n: 1200 }]);
        expect(all('SELECT count(*) AS n FROM latest')).toEqual([{ n: 6 }]);
        expect(all("SELECT after_id FROM purge_protect WHERE consumer = 'rollups'")).toEqual([
          { after_id: 600 },
        ]);
      } finally {
        restarted.close();
      }
    } finally {
      busy.close();
    }
  });

  it('a purge deletes up to the pending messages, and writes them only when nothing older is left', () => {
    const sent = shuffledFleet(5);
    path = join(dir, 'purged.db');
    const busy = openCoalescing(path);
    try {
      for (let at = 0; at < 300; at += 100) writeTo(busy, sent.slice(at, at + 100));
      busy.flushPending(); // the cursor now stands at message 300
      for (let at = 300; at < sent.length; at += 100) writeTo(busy, sent.slice(at, at + 100));

      const first = busy.maintain({ kind: 'raw-oldest', maxRows: 10_000 });
      expect(first.kind === 'step' && first.step.rows).toBe(300);
      // The other 300 still wait in memory, so their rows stay: a kill -9 now could rebuild them.
      expect(busy.hasPending).toBe(true);
      expect(all('SELECT min(id) AS lo, count(*) AS n FROM messages')).toEqual([{ lo: 301, n: 300 }]);

      // Nothing older left: the pending aggregates are written, and the purge goes on to the newest.
      const second = busy.maintain({ kind: 'raw-oldest', maxRows: 10_000 });
      expect(second.kind === 'step' && second.step.rows).toBe(299);
      expect(busy.hasPending).toBe(false);
      expect(all('SELECT count(*) AS n FROM messages')).toEqual([{ n: 1 }]);
      expect(all('SELECT sum(count) AS n FROM rollup_5m')).toEqual([{ n: 1200 }]);
      expect(all('SELECT sum(count) AS n FROM rollup_1h')).toEqual([{ n: 1200 }]);
    } finally {
      busy.close();
    }
  });
});
