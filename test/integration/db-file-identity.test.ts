/**
 * The database file removed or moved under a running daemon, under QoS 1 load through its
 * embedded broker. An open SQLite connection keeps committing into the old inode; mqlite must
 * notice before acknowledging, not acknowledge that batch, and write it again into the file that
 * is at the path: every message published after the files went is in the new file, once.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, connectClient, count, logsWithMsg } from '../helpers/daemon-fixture.js';
import { metricValue, startDaemon, startEmbeddedDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const COMMIT_FAILED = 'commit failed: retrying with backoff, nothing is acknowledged meanwhile';
const TOTAL = 3000;
const WINDOW = 100;
const FILES = ['', '-wal', '-shm'];

/** Publishes 0..TOTAL-1 at QoS 1, WINDOW in flight; calls `at(i)` before publishing i. */
async function stream(client: MqttClient, at: (i: number) => void): Promise<void> {
  const baseTs = Date.now() - 60_000;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < TOTAL) {
      const i = next++;
      at(i);
      // A zigbee2mqtt-shaped reading; `i` identifies it in the database.
      const payload = JSON.stringify({
        ts: baseTs + i,
        i,
        temperature: 21.5,
        humidity: 48,
        linkquality: 120,
      });
      await client.publishAsync('zigbee2mqtt/kitchen', payload, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

describe('the database file taken away while the daemon writes', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const takeAway = {
    deleted: (path: string) => {
      for (const s of FILES) rmSync(`${path}${s}`, { force: true });
    },
    moved: (path: string) => {
      for (const s of FILES) if (existsSync(`${path}${s}`)) renameSync(`${path}${s}`, `${path}.old${s}`);
    },
  };

  for (const [how, act] of Object.entries(takeAway)) {
    it(`${how}: the batch written to the old file is not acked but written again to the new one`, async () => {
      const tmp = tmpDir();
      cleanups.push(tmp.cleanup);
      const path = join(tmp.dir, 'mqlite.db');
      const daemon = await startEmbeddedDaemon(
        path,
        configArgs(tmp.dir, { batch: { retryBaseMs: 20, retryCapMs: 200 } }),
      );
      cleanups.push(() => daemon.stop());
      const client = await connectClient(`mqtt://127.0.0.1:${daemon.broker!.port}`, {
        clientId: `file-${how}`,
        clean: false,
      });
      cleanups.push(() => client.endAsync(true));

      let firstAfter = -1;
      await stream(client, (i) => {
        if (i === 1000) {
          act(path);
          firstAfter = i; // published after the files were gone: cannot be in the old file
        }
      });
      // Every publish resolved, i.e. every message was acknowledged.
      expect(firstAfter).toBe(1000);

      const errors = metricValue(await daemon.metrics(), 'mqlite_commit_errors_total', {
        code: 'MQLITE_DB_FILE_REPLACED',
      });
      expect(errors).toBeGreaterThanOrEqual(1);
      const failed = logsWithMsg(daemon, COMMIT_FAILED);
      expect(JSON.stringify(failed)).toContain('no longer reachable');
      expect(await daemon.stop()).toBe(0);

      expect(missingOrTwiceAfter(path, firstAfter)).toBe(0);
      expect(
        count(path, 'SELECT count(*) FROM readings WHERE metric = ?', 'temperature'),
      ).toBeGreaterThanOrEqual(TOTAL - firstAfter);
    });
  }

  it('subscriber mode (Mosquitto, persistent session): deleted under load, every later message lands once in the new file', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, 'mqlite.db');
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const daemon = await startDaemon([
      ...['--broker', mosquitto.url, '--db', path, '--http', '127.0.0.1:0'],
      ...['--qos', '1', '--client-id', 'mqlite-file-identity', '--topic', 'zigbee2mqtt/#'],
      ...configArgs(tmp.dir, { batch: { retryBaseMs: 20, retryCapMs: 200 } }),
    ]);
    cleanups.push(() => daemon.stop());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');
    const client = await connectClient(mosquitto.url, { clientId: 'file-subscriber-pub' });
    cleanups.push(() => client.endAsync(true));

    let firstAfter = -1;
    await stream(client, (i) => {
      if (i === 1000) {
        takeAway.deleted(path);
        firstAfter = i;
      }
    });
    const stored = () => {
      try {
        return count(
          path,
          "SELECT count(*) FROM messages WHERE json_extract(payload, '$.i') >= ?",
          firstAfter,
        );
      } catch {
        return 0; // the new file is not there, or not migrated, yet
      }
    };
    await waitFor(() => stored() >= TOTAL - firstAfter, 'every later message in the new file', 60_000);
    expect(
      metricValue(await daemon.metrics(), 'mqlite_commit_errors_total', { code: 'MQLITE_DB_FILE_REPLACED' }),
    ).toBeGreaterThanOrEqual(1);
    expect(await daemon.stop()).toBe(0);
    expect(missingOrTwiceAfter(path, firstAfter)).toBe(0);
  });
});

/** How many of firstAfter..TOTAL-1 are not in the file exactly once. */
function missingOrTwiceAfter(path: string, firstAfter: number): number {
  return count(
    path,
    `WITH RECURSIVE seq(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
         SELECT count(*) FROM seq
          WHERE (SELECT count(*) FROM messages WHERE json_extract(payload, '$.i') = seq.i) <> 1`,
    firstAfter,
    TOTAL,
  );
}
