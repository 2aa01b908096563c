/**
 * Link cut (issue 3): the daemon reaches Mosquitto through a TCP proxy in the test, which
 * resets the connection at seeded random moments mid-stream, and once refuses new connections
 * for a few seconds. PUBACKs held for commit die with their connection and the broker
 * redelivers; the daemon reconnects by itself, /readyz reports 503 while it cannot reach the
 * broker and 200 again after, rows keep arriving after every cut, and at the end every message
 * is stored exactly once. A second test stalls the link silently (no reset, no FIN): only the
 * daemon's keepalive can tell, and it must. Replay a failure with MQLITE_TEST_SEED=<seed>.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, testRandom, within } from '../helpers/chaos.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { type RunningPublisher, startPublisher } from '../helpers/resilient-publisher.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { tmpDir } from '../helpers/tmp.js';
import { allOnce, countMessages, exactlyOnceSummary } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const DEVICES = 10;
const PER_DEVICE = 1000;
const N = DEVICES * PER_DEVICE;
const CUTS = 3;
/** Paced so the stream outlasts the cuts and the refusal (~10 s of publishing). */
const RATE_PER_SECOND = 1000;

/**
 * Backoff capped at 1 s and reset after 2 s of stable connection, so the retries after the
 * refusal stay short. With the defaults (cap 30 s, stable 60 s) the attempts piling up over
 * several cuts would let one retry wait up to 30 s: correct, but slow for a test.
 */
const CONFIG = `
broker:
  reconnect:
    baseMs: 100
    capMs: 1000
    stableMs: 2000
`;
/** For the silent link: the smallest keepalive allowed, so the dead link is noticed in ~7.5 s. */
const SHORT_KEEPALIVE = `${CONFIG}  keepaliveSeconds: 5
`;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function reconnects(daemon: DaemonProcess): Promise<number> {
  return metricValue(await daemon.metrics(), 'mqlite_reconnects_total');
}

async function readyStatus(daemon: DaemonProcess): Promise<number> {
  return (await daemon.readyz()).status;
}

/** Rows keep arriving: the count grows past what it is now. */
/**
 * Rows keep arriving, or all `total` are already in: on a quiet machine the backlog the broker
 * held during an outage can be stored before this is called (the caller has seen, by then, that
 * fewer than `total` were acknowledged when the link went down).
 */
async function flowing(db: string, what: string, total: number): Promise<void> {
  const rows = countMessages(db);
  await waitFor(
    () => {
      const n = countMessages(db);
      return n > rows || n >= total;
    },
    what,
    30_000,
    50,
  );
}

interface Setup {
  db: string;
  daemon: DaemonProcess;
  proxy: TcpProxy;
  publisher: RunningPublisher;
}

/** Mosquitto, the proxy in front of it, the daemon behind the proxy, devices publishing directly. */
async function setup(name: string, config: string, perDevice: number): Promise<Setup> {
  const tmp = tmpDir();
  cleanups.push(tmp.cleanup);
  const db = join(tmp.dir, 'mqlite.db');
  const configFile = join(tmp.dir, 'mqlite.yaml');
  writeFileSync(configFile, config);
  const mosquitto = await startMosquitto();
  cleanups.push(() => mosquitto.stop());
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: mosquitto.port });
  cleanups.push(() => proxy.stop());
  const daemon = await startDaemon([
    ...['--config', configFile, '--broker', proxy.url, '--db', db, '--http', '127.0.0.1:0'],
    ...['--qos', '1', '--client-id', `mqlite-${name}-test`, '--topic', `${name}/#`],
  ]);
  cleanups.push(() => daemon.kill9());
  await waitFor(async () => (await readyStatus(daemon)) === 200, 'daemon subscribed');
  // The devices publish to Mosquitto directly: only the daemon's link is cut.
  const publisher = await startPublisher({
    url: mosquitto.url,
    devices: DEVICES,
    perDevice,
    prefix: name,
    ratePerSecond: RATE_PER_SECOND,
  });
  cleanups.push(() => publisher.stop());
  return { db, daemon, proxy, publisher };
}

/** Publisher done, every row stored, clean shutdown, and each (device, seq) exactly once. */
async function expectAllExactlyOnce(s: Setup, perDevice: number): Promise<void> {
  const n = DEVICES * perDevice;
  await within(s.publisher.done, 60_000, 'Mosquitto to acknowledge every publish');
  await waitFor(() => countMessages(s.db) >= n, `${n} rows`, 60_000, 100);
  const dups = metricValue(await s.daemon.metrics(), 'mqlite_messages_duplicate_total');
  console.log(`redeliveries deduplicated: ${dups}`);
  expect(await s.daemon.stop()).toBe(0);
  expect(exactlyOnceSummary(s.db, s.publisher.names, perDevice)).toEqual(allOnce(n));
}

