/**
 * The MQTT source against a real Mosquitto (started by the test): redelivery of held acks,
 * PUBACK order across batches, persistent sessions, resubscribe, backpressure, keepalive.
 */
import mqtt, { type MqttClient, type Packet } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/lib/message.js';
import { MqttSource } from '../../src/source/mqtt-source.js';
import type { SourceSettings } from '../../src/source/source-types.js';
import { type RunningMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { sourceHooks, sourceSettings } from '../helpers/source-settings.js';
import { waitFor } from '../helpers/wait-for.js';

let broker: RunningMosquitto;
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let seq = 0;
function uniq(prefix: string): string {
  seq++;
  return `${prefix}-${process.pid}-${seq}`;
}

function settings(url: string, over: Partial<SourceSettings> = {}): SourceSettings {
  return sourceSettings(url, {
    protocolVersion: 5,
    clientId: uniq('src'),
    receiveMaximum: 1000,
    topics: ['t/#'],
    reconnect: { baseMs: 50, factor: 2, capMs: 200, stableMs: 60_000 },
    ...over,
  });
}

interface Harness {
  source: MqttSource;
  received: InboundMessage[];
  /** PUBLISH packet ids in receive order and PUBACK ids in send order, from the client's wire. */
  publishIds: number[];
  pubackIds: number[];
  connects: boolean[];
  subacks: number[][];
  dropped: number[];
  retries: { delayMs: number; attempt: number }[];
  accept?: (m: InboundMessage) => Promise<void> | undefined;
}

function harness(s: SourceSettings, random?: () => number): Harness {
  const h: Harness = {
    received: [],
    publishIds: [],
    pubackIds: [],
    connects: [],
    subacks: [],
    dropped: [],
    retries: [],
  } as unknown as Harness;
  h.source = new MqttSource(s, {
    accept: (m) => {
      h.received.push(m);
      return h.accept?.(m);
    },
    hooks: sourceHooks({
      onConnect: ({ sessionPresent }) => h.connects.push(sessionPresent),
      onReconnectScheduled: (delayMs, attempt) => h.retries.push({ delayMs, attempt }),
      onSubscribed: (granted) => h.subacks.push(granted),
      onAcksDropped: (n) => h.dropped.push(n),
    }),
    tap: (c) => {
      c.on('packetreceive', (p: Packet) => {
        if (p.cmd === 'publish' && p.messageId !== undefined) h.publishIds.push(p.messageId);
      });
      c.on('packetsend', (p: Packet) => {
        if (p.cmd === 'puback' && p.messageId !== undefined) h.pubackIds.push(p.messageId);
      });
    },
    ...(random === undefined ? {} : { random }),
  });
  cleanups.push(() => h.source.stop());
  return h;
}

async function publisher(url: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: uniq('pub'), reconnectPeriod: 0 });
  cleanups.push(() => c.endAsync(true));
  return c;
}

async function publishN(pub: MqttClient, topic: string, n: number, from = 0): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) => pub.publishAsync(topic, String(from + i), { qos: 1 })),
  );
}

const texts = (ms: InboundMessage[]) => ms.map((m) => m.payload.toString());

