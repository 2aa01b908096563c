/**
 * SQLite faults under the real daemon (embedded broker, QoS 1 publishers): another connection
 * holding the write lock (SQLITE_BUSY) and a full database (SQLITE_FULL, provoked with the
 * test hook MQLITE_TEST_MAX_PAGE_COUNT). In both, nothing is acknowledged while commits fail, one error
 * line is logged per episode, and everything commits once the fault is gone. (An unwritable
 * database path at start is covered in cli.test.ts.)
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, connectClient, count, logsWithMsg, sleep } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const COMMIT_FAILED = 'commit failed: retrying with backoff, nothing is acknowledged meanwhile';

describe('SQLite faults at daemon level', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(db: Record<string, unknown>, env: Record<string, string> = {}) {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, 'mqlite.db');
    const config = configArgs(tmp.dir, {
      db,
      batch: { retryBaseMs: 20, retryCapMs: 200 },
      embedded: { allowAnonymous: true },
    });
    const daemon = await startDaemon(
      ['--db', path, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...config],
      env,
    );
    cleanups.push(() => daemon.stop());
    const client = await connectClient(`mqtt://127.0.0.1:${daemon.broker!.port}`, {
      clientId: 'sqlite-fault-pub',
    });
    cleanups.push(() => client.endAsync(true)); // force: a failed test may leave publishes in flight
    return { daemon, path, client };
  }

  /** Publishes `n` QoS 1 messages at once; `acked()` counts the PUBACKs received so far. */
  function publishAll(client: MqttClient, n: number, padBytes: number, from = 0) {
    let acked = 0;
    const baseTs = Date.now() - 10_000;
    const all = Promise.all(
      Array.from({ length: n }, (_, k) => {
        const i = from + k;
        const payload = JSON.stringify({ ts: baseTs + i, i, pad: 'p'.repeat(padBytes) });
        return client.publishAsync('devices/d1/data', payload, { qos: 1 }).then(() => {
          acked++;
        });
      }),
    );
    return { all, acked: () => acked };
  }

  const errors = async (d: DaemonProcess, code: string) =>
    metricValue(await d.metrics(), 'mqlite_commit_errors_total', { code });

  it('another connection holds the write lock: no ack meanwhile, then all commit, nothing lost', async () => {
    const { daemon, path, client } = await setup({ busyTimeoutMs: 200 });
    await publishAll(client, 10, 10).all; // the pipeline works, the schema exists

    const locker = new Database(path);
    cleanups.push(() => locker.close());
    locker.exec('BEGIN IMMEDIATE'); // like a long write or a backup holding the lock
    const run = publishAll(client, 50, 10, 10);
    await waitFor(async () => (await errors(daemon, 'SQLITE_BUSY')) >= 3, 'commits failing with SQLITE_BUSY');
    await sleep(500);
    expect(run.acked()).toBe(0);
    expect(count(path, 'SELECT count(*) FROM messages')).toBe(10);
    expect((await daemon.readyz()).status).toBe(503);

    locker.exec('COMMIT');
    await run.all; // resolves only once every PUBACK came, i.e. after the commits
    expect(count(path, 'SELECT count(*) FROM messages')).toBe(60);
    expect(logsWithMsg(daemon, COMMIT_FAILED)).toHaveLength(1);
    expect(logsWithMsg(daemon, 'commits succeed again')).toHaveLength(1);
    await waitFor(async () => (await daemon.readyz()).status === 200, 'ready again');
    expect(await daemon.stop()).toBe(0);
    expect(count(path, 'SELECT count(*) FROM messages')).toBe(60);
  });

  it('disk full: commit errors counted, one error line, no acks; resumes when a retention job frees pages', async () => {
    // 56 pages of 4 KiB: the schema takes 21 (storage v2 and retention, with incremental auto-vacuum's
    // pointer map), and each of these 2 KiB messages about one: 20 fit, 50 do not, and once the first
    // 20 are deleted the batch of 30 does.
    // No budget (minFreeBytes: 0): a full disk means backpressure until space returns. With one,
    // the daemon purges instead (retention-disk.test.ts).
    const { daemon, path, client } = await setup({ minFreeBytes: 0 }, { MQLITE_TEST_MAX_PAGE_COUNT: '56' });
    await publishAll(client, 20, 2000).all;
    const run = publishAll(client, 30, 2000, 20); // 50 do not fit
    await waitFor(async () => (await errors(daemon, 'SQLITE_FULL')) >= 5, 'commits failing with SQLITE_FULL');
    const ackedWhileFull = run.acked();
    const stored = count(path, 'SELECT count(*) FROM messages');
    expect(stored).toBeGreaterThanOrEqual(20);
    expect(stored).toBeLessThan(50);
    await sleep(500);
    // Backpressure: nothing more is acknowledged, and what was acknowledged is stored.
    expect(run.acked()).toBe(ackedWhileFull);
    expect(20 + ackedWhileFull).toBe(stored);
    expect((await daemon.readyz()).status).toBe(503);
    expect(logsWithMsg(daemon, COMMIT_FAILED)).toHaveLength(1);

    // Space returns: another process deletes old rows; SQLite reuses the freed pages.
    const retention = new Database(path, { timeout: 5000 });
    cleanups.push(() => retention.close());
    const deleted = retention.prepare('DELETE FROM messages').run().changes;
    await run.all;
    expect(count(path, 'SELECT count(*) FROM messages')).toBe(50 - deleted);
    expect(count(path, 'SELECT count(*) FROM dead_letters')).toBe(0);
    expect(logsWithMsg(daemon, COMMIT_FAILED)).toHaveLength(1);
    expect(logsWithMsg(daemon, 'commits succeed again')).toHaveLength(1);
    expect(await daemon.stop()).toBe(0);
  });
  it('one row the database refuses (a user trigger) is split out: the rest of its batch commits', async () => {
    const { daemon, path, client } = await setup({});
    await publishAll(client, 1, 10).all; // schema exists
    const admin = new Database(path, { timeout: 5000 });
    cleanups.push(() => admin.close());
    admin.exec(`CREATE TRIGGER refuse_evil BEFORE INSERT ON messages WHEN NEW.topic = 'devices/evil/data'
                BEGIN SELECT RAISE(ABORT, 'refused by a site trigger'); END`);
    // Sent together, so that they share batches with the refused row.
    const baseTs = Date.now() - 5000;
    await Promise.all(
      Array.from({ length: 41 }, (_, i) =>
        client.publishAsync(
          i === 20 ? 'devices/evil/data' : 'devices/d2/data',
          JSON.stringify({ ts: baseTs + i, i }),
          { qos: 1 },
        ),
      ),
    );
    expect(count(path, "SELECT count(*) FROM messages WHERE device = 'd2'")).toBe(40);
    expect(
      count(
        path,
        "SELECT count(*) FROM dead_letters WHERE topic = 'devices/evil/data' AND reason = 'insert_failed'",
      ),
    ).toBe(1);
    expect(
      metricValue(await daemon.metrics(), 'mqlite_dead_letters_total', { reason: 'insert_failed' }),
    ).toBe(1);
    expect(await daemon.stop()).toBe(0);
  });
});
