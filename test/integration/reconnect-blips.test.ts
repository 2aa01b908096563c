/**
 * A broker restarted several times within a minute, each time down for a moment, with traffic in
 * between: the source must come back at the first backoff step every time. Before, the backoff
 * reset only after 60 s of stable connection, so each blip doubled the wait (ingestion stalled up
 * to 23 s after a handful of restarts). Real aedes over TCP; the jitter is pinned at its maximum
 * so the step is visible in the scheduled delay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/lib/message.js';
import { MqttSource } from '../../src/source/mqtt-source.js';
import { connectClient } from '../helpers/daemon-fixture.js';
import { reservePort, restartableAedes } from '../helpers/restartable-aedes.js';
import { sourceHooks, sourceSettings } from '../helpers/source-settings.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BLIPS = 5;

describe('reconnect backoff after short broker blips', () => {
  it('a committed message on the new connection resets the backoff: every blip waits the first step', async () => {
    const broker = restartableAedes(await reservePort());
    await broker.start();
    cleanups.push(() => broker.stop());
    const received: InboundMessage[] = [];
    const retries: { delayMs: number; attempt: number }[] = [];
    const connects: number[] = [];
    const source = new MqttSource(
      sourceSettings(broker.url, {
        clientId: 'blips-source',
        topics: ['tele/#'],
        reconnect: { baseMs: 100, factor: 4, capMs: 60_000, stableMs: 60_000 },
      }),
      {
        accept: (m) => {
          received.push(m);
          // The writer's commit, a moment later.
          setTimeout(() => m.settle('committed'), 5);
          return undefined;
        },
        hooks: sourceHooks({
          onConnect: () => connects.push(Date.now()),
          onReconnectScheduled: (delayMs, attempt) => retries.push({ delayMs, attempt }),
        }),
        random: () => 0.999999,
      },
    );
    await source.start();
    cleanups.push(() => source.stop());

    for (let blip = 0; blip <= BLIPS; blip++) {
      await waitFor(() => source.subscribed, `subscribed (blip ${blip})`);
      await broker.subscribedTo('tele/plug/SENSOR');
      const device = await connectClient(broker.url, { clientId: `tasmota-${blip}` });
      const before = received.length;
      // A Tasmota energy report.
      await device.publishAsync(
        'tele/plug/SENSOR',
        JSON.stringify({ Time: '2024-05-01T10:00:00', ENERGY: { Power: 42 + blip, Voltage: 231 } }),
        { qos: 1 },
      );
      await device.endAsync();
      await waitFor(() => received.length > before, `message after blip ${blip}`);
      await new Promise((r) => setTimeout(r, 30)); // its commit
      if (blip === BLIPS) break;
      await broker.stop();
      await broker.start();
    }
    expect(retries).toHaveLength(BLIPS);
    // The first step: up to baseMs. Without the reset: 100, 400, 1600, 6400, 25600.
    expect(retries.map((r) => r.attempt)).toEqual(Array(BLIPS).fill(0));
    expect(Math.max(...retries.map((r) => r.delayMs))).toBeLessThan(100);
  });
});
