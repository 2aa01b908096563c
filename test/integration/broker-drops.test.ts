/**
 * Messages the broker drops never reach mqlite, so mqlite reports the broker's own count
 * (Mosquitto's $SYS/broker/publish/messages/dropped, source/broker-drops.ts). A Mosquitto started
 * by the test with a tiny queue (max_queued_messages 5) drops for real: once while mqlite is frozen
 * (slower than the stream: the running daemon sees the count grow and warns), once while it is
 * stopped (the restarted daemon reads the retained count). Every message published is then either
 * stored or in the broker's count.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { countMessages } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function dropped(daemon: DaemonProcess): Promise<number> {
  return metricValue(await daemon.metrics(), 'mqlite_broker_dropped_messages');
}

async function publish(url: string, topic: string, n: number, from: number): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `drops-pub-${process.pid}`, reconnectPeriod: 0 });
  try {
    for (let i = 0; i < n; i++) {
      await client.publishAsync(topic, JSON.stringify({ n: from + i, v: i }), { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

describe('messages the broker drops', () => {
  it('are counted from Mosquitto $SYS: grown while mqlite is behind (with a warning) or away', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const config = join(tmp.dir, 'mqlite.yaml');
    // A window of 10: the broker may send 10 unacknowledged messages, queue 5 more, and drops the rest.
    writeFileSync(config, 'broker:\n  receiveMaximum: 10\nbatch:\n  maxBatch: 10\n');
    const mosquitto = await startMosquitto({
      persistence: false,
      extraConfig: ['sys_interval 1', 'max_queued_messages 5'],
    });
    cleanups.push(() => mosquitto.stop());
    const args = [
      ...['--config', config, '--broker', mosquitto.url, '--db', db, '--http', '127.0.0.1:0'],
      ...['--qos', '1', '--client-id', 'mqlite-drops-test', '--topic', 'drops/#'],
    ];
    let daemon = await startDaemon(args);
    cleanups.push(() => daemon.kill9());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');
    // Known, and nothing dropped yet (NaN would mean the broker's count never arrived).
    await waitFor(async () => (await dropped(daemon)) === 0, 'the broker count read');

    // mqlite frozen (a stall): 10 in flight, 5 queued, 35 dropped by the broker.
    daemon.proc.kill('SIGSTOP');
    await publish(mosquitto.url, 'drops/dev1/x', 50, 0);
    daemon.proc.kill('SIGCONT');
    await waitFor(() => countMessages(db) === 15, '15 messages stored');
    await waitFor(async () => (await dropped(daemon)) === 35, 'the broker count grown to 35');
    expect(
      daemon.logs.some((l) => l.level === 40 && String(l.msg).startsWith('the broker dropped messages')),
    ).toBe(true);

    // mqlite away (its session kept): 5 queued, 45 more dropped; the restarted daemon reads the count.
    expect(await daemon.stop()).toBe(0);
    await publish(mosquitto.url, 'drops/dev1/x', 50, 50);
    daemon = await startDaemon(args);
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed again');
    await waitFor(() => countMessages(db) === 20, '5 more messages stored');
    await waitFor(async () => (await dropped(daemon)) === 80, 'the broker count at 80');
    // Every message published is accounted for: stored, or in the broker's count.
    expect(countMessages(db) + (await dropped(daemon))).toBe(100);
  });
});
