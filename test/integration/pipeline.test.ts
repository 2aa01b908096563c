/**
 * End to end through the real CLI: 10 devices × 1,000 messages at QoS 0 and QoS 1, via the
 * embedded broker, an external aedes and a Mosquitto the test starts. One contract, three
 * broker factories.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startAedes } from '../helpers/aedes-broker.js';
import {
  type DaemonProcess,
  metricValue,
  startDaemon,
  startEmbeddedDaemon,
} from '../helpers/daemon-process.js';
import { deviceName, publishDevices } from '../helpers/devices.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const DEVICES = 10;
const PER_DEVICE = 1000;
const TOTAL = DEVICES * PER_DEVICE;

interface Setup {
  daemon: DaemonProcess;
  /** Where the devices publish. */
  publishUrl: string;
  stop(): Promise<void>;
}

type Factory = (db: string, qos: 0 | 1) => Promise<Setup>;

const embedded: Factory = async (db, qos) => {
  const daemon = await startEmbeddedDaemon(db, ['--qos', String(qos)]);
  return { daemon, publishUrl: `mqtt://127.0.0.1:${daemon.broker!.port}`, stop: async () => {} };
};

function external(
  start: () => Promise<{ url: string; stop(): Promise<void> }>,
  extra: string[] = [],
): Factory {
  return async (db, qos) => {
    const broker = await start();
    const daemon = await startDaemon([
      '--broker',
      broker.url,
      '--db',
      db,
      '--http',
      '127.0.0.1:0',
      '--qos',
      String(qos),
      '--topic',
      'devices/#',
      ...extra,
    ]);
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon ready (subscribed)');
    return { daemon, publishUrl: broker.url, stop: () => broker.stop() };
  };
}

const modes: [string, Factory][] = [
  ['embedded aedes', embedded],
  // aedes speaks MQTT 3.1.1 only.
  ['external aedes', external(startAedes, ['--mqtt-version', '4'])],
  ['external Mosquitto', external(startMosquitto)],
];

describe.each(modes)('pipeline via %s', (_name, factory) => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.each([0, 1] as const)(
    'stores 10,000 messages from 10 devices at QoS %i exactly once, with their readings',
    async (qos) => {
      const tmp = tmpDir();
      cleanups.push(tmp.cleanup);
      const db = join(tmp.dir, 'mqlite.db');
      const setup = await factory(db, qos);
      cleanups.push(() => setup.stop());
      cleanups.push(async () => {
        await setup.daemon.stop();
      });

      await publishDevices({ url: setup.publishUrl, devices: DEVICES, perDevice: PER_DEVICE, qos });
      await waitFor(
        async () => metricValue(await setup.daemon.metrics(), 'mqlite_messages_written_total') >= TOTAL,
        'all rows committed',
      );
      expect(await setup.daemon.stop()).toBe(0);

      const sql = new Database(db, { readonly: true });
      try {
        expect(sql.prepare('SELECT count(*) AS n FROM messages').get()).toEqual({ n: TOTAL });
        const perDevice = sql
          .prepare(
            'SELECT device, count(*) AS n, count(DISTINCT ts) AS distinct_ts FROM messages GROUP BY device ORDER BY device',
          )
          .all();
        expect(perDevice).toEqual(
          Array.from({ length: DEVICES }, (_, i) => ({
            device: deviceName(i),
            n: PER_DEVICE,
            distinct_ts: PER_DEVICE,
          })),
        );
        // temp, hum and seq per message; ts is the timestamp, not a reading.
        const metrics = sql
          .prepare('SELECT metric, count(*) AS n FROM readings GROUP BY metric ORDER BY metric')
          .all();
        expect(metrics).toEqual([
          { metric: 'hum', n: TOTAL },
          { metric: 'seq', n: TOTAL },
          { metric: 'temp', n: TOTAL },
        ]);
        const one = sql
          .prepare("SELECT value FROM readings WHERE device = ? AND metric = 'seq' ORDER BY ts")
          .pluck()
          .all(deviceName(3));
        expect(one).toEqual(Array.from({ length: PER_DEVICE }, (_, i) => i));
        expect(sql.prepare('SELECT count(*) AS n FROM dead_letters').get()).toEqual({ n: 0 });
        expect(sql.prepare('SELECT DISTINCT qos FROM messages').pluck().all()).toEqual([qos]);
      } finally {
        sql.close();
      }
    },
  );
});
