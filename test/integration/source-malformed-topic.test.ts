/**
 * Subscriber mode, a broker that forwards what Mosquitto would refuse: topics with U+0000 or
 * invalid UTF-8 (aedes passes both on; MQTT.js decodes the latter to U+FFFD, merging distinct
 * topics). The source acknowledges them in order, counts them as dropped and never hands them on
 * to be stored; well-formed messages around them are stored as usual.
 */
import { once } from 'node:events';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../src/lib/message.js';
import { MqttSource } from '../../src/source/mqtt-source.js';
import { startAedes } from '../helpers/aedes-broker.js';
import { sourceHooks, sourceSettings } from '../helpers/source-settings.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** PUBLISH QoS 1 with the topic given as bytes. */
function publishBytes(topic: Buffer, payload: string, id: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([topic.length >> 8, topic.length & 0xff]),
    topic,
    Buffer.from([id >> 8, id & 0xff]),
    Buffer.from(payload),
  ]);
  return Buffer.concat([Buffer.from([0x32, body.length]), body]);
}

describe('subscriber mode: malformed topics from the broker', () => {
  it('are acknowledged and counted as dropped, not stored; the good ones around them are', async () => {
    const broker = await startAedes();
    cleanups.push(() => broker.stop());
    const accepted: InboundMessage[] = [];
    const dropped: { reason: string; detail: Record<string, unknown> }[] = [];
    const source = new MqttSource(
      sourceSettings(broker.url, {
        clientId: 'malformed-topics',
        topics: ['zigbee2mqtt/#'],
        reconnect: { baseMs: 100, factor: 2, capMs: 1000, stableMs: 60_000 },
      }),
      {
        accept: (m) => {
          accepted.push(m);
          setTimeout(() => m.settle('committed'), 5);
          return undefined;
        },
        hooks: sourceHooks({ onDropped: (reason, detail) => dropped.push({ reason, detail }) }),
      },
    );
    await source.start();
    cleanups.push(() => source.stop());
    await waitFor(() => source.subscribed, 'subscribed');
    const acked: number[] = [];
    broker.broker.on('ack', (packet) => {
      if ('messageId' in packet && typeof packet.messageId === 'number') acked.push(packet.messageId);
    });

    const device = net.connect({ host: '127.0.0.1', port: broker.port });
    cleanups.push(() => device.destroy());
    await once(device, 'connect');
    device.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'raw',
        clean: true,
        keepalive: 60,
      }),
    );
    const reading = '{"temperature":21.5,"humidity":48}';
    device.write(publishBytes(Buffer.from('zigbee2mqtt/kitchen'), reading, 1));
    device.write(publishBytes(Buffer.from('zigbee2mqtt/kitch\u0000en'), reading, 2));
    device.write(
      publishBytes(Buffer.concat([Buffer.from('zigbee2mqtt/k'), Buffer.from([0xc3, 0x28])]), reading, 3),
    );
    device.write(publishBytes(Buffer.from('zigbee2mqtt/hall'), reading, 4));

    await waitFor(() => accepted.length === 2 && dropped.length === 2, 'two stored, two dropped');
    expect(accepted.map((m) => m.topic)).toEqual(['zigbee2mqtt/kitchen', 'zigbee2mqtt/hall']);
    expect(dropped.map((d) => d.reason)).toEqual(['invalid_topic', 'invalid_topic']);
    // All four acknowledged to the broker: none comes back.
    await waitFor(() => acked.length >= 4, 'four PUBACKs from the source');
  });
});
