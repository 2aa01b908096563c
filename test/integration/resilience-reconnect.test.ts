/**
 * Reconnect through the real CLI against an external aedes (MQTT 3.1.1, sessions in memory
 * only: after each restart the broker knows no subscription, so a client that does not
 * resubscribe is "connected but deaf"). The broker is down when the daemon starts, then is
 * stopped and started again several times under a running stream. Backoff cap: 2 s.
 * (Mosquitto restarts, kill -9 and cut links are in broker-restart, kill and link-cut tests.)
 */
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, connectClient, count, sleep, withDb } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, startDaemon } from '../helpers/daemon-process.js';
import { reservePort, restartableAedes } from '../helpers/restartable-aedes.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const CAP_MS = 2000;
/**
 * Slack on top of the cap for connecting and subscribing on a loaded 2-core CI machine. Loose on
 * purpose: it tells "retries within the cap" from the minutes-long delays this guards against.
 */
const SLACK_MS = 5000;
const CLIENT_ID = 'mqlite-under-test';

describe('reconnect with backoff against aedes (no persistence)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(brokerUp: boolean) {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const aedes = restartableAedes(await reservePort());
    cleanups.push(() => aedes.stop());
    if (brokerUp) await aedes.start();
    const config = configArgs(tmp.dir, {
      broker: {
        reconnect: { baseMs: 50, factor: 2, capMs: CAP_MS },
        connectTimeoutMs: 2000,
        keepaliveSeconds: 5,
      },
    });
    const daemon = await startDaemon([
      '--broker',
      aedes.url,
      '--mqtt-version',
      '4',
      '--client-id',
      CLIENT_ID,
      '--topic',
      'devices/#',
      '--db',
      db,
      '--http',
      '127.0.0.1:0',
      '--log-level',
      'debug',
      ...config,
    ]);
    cleanups.push(() => daemon.stop());
    return { aedes, daemon, db };
  }

  async function publishMarked(url: string, device: string, n: number): Promise<void> {
    const client = await connectClient(url, { clientId: `pub-${device}` });
    try {
      for (let i = 0; i < n; i++)
        await client.publishAsync(`devices/${device}/data`, JSON.stringify({ i }), { qos: 1 });
    } finally {
      await client.endAsync();
    }
  }

  const storedFor = (db: string, device: string) =>
    count(db, 'SELECT count(*) FROM messages WHERE device = ?', device);
  const reconnectLines = (d: DaemonProcess) => d.logs.filter((l) => l.msg === 'reconnect scheduled');

  it('broker down at start: stays up, /readyz 503, logs attempts sparsely; broker up: ready and storing', async () => {
    const { aedes, daemon, db } = await setup(false);
    const r = await daemon.readyz();
    expect(r.status).toBe(503);
    expect((JSON.parse(r.body) as { failing: string[] }).failing).toEqual(
      expect.arrayContaining(['connected', 'subscribed']),
    );

    // Let it retry for a while: until its 9th attempt is scheduled (debug lines show every one).
    const startedAt = daemon.logs.findIndex((l) => l.msg === 'mqlite started');
    await waitFor(
      () => reconnectLines(daemon).some((l) => (l.attempt as number) >= 8),
      '9 reconnect attempts',
      30_000,
    );
    const attempts = Math.max(...reconnectLines(daemon).map((l) => l.attempt as number)) + 1;
    // What a user sees at the default level: info and above, one line per power of two of the
    // attempts for the schedule and for the errors, not one per attempt.
    const visible = daemon.logs.slice(startedAt + 1).filter((l) => (l.level as number) >= 30);
    expect(visible.length).toBeLessThanOrEqual(2 * (Math.floor(Math.log2(attempts)) + 1) + 2);
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.length).toBeLessThan(attempts);
    expect(daemon.proc.exitCode).toBeNull();
    expect((await daemon.readyz()).status).toBe(503);

    const upAt = Date.now();
    await aedes.start();
    await waitFor(
      async () => (await daemon.readyz()).status === 200,
      'ready once the broker is up',
      CAP_MS + SLACK_MS,
    );
    expect(Date.now() - upAt).toBeLessThan(CAP_MS + SLACK_MS);
    await publishMarked(aedes.url, 'first', 50);
    await waitFor(() => storedFor(db, 'first') === 50, 'the 50 messages stored');
    expect(reconnectLines(daemon).every((l) => (l.delayMs as number) <= CAP_MS)).toBe(true);
  });

  it('broker restarted 3 times mid-stream: resubscribes each time, data flows within the cap, nothing acked is lost', async () => {
    const { aedes, daemon, db } = await setup(true);
    await waitFor(async () => (await daemon.readyz()).status === 200, 'ready');

    // A steady QoS 1 stream that survives the restarts (its client reconnects on its own).
    const stream: MqttClient = await connectClient(aedes.url, {
      clientId: 'pub-stream',
      reconnectPeriod: 100,
    });
    let seq = 0;
    const timer = setInterval(() => {
      stream.publish('devices/stream/data', JSON.stringify({ seq: seq++ }), { qos: 1 }, () => undefined);
    }, 5);
    cleanups.push(() => {
      clearInterval(timer);
      stream.end(true);
    });

    for (let cycle = 0; cycle < 3; cycle++) {
      await sleep(700); // mid-stream
      await aedes.stop();
      await sleep(300);
      const upAt = Date.now();
      await aedes.start();
      // The new broker has no session: only a resubscribe brings messages to the daemon again.
      await aedes.subscribedTo('devices/any/data', CAP_MS + SLACK_MS);
      expect(Date.now() - upAt).toBeLessThan(CAP_MS + SLACK_MS);
      await publishMarked(aedes.url, `cycle-${cycle}`, 20);
      await waitFor(
        () => storedFor(db, `cycle-${cycle}`) === 20,
        `messages published after restart ${cycle + 1} stored`,
      );
    }
    clearInterval(timer);
    await sleep(500);
    expect(daemon.proc.exitCode).toBeNull();
    expect((await daemon.readyz()).status).toBe(200);

    // The daemon acks only after commit: every payload it acknowledged to the broker is stored.
    const acked = new Set(aedes.ackedBy(CLIENT_ID));
    expect(acked.size).toBeGreaterThan(100);
    expect(await daemon.stop()).toBe(0);
    const stored = new Set(
      withDb(db, (sql) => sql.prepare('SELECT payload FROM messages').pluck().all() as string[]),
    );
    const missing = [...acked].filter((p) => !stored.has(p));
    expect(missing).toEqual([]);
    expect(reconnectLines(daemon).length).toBeGreaterThanOrEqual(3);
    expect(reconnectLines(daemon).every((l) => (l.delayMs as number) <= CAP_MS)).toBe(true);
    expect(daemon.logs.filter((l) => l.msg === 'subscribed').length).toBeGreaterThanOrEqual(4);
  });
});
