/**
 * What the embedded broker refuses: a taken port, an insecure listener, bad credentials,
 * oversize packets (the early header check; a payload just over the limit goes on to be
 * dead-lettered), and $SYS/ publishes.
 */
import net from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmbeddedBrokerSettings, hashPassword } from '../../src/broker/embedded-broker.js';
import { MqliteError } from '../../src/lib/errors.js';
import { rawMqtt } from '../helpers/raw-mqtt.js';
import { recordingBroker } from '../helpers/recording-broker.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeBroker(over: Partial<EmbeddedBrokerSettings> = {}) {
  const b = recordingBroker({ maxPayloadBytes: 1024, ...over });
  cleanups.push(() => b.broker.stop());
  return b;
}

async function started(over: Partial<EmbeddedBrokerSettings> = {}) {
  const b = makeBroker(over);
  await b.broker.start();
  const { port } = b.broker.address();
  return { ...b, port, url: `mqtt://127.0.0.1:${port}` };
}

async function rawSocket(port: number) {
  return rawMqtt(port, (c) => cleanups.push(c));
}

describe('EmbeddedBroker limits', () => {
  it('reports a taken port as MQLITE_PORT_IN_USE with what to do instead', async () => {
    const occupier = net.createServer();
    await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => occupier.close(() => resolve())));
    const port = (occupier.address() as net.AddressInfo).port;
    const { broker } = makeBroker({ port });
    const err = await broker.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MqliteError);
    expect((err as MqliteError).code).toBe('MQLITE_PORT_IN_USE');
    expect((err as MqliteError).message).toContain(`127.0.0.1:${port} is already in use`);
    expect((err as MqliteError).message).toContain(`--broker mqtt://127.0.0.1:${port}`);
  });

  it('refuses to listen beyond loopback with no users and anonymous access off', async () => {
    const { broker } = makeBroker({ host: '0.0.0.0' });
    await expect(broker.start()).rejects.toMatchObject({ code: 'MQLITE_BROKER_INSECURE' });
  });

  it('with users: the right password connects, a wrong one and anonymous are refused', async () => {
    const b = await started({ users: [{ username: 'dev', passwordHash: hashPassword('s3cret') }] });
    const ok = await mqtt.connectAsync(b.url, { username: 'dev', password: 's3cret', reconnectPeriod: 0 });
    await ok.endAsync();
    for (const creds of [
      { username: 'dev', password: 'wrong' },
      { username: 'nobody', password: 's3cret' },
      {},
    ]) {
      const err = await mqtt.connectAsync(b.url, { ...creds, reconnectPeriod: 0 }).then(
        async (c) => {
          await c.endAsync(true);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(String(err)).toMatch(/Bad username or password|Not authorized/i);
    }
  });

  it('passes a payload over maxPayloadBytes but within the guard on (the decoder dead-letters it) and acks it', async () => {
    const b = await started();
    const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
    cleanups.push(() => c.endAsync(true));
    await c.publishAsync('a/b', Buffer.alloc(1025), { qos: 1 });
    expect(b.received.map((m) => m.payload.length)).toEqual([1025]);
    expect(b.rejected).toEqual([]);
  });

  it('accepts a payload of exactly maxPayloadBytes', async () => {
    const b = await started();
    const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
    cleanups.push(() => c.endAsync(true));
    await c.publishAsync('a/b', Buffer.alloc(1024), { qos: 1 });
    expect(b.received).toHaveLength(1);
  });

  it('closes the connection on the header of a huge packet, before its body is sent', async () => {
    const b = await started();
    const raw = await rawSocket(b.port);
    const header = mqttPacket
      .generate({
        cmd: 'publish',
        topic: 'a/b',
        payload: Buffer.alloc(50 * 1024 * 1024),
        qos: 0,
        dup: false,
        retain: false,
      })
      .subarray(0, 16);
    raw.socket.write(header);
    await raw.closed;
    expect(b.rejected).toEqual(['payload_too_large']);
    expect(b.received).toEqual([]);
  });

  it('refuses publishes to $SYS/', async () => {
    const b = await started();
    const raw = await rawSocket(b.port);
    raw.socket.write(
      mqttPacket.generate({
        cmd: 'publish',
        topic: '$SYS/fake',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 1,
        dup: false,
        retain: false,
      }),
    );
    await raw.closed;
    expect(b.rejected).toEqual(['sys_topic']);
    expect(b.received).toEqual([]);
  });
});
