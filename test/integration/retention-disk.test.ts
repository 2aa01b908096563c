/**
 * A real 16 MiB file system (tmpfs), filled to the end by the daemon's own data.
 * With a budget (db.minFreeBytes), ingestion goes on for ~3x the volume: every message is
 * acknowledged, only the oldest raw rows go, the rollups count every one. Without a budget, as
 * before: SQLITE_FULL, no acknowledgements (backpressure), and once space returns everything
 * commits; nothing acknowledged is lost.
 */
import { statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, connectClient, count, rollupsCurrent } from '../helpers/daemon-fixture.js';
import { metricValue, startEmbeddedDaemon } from '../helpers/daemon-process.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 ** 2;

/** A Tasmota energy plug's tele/<topic>/SENSOR (tasmota.github.io/docs/JSON-Status-Responses), plus seq. */
/**
 * Tasmota's `Time` is the payload timestamp (the tasmota preset): start a day ago, so that at one
 * second per message every one stays within raw retention (30 d) and none is in the future.
 */
const TIME_BASE_MS = Date.now() - 86_400_000;

function tasmota(seq: number): string {
  return JSON.stringify({
    Time: new Date(TIME_BASE_MS + seq * 1000).toISOString().slice(0, 19),
    ENERGY: {
      TotalStartTime: '2026-01-12T10:31:05',
      Total: 123.456 + seq / 1000,
      Yesterday: 1.234,
      Today: 0.567,
      Period: 2,
      Power: 100 + (seq % 50),
      ApparentPower: 120,
      ReactivePower: 66,
      Factor: 0.83,
      Voltage: 230,
      Current: 0.52,
    },
    seq,
  });
}

const PLUGS = ['washer', 'dryer', 'fridge', 'boiler'];

describe('retention on a real small disk', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(db: Record<string, unknown>) {
    const fs = mountTmpfs(16);
    cleanups.push(fs.cleanup);
    const path = join(fs.dir, 'mqlite.db');
    const daemon = await startEmbeddedDaemon(
      path,
      configArgs(fs.dir, {
        embedded: { allowAnonymous: true },
        db,
        batch: { retryBaseMs: 20, retryCapMs: 500 },
        retention: { checkIntervalMs: 1000 },
      }),
    );
    cleanups.push(() => daemon.stop());
    const client = await connectClient(`mqtt://127.0.0.1:${daemon.broker!.port}`, { clientId: 'plugs' });
    cleanups.push(() => client.endAsync(true));
    return { dir: fs.dir, path, daemon, client };
  }

  /** Publishes seq from..to-1 at QoS 1, `wave` at a time; acked() counts PUBACKs. */
  function publish(client: MqttClient, from: number, to: number, wave = 500) {
    let acked = 0;
    const all = (async () => {
      for (let s = from; s < to; s += wave) {
        const sends: Promise<unknown>[] = [];
        for (let k = s; k < Math.min(to, s + wave); k++) {
          const topic = `tele/${PLUGS[k % PLUGS.length]}/SENSOR`;
          sends.push(client.publishAsync(topic, tasmota(k), { qos: 1 }).then(() => acked++));
        }
        await Promise.all(sends);
      }
    })();
    return { all, acked: () => acked };
  }

  const freeBytes = (dir: string) => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };

  it('with a budget: ingestion goes on far past the size of the disk, only the oldest raw rows go', async () => {
    const { dir, path, daemon, client } = await setup({ minFreeBytes: '4MiB' });
    const total = 60_000;
    const run = publish(client, 0, total);
    // Polled rather than only awaited, so that a stall fails saying how far it got.
    await waitFor(() => run.acked() === total, `all ${total} acknowledged`, 180_000, 200);
    await run.all;
    await waitFor(async () => metricValue(await daemon.metrics(), 'mqlite_db_freelist_bytes') >= 0, 'a pass');
    const kept = count(path, 'SELECT count(*) FROM messages');
    expect(kept).toBeGreaterThan(1000);
    expect(kept).toBeLessThan(total / 2);
    // Oldest first: the newest `kept` messages are there, contiguous up to the last one.
    expect(count(path, "SELECT max(json_extract(payload, '$.seq')) FROM messages")).toBe(total - 1);
    expect(count(path, "SELECT min(json_extract(payload, '$.seq')) FROM messages")).toBe(total - kept);
    // Rollups count every message, though most raw rows are gone.
    await waitFor(() => rollupsCurrent(path), 'latest and the rollups written (they lag about a second)');
    expect(count(path, "SELECT sum(count) FROM readings_1h WHERE metric = 'ENERGY.Power'")).toBe(total);
    expect(count(path, 'SELECT count(*) FROM dead_letters')).toBe(0);
    expect(freeBytes(dir)).toBeGreaterThan(0);
    const metrics = await daemon.metrics();
    expect(metricValue(metrics, 'mqlite_purged_rows_total', { tier: 'raw' })).toBe(total - kept);
    expect(metricValue(metrics, 'mqlite_retention_budget_unmet')).toBe(0);
    // The floor kept the disk from filling: not one commit failed.
    expect(metricValue(metrics, 'mqlite_commit_errors_total')).toBe(0);
    expect(await daemon.stop()).toBe(0);
  }, 240_000);

  it('without a budget: SQLITE_FULL, backpressure, and everything commits once space returns', async () => {
    const { dir, path, daemon, client } = await setup({ minFreeBytes: 0 });
    // Another program's file takes part of the disk; the daemon fills the rest.
    const filler = join(dir, 'other-program.log');
    writeFileSync(filler, Buffer.alloc(8 * MiB, 1));
    // ~11 MB of rows: more than the 8 MiB left, less than the whole disk.
    const total = 16_000;
    const run = publish(client, 0, total);
    await waitFor(
      async () =>
        metricValue(await daemon.metrics(), 'mqlite_commit_errors_total', { code: 'SQLITE_FULL' }) >= 3,
      'commits failing with SQLITE_FULL',
      120_000,
    );
    const ackedWhileFull = run.acked();
    expect(ackedWhileFull).toBeLessThan(total);
    // Backpressure: nothing more is acknowledged; what was acknowledged is stored.
    await waitFor(
      async () =>
        metricValue(await daemon.metrics(), 'mqlite_commit_errors_total', { code: 'SQLITE_FULL' }) >= 6,
      'more failed retries',
    );
    expect(run.acked()).toBe(ackedWhileFull);
    expect(count(path, "SELECT count(DISTINCT json_extract(payload, '$.seq')) FROM messages")).toBe(
      ackedWhileFull,
    );
    expect((await daemon.readyz()).status).toBe(503);
    // Nothing was purged: no budget, no deletion.
    expect(metricValue(await daemon.metrics(), 'mqlite_purged_rows_total', { tier: 'raw' })).toBe(0);

    // Space returns (the other program's file goes): everything held commits and is acknowledged.
    unlinkSync(filler);
    await run.all;
    expect(run.acked()).toBe(total);
    await waitFor(async () => (await daemon.readyz()).status === 200, 'ready again');
    expect(count(path, "SELECT count(DISTINCT json_extract(payload, '$.seq')) FROM messages")).toBe(total);
    expect(await daemon.stop()).toBe(0);
  }, 240_000);
});
