/**
 * "Years in minutes": 400 days of zigbee2mqtt readings (payload timestamps spread over 400 days,
 * published oldest first) into a daemon with a 4 MiB budget and 200 days of raw retention. While
 * they stream in, the database stays within its budget plus the stated slack; afterwards raw
 * retention holds, the budget took the oldest raw rows first, and the rollups still count every
 * message ever stored (deleting raw rows never touches them), as does `latest`.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, connectClient, count, rollupsCurrent, withDb } from '../helpers/daemon-fixture.js';
import { metricValue, startEmbeddedDaemon } from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const DAY = 86_400_000;
const MiB = 1024 ** 2;
const BUDGET = 4 * MiB;
/**
 * Stated slack over db.maxBytes for the database file: the budget is checked after every 1% of it
 * written (payload bytes; rows cost ~2x that with their readings and indexes), and a purge runs
 * down to 95%: 10% covers both. The WAL is a separate file, bounded by its checkpoint interval.
 */
const SLACK = 0.1;
const DAYS = 400;
const PER_DAY = 100;
const DEVICES = ['kitchen', 'bathroom', 'bedroom'];

/** An Aqara WSDCGQ11LM as zigbee2mqtt publishes it (zigbee2mqtt.io/devices/WSDCGQ11LM), plus ts. */
function aqara(i: number, ts: number): string {
  return JSON.stringify({
    battery: 97,
    humidity: 40 + (i % 20),
    linkquality: 134,
    power_outage_count: 3,
    pressure: 1013.4,
    temperature: 20 + (i % 10) / 10,
    voltage: 3005,
    ts,
  });
}

/** Pages in use, from the database itself: what db.maxBytes bounds. */
function usedBytes(path: string): number {
  return withDb(path, (db) => {
    const pages = Number(db.pragma('page_count', { simple: true }));
    const free = Number(db.pragma('freelist_count', { simple: true }));
    return (pages - free) * Number(db.pragma('page_size', { simple: true }));
  });
}

describe('retention: years in minutes', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('keeps the budget and raw retention while rollups and latest count every message', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, 'mqlite.db');
    const daemon = await startEmbeddedDaemon(
      path,
      configArgs(tmp.dir, {
        embedded: { allowAnonymous: true },
        db: { maxBytes: BUDGET, minFreeBytes: 0 },
        retention: { raw: '200d', checkIntervalMs: 1000 },
        timestamps: { maxPastMs: (DAYS + 10) * DAY },
      }),
    );
    cleanups.push(() => daemon.stop());
    const client = await connectClient(`mqtt://127.0.0.1:${daemon.broker!.port}`, { clientId: 'years' });
    cleanups.push(() => client.endAsync(true));

    const start = Date.now() - DAYS * DAY;
    let maxFile = 0;
    const sample = () => {
      maxFile = Math.max(maxFile, statSync(path).size);
    };
    let n = 0;
    let lastTs = 0;
    for (let day = 0; day < DAYS; day++) {
      // One burst per day: ~5 minutes of readings, so rollups stay small and raw rows dominate.
      const sends: Promise<unknown>[] = [];
      for (let k = 0; k < PER_DAY; k++) {
        const ts = start + day * DAY + k * 3000;
        const device = DEVICES[k % DEVICES.length] as string;
        sends.push(client.publishAsync(`zigbee2mqtt/${device}`, aqara(n, ts), { qos: 1 }));
        n++;
        lastTs = ts;
      }
      await Promise.all(sends);
      if (day % 10 === 0) sample();
    }
    const total = DAYS * PER_DAY;
    expect(n).toBe(total);
    // Acked means committed; the pass after the last commit settles the budget.
    await waitFor(() => usedBytes(path) <= BUDGET, 'the database within budget');
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_db_used_bytes') <= BUDGET,
      'the metric to show it',
    );
    sample();
    expect(maxFile).toBeLessThanOrEqual(BUDGET * (1 + SLACK));

    // Raw retention: nothing older than 200 days; the budget deleted more, oldest first.
    const kept = count(path, 'SELECT count(*) FROM messages');
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(200 * PER_DAY);
    const oldest = count(path, 'SELECT min(ts) FROM messages');
    expect(oldest).toBeGreaterThanOrEqual(Date.now() - 200 * DAY - 60_000);
    // Oldest first: what is kept is exactly the newest `kept` messages.
    expect(count(path, 'SELECT max(ts) FROM messages')).toBe(lastTs);
    expect(count(path, 'SELECT count(*) FROM messages WHERE ts < ?', oldest)).toBe(0);
    expect(count(path, 'SELECT count(*) FROM messages WHERE ts >= ?', oldest)).toBe(kept);

    // Rollups count every message ever stored; 1-hour buckets are kept forever.
    await waitFor(() => rollupsCurrent(path), 'latest and the rollups written (they lag about a second)');
    expect(count(path, "SELECT sum(count) FROM readings_1h WHERE metric = 'temperature'")).toBe(total);
    // 5-minute buckets go after 90 days (the default): what is left counts the last 90 days' bursts.
    const fiveMin = count(path, "SELECT sum(count) FROM readings_5m WHERE metric = 'temperature'");
    expect(fiveMin).toBeGreaterThanOrEqual(89 * PER_DAY);
    expect(fiveMin).toBeLessThanOrEqual(91 * PER_DAY);
    expect(count(path, 'SELECT min(ts) FROM readings_5m')).toBeGreaterThanOrEqual(
      Date.now() - 90 * DAY - 60_000,
    );
    // latest: every device's last reading, though raw rows of most of the year are gone.
    withDb(path, (db) => {
      const rows = db
        .prepare("SELECT device, ts FROM latest WHERE metric = 'temperature' ORDER BY device")
        .all() as { device: string; ts: number }[];
      expect(rows.map((r) => r.device)).toEqual([...DEVICES].sort());
      for (const r of rows) expect(r.ts).toBeGreaterThan(lastTs - PER_DAY * 3000);
    });
    const metrics = await daemon.metrics();
    expect(metricValue(metrics, 'mqlite_db_budget_bytes')).toBe(BUDGET);
    expect(metricValue(metrics, 'mqlite_retention_budget_unmet')).toBe(0);
    expect(metricValue(metrics, 'mqlite_oldest_raw_age_seconds')).toBeLessThanOrEqual(200 * 86_400 + 60);
    expect(metricValue(metrics, 'mqlite_purged_rows_total', { tier: 'raw' })).toBe(total - kept);
    expect(await daemon.stop()).toBe(0);
  }, 240_000);
});