describe('link to the broker cut mid-stream', () => {
  it('the daemon reconnects after every cut, /readyz follows the link, and all 10,000 are stored exactly once', async () => {
    const rnd = testRandom('link-cut');
    const s = await setup('link', CONFIG, PER_DEVICE);
    const { db, daemon, proxy, publisher } = s;

    let expectedReconnects = 0;
    const cuts: { afterMs: number; rows: number; acked: number }[] = [];
    for (let c = 1; c <= CUTS; c++) {
      const afterMs = rnd.int(600, 1500);
      await sleep(afterMs);
      cuts.push({ afterMs, rows: countMessages(db), acked: publisher.acked });
      expect(publisher.acked).toBeLessThan(N); // still mid-stream
      expect(proxy.cut()).toBe(1);
      expectedReconnects++;
      await waitFor(async () => (await reconnects(daemon)) >= expectedReconnects, `reconnect after cut ${c}`);
      await flowing(db, `rows arriving after cut ${c}`, N);
    }

    // A longer outage: the link is down and new connections are refused for a few seconds.
    const outageMs = rnd.int(2000, 3000);
    console.log(`cuts: ${JSON.stringify(cuts)}; outage ${outageMs} ms`);
    expect(publisher.acked).toBeLessThan(N);
    proxy.refuse();
    expect(proxy.cut()).toBe(1);
    await waitFor(async () => (await readyStatus(daemon)) === 503, '/readyz 503 while the link is down');
    // /metrics answers are reused for up to 1 s (a scrape storm must not starve ingestion).
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_broker_connected') === 0,
      'mqlite_broker_connected 0 while the link is down',
    );
    const acceptedBefore = proxy.accepted;
    const outageEnds = Date.now() + outageMs;
    while (Date.now() < outageEnds) {
      expect(await readyStatus(daemon)).toBe(503);
      expect(metricValue(await daemon.metrics(), 'mqlite_broker_connected')).toBe(0);
      await sleep(200);
    }
    expect(proxy.accepted).toBe(acceptedBefore); // every attempt meanwhile was refused
    proxy.accept();
    expectedReconnects++;
    await waitFor(async () => (await readyStatus(daemon)) === 200, '/readyz 200 once the link is back');
    // /metrics may still show the render of up to 1 s ago: wait for the count to reach it.
    await waitFor(async () => (await reconnects(daemon)) >= expectedReconnects, 'reconnect after the outage');
    expect(await reconnects(daemon)).toBe(expectedReconnects);
    await flowing(db, 'rows arriving after the outage', N);

    await expectAllExactlyOnce(s, PER_DEVICE);
  });

  it('a silent link (no reset, no FIN) is detected by keepalive; the daemon reconnects and stores all exactly once', async () => {
    const rnd = testRandom('link-stall');
    const perDevice = 500;
    const s = await setup('stall', SHORT_KEEPALIVE, perDevice);
    const { db, daemon, proxy, publisher } = s;

    const afterMs = rnd.int(500, 1500);
    await sleep(afterMs);
    const rows = countMessages(db);
    console.log(`stall after ${afterMs} ms at ${rows} rows`);
    expect(publisher.acked).toBeLessThan(DEVICES * perDevice);
    expect(proxy.stall()).toBe(1);
    // The socket stays open: only the missing PINGRESP (1.5 x keepalive) reveals the dead link.
    // (The reconnect may be too quick for a /readyz poll to see the 503 in between.)
    await waitFor(async () => (await reconnects(daemon)) >= 1, 'reconnect after the keepalive timeout');
    const disconnects = daemon.logs.filter((l) => l.msg === 'disconnected from broker').map((l) => l.reason);
    expect(disconnects).toEqual(['Keepalive timeout']);
    await waitFor(async () => (await readyStatus(daemon)) === 200, '/readyz 200 after reconnecting');
    expect(await reconnects(daemon)).toBe(1);
    expect(proxy.accepted).toBe(2);
    await flowing(db, 'rows arriving after the reconnect', DEVICES * perDevice);

    await expectAllExactlyOnce(s, perDevice);
  });
});
