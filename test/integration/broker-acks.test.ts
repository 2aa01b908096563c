/**
 * The embedded broker acknowledges a device's PUBLISH only after the message is committed,
 * closes the connection (no PUBACK) when it is abandoned, and holds QoS 0 reading while the
 * queue is full.
 */
import { once } from 'node:events';
import net from 'node:net';
import mqtt from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/broker/embedded-broker.js';
import type { Accept, InboundMessage } from '../../src/lib/message.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Started {
  broker: EmbeddedBroker;
  url: string;
  port: number;
  received: InboundMessage[];
  events: string[];
}

async function startBroker(accept?: Accept): Promise<Started> {
  const received: InboundMessage[] = [];
  const events: string[] = [];
  const broker = new EmbeddedBroker(
    {
      host: '127.0.0.1',
      port: 0,
      allowAnonymous: false,
      users: [],
      maxPayloadBytes: 1024,
      maxConnections: 100,
    },
    {
      accept: (m) => {
        received.push(m);
        return accept?.(m);
      },
      hooks: {
        onClientConnected: (id) => events.push(`connected:${id}`),
        onClientDisconnected: (id) => events.push(`disconnected:${id}`),
        onRejectedPublish: (reason) => events.push(`rejected:${reason}`),
        onRefused: (reason) => events.push(`refused:${reason}`),
        onAuthFailure: (f) => events.push(`auth:${f.reason}`),
      },
    },
  );
  await broker.start();
  cleanups.push(() => broker.stop());
  const { port } = broker.address();
  return { broker, url: `mqtt://127.0.0.1:${port}`, port, received, events };
}

/** A device speaking raw MQTT 3.1.1, so the test sees every packet the broker sends it. */
async function rawDevice(port: number, clientId: string) {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  cleanups.push(async () => {
    socket.destroy();
  });
  const parser = mqttPacket.parser();
  const packets: Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  socket.on('data', (d) => parser.parse(d));
  const send = (...ps: Packet[]) => socket.write(Buffer.concat(ps.map((p) => mqttPacket.generate(p))));
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 60 });
  await waitFor(() => packets.some((p) => p.cmd === 'connack'), 'CONNACK');
  packets.length = 0;
  return { socket, packets, send };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EmbeddedBroker acknowledgements', () => {
  it('sends the PUBACK of a QoS 1 publish only after settle(committed)', async () => {
    const b = await startBroker();
    const dev = await rawDevice(b.port, 'dev-commit');
    dev.send(
      {
        cmd: 'publish',
        topic: 'x/dev-commit/t',
        payload: Buffer.from('{"v":1}'),
        qos: 1,
        messageId: 7,
        dup: false,
        retain: false,
      },
      { cmd: 'pingreq' },
    );
    await waitFor(() => b.received.length === 1, 'message handed to the queue');
    const msg = b.received[0]!;
    expect(msg).toMatchObject({ topic: 'x/dev-commit/t', qos: 1, dup: false, retain: false });
    expect(msg.payload.toString()).toBe('{"v":1}');
    // aedes handles the packets of one read together: the PINGRESP proves the broker went past
    // the PUBLISH, and a PUBACK written at once would have come before it.
    await waitFor(() => dev.packets.some((p) => p.cmd === 'pingresp'), 'PINGRESP');
    expect(dev.packets.map((p) => p.cmd)).toEqual(['pingresp']);
    msg.settle('committed');
    await waitFor(() => dev.packets.length === 2, 'PUBACK');
    expect(dev.packets.map((p) => p.cmd)).toEqual(['pingresp', 'puback']);
    expect((dev.packets[1] as { messageId: number }).messageId).toBe(7);
  });

  it('closes the connection without PUBACK when the message is abandoned; the device resends it', async () => {
    const b = await startBroker();
    const device = mqtt.connect(b.url, {
      clientId: 'dev-abandon',
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 50,
    });
    cleanups.push(() => device.endAsync(true));
    let closes = 0;
    device.on('close', () => {
      closes++;
    });
    await waitFor(() => device.connected, 'device connected');
    const published = device.publishAsync('x/dev-abandon/t', 'hello', { qos: 1 });
    await waitFor(() => b.received.length === 1, 'first delivery');
    b.received[0]!.settle('abandoned');
    await waitFor(() => b.received.length === 2, 'resent after reconnect');
    expect(closes).toBeGreaterThanOrEqual(1);
    const resent = b.received[1]!;
    expect(resent.payload.toString()).toBe('hello');
    // (MQTT.js 5 resends from its store without setting DUP, so the flag is not checked.)
    resent.settle('committed');
    await published; // the device got its PUBACK for the resend
  });

  it('a QoS 0 publish needs no commit, but a full queue stops reading that device', async () => {
    let release: (() => void) | undefined;
    const b = await startBroker((m) =>
      m.payload.toString() === 'first' ? new Promise<void>((r) => (release = r)) : undefined,
    );
    const dev = await rawDevice(b.port, 'dev-qos0');
    dev.send({
      cmd: 'publish',
      topic: 'x/q0',
      payload: Buffer.from('first'),
      qos: 0,
      dup: false,
      retain: false,
    });
    await waitFor(() => release !== undefined, 'first message');
    dev.send({
      cmd: 'publish',
      topic: 'x/q0',
      payload: Buffer.from('second'),
      qos: 0,
      dup: false,
      retain: false,
    });
    await sleep(300);
    expect(b.received.map((m) => m.payload.toString())).toEqual(['first']);
    release?.();
    await waitFor(() => b.received.length === 2, 'second after the queue had room');
    b.received[0]!.settle('committed'); // a no-op for QoS 0
  });

  it('reports connected clients and closes them on stop', async () => {
    const b = await startBroker();
    const dev = await rawDevice(b.port, 'dev-stop');
    await waitFor(() => b.events.includes('connected:dev-stop'), 'the client reported');
    const closed = once(dev.socket, 'close');
    await b.broker.stop();
    await closed;
    await b.broker.stop(); // idempotent
  });
});