describe('MqttSource on Mosquitto', () => {
  it.each([4, 5] as const)(
    'redelivers held messages with DUP after forceReconnect (MQTT v%i)',
    async (version) => {
      const h = harness(settings(broker.url, { protocolVersion: version }));
      await h.source.start();
      await waitFor(() => h.source.subscribed, 'subscribed');
      const pub = await publisher(broker.url);
      await publishN(pub, 't/redeliver', 5);
      await waitFor(() => h.received.length === 5, '5 messages');
      expect(h.source.heldAcks).toBe(5);

      h.source.forceReconnect('test: commit failed');
      expect(h.dropped).toEqual([5]);
      expect(h.source.heldAcks).toBe(0);
      await waitFor(() => h.received.length === 10, '5 redelivered messages');
      expect(h.connects).toEqual([false, true]);
      const again = h.received.slice(5);
      expect(texts(again)).toEqual(texts(h.received.slice(0, 5)));
      expect(again.every((m) => m.dup)).toBe(true);
      // Settling the old copies now sends nothing (their connection is gone).
      for (const m of h.received.slice(0, 5)) m.settle('committed');
      expect(h.pubackIds).toEqual([]);
      for (const m of again) m.settle('committed');
      expect(h.pubackIds).toHaveLength(5);

      // Acked now: another reconnect brings back nothing; a marker published after it arrives next.
      h.source.forceReconnect('test');
      await waitFor(() => h.connects.length === 3 && h.source.subscribed, 'reconnected');
      await pub.publishAsync('t/redeliver', 'marker', { qos: 1 });
      await waitFor(() => h.received.length === 11, 'marker');
      expect(h.received[10]?.payload.toString()).toBe('marker');
      expect(h.received[10]?.dup).toBe(false);
    },
  );

  it('sends PUBACKs in receive order across batches committed out of order', async () => {
    const h = harness(settings(broker.url, { receiveMaximum: 40 }));
    await h.source.start();
    await waitFor(() => h.source.subscribed, 'subscribed');
    const pub = await publisher(broker.url);
    const total = 300;
    const publishing = publishN(pub, 't/order', total);
    let settledUpTo = 0;
    let round = 0;
    while (settledUpTo < total) {
      await waitFor(() => h.received.length > settledUpTo, 'more messages');
      const batch = h.received.slice(settledUpTo);
      settledUpTo += batch.length;
      // Commit each batch back to front, alternating with front to back.
      const order = round++ % 2 === 0 ? [...batch].reverse() : batch;
      for (const m of order) m.settle('committed');
    }
    await publishing;
    expect(texts(h.received)).toEqual(Array.from({ length: total }, (_, i) => String(i)));
    expect(h.pubackIds).toEqual(h.publishIds);
    expect(h.pubackIds).toHaveLength(total);
    expect(round).toBeGreaterThan(1); // the window of 40 really split the run into batches
  });

  it('a persistent session receives what was published while it was away', async () => {
    const s = settings(broker.url);
    const first = harness(s);
    await first.source.start();
    await waitFor(() => first.source.subscribed, 'subscribed');
    await first.source.stop();

    const pub = await publisher(broker.url);
    await publishN(pub, 't/offline', 10);

    const second = harness(s);
    await second.source.start();
    await waitFor(() => second.received.length === 10, 'queued messages');
    expect(second.connects).toEqual([true]);
    expect(texts(second.received).sort()).toEqual(Array.from({ length: 10 }, (_, i) => String(i)).sort());
    await waitFor(() => second.source.subscribed, 'subscribed again');
  });

  it('holds the pipeline while accept() says the queue is full', async () => {
    const h = harness(settings(broker.url));
    let release: (() => void) | undefined;
    let released = false;
    const acceptedWhileBlocked: string[] = [];
    h.accept = (m) => {
      if (release !== undefined && !released) acceptedWhileBlocked.push(m.payload.toString());
      if (m.payload.toString() !== '0') return undefined;
      return new Promise<void>((resolve) => {
        release = () => {
          released = true;
          resolve();
        };
      });
    };
    await h.source.start();
    await waitFor(() => h.source.subscribed, 'subscribed');
    const pub = await publisher(broker.url);
    await publishN(pub, 't/full', 3); // the broker has all three once this resolves
    await waitFor(() => release !== undefined, 'first message');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.received).toHaveLength(1);
    release?.();
    await waitFor(() => h.received.length === 3, 'the rest after release');
    expect(acceptedWhileBlocked).toEqual([]);
  });

  it('stays connected while acks are held longer than the keepalive (pings keep flowing)', async () => {
    const h = harness(settings(broker.url, { keepaliveSeconds: 1 }));
    await h.source.start();
    await waitFor(() => h.source.subscribed, 'subscribed');
    const pub = await publisher(broker.url);
    await publishN(pub, 't/keepalive', 1);
    await waitFor(() => h.received.length === 1, 'message');
    await new Promise((r) => setTimeout(r, 3000)); // 2 x the 1.5 s keepalive timeout
    expect(h.source.connected).toBe(true);
    expect(h.connects).toHaveLength(1);
    expect(h.dropped).toEqual([]);
    h.received[0]?.settle('committed');
    expect(h.pubackIds).toHaveLength(1);
  });

  it('retries a broker that is down at start with growing backoff', async () => {
    const down = await startMosquitto();
    const url = down.url;
    await down.stop();
    const h = harness(
      settings(url, { reconnect: { baseMs: 20, factor: 2, capMs: 1000, stableMs: 60_000 } }),
      () => 0.999,
    );
    await h.source.start(); // not fatal
    await waitFor(() => h.retries.length >= 4, 'four retries');
    expect(h.retries.slice(0, 4)).toEqual([
      { delayMs: 19, attempt: 0 },
      { delayMs: 39, attempt: 1 },
      { delayMs: 79, attempt: 2 },
      { delayMs: 159, attempt: 3 },
    ]);
    expect(h.source.connected).toBe(false);
  });
});

describe('MqttSource on a Mosquitto without persistence', () => {
  let volatile: RunningMosquitto;
  beforeAll(async () => {
    volatile = await startMosquitto({ persistence: false });
  });
  afterAll(async () => {
    await volatile?.stop();
  });

  it('subscribes again after a broker restart that lost the session', async () => {
    const h = harness(settings(volatile.url));
    await h.source.start();
    await waitFor(() => h.source.subscribed, 'subscribed');
    await volatile.restart();
    await waitFor(() => h.connects.length === 2 && h.source.subscribed, 'resubscribed after restart');
    expect(h.connects).toEqual([false, false]);
    expect(h.subacks).toEqual([[1], [1]]);
    const pub = await publisher(volatile.url);
    await publishN(pub, 't/after-restart', 1);
    await waitFor(() => h.received.length === 1, 'message after restart');
  });

  it('asks for QoS 1 when QoS 2 is configured', async () => {
    const h = harness(settings(volatile.url, { qos: 2 }));
    await h.source.start();
    await waitFor(() => h.source.subscribed, 'subscribed');
    expect(h.subacks).toEqual([[1]]);
    const pub = await publisher(volatile.url);
    await pub.publishAsync('t/qos2', 'x', { qos: 2 });
    await waitFor(() => h.received.length === 1, 'message');
    expect(h.received[0]?.qos).toBe(1);
  });
});
