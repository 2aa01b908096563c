/**
 * The purge executor on a real SQLite file: each step is a range on the rowid (the query planner
 * says SEARCH, never SCAN), it stops at the protection cursor and before the newest row, and
 * incremental vacuum gives pages back to the file system.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/sink/migrations/index.js';
import { incrementalVacuumIfNew } from '../../../src/sink/migrations/v3-retention.js';
import { type MaintenanceOp, SqlitePurge, type StepResult } from '../../../src/sink/sqlite-purge.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

let dir: string;
let db: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqlite-purge-'));
  db = new Database(join(dir, 'p.db'));
  incrementalVacuumIfNew(db);
  db.pragma('journal_mode = WAL');
  migrate(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** n zigbee2mqtt-like messages, one per hour of payload time from T0. */
function fill(n: number): void {
  const ins = db.prepare(
    `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, identity)
     VALUES (?, ?, ?, 1, 0, 0, ?, ?, NULL)`,
  );
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const ts = T0 + i * 3_600_000;
      const payload = JSON.stringify({ temperature: 21.5, humidity: 48, battery: 97, linkquality: 134 });
      ins.run(`zigbee2mqtt/sensor${i % 10}`, `sensor${i % 10}`, payload, Date.now(), ts);
    }
    // As the store does once it has counted them (pending-rollups.ts): these rows carry no
    // readings, so there is nothing to count and the rollups' cursor reaches the newest.
    db.prepare(
      "UPDATE purge_protect SET after_id = (SELECT max(id) FROM messages) WHERE consumer = 'rollups'",
    ).run();
  })();
}

function step(p: SqlitePurge, op: MaintenanceOp): StepResult {
  const r = p.run(op);
  if (r.kind !== 'step') throw new Error('expected a step');
  return r.step;
}

