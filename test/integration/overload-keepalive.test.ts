/**
 * Keepalive while the queue is full (issues #11, #16): mqlite stops reading the broker's socket
 * when its queue is full, so the broker's PINGRESP waits behind the messages in flight. MQTT.js
 * would take that for a dead connection, reconnect, and have the broker send every unacknowledged
 * message again. Here a Mosquitto (started by the test, keepalive 5 s) holds far more in flight than
 * a small queue and a slow writer (an fsync per 5 messages) take in a keepalive, and the daemon
 * must ride it out on one connection: no reconnect, no redelivery, every message stored once.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, logsWithMsg } from '../helpers/daemon-fixture.js';
import { metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
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

  it('stays on one connection while reading waits for the writer: nothing redelivered, all stored once', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const mosquitto = await startMosquitto({ persistence: false });
    cleanups.push(() => mosquitto.stop());
    const config = configArgs(tmp.dir, {
      broker: { url: mosquitto.url, clientId: CLIENT_ID, keepaliveSeconds: 5 },
      subscribe: { topics: ['ovl/#'], qos: 1 },
      queue: { maxMessages: 50 },
      batch: { maxBatch: 5 },
      db: { path: db, synchronous: 'FULL' },
    });
    const daemon = await startDaemon([...config, '--http', '127.0.0.1:0']);
    cleanups.push(() => daemon.kill9());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');

    const publisher = await startPublisher({
      url: mosquitto.url,
      devices: DEVICES,
      perDevice: PER_DEVICE,
      prefix: 'ovl',
    });
    cleanups.push(() => publisher.stop());
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
    const connects = mosquitto
      .log()
      .split('\n')
      .filter((l) => l.includes(`New client connected`) && l.includes(` as ${CLIENT_ID} `));
    expect(connects).toHaveLength(1);
    expect(exactlyOnceSummary(db, publisher.names, PER_DEVICE)).toEqual(allOnce(N));
  });
});
