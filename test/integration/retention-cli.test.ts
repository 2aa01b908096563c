/**
 * `mqlite purge` and `mqlite vacuum` beside a running daemon: they take the write lock in small
 * steps, so the daemon keeps committing (every publish acknowledged and stored) while they run.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, connectClient, count } from '../helpers/daemon-fixture.js';
import { runCli, startEmbeddedDaemon } from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';

const DAY = 86_400_000;

/** A Shelly H&T as its gen2 firmware reports it (shelly-api-docs: NotifyStatus), with a ts. */
function shelly(i: number, ts: number): string {
  return JSON.stringify({
    src: 'shellyhtg3-84fce63e6a1c',
    method: 'NotifyStatus',
    params: { 'temperature:0': { id: 0, tC: 21.4 + (i % 5) / 10 }, 'humidity:0': { id: 0, rh: 48 } },
    ts,
  });
}

describe('purge and vacuum commands', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('purge --older-than and vacuum run beside the daemon, which keeps storing', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, 'mqlite.db');
    const config = configArgs(tmp.dir, {
      embedded: { allowAnonymous: true },
      retention: { raw: 'forever', checkIntervalMs: 3_600_000 },
      db: { minFreeBytes: 0 },
    });
    const daemon = await startEmbeddedDaemon(path, config);
    cleanups.push(() => daemon.stop());
    const client = await connectClient(`mqtt://127.0.0.1:${daemon.broker!.port}`, { clientId: 'shelly' });
    cleanups.push(() => client.endAsync(true));

    // 6000 readings over the last 60 days, oldest first, none on the 30-day boundary.
    const now = Date.now();
    const old: Promise<unknown>[] = [];
    for (let i = 0; i < 6000; i++) {
      old.push(
        client.publishAsync('shellies/ht-1/events/rpc', shelly(i, now - 60 * DAY + i * 864_000 + 432_000), {
          qos: 1,
        }),
      );
    }
    await Promise.all(old);
    const olderThan30d = count(path, 'SELECT count(*) FROM messages WHERE ts < ?', now - 30 * DAY);
    expect(olderThan30d).toBeGreaterThan(2900);

    // While the command runs, the daemon keeps taking messages (distinct timestamps: a device's
    // payload timestamp identifies its message, so equal ones would count as redeliveries).
    let acked = 0;
    const live = (async () => {
      for (let i = 0; i < 40; i++) {
        const wave = [];
        for (let k = 0; k < 50; k++)
          wave.push(client.publishAsync('shellies/ht-2/events/rpc', shelly(k, now + i * 50 + k), { qos: 1 }));
        await Promise.all(wave);
        acked += wave.length;
      }
    })();
    const purge = await runCli(['purge', '--older-than', '30d', ...config, '--db', path], {}, 60_000);
    await live;
    expect(purge.stderr).toBe('');
    expect(purge.code).toBe(0);
    expect(purge.stdout).toMatch(/^purged \d+ raw rows older than /);
    expect(acked).toBe(2000);
    expect(count(path, 'SELECT count(*) FROM messages WHERE ts < ?', now - 30 * DAY - 60_000)).toBe(0);
    expect(count(path, 'SELECT count(*) FROM messages')).toBe(6000 - olderThan30d + 2000);
    // Rollups keep counting what was purged.
    expect(count(path, "SELECT sum(count) FROM readings_1h WHERE metric = 'params.temperature:0.tC'")).toBe(
      8000,
    );

    const vacuum = await runCli(['vacuum', ...config, '--db', path], {}, 60_000);
    expect(vacuum.code).toBe(0);
    expect(vacuum.stdout).toMatch(/^vacuum: [\d.]+ MB given back to the file system/);
    expect(count(path, 'PRAGMA freelist_count')).toBeLessThan(10);

    const bad = await runCli(['purge', '--older-than', 'soon', '--db', path]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('purge --older-than: expected a duration like "30d" or "12h", got "soon"');
    expect(await daemon.stop()).toBe(0);
  }, 180_000);
});
