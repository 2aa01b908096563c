/**
 * The data model promises that one series over a time range, raw or rolled up, is read through an
 * index, not a scan. Checked on the real schema with SQLite's own query planner.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/sink/migrations/index.js';

let db: Database.Database;
beforeEach(() => {
  db = new Database(':memory:');
  migrate(db);
});
afterEach(() => db.close());

function plan(sql: string, ...params: unknown[]): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
    (p) => p.detail,
  );
}

describe('query plans', () => {
  it('readings: a device + metric range walks messages(device, ts) and readings_at(device, metric, ts)', () => {
    const steps = plan(
      'SELECT ts, value FROM readings WHERE device = ? AND metric = ? AND ts BETWEEN ? AND ? ORDER BY ts',
      'kitchen',
      'temperature',
      0,
      1,
    );
    expect(steps).toContainEqual(
      expect.stringMatching(/^SEARCH m USING INDEX messages_device_ts \(device=\? AND ts>\? AND ts<\?\)$/),
    );
    expect(steps).toContainEqual(
      expect.stringMatching(/^SEARCH a USING INDEX readings_at_device_metric_ts \(device=\? AND metric=\?/),
    );
    // The only scans: json_each over one message's object, and the view's own (already filtered) rows.
    expect(steps.filter((s) => s.startsWith('SCAN'))).toEqual([
      expect.stringMatching(/^SCAN j VIRTUAL TABLE/),
      'SCAN readings',
    ]);
  });

  it.each(['readings_5m', 'readings_1h'])(
    '%s: one series over time uses the (series_id, bucket) index',
    (view) => {
      const steps = plan(
        `SELECT ts, avg FROM ${view} WHERE device = ? AND metric = ? AND ts BETWEEN ? AND ? ORDER BY ts`,
        'kitchen',
        'temperature',
        0,
        1,
      );
      const table = view.replace('readings', 'rollup');
      expect(steps).toEqual([
        'SEARCH s USING COVERING INDEX sqlite_autoindex_series_1 (device=? AND metric=?)',
        `SEARCH r USING INDEX ${table}_series (series_id=? AND bucket>? AND bucket<?)`,
      ]);
    },
  );
});
