/**
 * Fails when the MQTT.js internals the deferred PUBACK relies on change (mqtt is pinned to
 * 5.16.0 for this): `_sendPacket` exists, a QoS 1 PUBACK goes through it, and a held PUBACK
 * is neither written nor seen by the broker until the message is committed.
 */
import type { Aedes } from 'aedes';
import mqtt, { type MqttClient, MqttClient as MqttClientClass, type Packet } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/lib/message.js';
import { MqttSource } from '../../src/source/mqtt-source.js';
import type { SourceSettings } from '../../src/source/source-types.js';
import { type RunningAedes, startAedes } from '../helpers/aedes-broker.js';
import { sourceHooks, sourceSettings } from '../helpers/source-settings.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function settings(url: string, over: Partial<SourceSettings> = {}): SourceSettings {
  return sourceSettings(url, {
    clientId: `guard-${process.pid}-${Math.random().toString(16).slice(2)}`,
    topics: ['guard/#'],
    reconnect: { baseMs: 50, factor: 2, capMs: 200, stableMs: 60_000 },
    ...over,
  });
}

async function publisher(url: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: `pub-${Math.random()}`, reconnectPeriod: 0 });
  cleanups.push(() => c.endAsync(true));
  return c;
}

/** Broker-side view: PUBACKs aedes received from the client with this id. */
function brokerAcks(broker: Aedes, clientId: string): number[] {
  const ids: number[] = [];
  broker.on('ack', (packet, client) => {
    if (client.id === clientId && 'messageId' in packet && packet.messageId !== undefined)
      ids.push(packet.messageId);
  });
  return ids;
}

describe('MQTT.js internals used for deferred PUBACK', () => {
  it('MqttClient still has _sendPacket and handleMessage', () => {
    const proto = MqttClientClass.prototype as unknown as Record<string, unknown>;
    expect(typeof proto._sendPacket).toBe('function');
    expect(typeof proto.handleMessage).toBe('function');
  });

  it('holds the PUBACK until commit, keeps reading meanwhile, and the broker sees it only then', async () => {
    const broker: RunningAedes = await startAedes();
    cleanups.push(() => broker.stop());
    const s = settings(broker.url);
    const acksAtBroker = brokerAcks(broker.broker, s.clientId);
    const received: InboundMessage[] = [];
    const wire: Packet[] = [];
    const source = new MqttSource(s, {
      accept: (m) => {
        received.push(m);
        return undefined;
      },
      hooks: sourceHooks(),
      tap: (c) => c.on('packetsend', (p) => wire.push(p)),
    });
    cleanups.push(() => source.stop());
    await source.start();
    await waitFor(() => source.subscribed, 'subscribed');

    const pub = await publisher(broker.url);
    await pub.publishAsync('guard/a', 'one', { qos: 1 });
    await waitFor(() => received.length === 1, 'first message');
    // MQTT.js called handleMessage's callback; the PUBACK it produced must not be on the wire.
    expect(wire.filter((p) => p.cmd === 'puback')).toEqual([]);
    expect(source.heldAcks).toBe(1);

    // The pipeline still moves: a second message is delivered while the first ack is held.
    await pub.publishAsync('guard/b', 'two', { qos: 1 });
    await waitFor(() => received.length === 2, 'second message');
    received[1]!.settle('committed'); // later message committed first: must wait (FIFO)
    expect(wire.filter((p) => p.cmd === 'puback')).toEqual([]);
    expect(acksAtBroker).toEqual([]);

    received[0]!.settle('committed');
    const sentAcks = wire.filter((p) => p.cmd === 'puback');
    expect(sentAcks).toHaveLength(2);
    await waitFor(() => acksAtBroker.length === 2, 'broker saw both PUBACKs');
    expect(acksAtBroker).toEqual(sentAcks.map((p) => (p as { messageId: number }).messageId));
    expect(source.heldAcks).toBe(0);
  });
});

describe('ackOnReceipt (benchmarks only)', () => {
  it('sends the PUBACK at once, before the message is committed', async () => {
    const broker: RunningAedes = await startAedes();
    cleanups.push(() => broker.stop());
    const s = settings(broker.url, { ackOnReceipt: true });
    const acksAtBroker = brokerAcks(broker.broker, s.clientId);
    const received: InboundMessage[] = [];
    const source = new MqttSource(s, {
      accept: (m) => {
        received.push(m);
        return undefined;
      },
      hooks: sourceHooks(),
    });
    cleanups.push(() => source.stop());
    await source.start();
    await waitFor(() => source.subscribed, 'subscribed');
    const pub = await publisher(broker.url);
    await pub.publishAsync('guard/a', 'one', { qos: 1 });
    await waitFor(() => acksAtBroker.length === 1, 'PUBACK without a commit');
    expect(received).toHaveLength(1);
    expect(source.heldAcks).toBe(0);
  });
});
