/**
 * Keepalive while the queue is full (issues #11, #16): mqlite stops reading the broker's socket
 * when its queue is full, so the broker's PINGRESP waits behind the messages in flight. MQTT.js
 * would take that for a dead connection, reconnect, and have the broker send every unacknowledged
 * message again. Here a Mosquitto (started by the test, keepalive 5 s) holds far more in flight than
 * a small queue and a slow writer (an fsync per 5 messages) take in a keepalive, and the daemon
 * must ride it out on one connection: no reconnect, no redelivery, every message stored once. And
 * the other side: a link that goes silent while reading is held is still given up by keepalive.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, logsWithMsg } from '../helpers/daemon-fixture.js';
import { metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startPublisher } from '../helpers/resilient-publisher.js';
import { tmpDir } from '../helpers/tmp.js';
import { countMessages, allOnce, exactlyOnceSummary } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const DEVICES = 20;
const PER_DEVICE = 1000;
const N = DEVICES * PER_DEVICE;
const STALL_PING_LOG = 'keepalive timeout while reading waits for the queue: pinging again';
const CLIENT_ID = `mqlite-ovl-${process.pid}`;

describe('overload: keepalive while the queue is full', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(name: string, viaProxy: boolean) {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const mosquitto = await startMosquitto({ persistence: false });
    cleanups.push(() => mosquitto.stop());
    const proxy = viaProxy ? await startTcpProxy({ host: '127.0.0.1', port: mosquitto.port }) : undefined;
    if (proxy) cleanups.push(() => proxy.stop());
    const clientId = `${CLIENT_ID}-${name}`;
    const config = configArgs(tmp.dir, {
      broker: { url: proxy?.url ?? mosquitto.url, clientId, keepaliveSeconds: 5 },
      subscribe: { topics: [`${name}/#`], qos: 1 },
      // A small queue and an fsync per 5 messages: the writer, not the broker, sets the pace.
      queue: { maxMessages: 50 },
      batch: { maxBatch: 5 },
      // Long enough to wait out the write lock the first test holds: the writer waits, not fails.
      db: { path: db, synchronous: 'FULL', busyTimeoutMs: 60_000 },
    });
    const daemon = await startDaemon([...config, '--http', '127.0.0.1:0']);
    cleanups.push(() => daemon.kill9());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');
    // The devices publish to Mosquitto directly: only the daemon's link goes through the proxy.
    const publisher = await startPublisher({
      url: mosquitto.url,
      devices: DEVICES,
      perDevice: PER_DEVICE,
      prefix: name,
    });
    cleanups.push(() => publisher.stop());
    const connects = (): number =>
      mosquitto
        .log()
        .split('\n')
        .filter((l) => l.includes('New client connected') && l.includes(` as ${clientId} `)).length;
    return { db, daemon, publisher, proxy, connects };
  }

  it('stays on one connection while reading waits for the writer: nothing redelivered, all stored once', async () => {
    const { db, daemon, publisher, connects } = await setup('ovl', false);
    // Make the writer slow for certain, whatever the disk: once the queue is full, another
    // connection (a backup, say) holds the write lock for longer than the keepalive's 1.5 × 5 s.
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_queue_messages') >= 50,
      'the queue full',
      60_000,
      20,
    );
    const locker = new Database(db);
    locker.exec('BEGIN IMMEDIATE');
    await sleep(10_000);
    locker.exec('COMMIT');
    locker.close();
    await publisher.done; // Mosquitto holds them all now; the daemon reads them at the writer's pace
    await waitFor(() => countMessages(db) >= N, `${N} rows`, 120_000, 100);

    const metrics = await daemon.metrics();
    console.log(
      `reconnects ${metricValue(metrics, 'mqlite_reconnects_total')}, redeliveries ${metricValue(metrics, 'mqlite_messages_duplicate_total')}, acks dropped ${metricValue(metrics, 'mqlite_acks_dropped_total')}`,
    );
    expect(metricValue(metrics, 'mqlite_reconnects_total')).toBe(0);
    expect(metricValue(metrics, 'mqlite_messages_duplicate_total')).toBe(0);
    expect(metricValue(metrics, 'mqlite_acks_dropped_total')).toBe(0);
    // The premise: reading stayed held past a keepalive timeout at least once.
    expect(logsWithMsg(daemon, STALL_PING_LOG).length).toBeGreaterThan(0);
    expect(await daemon.stop()).toBe(0);
    // The broker's side: one connection from the daemon, never timed out or replaced.
    expect(connects()).toBe(1);
    expect(exactlyOnceSummary(db, publisher.names, PER_DEVICE)).toEqual(allOnce(N));
  });

  it('a link that goes silent while reading is held is still given up: reconnect, all stored once', async () => {
    const { db, daemon, publisher, proxy, connects } = await setup('ovlcut', true);
    // Wait until reading is held (the queue full), then the link goes silent: what had arrived is
    // still read, so the hold moves on for a while, then ends, and the keepalive must fire.
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_queue_messages') >= 50,
      'the queue full',
      60_000,
      20,
    );
    expect(proxy?.stall()).toBe(1);
    const stalledAt = Date.now();
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_reconnects_total') >= 1,
      'a reconnect after the silent link',
      120_000,
      200,
    );
    console.log(
      `silent link given up after ${Date.now() - stalledAt} ms, ${logsWithMsg(daemon, STALL_PING_LOG).length} re-ping(s) logged`,
    );
    // Given up once: by the daemon's keepalive, or by the broker's own keepalive closing its side
    // first (Mosquitto drops a client silent for 1.5 × keepalive; the proxy passes the reset on).
    const disconnects = logsWithMsg(daemon, 'disconnected from broker').map((l) => l.reason);
    expect(disconnects).toHaveLength(1);
    expect(['Keepalive timeout', 'read ECONNRESET']).toContain(disconnects[0]);
    await publisher.done;
    await waitFor(() => countMessages(db) >= N, `${N} rows`, 120_000, 100);
    expect(metricValue(await daemon.metrics(), 'mqlite_reconnects_total')).toBe(1);
    expect(await daemon.stop()).toBe(0);
    expect(connects()).toBe(2);
    expect(exactlyOnceSummary(db, publisher.names, PER_DEVICE)).toEqual(allOnce(N));
  });
});