const count = (): number => (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;

describe('SqlitePurge', () => {
  it('deletes raw messages by rowid range, not by scanning', () => {
    const plan = db
      .prepare('EXPLAIN QUERY PLAN DELETE FROM messages WHERE id BETWEEN ? AND ? AND ts < ?')
      .all(1, 2, 3) as { detail: string }[];
    expect(plan.map((r) => r.detail)).toEqual([
      expect.stringMatching(/^SEARCH messages USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)$/),
    ]);
  });

  it('walks an age pass window by window and keeps what is younger than the cut-off', () => {
    fill(24 * 40); // 40 days
    const p = new SqlitePurge(db);
    const before = T0 + 30 * DAY;
    let from: number | undefined;
    let rows = 0;
    let windows = 0;
    for (;;) {
      const r = step(p, {
        kind: 'raw-older',
        beforeTs: before,
        maxRows: 100,
        ...(from ? { fromId: from } : {}),
      });
      rows += r.rows;
      windows++;
      expect(r.rows).toBeLessThanOrEqual(100);
      if (!r.more) break;
      from = r.nextId ?? undefined;
    }
    expect(rows).toBe(24 * 30);
    expect(windows).toBe(Math.ceil((24 * 30) / 100) + 1);
    const oldest = db.prepare('SELECT min(ts) AS ts FROM messages').get() as { ts: number };
    expect(oldest.ts).toBe(before);
  });

  it('the budget purge takes the oldest first and never the newest row (ids keep growing)', () => {
    fill(50);
    const p = new SqlitePurge(db);
    while (step(p, { kind: 'raw-oldest', maxRows: 20 }).more) {}
    expect(db.prepare('SELECT id FROM messages').all()).toEqual([{ id: 50 }]);
    expect(step(p, { kind: 'raw-oldest', maxRows: 20 }).rows).toBe(0);
  });

  it('tells readers what it deleted: a step count and a ts no deleted row was newer than', () => {
    fill(100);
    const p = new SqlitePurge(db);
    const meta = () =>
      Object.fromEntries(
        (
          db.prepare("SELECT key, value FROM mqlite_meta WHERE key LIKE 'raw_purge%'").all() as {
            key: string;
            value: string;
          }[]
        ).map((r) => [r.key, Number(r.value)]),
      );
    expect(meta()).toEqual({});
    step(p, { kind: 'raw-older', beforeTs: T0 + 10 * 3_600_000, maxRows: 1000 });
    expect(meta()).toEqual({ raw_purge_seq: 1, raw_purged_ts: T0 + 10 * 3_600_000 });
    // Nothing deleted: nothing to tell.
    step(p, { kind: 'raw-older', beforeTs: T0, maxRows: 1000 });
    expect(meta()).toEqual({ raw_purge_seq: 1, raw_purged_ts: T0 + 10 * 3_600_000 });
    // The budget: the newest ts of the window it deleted (ids 11..30, one hour apart from T0).
    step(p, { kind: 'raw-oldest', maxRows: 20 });
    expect(meta()).toEqual({ raw_purge_seq: 2, raw_purged_ts: T0 + 29 * 3_600_000 });
  });

  it('keeps what a consumer has not yet taken (purge_protect), and says it is blocked', () => {
    fill(100);
    db.prepare('INSERT INTO purge_protect (consumer, after_id, updated_at) VALUES (?, ?, ?)').run(
      'pg',
      30,
      0,
    );
    db.prepare('INSERT INTO purge_protect (consumer, after_id, updated_at) VALUES (?, ?, ?)').run(
      's3',
      60,
      0,
    );
    const p = new SqlitePurge(db);
    let last: StepResult;
    do last = step(p, { kind: 'raw-oldest', maxRows: 25 });
    while (last.more);
    expect(count()).toBe(70);
    expect(step(p, { kind: 'raw-oldest', maxRows: 25 })).toMatchObject({ rows: 0, blocked: true });
    expect(step(p, { kind: 'raw-older', beforeTs: T0 + 1000 * DAY, maxRows: 1000 }).rows).toBe(0);
  });

  it('hands free pages back to the file system a step at a time', () => {
    fill(20_000);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const p = new SqlitePurge(db);
    while (step(p, { kind: 'raw-oldest', maxRows: 5000 }).more) {}
    const stats = p.stats();
    expect(stats.incremental).toBe(true);
    expect(stats.freelistCount).toBeGreaterThan(100);
    const r = step(p, { kind: 'vacuum', pages: 50 });
    expect(r.bytes).toBe(50 * stats.pageSize);
    expect(p.stats().freelistCount).toBe(stats.freelistCount - 50);
    while (step(p, { kind: 'vacuum', pages: 50 }).more) {}
    expect(p.stats().freelistCount).toBe(0);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(statSync(join(dir, 'p.db')).size).toBe(p.stats().pageCount * stats.pageSize);
  });

  it('deletes dead letters past their age by id window', () => {
    const ins = db.prepare(
      `INSERT INTO dead_letters (topic, payload, payload_bytes, reason, detail, qos, received_at)
       VALUES ('tele/x/SENSOR', x'7b', 1, 'invalid_json', 'Unexpected end', 1, ?)`,
    );
    for (let d = 0; d < 10; d++) ins.run(T0 + d * DAY);
    const p = new SqlitePurge(db);
    expect(step(p, { kind: 'dead-letters-older', beforeTs: T0 + 4 * DAY, maxRows: 100 }).rows).toBe(4);
  });

  it('deletes rollup buckets past their age from the left edge of the clustered key, whole buckets at a time', () => {
    const ins = db.prepare(
      `INSERT INTO rollup_5m (bucket, series_id, count, sum, min, max, first, first_ts, last, last_ts)
       VALUES (?, ?, 1, 1, 1, 1, 1, ?, 1, ?)`,
    );
    // 100 buckets of 5 series each.
    for (let b = 0; b < 100; b++) for (let s = 1; s <= 5; s++) ins.run(T0 + b * 300_000, s, T0, T0);
    const p = new SqlitePurge(db);
    const cut = T0 + 60 * 300_000;
    const first = step(p, { kind: 'tier-older', tier: 'rollup5m', beforeTs: cut, maxRows: 12 });
    expect(first.rows).toBe(15); // buckets 0..2: the 12th row is in bucket 2, taken whole
    expect(first.more).toBe(true);
    let total = first.rows;
    for (;;) {
      const r = step(p, { kind: 'tier-older', tier: 'rollup5m', beforeTs: cut, maxRows: 12 });
      total += r.rows;
      if (!r.more) break;
    }
    expect(total).toBe(60 * 5);
    const min = db.prepare('SELECT min(bucket) AS b FROM rollup_5m').get() as { b: number };
    expect(min.b).toBe(cut);
  });
});
