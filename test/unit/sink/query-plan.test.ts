/**
 * The data model promises that readings of one device and metric over a time range are read
 * through an index, not a scan. Checked on the real schema with SQLite's own query planner.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../src/sink/migrations.js';

describe('readings view', () => {
  it('serves a device + metric time range from messages(device, ts) and primary-key lookups', () => {
    const db = new Database(':memory:');
    try {
      migrate(db);
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT ts, value FROM readings
            WHERE device = ? AND metric = ? AND ts BETWEEN ? AND ? ORDER BY ts`,
        )
        .all('kitchen', 'temperature', 0, 1) as { detail: string }[];
      const steps = plan.map((p) => p.detail);
      expect(steps).toEqual([
        expect.stringMatching(
          /^SEARCH m USING COVERING INDEX messages_device_ts \(device=\? AND ts>\? AND ts<\?\)$/,
        ),
        'SEARCH s USING PRIMARY KEY (message_id=?)',
        'SEARCH r USING INTEGER PRIMARY KEY (rowid=?)',
      ]);
      expect(steps.join('\n')).not.toMatch(/SCAN|TEMP B-TREE/);
    } finally {
      db.close();
    }
  });
});
