/**
 * Broker restart mid-stream (issue 3): Mosquitto with persistence is stopped (SIGTERM, which
 * writes its persistence file) and started again on the same port and data directory while
 * devices publish. The daemon must reconnect on its own with its backoff, resume its session,
 * and keep receiving after every restart (never "connected but deaf"); at the end every
 * message is stored exactly once. Replay a failure with MQLITE_TEST_SEED=<logged seed>.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, testRandom, within } from '../helpers/chaos.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { startPublisher } from '../helpers/resilient-publisher.js';
import { tmpDir } from '../helpers/tmp.js';
import { allOnce, countMessages, exactlyOnceSummary } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const DEVICES = 10;
const PER_DEVICE = 1000;
const N = DEVICES * PER_DEVICE;
const RESTARTS = 2;
/** Paced so the stream outlasts the restarts (~8 s of publishing, outages excluded). */
const RATE_PER_SECOND = 1250;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function reconnects(daemon: DaemonProcess): Promise<number> {
  return metricValue(await daemon.metrics(), 'mqlite_reconnects_total');
}

describe('Mosquitto restarted mid-stream', () => {
  it('the daemon reconnects by itself, keeps receiving after each restart, and stores all 10,000 exactly once', async () => {
    const rnd = testRandom('broker-restart');
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const mosquitto = await startMosquitto({ persistence: true });
    cleanups.push(() => mosquitto.stop());
    const daemon = await startDaemon([
      ...['--broker', mosquitto.url, '--db', db, '--http', '127.0.0.1:0'],
      ...['--qos', '1', '--client-id', 'mqlite-restart-test', '--topic', 'restart/#'],
    ]);
    cleanups.push(() => daemon.kill9());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');

    const publisher = await startPublisher({
      url: mosquitto.url,
      devices: DEVICES,
      perDevice: PER_DEVICE,
      prefix: 'restart',
      ratePerSecond: RATE_PER_SECOND,
    });
    cleanups.push(() => publisher.stop());

    const log: { afterMs: number; rowsBefore: number; ackedBefore: number; rowsAfter: number }[] = [];
    for (let r = 1; r <= RESTARTS; r++) {
      const afterMs = rnd.int(1000, 2000);
      await sleep(afterMs);
      const ackedBefore = publisher.acked;
      const rowsBefore = countMessages(db);
      // The stream is still flowing, so there is something left to arrive after the restart.
      expect(ackedBefore).toBeLessThan(N);
      await mosquitto.restart();
      await waitFor(
        async () => (await reconnects(daemon)) >= r,
        `daemon reconnected after restart ${r}`,
        60_000,
      );
      await waitFor(
        async () => (await daemon.readyz()).status === 200,
        `daemon ready after restart ${r}`,
        30_000,
      );
      const rowsAfter = countMessages(db);
      await waitFor(() => countMessages(db) > rowsAfter, `rows arriving after restart ${r}`, 30_000, 50);
      log.push({ afterMs, rowsBefore, ackedBefore, rowsAfter });
    }
    console.log(`restarts: ${JSON.stringify(log)}`);

    await within(publisher.done, 60_000, 'Mosquitto to acknowledge every publish');
    await waitFor(() => countMessages(db) >= N, `${N} rows`, 60_000, 100);
    const metrics = await daemon.metrics();
    console.log(
      `redeliveries deduplicated: ${metricValue(metrics, 'mqlite_messages_duplicate_total')}; ` +
        `publisher resent ${publisher.sent - publisher.published}`,
    );
    expect(metricValue(metrics, 'mqlite_reconnects_total')).toBe(RESTARTS);
    expect(await daemon.stop()).toBe(0);

    expect(exactlyOnceSummary(db, publisher.names, PER_DEVICE)).toEqual(allOnce(N));
  });
});
