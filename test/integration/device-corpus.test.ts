/**
 * The real-device corpus (test/fixtures/devices: zigbee2mqtt, Tasmota, Shelly, ESPHome, OwnTracks,
 * Home Assistant) published at QoS 1 through the embedded broker and through a Mosquitto the test
 * starts, into the daemon with no configuration but the time zone of the Tasmota clock: every
 * message is stored once, under the right device, with its readings and timestamp, and nothing is
 * dead-lettered.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { allMessages } from '../fixtures/devices/index.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { countMessages, readingsOfMessage } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const ZONE = 'America/New_York';

interface Setup {
  daemon: DaemonProcess;
  publishUrl: string;
  stop(): Promise<void>;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function embedded(args: string[]): Promise<Setup> {
  const daemon = await startDaemon([...args, '--listen', '127.0.0.1:0']);
  return { daemon, publishUrl: `mqtt://127.0.0.1:${daemon.broker!.port}`, stop: async () => {} };
}

async function mosquitto(args: string[]): Promise<Setup> {
  const broker = await startMosquitto();
  const daemon = await startDaemon([...args, '--broker', broker.url]);
  await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');
  return { daemon, publishUrl: broker.url, stop: () => broker.stop() };
}

describe.each([
  ['embedded broker', embedded],
  ['Mosquitto', mosquitto],
] as const)('real-device corpus via %s', (_name, setup) => {
  it('stores every message once, on the right device, with its readings and timestamp', async () => {
    const tmp = tmpDir('mqlite-corpus-');
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const config = join(tmp.dir, 'mqlite.yaml');
    writeFileSync(config, `timestamps:\n  zone: ${ZONE}\n`);
    const s = await setup(['--config', config, '--db', db, '--http', '127.0.0.1:0', '--qos', '1']);
    cleanups.push(() => s.stop());
    cleanups.push(() => s.daemon.stop());

    // A whole second just past, as a device clock stamps it.
    const base = Math.floor(Date.now() / 1000) * 1000 - 2000;
    const corpus = allMessages({ base, zone: ZONE });
    const client = await mqtt.connectAsync(s.publishUrl, {
      protocolVersion: 4,
      clientId: 'corpus-publisher',
    });
    cleanups.push(() => client.endAsync());
    for (const m of corpus) {
      await client.publishAsync(m.topic, m.payload, { qos: 1, retain: m.retain === true });
    }
    await waitFor(() => countMessages(db) >= corpus.length, `${corpus.length} messages stored`, 20_000, 50);
    const metrics = await s.daemon.metrics();
    expect(await s.daemon.stop()).toBe(0);

    const d = new Database(db, { readonly: true });
    try {
      expect(d.prepare('SELECT reason, topic FROM dead_letters').all()).toEqual([]);
      expect(countMessages(db)).toBe(corpus.length);
      const find = d.prepare(
        'SELECT id, device, ts, received_at FROM messages WHERE topic = ? AND payload = ?',
      );
      for (const m of corpus) {
        const rows = find.all(m.topic, m.payload) as {
          id: number;
          device: string | null;
          ts: number;
          received_at: number;
        }[];
        const where = `${m.ecosystem}: ${m.topic} ${m.payload.slice(0, 50)}`;
        expect(rows, where).toHaveLength(1);
        const row = rows[0]!;
        expect(row.device, where).toBe(m.device);
        expect(row.ts, where).toBe(m.ts ?? row.received_at);
        expect(readingsOfMessage(d, row.id), where).toEqual(m.readings);
      }
    } finally {
      d.close();
    }
    expect(metricValue(metrics, 'mqlite_messages_duplicate_total')).toBe(0);
  });
});
